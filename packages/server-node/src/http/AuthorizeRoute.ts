/**
 * The authorization endpoint, GET and POST `{issuer}/authorize` (OAuth 2.1 §4.1.1-4.1.2, OIDC Core §3.1.2.1-3.1.2.6,
 * RFC 9207, RFC 8707 §2, RFC 8252 §7.3): checks the request, then shows the login form, the consent form, or sends
 * the code straight back when the session and the remembered consent already cover the request.
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { DateTime, Effect, Either, Match, Option } from "effect"
import { Audience, Authorize, Interactions, Resources, Session, SignIn, Users } from "@tessera/domain"
import type { Client, Realm } from "@tessera/domain"
import { AuthorizationRequest, ErrorResponse } from "@tessera/protocol"
import * as AuthorizationResponse from "./AuthorizationResponse.js"
import * as FormBody from "./FormBody.js"
import * as SignInCookies from "./SignInCookies.js"
import * as SignInFlow from "./SignInFlow.js"

type Refusal = Authorize.ClientNotAllowed | Audience.TargetRejected | Audience.ScopeRejected

/**
 * The one mapping from the domain's refusals to what goes back to the client (OAuth 2.1 §4.1.2.1, RFC 8707 §2); the
 * device authorization endpoint checks scopes and resources alike (RFC 8628 §3.1) and answers the same.
 */
export const toErrorResponse = Match.type<Refusal>().pipe(
  Match.tagsExhaustive({
    ClientNotAllowed: () => ErrorResponse.make("unauthorized_client", "the client is not registered for the authorization code grant"),
    TargetRejected: ({ reason }) =>
      ErrorResponse.make("invalid_target", reason === "not_allowed"
        ? "a requested resource is not allowed to this client"
        : "a requested resource is not registered in this realm"),
    ScopeRejected: () => ErrorResponse.make("invalid_scope", "a requested scope is not allowed to this client or its resources")
  })
)

/** OAuth 2.1 §4.1.2.1: the client and redirect URI are checked before anything may go back to the client. */
const clientAndRedirect = (realm: Realm.Realm, clientId: string, redirectUri: string | undefined) =>
  Effect.gen(function*() {
    const client = yield* SignInFlow.clientOf(realm, clientId)
    const resolved = Authorize.redirectUriFor(client, redirectUri)
    if (Either.isLeft(resolved)) {
      return yield* resolved.left.reason === "missing"
        ? SignInFlow.refuse("The application must say where to return (redirect_uri): it registered more than one address.")
        : SignInFlow.refuse("The application's return address (redirect_uri) is not registered for it.")
    }
    return { client, redirectUri: resolved.right }
  })

/** The request's parameters: the query of a GET, the form body of a POST (OIDC Core §3.1.2.1). */
const input = (method: "GET" | "POST") =>
  method === "GET"
    ? Effect.map(HttpServerRequest.HttpServerRequest, (request) => {
      const q = request.url.indexOf("?")
      return AuthorizationRequest.parse(q === -1 ? "" : request.url.slice(q + 1))
    })
    : Effect.map(FormBody.params, AuthorizationRequest.decode)

const authorize = (method: "GET" | "POST") =>
  SignInFlow.pageRoute((realm, issuer) =>
    Effect.gen(function*() {
      const parsed = yield* input(method).pipe(
        Effect.catchTag("ErrorResponse", (error) => Effect.succeed(Either.left(AuthorizationRequest.Failure.Page({ error }))))
      )
      if (Either.isLeft(parsed)) {
        const failure = parsed.left
        if (failure._tag === "Page") return yield* failure.error
        // OAuth 2.1 §4.1.2.1: only to a redirect URI that is registered for a known client
        const { client, redirectUri } = yield* clientAndRedirect(realm, failure.clientId, failure.redirectUri)
        return yield* AuthorizationResponse.errorToClient(
          client,
          { redirectUri, responseMode: failure.responseMode, state: failure.state, clientName: SignInFlow.clientName(client) },
          issuer,
          failure.error
        )
      }
      const params = parsed.right
      const { client, redirectUri } = yield* clientAndRedirect(realm, params.clientId, params.redirectUri)
      const to: AuthorizationResponse.Target = {
        redirectUri,
        responseMode: params.responseMode,
        state: params.state,
        clientName: SignInFlow.clientName(client)
      }
      const back = (e: ErrorResponse.ErrorResponse) => AuthorizationResponse.errorToClient(client, to, issuer, e)

      const checked = Authorize.checkClient(client)
      if (Either.isLeft(checked)) return yield* back(toErrorResponse(checked.left))
      const access = Authorize.access({
        client,
        realmResources: yield* Effect.flatMap(Resources.Resources, (r) => r.list(realm.id)),
        requestedScopes: params.scope,
        requestedResources: params.resource
      })
      if (Either.isLeft(access)) return yield* back(toErrorResponse(access.left))

      const request: Interactions.Request = {
        clientId: client.clientId,
        redirectUri,
        redirectUriGiven: params.redirectUri !== undefined,
        scopes: access.right.scopes,
        resources: access.right.resources,
        ...(params.state !== undefined ? { state: params.state } : {}),
        ...(params.nonce !== undefined ? { nonce: params.nonce } : {}),
        codeChallenge: params.codeChallenge,
        // RFC 9449 §10: the code will be bound to this key
        ...(params.dpopJkt !== undefined ? { dpopJkt: params.dpopJkt } : {}),
        responseMode: params.responseMode,
        prompt: params.prompt,
        ...(params.maxAge !== undefined ? { maxAge: params.maxAge } : {}),
        acrValues: params.acrValues,
        ...(params.loginHint !== undefined ? { loginHint: params.loginHint } : {}),
        stepUp: access.right.stepUp
      }

      const now = yield* DateTime.now
      const session = yield* SignInFlow.currentSession(realm)
      const none = params.prompt.includes("none")
      const login = Authorize.needsLogin(session, request, now)
      // OIDC Core §3.1.2.6: prompt=none cannot show a page
      if (login && none) return yield* back(ErrorResponse.make("login_required", "the person must sign in"))
      if (!login && Option.isSome(session)) {
        const consent = yield* Effect.flatMap(SignIn.Consents, (c) => c.find(realm.id, session.value.sub, client.clientId))
        if (!Authorize.needsConsent(consent, request)) {
          return yield* SignInFlow.finish(realm, issuer, client, request, session.value)
        }
        if (none) return yield* back(ErrorResponse.make("consent_required", "the person must consent to this request"))
      }

      const forms = yield* SignInFlow.begin(realm, issuer, client, request, login ? undefined : Option.getOrUndefined(session)?.sid)
      const cookie = SignInCookies.setInteraction(realm.name, forms.interactionId, forms.csrf)
      if (!login && Option.isSome(session)) return yield* Effect.flatMap(SignInFlow.consentPage(forms, session.value), cookie)
      // someone is signed in but must confirm it's them (prompt=login, max_age, acr_values, a step-up scope)
      const active = Option.filter(session, (s) => Authorize.isActive(s, now))
      const stepUp = Option.isSome(active) && !params.prompt.includes("select_account")
      const username = params.loginHint ?? (stepUp
        ? Option.getOrUndefined(yield* Effect.flatMap(Users.Users, (u) => u.find(realm.id, active.value.sub)))?.username
        : undefined)
      return yield* cookie(SignInFlow.loginPage(forms, { username, stepUp }))
    }))

export const Routes = HttpLayerRouter.addAll([
  HttpLayerRouter.route("GET", "/realms/:realm/authorize", authorize("GET")),
  HttpLayerRouter.route("POST", "/realms/:realm/authorize", authorize("POST"))
])

/**
 * What the metadata says about this endpoint (RFC 8414 §2, OIDC Discovery §3, RFC 9207 §3): only what works here.
 * `scopes_supported` holds the OpenID Connect scopes and the scopes of the realm's resources.
 */
export const metadata = (realm: Realm.Realm, issuer: string) =>
  Effect.map(Effect.flatMap(Resources.Resources, (r) => r.list(realm.id)), (resources) => ({
    authorization_endpoint: `${issuer}/authorize`,
    response_modes_supported: ["query", "form_post"],
    scopes_supported: [...new Set([...Audience.oidcScopes, ...resources.flatMap((r) => r.scopes)])],
    // RFC 9207 §3: every authorization response carries iss
    authorization_response_iss_parameter_supported: true,
    prompt_values_supported: ["none", "login", "consent", "select_account"],
    acr_values_supported: [Session.passwordAcr],
    // OIDC Core §5.1 and §2: what ID tokens and userinfo can carry
    claims_supported: [
      "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "sid", "name", "preferred_username", "email"
    ],
    // OIDC Discovery §3: request_uri_parameter_supported defaults to true, so both are said explicitly
    request_parameter_supported: false,
    request_uri_parameter_supported: false
  }))
