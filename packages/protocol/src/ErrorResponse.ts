/** The one wire shape of every error (RFC 6749 §5.2, RFC 6750 §3.1, RFC 7591 §3.2.2, RFC 9470 §3, CONTRACT §3). */
import * as HttpServerRespondable from "@effect/platform/HttpServerRespondable"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect, Schema } from "effect"

export const ErrorCode = Schema.Literal(
  // RFC 6749 §4.1.2.1 and §5.2
  "invalid_request",
  "invalid_client",
  "invalid_grant",
  "unauthorized_client",
  "unsupported_grant_type",
  "unsupported_response_type",
  "invalid_scope",
  "access_denied",
  "server_error",
  "temporarily_unavailable",
  // RFC 6750 §3.1
  "invalid_token",
  "insufficient_scope",
  // RFC 8707 §2
  "invalid_target",
  // RFC 9470 §3
  "insufficient_user_authentication",
  // RFC 9449 §5, §7.1 and §8, §9
  "invalid_dpop_proof",
  "use_dpop_nonce",
  // RFC 8628 §3.5
  "authorization_pending",
  "slow_down",
  "expired_token",
  // OIDC Core §3.1.2.6 (request objects, §6, are not supported)
  "request_not_supported",
  "request_uri_not_supported",
  // OIDC Core §3.1.2.6: prompt=none, and the person would have to sign in or consent
  "login_required",
  "consent_required",
  // RFC 7591 §3.2.2
  "invalid_redirect_uri",
  "invalid_client_metadata",
  // CONTRACT §3 (admin API)
  "not_found",
  "conflict",
  "precondition_failed"
)
export type ErrorCode = typeof ErrorCode.Type

const defaultStatus = (error: ErrorCode): number => {
  switch (error) {
    case "invalid_client":
    case "invalid_token":
    case "insufficient_user_authentication":
      return 401
    case "insufficient_scope":
    case "access_denied":
      return 403
    case "not_found":
      return 404
    case "conflict":
      return 409
    case "precondition_failed":
      return 412
    case "server_error":
      return 500
    case "temporarily_unavailable":
      return 503
    default:
      return 400
  }
}

/**
 * An error response that renders itself: status, `Cache-Control: no-store` (RFC 6749 §5.1), on a 401 the
 * `WWW-Authenticate` challenge (RFC 6750 §3), and any further headers it names (RFC 9449 §8: `DPoP-Nonce`).
 */
export class ErrorResponse extends Schema.TaggedError<ErrorResponse>()("ErrorResponse", {
  error: ErrorCode,
  error_description: Schema.optional(Schema.String),
  status: Schema.optional(Schema.Number),
  wwwAuthenticate: Schema.optional(Schema.String),
  headers: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String }))
}) {
  get httpStatus(): number {
    return this.status ?? defaultStatus(this.error)
  }

  get body(): { readonly error: ErrorCode; readonly error_description?: string } {
    return this.error_description === undefined
      ? { error: this.error }
      : { error: this.error, error_description: this.error_description }
  }

  toResponse(extraHeaders: Record<string, string> = {}): HttpServerResponse.HttpServerResponse {
    const challenge = this.wwwAuthenticate ?? (this.httpStatus === 401 ? `Bearer error="${this.error}"` : undefined)
    return HttpServerResponse.unsafeJson(this.body, {
      status: this.httpStatus,
      headers: {
        "cache-control": "no-store",
        pragma: "no-cache",
        ...(challenge !== undefined ? { "www-authenticate": challenge } : {}),
        ...this.headers,
        ...extraHeaders
      }
    })
  }

  [HttpServerRespondable.symbol]() {
    return Effect.succeed(this.toResponse())
  }
}

/**
 * Its fields are typed, so the schema's validation (a decode of every field, run by the class's constructor) would
 * only check again what the compiler did: it is skipped (`checked`), here and in `withHeaders`.
 */
export const make = (error: ErrorCode, error_description?: string, status?: number) =>
  new ErrorResponse({
    error,
    ...(error_description !== undefined ? { error_description } : {}),
    ...(status !== undefined ? { status } : {})
  }, checked)

const checked = { disableValidation: true } as const

/** The same error answered with more headers (RFC 9449 §8, §9: `DPoP-Nonce`). */
export const withHeaders = (error: ErrorResponse, headers: Readonly<Record<string, string>>): ErrorResponse =>
  Object.keys(headers).length === 0 ? error : new ErrorResponse({
    error: error.error,
    ...(error.error_description !== undefined ? { error_description: error.error_description } : {}),
    ...(error.status !== undefined ? { status: error.status } : {}),
    ...(error.wwwAuthenticate !== undefined ? { wwwAuthenticate: error.wwwAuthenticate } : {}),
    headers: { ...error.headers, ...headers }
  }, checked)

/** RFC 6749 §5.2: invalid_request, with fixed text naming the parameter. */
export const invalidRequest = (description: string) => make("invalid_request", description)
