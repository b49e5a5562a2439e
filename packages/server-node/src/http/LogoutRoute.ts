/**
 * The end-session endpoint, GET and POST `{issuer}/logout` (OIDC RP-Initiated Logout 1.0 §2-§4), and the POST of
 * its confirmation form, `{issuer}/logout/confirm`. Ending a session clears its cookie and shows the signed-out page,
 * which tells every client of the session through an iframe (OIDC Front-Channel Logout 1.0 §2-§4).
 *
 * Thin: protocol `LogoutRequest` decodes, domain `Logout` decides (the hint, the client, the redirect, the session
 * to end, the confirmation form's CSRF token), this file reads the cookie and renders.
 *
 * The confirmation form keeps no server-side state. Its action URL carries what the request established (the
 * client, the already matched `post_logout_redirect_uri`, `state`), and its `csrf` field is `Logout.csrfToken` of
 * exactly those values, bound to the session cookie. The confirmation still checks the redirect URI against the
 * client's registration again, since the client may have changed in between.
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { Array as Arr, DateTime, Effect, Match, Option } from "effect"
import { Endpoints, Hash, Logout, Sessions, Users } from "@tessera/domain"
import type { Realm, Session } from "@tessera/domain"
import { Form, LogoutRequest } from "@tessera/protocol"
import * as ClientLookup from "./ClientLookup.js"
import * as LogoutPage from "../pages/LogoutPage.js"
import { redirect, withQuery } from "./AuthorizationResponse.js"
import * as FormBody from "./FormBody.js"
import { fromEither } from "./Respond.js"
import * as SignInCookies from "./SignInCookies.js"
import * as SignInFlow from "./SignInFlow.js"
import * as RequestContext from "./RequestContext.js"

/** The one mapping from the domain's refusals to the error page (fixed text, never request input). */
const refused = Match.type<Logout.LogoutRejected>().pipe(
  Match.when({ reason: "bad_hint" }, () => SignInFlow.refuse("The id_token_hint is not an ID token issued by this realm.")),
  Match.when({ reason: "client_mismatch" }, () => SignInFlow.refuse("The client_id is not the application the id_token_hint was issued to.")),
  Match.exhaustive
)

const queryOf = (request: HttpServerRequest.HttpServerRequest) => {
  const q = request.url.indexOf("?")
  return fromEither(Form.parseQuery(q === -1 ? "" : request.url.slice(q + 1)))
}

/** The request's parameters: the query of a GET, the form body of a POST (RP-Initiated Logout §2). */
const paramsOf = (method: "GET" | "POST") =>
  method === "GET" ? Effect.flatMap(HttpServerRequest.HttpServerRequest, queryOf) : FormBody.params

/** The browser's session cookie of this realm, and the session it names (ended or not), if any. */
const currentSession = (realm: Realm.Realm) =>
  Effect.gen(function*() {
    const cookie = SignInCookies.readSession(yield* HttpServerRequest.HttpServerRequest, realm.name)
    if (cookie === undefined) return Option.none()
    const hash = yield* Hash.sha256(cookie)
    const session = yield* Effect.flatMap(Sessions.Sessions, (s) => s.findByCookie(realm.id, hash))
    return Option.some({ cookie, session })
  })

const carriedOf = (target: Logout.Target): LogoutRequest.Confirmation => ({
  clientId: target.client?.clientId,
  postLogoutRedirectUri: target.redirectUri,
  state: target.state
})

const confirmAction = (issuer: string, carried: LogoutRequest.Confirmation) => {
  const search = LogoutRequest.encodeConfirmation(carried)
  return `${issuer}/logout/confirm${search === "" ? "" : `?${search}`}`
}

/** §3: `state` is added to the redirect URI's own query when the request had one. */
const continueUri = (target: Logout.Target) =>
  target.redirectUri === undefined
    ? undefined
    : target.state !== undefined
    ? withQuery(target.redirectUri, [["state", target.state]])
    : target.redirectUri

const signedOutPage = (realm: Realm.Realm, target: Logout.Target, frontChannel: ReadonlyArray<string>) =>
  LogoutPage.signedOut({ realmDisplayName: realm.displayName ?? realm.name, frontChannel, continueTo: continueUri(target) })

/** Front-Channel Logout §2-§3: the iframes, each client's URI (its own query kept) with `iss` and `sid` added. */
const frontChannelUrls = (realm: Realm.Realm, issuer: string, session: Session.Session) =>
  Effect.gen(function*() {
    const found = yield* Effect.forEach(session.clientIds, (id) => ClientLookup.find(realm, id))
    return Logout.frontChannelUris(issuer, Arr.getSomes(found)).map((uri) => withQuery(uri, [["iss", issuer], ["sid", session.sid]]))
  })

/**
 * GET and POST `{issuer}/logout`. With a signed-in browser: the confirmation form (§2: the OP SHOULD ask the
 * End-User whether to log out; §6: a logout request is a means of denial of service, even with a valid hint, since
 * ID tokens travel in URLs). Without one: the signed-out page straight away, as nothing is left to end.
 */
const endSession = (method: "GET" | "POST") =>
  SignInFlow.pageRoute((realm, issuer) =>
    Effect.gen(function*() {
      const request = yield* Effect.flatMap(paramsOf(method), (params) => fromEither(LogoutRequest.decode(params)))
      const target = yield* Logout.check(realm, issuer, request, (clientId) => SignInFlow.clientOf(realm, clientId)).pipe(
        Effect.catchTag("LogoutRejected", refused)
      )
      const current = yield* currentSession(realm)
      if (method === "POST" && Option.isNone(current)) {
        // A cross-site POST does not carry the SameSite=Lax session cookie: the same request as a top-level GET
        // does, so the person is not told they are signed out while their session lives on.
        return redirect(`${issuer}/logout?${LogoutRequest.encode(request)}`, 303)
      }
      const session = Logout.toConfirm(Option.flatMap(current, (c) => c.session), yield* DateTime.now)
      if (Option.isNone(current) || Option.isNone(session)) return signedOutPage(realm, target, [])

      const user = yield* Effect.flatMap(Users.Users, (u) => u.find(realm.id, session.value.sub))
      const carried = carriedOf(target)
      return LogoutPage.logout({
        csrf: yield* Logout.csrfToken(current.value.cookie, realm.id, carried),
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
    const carried = yield* Effect.flatMap(Effect.flatMap(HttpServerRequest.HttpServerRequest, queryOf), (query) =>
      fromEither(LogoutRequest.decodeConfirmation(query)))
    const csrf = yield* SignInFlow.field(body, "csrf")
    const current = yield* currentSession(realm)
    // no cookie: this browser is signed out already (another tab, or the cookie expired); nothing to verify or end
    if (Option.isNone(current)) return signedOutPage(realm, {}, [])
    const { cookie, session } = current.value
    if (!(yield* Logout.csrfMatches(csrf, cookie, realm.id, carried))) return yield* SignInFlow.badCsrf()

    // the client may have been removed, or its redirect URIs changed, since the form was shown
    const client = carried.clientId !== undefined ? yield* ClientLookup.find(realm, carried.clientId) : Option.none()
    const target = Logout.targetOf(Option.getOrUndefined(client), carried.postLogoutRedirectUri, carried.state)

    let frontChannel: ReadonlyArray<string> = []
    const ending = Logout.toEnd(session)
    // RP-Initiated Logout §2-3: a confirmation that lost the race to a concurrent one finds the End-User logged out
    // already (the winner told the RPs): like a replay it tells no RP again, and only redirects back or says so
    if (Option.isSome(ending) && (yield* Logout.end(realm, ending.value, carried.clientId, yield* RequestContext.current))) {
      frontChannel = yield* frontChannelUrls(realm, issuer, ending.value)
    }
    const back = continueUri(target)
    const response = frontChannel.length === 0 && back !== undefined
      ? redirect(back, 303)
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
