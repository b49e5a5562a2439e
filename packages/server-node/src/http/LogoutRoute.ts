/**
 * The end-session endpoint, GET and POST `{issuer}/logout` (OIDC RP-Initiated Logout 1.0 §2-§4), and the POST of
 * its confirmation form, `{issuer}/logout/confirm`. Ending a session clears its cookie and shows the signed-out page,
 * which tells every client of the session through an iframe (OIDC Front-Channel Logout 1.0 §2-§4).
 *
 * The confirmation form keeps no server-side state. Its action URL carries what the request established (the
 * client, the already matched `post_logout_redirect_uri`, `state`), and its `csrf` field is an HMAC of exactly
 * those values keyed by the session cookie's secret: only the browser holding the session can post it, and nothing
 * in the URL can be changed without breaking it. The confirmation still checks the redirect URI against the
 * client's registration again, since the client may have changed in between.
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { createHmac } from "node:crypto"
import { DateTime, Duration, Effect, Option } from "effect"
import { Audit, Endpoints, Hash, Jwt, Session, SignIn, SigningKeys, TokenSet, Users } from "@tessera/domain"
import type { Client, Realm } from "@tessera/domain"
import { ErrorResponse, Form } from "@tessera/protocol"
import * as ClientLookup from "./ClientLookup.js"
import * as LogoutPage from "../pages/LogoutPage.js"
import { redirect, withQuery } from "./AuthorizationResponse.js"
import * as FormBody from "./FormBody.js"
import { fromEither } from "./Respond.js"
import * as SignInCookies from "./SignInCookies.js"
import * as SignInFlow from "./SignInFlow.js"
import * as RequestContext from "./RequestContext.js"

/** RP-Initiated Logout §2: the request parameters (each at most once, RFC 6749 §3.1). */
interface LogoutRequest {
  readonly idTokenHint: string | undefined
  readonly logoutHint: string | undefined
  readonly clientId: string | undefined
  readonly postLogoutRedirectUri: string | undefined
  readonly state: string | undefined
  readonly uiLocales: string | undefined
}

/** What a checked request leads to: the client that asked, and where to send the person afterwards. */
interface Target {
  readonly client?: Client.Client | undefined
  /** Exactly one of the client's registered `post_logout_redirect_uris`. */
  readonly redirectUri?: string | undefined
  /** Echoed on the redirect only (RP-Initiated Logout §3). */
  readonly state?: string | undefined
}

/**
 * RP-Initiated Logout §4: the OP SHOULD accept an ID token as a hint even when its `exp` has passed. How old a hint
 * may be is bounded in practice by the key ring (a hint whose key has left the JWKS no longer verifies); this
 * tolerance only keeps the expiry check from refusing it.
 */
const expiredHintTolerance = Duration.days(366)

const badHint = () => SignInFlow.refuse("The id_token_hint is not an ID token issued by this realm.")
const clientMismatch = () => SignInFlow.refuse("The client_id is not the application the id_token_hint was issued to.")

const queryOf = (request: HttpServerRequest.HttpServerRequest) => {
  const q = request.url.indexOf("?")
  return fromEither(Form.parseQuery(q === -1 ? "" : request.url.slice(q + 1)))
}

/** The request's parameters: the query of a GET, the form body of a POST (RP-Initiated Logout §2). */
const paramsOf = (method: "GET" | "POST") =>
  method === "GET" ? Effect.flatMap(HttpServerRequest.HttpServerRequest, queryOf) : FormBody.params

const read = (params: Form.Params) =>
  Effect.all({
    idTokenHint: SignInFlow.field(params, "id_token_hint"),
    logoutHint: SignInFlow.field(params, "logout_hint"),
    clientId: SignInFlow.field(params, "client_id"),
    postLogoutRedirectUri: SignInFlow.field(params, "post_logout_redirect_uri"),
    state: SignInFlow.field(params, "state"),
    uiLocales: SignInFlow.field(params, "ui_locales")
  }) satisfies Effect.Effect<LogoutRequest, ErrorResponse.ErrorResponse>

const wireNames: ReadonlyArray<readonly [keyof LogoutRequest, string]> = [
  ["idTokenHint", "id_token_hint"],
  ["logoutHint", "logout_hint"],
  ["clientId", "client_id"],
  ["postLogoutRedirectUri", "post_logout_redirect_uri"],
  ["state", "state"],
  ["uiLocales", "ui_locales"]
]

/**
 * RP-Initiated Logout §4: the OP MUST validate that it was the issuer of the ID token: signed by one of this
 * realm's keys (RS256, as ID tokens are), `iss` this realm. The OP need not be in `aud`. Returns its audiences and
 * the client it was issued to: `azp`, or the single audience.
 */
const verifyHint = (realm: Realm.Realm, issuer: string, token: string) =>
  Effect.gen(function*() {
    const jwks = yield* SigningKeys.jwks(realm.id)
    const verified = yield* Jwt.verify(token, jwks, {
      issuer,
      typ: "JWT",
      algorithms: ["RS256"],
      requiredClaims: ["sub", "aud"],
      clockTolerance: Duration.toSeconds(expiredHintTolerance)
    }).pipe(Effect.catchTag("TokenInvalid", badHint))
    const payload = verified.payload
    const audiences = typeof payload.aud === "string" ? [payload.aud] : payload.aud ?? []
    const azp = payload["azp"]
    const clientId = typeof azp === "string" && audiences.includes(azp) ? azp : audiences.length === 1 ? audiences[0] : undefined
    return { audiences, clientId }
  })

/**
 * RP-Initiated Logout §2-§3: the client comes from `client_id` or the hint (both: they must agree); the redirect
 * happens only to an exact match of one of its `post_logout_redirect_uris`. A redirect URI that does not match, or
 * that no client can be found for, is not an error: the person is simply not sent anywhere afterwards.
 */
const check = (realm: Realm.Realm, issuer: string, request: LogoutRequest) =>
  Effect.gen(function*() {
    const hint = request.idTokenHint !== undefined ? yield* verifyHint(realm, issuer, request.idTokenHint) : undefined
    // §2: when both client_id and id_token_hint are present, the OP MUST verify that the client is the one the ID
    // token was issued to
    if (hint !== undefined && request.clientId !== undefined && !hint.audiences.includes(request.clientId)) {
      return yield* clientMismatch()
    }
    const clientId = request.clientId ?? hint?.clientId
    if (clientId === undefined) return {} satisfies Target
    const client = yield* SignInFlow.clientOf(realm, clientId)
    return targetOf(client, request.postLogoutRedirectUri, request.state)
  })

/** §3: the OP MUST NOT redirect unless `post_logout_redirect_uri` exactly matches one registered by the client. */
const targetOf = (client: Client.Client, redirectUri: string | undefined, state: string | undefined): Target =>
  redirectUri !== undefined && client.metadata.postLogoutRedirectUris.includes(redirectUri)
    ? { client, redirectUri, ...(state !== undefined ? { state } : {}) }
    : { client }

/** The browser's session cookie of this realm, and the session it names (ended or not), if any. */
const currentSession = (realm: Realm.Realm) =>
  Effect.gen(function*() {
    const cookie = SignInCookies.readSession(yield* HttpServerRequest.HttpServerRequest, realm.name)
    if (cookie === undefined) return Option.none()
    const hash = yield* Hash.sha256(cookie)
    const session = yield* Effect.flatMap(SignIn.Sessions, (s) => s.findByCookie(realm.id, hash))
    return Option.some({ cookie, session })
  })

/** The confirmation form's CSRF token: HMAC-SHA256 keyed by the session cookie's secret, over what the form carries. */
const csrfFor = (cookie: string, realm: Realm.Realm, carried: Carried) =>
  createHmac("sha256", cookie)
    .update(JSON.stringify(["tessera/logout", realm.id, carried.clientId ?? null, carried.redirectUri ?? null, carried.state ?? null]))
    .digest("base64url")

/** What the confirmation form's action URL carries from the request to the confirmation. */
interface Carried {
  readonly clientId: string | undefined
  readonly redirectUri: string | undefined
  readonly state: string | undefined
}

const carriedOf = (target: Target): Carried => ({
  clientId: target.client?.clientId,
  redirectUri: target.redirectUri,
  state: target.state
})

const confirmAction = (issuer: string, carried: Carried) => {
  const query = new URLSearchParams()
  if (carried.clientId !== undefined) query.set("client_id", carried.clientId)
  if (carried.redirectUri !== undefined) query.set("post_logout_redirect_uri", carried.redirectUri)
  if (carried.state !== undefined) query.set("state", carried.state)
  const search = query.toString()
  return `${issuer}/logout/confirm${search === "" ? "" : `?${search}`}`
}

/** §3: `state` is added to the redirect URI's own query when the request had one. */
const continueUri = (target: Target & { readonly redirectUri: string }) =>
  target.state !== undefined ? withQuery(target.redirectUri, [["state", target.state]]) : target.redirectUri

const seeOther = (location: string) => redirect(location, 303)

const signedOutPage = (realm: Realm.Realm, target: Target, frontChannel: ReadonlyArray<string>) =>
  LogoutPage.signedOut({
    realmDisplayName: realm.displayName ?? realm.name,
    frontChannel,
    continueTo: target.redirectUri !== undefined ? continueUri({ ...target, redirectUri: target.redirectUri }) : undefined
  })

const sameOrigin = (uri: string, issuer: string) => {
  try {
    return new URL(uri).origin === new URL(issuer).origin
  } catch {
    return false
  }
}

/**
 * Front-Channel Logout §2-§3: one iframe per client that got tokens in the session and registered a
 * `frontchannel_logout_uri`, its own query kept. `iss` and `sid` are added for every client, not only those that
 * set `frontchannel_logout_session_required`: §2 lets the OP add them (both or neither), and with them a client
 * ends exactly this session rather than every session it holds for the person.
 */
const frontChannelUrls = (realm: Realm.Realm, issuer: string, session: Session.Session) =>
  Effect.gen(function*() {
    const found = yield* Effect.forEach(session.clientIds, (id) => ClientLookup.find(realm, id))
    const urls: Array<string> = []
    for (const client of found) {
      const uri = Option.getOrUndefined(client)?.metadata.frontchannelLogoutUri
      // Tessera's own origin is never framed: a same-origin frame with scripts could lift its sandbox (ADR 0026)
      if (uri === undefined || sameOrigin(uri, issuer)) continue
      const url = withQuery(uri, [["iss", issuer], ["sid", session.sid]])
      if (!urls.includes(url)) urls.push(url)
    }
    return urls
  })

/**
 * GET and POST `{issuer}/logout`. With a signed-in browser: the confirmation form (§2: the OP SHOULD ask the
 * End-User whether to log out; §6: a logout request is a means of denial of service, even with a valid hint, since
 * ID tokens travel in URLs). Without one: the signed-out page straight away, as nothing is left to end.
 */
const endSession = (method: "GET" | "POST") =>
  SignInFlow.pageRoute((realm, issuer) =>
    Effect.gen(function*() {
      const request = yield* Effect.flatMap(paramsOf(method), read)
      const target = yield* check(realm, issuer, request)
      const current = yield* currentSession(realm)
      if (method === "POST" && Option.isNone(current)) {
        // A cross-site POST does not carry the SameSite=Lax session cookie: the same request as a top-level GET
        // does, so the person is not told they are signed out while their session lives on.
        const query = new URLSearchParams()
        for (const [key, name] of wireNames) {
          const value = request[key]
          if (value !== undefined) query.set(name, value)
        }
        return seeOther(`${issuer}/logout?${query.toString()}`)
      }
      const now = yield* DateTime.now
      const session = Option.flatMap(current, (c) => c.session).pipe(Option.filter((s) => Session.isActive(s, now)))
      if (Option.isNone(current) || Option.isNone(session)) return signedOutPage(realm, target, [])

      const cookie = current.value.cookie
      const user = yield* Effect.flatMap(Users.Users, (u) => u.find(realm.id, session.value.sub))
      const carried = carriedOf(target)
      return LogoutPage.logout({
        csrf: csrfFor(cookie, realm, carried),
        realmDisplayName: realm.displayName ?? realm.name,
        clientName: target.client !== undefined ? SignInFlow.clientName(target.client) : undefined,
        username: Option.getOrUndefined(user)?.username,
        action: confirmAction(issuer, carried),
        // the confirmation may redirect there: form-action must allow it
        redirectUri: target.redirectUri
      })
    }))

/**
 * POST `{issuer}/logout/confirm`: "yes" on the confirmation form. §2: the OP MUST then log the End-User out: the
 * session ends (audited as `logout.succeeded`), its cookie is cleared, and the signed-out page loads the
 * front-channel iframes. With no iframe to load and a registered redirect URI, a 303 goes straight back to the
 * client (§3), since the page would hold nothing but the link.
 */
const confirm = SignInFlow.pageRoute((realm, issuer) =>
  Effect.gen(function*() {
    const body = yield* FormBody.params
    const query = yield* Effect.flatMap(HttpServerRequest.HttpServerRequest, queryOf)
    const carried: Carried = {
      clientId: yield* SignInFlow.field(query, "client_id"),
      redirectUri: yield* SignInFlow.field(query, "post_logout_redirect_uri"),
      state: yield* SignInFlow.field(query, "state")
    }
    const csrf = yield* SignInFlow.field(body, "csrf")
    const current = yield* currentSession(realm)
    // no cookie: this browser is signed out already (another tab, or the cookie expired); nothing to verify or end
    if (Option.isNone(current)) return signedOutPage(realm, {}, [])
    const { cookie, session } = current.value
    if (csrf === undefined || !Hash.constantTimeEqual(csrf, csrfFor(cookie, realm, carried))) return yield* SignInFlow.badCsrf()

    // the client may have been removed, or its redirect URIs changed, since the form was shown
    const client = carried.clientId !== undefined
      ? yield* ClientLookup.find(realm, carried.clientId)
      : Option.none()
    const target: Target = Option.match(client, {
      onNone: () => ({}),
      onSome: (c) => targetOf(c, carried.redirectUri, carried.state)
    })

    let frontChannel: ReadonlyArray<string> = []
    if (Option.isSome(session) && session.value._tag === "Active") {
      const s = session.value
      const context = yield* RequestContext.current
      const event = yield* Audit.make(realm, {
        type: "logout.succeeded",
        actor: { type: "user", id: s.sub },
        subject: s.sub,
        ...(carried.clientId !== undefined ? { clientId: carried.clientId } : {}),
        result: "success",
        ...TokenSet.audited(context)
      })
      yield* Effect.flatMap(SignIn.Sessions, (sessions) => Effect.flatMap(DateTime.now, (now) => sessions.end(realm.id, s.sid, now, event)))
      frontChannel = yield* frontChannelUrls(realm, issuer, s)
    }
    const response = frontChannel.length === 0 && target.redirectUri !== undefined
      ? seeOther(continueUri({ ...target, redirectUri: target.redirectUri }))
      : signedOutPage(realm, target, frontChannel)
    return yield* SignInCookies.clearSession(realm.name)(response)
  }))

export const Routes = HttpLayerRouter.addAll([
  HttpLayerRouter.route("GET", "/realms/:realm/logout", endSession("GET")),
  HttpLayerRouter.route("POST", "/realms/:realm/logout", endSession("POST")),
  HttpLayerRouter.route("POST", "/realms/:realm/logout/confirm", confirm)
])

/** RP-Initiated Logout §2.1 and Front-Channel Logout §3: what the metadata says about logout. */
export const metadata = (issuer: string) => ({
  end_session_endpoint: Endpoints.endSession(issuer),
  frontchannel_logout_supported: true,
  frontchannel_logout_session_supported: true
})
