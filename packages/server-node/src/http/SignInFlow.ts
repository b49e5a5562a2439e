/**
 * What the authorization endpoint, the login form and the consent form share (OAuth 2.1 §4.1, OIDC Core §3.1.2):
 * errors as pages, the interaction's CSRF check, rendering the two forms, and finishing with a code.
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Cause, DateTime, Effect, Either, Option } from "effect"
import { AdminAccess, Authorize, Entropy, Hash, Interactions, Resources, Session, Consents, Sessions, StoreError, User, UserCode, Users } from "@tessera/domain"
import type { Client, Realm } from "@tessera/domain"
import { ClientIdMetadataDocument, ErrorResponse, Form } from "@tessera/protocol"
import * as ConsentPage from "../pages/ConsentPage.js"
import * as ErrorPage from "../pages/ErrorPage.js"
import * as LoginPage from "../pages/LoginPage.js"
import * as AuthorizationResponse from "./AuthorizationResponse.js"
import * as ClientLookup from "./ClientLookup.js"
import * as Issuer from "./Issuer.js"
import { handle, logStoreUnavailable, refusedText } from "./Respond.js"
import * as SignInCookies from "./SignInCookies.js"

/** Failures a person sees as the error page: fixed text, never request input. */
export const refuse = (description: string, error: ErrorResponse.ErrorCode = "invalid_request", status = 400) =>
  Effect.fail(ErrorResponse.make(error, description, status))

export const unknownInteraction = () =>
  refuse("This sign-in request is unknown or already finished. Return to the application and start again.")
export const expiredInteraction = () =>
  refuse("This sign-in request has expired. Return to the application and start again.")
export const badCsrf = () =>
  refuse("The form could not be verified. Return to the application and start again.")
export const otherBrowser = () =>
  refuse("This sign-in request was started in another browser. Return to the application and start again.")
export const noSession = () =>
  refuse("You are no longer signed in. Return to the application and start again.")

const unavailable = ErrorPage.errorPage({
  error: "temporarily_unavailable",
  description: "The service is temporarily unavailable. Try again in a moment.",
  status: 503
})

/**
 * The page for a store failure: an outage is 503 with `Retry-After`; the store refusing request text (CONTRACT §2,
 * defence in depth, as `Respond.handle`) is bad input, a 400, logged as the parsing boundary's miss.
 */
export const storeFailurePage = (e: StoreError.StoreError) =>
  // CONTRACT §2: a realm deleted after the request found it is an unknown realm, as `pageRoute` answers one (issue 15)
  StoreError.isRealmGone(e) ? Effect.succeed(Issuer.unknownRealm.toResponse()) : refusedText(e)
    ? Effect.logError("the store refused request text (a parsing boundary missed it)", e.cause).pipe(
      Effect.as(ErrorPage.errorPage({ error: "invalid_request", description: "The request holds text that cannot be stored.", status: 400 }))
    )
    : logStoreUnavailable(e).pipe(
      Effect.as(HttpServerResponse.setHeader(unavailable, "retry-after", "1"))
    )

/**
 * A person-facing endpoint of realm `:realm`: an unknown realm is the contract's 404 JSON (CONTRACT §2); everything
 * else that goes wrong is the error page (a store outage 503, a defect 500 without detail, its cause logged).
 */
export const pageRoute = <R>(
  body: (realm: Realm.Realm, issuer: string) => Effect.Effect<HttpServerResponse.HttpServerResponse, ErrorResponse.ErrorResponse | StoreError.StoreError, R>
) =>
  handle(Effect.gen(function*() {
    const realm = yield* Issuer.realmParam(Issuer.unknownRealm)
    const issuer = yield* Issuer.of(realm.name)
    return yield* body(realm, issuer).pipe(
      Effect.catchTag("ErrorResponse", (e) => Effect.succeed(ErrorPage.fromErrorResponse(e))),
      Effect.catchTag("StoreError", storeFailurePage),
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause)
          ? Effect.failCause(cause)
          : Effect.logError("request failed", cause).pipe(Effect.as(ErrorPage.errorPage({
            error: "server_error",
            description: "Something went wrong. Return to the application and try again.",
            status: 500
          }))))
    )
  }))

/** A form field read once; a repeated or over-long one is the error page. */
export const field = (params: Form.Params, name: string) =>
  Either.match(Form.single(params, name), { onLeft: Effect.fail, onRight: Effect.succeed })

/**
 * The interaction a form names, live, and posted by the browser that started it: the `csrf` field must equal the
 * interaction's cookie and hash to the stored CSRF hash (both compared in constant time).
 */
export const verifiedInteraction = (realm: Realm.Realm, params: Form.Params) =>
  Effect.gen(function*() {
    const interaction = yield* liveInteraction(realm, yield* field(params, "interaction"))
    const id = interaction.id
    const csrf = yield* field(params, "csrf")
    if (csrf === undefined) return yield* badCsrf()
    const request = yield* HttpServerRequest.HttpServerRequest
    const cookie = SignInCookies.readInteraction(request, id) ?? ""
    const hashMatches = Hash.constantTimeEqual(yield* Hash.sha256(csrf), interaction.csrfHash)
    const cookieMatches = Hash.constantTimeEqual(cookie, csrf)
    if (!(hashMatches && cookieMatches)) return yield* badCsrf()
    return { interaction, csrf }
  })

/** The page for a transition the interaction's state refuses (ADR 0054). */
const refusedPage = (e: Interactions.InteractionRefused) =>
  e.reason === "expired" ? expiredInteraction() : e.reason === "not_authenticated" ? noSession() : unknownInteraction()

/** What the interaction's state allows, without writing: a refusal is its page. */
export const allowed = <I>(check: Either.Either<I, Interactions.InteractionRefused>) =>
  Either.match(check, { onLeft: refusedPage, onRight: Effect.succeed })

/**
 * Writes a transition's result over the version it was computed from (ADR 0054): a refusal is its page; a lost race
 * (another form moved the interaction first: a replay, a double submission) is the page of a finished request.
 */
export const advance = <I extends Interactions.Interaction>(next: Either.Either<I, Interactions.InteractionRefused>) =>
  Either.match(next, {
    onLeft: refusedPage,
    onRight: (interaction) =>
      Effect.flatMap(Interactions.Interactions, (i) => i.apply(interaction)).pipe(
        Effect.catchTag("InteractionChanged", () => unknownInteraction()),
        Effect.as(interaction)
      )
  })

/** The interaction named `id`, if it exists, is not finished and has not expired. */
export const liveInteraction = (realm: Realm.Realm, id: string | undefined) =>
  Effect.gen(function*() {
    // interaction ids are ours (random base64url): anything else is unknown without asking the store
    if (id === undefined || !/^[A-Za-z0-9_-]{1,64}$/.test(id)) return yield* unknownInteraction()
    const found = yield* Effect.flatMap(Interactions.Interactions, (i) => i.find(realm.id, id))
    if (Option.isNone(found)) return yield* unknownInteraction()
    return yield* allowed(Interactions.open(found.value, yield* DateTime.now))
  })

/** The session the person signed in with for this interaction; it must still be usable. */
export const sessionOf = (realm: Realm.Realm, interaction: Interactions.Open) =>
  Effect.gen(function*() {
    if (interaction._tag !== "Authenticated") return yield* noSession()
    const session = yield* Effect.flatMap(Sessions.Sessions, (s) => s.find(realm.id, interaction.sid))
    if (Option.isNone(session) || !Session.isActive(session.value, yield* DateTime.now)) return yield* noSession()
    // CONTRACT §3: nothing a disabled or deleted person signed in to counts (ADR 0031)
    if (!(yield* personCanSignIn(realm, session.value))) return yield* noSession()
    return session.value
  })

/**
 * Whether the session's person still exists and is not disabled. Disabling and deleting end the person's sessions in
 * their own transaction; this also refuses a session a sign-in made while that transaction committed (ADR 0031).
 */
const personCanSignIn = (realm: Realm.Realm, session: Session.Session) =>
  Effect.map(
    Effect.flatMap(Users.Users, (u) => u.find(realm.id, session.sub)),
    Option.match({ onNone: () => false, onSome: User.canSignIn })
  )

/** The client of a stored request; it may have been removed meanwhile. */
export const clientOf = (realm: Realm.Realm, clientId: string) =>
  Effect.gen(function*() {
    // RFC 6749 A.1: client-id = *VSCHAR; anything else names no client, and never reaches the store
    const found = /^[\x20-\x7E]{1,255}$/.test(clientId)
      ? yield* ClientLookup.resolve(realm, clientId).pipe(
        // MCP "Client ID Metadata Documents": an unusable document is an error page, never a redirect
        Effect.catchTag("DocumentRejected", (e) =>
          refuse(`The application's client ID metadata document cannot be used: ${e.detail}.`, "invalid_client"))
      )
      : Option.none()
    if (Option.isNone(found)) return yield* refuse("The application is not registered with this realm.", "invalid_client")
    return found.value
  })

export const clientName = (client: Client.Client) => client.metadata.clientName ?? client.clientId

export const target = (client: Client.Client, request: { readonly redirectUri: string; readonly responseMode: "query" | "form_post"; readonly state?: string | undefined }): AuthorizationResponse.Target => ({
  redirectUri: request.redirectUri,
  responseMode: request.responseMode,
  state: request.state,
  clientName: clientName(client)
})

export interface Forms {
  readonly realm: Realm.Realm
  readonly issuer: string
  readonly client: Client.Client
  readonly interactionId: string
  readonly csrf: string
  readonly request: Interactions.Request
}

/** The login form, posting to `{issuer}/login`. */
export const loginPage = (forms: Forms, options: {
  readonly username?: string | undefined
  readonly stepUp?: boolean | undefined
  readonly error?: LoginPage.Problem | undefined
}) =>
  LoginPage.login({
    realmDisplayName: forms.realm.displayName ?? forms.realm.name,
    clientName: clientName(forms.client),
    csrf: forms.csrf,
    interaction: forms.interactionId,
    username: options.username,
    error: options.error,
    stepUp: options.stepUp,
    action: `${forms.issuer}/login`,
    // consent may already be given: a successful login then redirects straight to the client (never for a device)
    redirectUri: forms.request.device !== undefined ? undefined : forms.request.redirectUri
  })

/**
 * CONTRACT §3, ADR 0035: a person whose roles do not hold `admin` asked for the realm's admin resource. RFC 6749
 * §4.1.2.1 `access_denied` ("the resource owner or authorization server denied the request"): to the client (as any
 * refusal after sign-in), or, for a device, on the page.
 */
const notAdmin = "only an admin of the realm may grant access to its admin API"

/** The answer to a person who may not be given the request's resources (ADR 0035), if that is so. */
export const refusedPerson = (
  forms: Pick<Forms, "realm" | "issuer" | "client" | "request">,
  session: Session.Session
) =>
  Effect.gen(function*() {
    if (yield* AdminAccess.personMay(forms.realm.id, session.sub, forms.request.resources)) return Option.none()
    if (forms.request.device !== undefined) {
      return Option.some(ErrorPage.errorPage({ error: "access_denied", description: notAdmin, status: 403 }))
    }
    return Option.some(
      yield* AuthorizationResponse.errorToClient(forms.client, target(forms.client, forms.request), forms.issuer, ErrorResponse.make("access_denied", notAdmin))
    )
  })

/** The consent form, posting to `{issuer}/consent` (never to a person who may not be given what is asked). */
export const consentPage = (forms: Forms, session: Session.Session) =>
  Effect.gen(function*() {
    const refused = yield* refusedPerson(forms, session)
    if (Option.isSome(refused)) return refused.value
    const user = yield* Effect.flatMap(Users.Users, (u) => u.find(forms.realm.id, session.sub))
    const registered = yield* Effect.flatMap(Resources.Resources, (r) => r.list(forms.realm.id))
    const described = ConsentPage.terms(registered, forms.request)
    return ConsentPage.consent({
      clientName: clientName(forms.client),
      redirectUri: forms.request.redirectUri,
      device: forms.request.device !== undefined ? { userCode: UserCode.format(forms.request.device.userCode) } : undefined,
      ...described,
      csrf: forms.csrf,
      interaction: forms.interactionId,
      principalType: forms.client.metadata.principalType,
      realmDisplayName: forms.realm.displayName ?? forms.realm.name,
      username: Option.getOrUndefined(user)?.username,
      action: `${forms.issuer}/consent`,
      ...(ClientIdMetadataDocument.isDocumentUrl(forms.client.clientId) ? { documentHost: new URL(forms.client.clientId).host } : {})
    })
  })

/**
 * Issues the code and sends it to the client (OAuth 2.1 §4.1.2), unless the person may not be given what is asked
 * (ADR 0035: the admin resource to someone not an admin, checked again here as the role may have gone meanwhile).
 */
export const finish = (realm: Realm.Realm, issuer: string, client: Client.Client, request: Interactions.Request, session: Session.Session) =>
  Effect.gen(function*() {
    const refused = yield* refusedPerson({ realm, issuer, client, request }, session)
    if (Option.isSome(refused)) return refused.value
    return yield* sendCode(realm, issuer, client, request, session)
  })

const sendCode = (realm: Realm.Realm, issuer: string, client: Client.Client, request: Interactions.Request, session: Session.Session) =>
  Effect.map(Authorize.issueCode({ realm, session, request }), (code) => AuthorizationResponse.code(target(client, request), issuer, code))

/**
 * The person allowed a client's request on its interaction (the consent form, or a consent remembered): the
 * interaction goes to CodeIssued, once (RFC 6749 §4.1.2; of two racing forms one gets the code, the other the error
 * page), and the code to the client. A person who may not be given what is asked (ADR 0035) is refused instead, and
 * the interaction is Denied. `remember` runs once the interaction is decided, before the code (the consent it saves).
 */
export const allow = <E, R>(
  forms: Pick<Forms, "realm" | "issuer" | "client" | "request">,
  interaction: Interactions.Authenticated,
  session: Session.Session,
  remember: Effect.Effect<void, E, R>
) =>
  Effect.gen(function*() {
    const refused = yield* refusedPerson(forms, session)
    const now = yield* DateTime.now
    const decided = Option.isSome(refused) ? Interactions.deny(interaction, now) : Interactions.issueCode(interaction, now)
    yield* advance<Interactions.Interaction>(decided)
    yield* remember
    if (Option.isSome(refused)) return refused.value
    return yield* sendCode(forms.realm, forms.issuer, forms.client, forms.request, session)
  })

/** Where the consent form of an interaction is shown (GET, so reloading it never re-posts the password). */
export const consentUrl = (issuer: string, interactionId: string) =>
  `${issuer}/consent?${new URLSearchParams({ interaction: interactionId }).toString()}`

/**
 * After the person signed in on the login form (the interaction now Authenticated): a 303 to the consent form
 * (POST/redirect/GET), unless their remembered consent covers the request (and `prompt=consent` does not ask again),
 * in which case the code is issued (`allow`).
 */
export const afterLogin = (forms: Forms, interaction: Interactions.Authenticated, session: Session.Session) =>
  Effect.gen(function*() {
    const consent = yield* Effect.flatMap(Consents.Consents, (c) => c.find(forms.realm.id, session.sub, forms.client.clientId))
    // RFC 8628 §5.4: a device is never approved without the person confirming its code on the consent page
    if (forms.request.device !== undefined || Authorize.needsConsent(consent, forms.request)) {
      return HttpServerResponse.empty({
        status: 303,
        headers: { location: consentUrl(forms.issuer, forms.interactionId), "cache-control": "no-store" }
      })
    }
    const response = yield* allow(forms, interaction, session, Effect.void)
    return yield* SignInCookies.clearInteraction(forms.realm.name, forms.interactionId)(response)
  })

/** The session of the browser's cookie, if the cookie names one of this realm. */
export const currentSession = (realm: Realm.Realm) =>
  Effect.gen(function*() {
    const cookie = SignInCookies.readSession(yield* HttpServerRequest.HttpServerRequest, realm.name)
    if (cookie === undefined) return Option.none()
    const session = yield* Effect.flatMap(Sessions.Sessions, (s) => Effect.flatMap(Hash.sha256(cookie), (hash) => s.findByCookie(realm.id, hash)))
    // CONTRACT §3: the cookie of a disabled or deleted person no longer counts (ADR 0031)
    if (Option.isSome(session) && !(yield* personCanSignIn(realm, session.value))) return Option.none<Session.Session>()
    return session
  })

/** Stores the pending request with a fresh id (128 bits) and CSRF token (256 bits, kept only as its SHA-256). */
export const begin = (realm: Realm.Realm, issuer: string, client: Client.Client, request: Interactions.Request, sid: string | undefined) =>
  Effect.gen(function*() {
    const id = yield* Entropy.token(16)
    const csrf = yield* Entropy.token(32)
    const now = yield* DateTime.now
    const interaction = Interactions.start({
      realmId: realm.id,
      id,
      request,
      csrfHash: yield* Hash.sha256(csrf),
      createdAt: now,
      expiresAt: DateTime.addDuration(now, Interactions.lifetime)
    }, sid)
    yield* Effect.flatMap(Interactions.Interactions, (i) => i.create(interaction))
    return { realm, issuer, client, interactionId: id, csrf, request } satisfies Forms
  })
