/**
 * The device authorization endpoint, POST `{issuer}/device_authorization` (RFC 8628 §3.1-3.2): the client
 * authenticates as at the token endpoint (public clients name themselves), scopes and resources are checked as at the
 * authorization endpoint, and the answer is the device code, the user code and where the person enters it.
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import { Effect, Either } from "effect"
import { Authorize, DeviceCodeGrant, DeviceFlow, Endpoints, Resources, UserCode } from "@tessera/domain"
import { DeviceAuthorizationRequest, ErrorResponse } from "@tessera/protocol"
import * as AuthorizeRoute from "./AuthorizeRoute.js"
import * as ClientCredentials from "./ClientCredentials.js"
import * as FormBody from "./FormBody.js"
import * as Issuer from "./Issuer.js"
import { fromEither, handle, json } from "./Respond.js"

/** RFC 8628 §3.2 `verification_uri_complete`: the same page with the code filled in (still to be confirmed, §5.4). */
export const verificationUriComplete = (issuer: string, userCode: string) =>
  `${Endpoints.deviceVerification(issuer)}?${new URLSearchParams({ user_code: UserCode.format(userCode) }).toString()}`

/** RFC 8628 §4: the metadata names the endpoint. */
export const metadata = (issuer: string) => ({ device_authorization_endpoint: Endpoints.deviceAuthorization(issuer) })

const deviceAuthorization = handle(Effect.gen(function*() {
  const realm = yield* Issuer.realmParam(Issuer.unknownRealm)
  const issuer = yield* Issuer.of(realm.name)
  const params = yield* FormBody.params
  const request = yield* fromEither(DeviceAuthorizationRequest.decode(params))
  // RFC 8628 §3.1: client authentication as at the token endpoint (RFC 6749 §3.2.1); a public client sends client_id
  const client = yield* ClientCredentials.fromRequest({ realm, issuer, params, allowNone: true }).pipe(
    // the reason goes to the log only: every client authentication failure answers the same (ADR 0028)
    Effect.tapErrorTag("ClientAuthFailed", (e) => Effect.logInfo("device authorization refused", e.reason, e.detail ?? e.registered ?? "")),
    Effect.catchTag("ClientAuthFailed", (e) => Effect.fail(ClientCredentials.invalidClient(issuer)(e)))
  )
  // RFC 6749 §5.2 unauthorized_client: the client is not registered for the device grant
  if (!client.metadata.grantTypes.includes(DeviceCodeGrant.grantType)) {
    return yield* ErrorResponse.make("unauthorized_client", "the client may not use the device authorization grant")
  }
  // RFC 8628 §3.1 scope, RFC 8707 §2 resource: what the authorization endpoint would allow (invalid_scope, invalid_target)
  const access = Authorize.access({
    client,
    realmResources: yield* Effect.flatMap(Resources.Resources, (r) => r.list(realm.id)),
    requestedScopes: request.scope,
    requestedResources: request.resource
  })
  if (Either.isLeft(access)) return yield* AuthorizeRoute.toErrorResponse(access.left)
  const started = yield* DeviceFlow.start({ realm, client, access: access.right })
  const body: DeviceAuthorizationRequest.DeviceAuthorizationResponse = {
    device_code: started.deviceCode,
    // RFC 8628 §6.1: shown with a dash; typed with or without it
    user_code: UserCode.format(started.userCode),
    verification_uri: Endpoints.deviceVerification(issuer),
    verification_uri_complete: verificationUriComplete(issuer, started.userCode),
    expires_in: started.expiresIn,
    interval: started.interval
  }
  // RFC 8628 §3.2: the response is JSON; like every token-bearing answer, never cached (RFC 6749 §5.1)
  return json(body, 200, { pragma: "no-cache" })
}))

export const Routes = HttpLayerRouter.addAll([
  HttpLayerRouter.route("POST", "/realms/:realm/device_authorization", deviceAuthorization)
])
