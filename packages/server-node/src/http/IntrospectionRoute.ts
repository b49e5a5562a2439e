/**
 * Token introspection (RFC 7662): to an authenticated client, what an active token of this realm issued to it, or for
 * a resource it serves, holds; for anything else, another client's or another realm's token included, only
 * `{"active": false}` (§2.2), so nothing leaks across clients or realms (CONTRACT §5).
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import { Effect, Either, Option } from "effect"
import { Introspection } from "@tessera/domain"
import { Form } from "@tessera/protocol"
import * as ClientCredentials from "./ClientCredentials.js"
import * as FormBody from "./FormBody.js"
import * as Issuer from "./Issuer.js"
import { fromEither, handle, json } from "./Respond.js"

/**
 * RFC 7662 §2.1 / RFC 7009 §2.1: `token` REQUIRED, once; `token_type_hint` OPTIONAL. A hint the server does not know
 * is no hint: the search covers every token type anyway.
 */
export const tokenParams = (params: Form.Params) =>
  fromEither(Either.all({
    token: Form.required(params, "token"),
    hint: Either.map(Form.single(params, "token_type_hint"), (hint): Introspection.Hint | undefined =>
      hint === "access_token" || hint === "refresh_token" ? hint : undefined)
  }))

/** RFC 7662 §2.2: the whole answer for a token that is not active. */
const inactive = { active: false } as const

/** RFC 7662 §2.2: an active token's members. */
const view = Introspection.Inspected.$match({
  AccessToken: ({ claims }) => ({
    active: true,
    iss: claims.iss,
    sub: claims.sub,
    aud: claims.aud,
    client_id: claims.client_id,
    scope: claims.scope,
    exp: claims.exp,
    iat: claims.iat,
    jti: claims.jti,
    // RFC 9449 §6.2: a DPoP-bound token's type is DPoP
    token_type: claims.cnf !== undefined ? "DPoP" : "Bearer",
    ...(claims.auth_time !== undefined ? { auth_time: claims.auth_time } : {}),
    ...(claims.acr !== undefined ? { acr: claims.acr } : {}),
    ...(claims.act !== undefined ? { act: claims.act } : {}),
    ...(claims.cnf !== undefined ? { cnf: claims.cnf } : {})
  }),
  RefreshToken: (refresh) => ({
    active: true,
    client_id: refresh.clientId,
    scope: refresh.scope.join(" "),
    sub: refresh.sub,
    exp: refresh.exp,
    token_type: "refresh_token"
  })
})

/** The one mapping: besides malformed requests, only client authentication can refuse here. */
const toErrorResponse = ClientCredentials.invalidClient

const introspect = handle(Effect.gen(function*() {
  const realm = yield* Issuer.realmParam(Issuer.unknownRealm)
  const issuer = yield* Issuer.of(realm.name)
  const params = yield* FormBody.params
  return yield* Effect.gen(function*() {
    // RFC 7662 §2.1: the endpoint MUST require authorization; Tessera requires a client that authenticates
    const client = yield* ClientCredentials.fromRequest({ realm, issuer, params, allowNone: false })
    const { token, hint } = yield* tokenParams(params)
    // CONTRACT §5 Introspection: another client's token is, to this client, only {"active": false}
    const found = Option.filter(yield* Introspection.inspect({ realm, issuer, token, hint }), (t) => Introspection.visibleTo(t, client))
    return json(Option.match(found, { onNone: () => inactive, onSome: view }), 200, { pragma: "no-cache" })
  }).pipe(
    Effect.tapErrorTag("ClientAuthFailed", (e) => Effect.logInfo("introspection refused", e.reason, e.detail ?? e.registered ?? "")),
    Effect.catchTag("ClientAuthFailed", (e) => Effect.fail(toErrorResponse(issuer)(e)))
  )
}))

export const Routes = HttpLayerRouter.addAll([HttpLayerRouter.route("POST", "/realms/:realm/introspect", introspect)])
