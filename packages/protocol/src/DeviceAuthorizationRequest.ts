/** The device authorization request and response (RFC 8628 §3.1-3.2), with RFC 8707 §2 `resource`. */
import { Either } from "effect"
import type * as ErrorResponse from "./ErrorResponse.js"
import type * as Form from "./Form.js"
import * as TokenRequest from "./TokenRequest.js"

/** A syntactically valid request; whether the client may have the scopes and resources is the domain's call. */
export interface DeviceAuthorizationRequest {
  /** RFC 8628 §3.1: OPTIONAL; split and de-duplicated; absent when the request had none (RFC 6749 §3.3). */
  readonly scope?: ReadonlyArray<string>
  /** RFC 8707 §2: every requested resource, de-duplicated in order; empty when none. */
  readonly resource: ReadonlyArray<string>
}

/**
 * RFC 8628 §3.1: the form's `scope` and `resource` (client authentication parameters are `ClientAuthentication`'s;
 * unrecognized parameters are ignored, RFC 6749 §3.1). A repeated `scope` is invalid_request, a malformed one
 * invalid_scope, a `resource` that is not an absolute URI without fragment invalid_target.
 */
export const decode = (params: Form.Params): Either.Either<DeviceAuthorizationRequest, ErrorResponse.ErrorResponse> =>
  Either.gen(function*() {
    const scope = yield* TokenRequest.scopeOf(params)
    const resource = yield* TokenRequest.resourceOf(params)
    return { ...(scope !== undefined ? { scope } : {}), resource }
  })

/** RFC 8628 §3.2: the device authorization response. */
export interface DeviceAuthorizationResponse {
  readonly device_code: string
  readonly user_code: string
  readonly verification_uri: string
  readonly verification_uri_complete: string
  readonly expires_in: number
  readonly interval: number
}
