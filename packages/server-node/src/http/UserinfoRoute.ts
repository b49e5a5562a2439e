/** The UserInfo endpoint (OIDC Core §5.3): GET or POST, a bearer token for the issuer, claims by scope. */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { Effect, Either, Option } from "effect"
import { Jwt, SigningKeys, Users } from "@tessera/domain"
import { ErrorResponse, Form } from "@tessera/protocol"
import * as Issuer from "./Issuer.js"
import { handle, json, maxBodyBytes } from "./Respond.js"

/** RFC 6750 §3: the challenge names the realm; an error code only when a token was presented (§3.1). */
const challenge = (issuer: string, error?: string) =>
  error === undefined ? `Bearer realm="${issuer}"` : `Bearer realm="${issuer}", error="${error}"`

const refuse = (issuer: string, error: "invalid_request" | "invalid_token" | "insufficient_scope", description: string) =>
  new ErrorResponse.ErrorResponse({ error, error_description: description, wwwAuthenticate: challenge(issuer, error) })

/** RFC 6750 §2.1 (header) or §2.2 (form body, POST only); §2.3 (query) is refused; never two at once. */
const presentedToken = (issuer: string) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const url = new URL(request.url, "http://localhost")
    // RFC 9700 §2.4 / OAuth 2.1 §5.2: access tokens never travel in the query
    if (url.searchParams.has("access_token")) return yield* refuse(issuer, "invalid_request", "the access token must not be sent in the query")
    const header = request.headers["authorization"]
    let fromBody: string | undefined
    const type = (request.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase()
    if (request.method === "POST" && type === "application/x-www-form-urlencoded") {
      if (Number(request.headers["content-length"] ?? "0") > maxBodyBytes) {
        return yield* refuse(issuer, "invalid_request", `the body is larger than ${maxBodyBytes} bytes`)
      }
      const params = yield* Either.match(Form.parse(yield* Effect.orElseSucceed(request.text, () => "")), {
        onLeft: Effect.fail,
        onRight: Effect.succeed
      })
      fromBody = yield* Either.match(Form.single(params, "access_token"), { onLeft: Effect.fail, onRight: Effect.succeed })
    }
    if (header !== undefined && fromBody !== undefined) {
      return yield* refuse(issuer, "invalid_request", "the access token must be sent one way only")
    }
    if (header !== undefined) {
      const match = /^bearer +([A-Za-z0-9\-._~+/]+=*)$/i.exec(header)
      if (match === null) return yield* refuse(issuer, "invalid_token", "the Authorization header is not a bearer token")
      return Option.some(match[1]!)
    }
    return Option.fromNullable(fromBody)
  })

const userinfo = handle(Effect.gen(function*() {
  const realm = yield* Issuer.realmParam(Issuer.unknownRealm)
  const issuer = yield* Issuer.of(realm.name)
  const token = yield* presentedToken(issuer)
  // RFC 6750 §3.1: no token at all is a challenge without an error code
  if (Option.isNone(token)) {
    return yield* new ErrorResponse.ErrorResponse({ error: "invalid_token", error_description: "an access token is required", status: 401, wwwAuthenticate: challenge(issuer) })
  }
  const jwks = yield* SigningKeys.jwks(realm.id)
  // CONTRACT §5: userinfo accepts only tokens whose aud is the issuer
  const verified = yield* Jwt.verify(token.value, jwks, { issuer, audience: issuer, typ: "at+jwt", algorithms: ["ES256"] }).pipe(
    Effect.mapError(() => refuse(issuer, "invalid_token", "the access token is invalid, expired, or not for this endpoint"))
  )
  const scopes = String(verified.payload["scope"] ?? "").split(" ")
  // OIDC Core §5.3: the token must carry openid
  if (!scopes.includes("openid")) return yield* refuse(issuer, "insufficient_scope", "the access token lacks the openid scope")
  const sub = String(verified.payload.sub)
  const user = yield* Effect.flatMap(Users.Users, (users) => users.find(realm.id, sub))
  if (Option.isNone(user)) return yield* refuse(issuer, "invalid_token", "the person no longer exists")
  const u = user.value
  return json({
    sub,
    ...(scopes.includes("profile") ? { preferred_username: u.username, ...(u.name !== undefined ? { name: u.name } : {}) } : {}),
    ...(scopes.includes("email") && u.email !== undefined ? { email: u.email } : {})
  })
}))

export const Routes = HttpLayerRouter.addAll([
  HttpLayerRouter.route("GET", "/realms/:realm/userinfo", userinfo),
  HttpLayerRouter.route("POST", "/realms/:realm/userinfo", userinfo)
])
