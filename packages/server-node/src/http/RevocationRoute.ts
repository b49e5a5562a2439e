/**
 * Token revocation (RFC 7009): an authenticated client revokes a token issued to it. §2.2: the answer is 200 with an
 * empty body whether the token was revoked, unknown, already invalid, another client's or another realm's.
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect } from "effect"
import { Revocation } from "@tessera/domain"
import * as ClientCredentials from "./ClientCredentials.js"
import * as RequestContext from "./RequestContext.js"
import * as FormBody from "./FormBody.js"
import { tokenParams } from "./IntrospectionRoute.js"
import * as Issuer from "./Issuer.js"
import { handle } from "./Respond.js"

/** RFC 7009 §2.2: "The content of the response body is ignored by the client". */
const revoked = HttpServerResponse.empty({ status: 200, headers: { "cache-control": "no-store", pragma: "no-cache" } })

/** The one mapping: besides malformed requests, only client authentication can refuse here. */
const toErrorResponse = ClientCredentials.invalidClient

const revoke = handle(Effect.gen(function*() {
  const realm = yield* Issuer.realmParam(Issuer.unknownRealm)
  const issuer = yield* Issuer.of(realm.name)
  const params = yield* FormBody.params
  return yield* Effect.gen(function*() {
    // RFC 7009 §2.1: the server first validates the client credentials (a public client names itself, §5)
    const client = yield* ClientCredentials.fromRequest({ realm, issuer, params, allowNone: true })
    const { token, hint } = yield* tokenParams(params)
    const outcome = yield* Revocation.revoke({ realm, issuer, client, token, hint, context: yield* RequestContext.current })
    yield* Effect.logDebug("revocation", outcome)
    return revoked
  }).pipe(
    Effect.tapErrorTag("ClientAuthFailed", (e) => Effect.logInfo("revocation refused", e.reason, e.detail ?? e.registered ?? "")),
    Effect.catchTag("ClientAuthFailed", (e) => Effect.fail(toErrorResponse(issuer)(e)))
  )
}))

export const Routes = HttpLayerRouter.addAll([HttpLayerRouter.route("POST", "/realms/:realm/revoke", revoke)])
