/**
 * The UserInfo endpoint (OIDC Core §5.3): GET or POST, an access token for the issuer, claims by scope. The token
 * comes as a bearer token (RFC 6750) or, when DPoP-bound, with the DPoP scheme and a proof (RFC 9449 §7).
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { Effect, Either, Option } from "effect"
import { Endpoints, Introspection, Users } from "@tessera/domain"
import { Challenge, Dpop, ErrorResponse, Form } from "@tessera/protocol"
import * as DpopProof from "./DpopProof.js"
import * as FormBody from "./FormBody.js"
import * as Issuer from "./Issuer.js"
import { handle, json } from "./Respond.js"

/**
 * RFC 6750 §3 and RFC 9449 §7.2: both schemes are offered; the one the client used carries the error, and an error
 * code appears only when a token was presented (RFC 6750 §3.1).
 */
const challenge = (issuer: string, scheme: Dpop.Credentials["scheme"], error?: { readonly error: string; readonly description: string }) => {
  const dpop = Dpop.challenge({ realm: issuer }, scheme === "DPoP" ? error : undefined)
  if (scheme === "DPoP" && error !== undefined) return dpop
  const bearer = Challenge.challenge("Bearer", [["realm", issuer], ...(error !== undefined ? [["error", error.error] as const] : [])])
  return `${bearer}, ${dpop}`
}

const refuse = (
  issuer: string,
  error: "invalid_request" | "invalid_token" | "insufficient_scope",
  description: string,
  scheme: Dpop.Credentials["scheme"] = "Bearer"
) =>
  new ErrorResponse.ErrorResponse({
    error,
    error_description: description,
    wwwAuthenticate: challenge(issuer, scheme, { error, description })
  })

/** RFC 6750 §2.1 or RFC 9449 §7.1 (header), or RFC 6750 §2.2 (form body, POST only); §2.3 (query) is refused; never two at once. */
const presentedCredentials = (issuer: string) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const url = new URL(request.url, "http://localhost")
    // RFC 9700 §2.4 / OAuth 2.1 §5.2: access tokens never travel in the query
    if (url.searchParams.has("access_token")) return yield* refuse(issuer, "invalid_request", "the access token must not be sent in the query")
    const header = request.headers["authorization"]
    let fromBody: string | undefined
    const type = (request.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase()
    if (request.method === "POST" && type === "application/x-www-form-urlencoded") {
      const params = yield* FormBody.read
      fromBody = yield* Either.match(Form.single(params, "access_token"), { onLeft: Effect.fail, onRight: Effect.succeed })
    }
    if (header !== undefined && fromBody !== undefined) {
      return yield* refuse(issuer, "invalid_request", "the access token must be sent one way only")
    }
    if (header !== undefined) {
      const credentials = Dpop.credentials(header)
      if (credentials === undefined) {
        return yield* refuse(issuer, "invalid_token", "the Authorization header is not a Bearer or DPoP access token")
      }
      return Option.some(credentials)
    }
    // RFC 6750 §2.2: a token in the form body is a bearer token
    return Option.map(Option.fromNullable(fromBody), (token): Dpop.Credentials => ({ scheme: "Bearer", token }))
  })

const userinfo = handle(Effect.gen(function*() {
  const realm = yield* Issuer.realmParam(Issuer.unknownRealm)
  const issuer = yield* Issuer.of(realm.name)
  const presented = yield* presentedCredentials(issuer)
  // RFC 6750 §3.1, RFC 9449 §7.2: no token at all is a challenge of both schemes without an error code
  if (Option.isNone(presented)) {
    return yield* new ErrorResponse.ErrorResponse({
      error: "invalid_token",
      error_description: "an access token is required",
      status: 401,
      wwwAuthenticate: challenge(issuer, "Bearer")
    })
  }
  const credentials = presented.value
  const request = yield* HttpServerRequest.HttpServerRequest
  // RFC 9449 §9: with nonces required, every answer to a DPoP request carries the current one
  const nonceHeader = request.headers["dpop"] !== undefined ? yield* DpopProof.nonceHeader(realm) : {}
  // CONTRACT §5: userinfo accepts only tokens whose aud is the issuer, and (Introspection) none of a revoked grant
  const active = yield* Introspection.activeAccessToken(realm, issuer, credentials.token, { audience: issuer })
  if (Option.isNone(active)) {
    return yield* refuse(issuer, "invalid_token", "the access token is invalid, expired, or not for this endpoint", credentials.scheme)
  }
  const claims = active.value
  // RFC 9449 §7.1, §7.2: a DPoP-bound token needs the DPoP scheme and a proof of its key (with ath); a bound token
  // sent as a bearer token is refused
  yield* Dpop.verifyPresentation({
    credentials,
    claims,
    proof: request.headers["dpop"],
    method: request.method,
    uri: Endpoints.userinfo(issuer),
    ...(yield* DpopProof.policy(realm))
  }).pipe(
    Effect.catchTags({
      ProofRejected: (e) => Effect.fail(ErrorResponse.withHeaders(Dpop.resourceError(e, { realm: issuer }), nonceHeader)),
      BindingRejected: (e) => Effect.fail(ErrorResponse.withHeaders(Dpop.resourceError(e, { realm: issuer }), nonceHeader))
    })
  )
  const scopes = claims.scope.split(" ")
  // OIDC Core §5.3: the token must carry openid
  if (!scopes.includes("openid")) return yield* refuse(issuer, "insufficient_scope", "the access token lacks the openid scope", credentials.scheme)
  const sub = claims.sub
  const user = yield* Effect.flatMap(Users.Users, (users) => users.find(realm.id, sub))
  if (Option.isNone(user)) return yield* refuse(issuer, "invalid_token", "the person no longer exists", credentials.scheme)
  const u = user.value
  return json({
    sub,
    ...(scopes.includes("profile") ? { preferred_username: u.username, ...(u.name !== undefined ? { name: u.name } : {}) } : {}),
    ...(scopes.includes("email") && u.email !== undefined ? { email: u.email } : {})
  }, 200, nonceHeader)
}))

export const Routes = HttpLayerRouter.addAll([
  HttpLayerRouter.route("GET", "/realms/:realm/userinfo", userinfo),
  HttpLayerRouter.route("POST", "/realms/:realm/userinfo", userinfo)
])
