/**
 * The logout request of OIDC RP-Initiated Logout 1.0 §2 (GET query or POST form), and what Tessera's confirmation
 * form carries from it to `{issuer}/logout/confirm` (§2: the OP SHOULD ask the End-User; the form's URL is Tessera's
 * own wire). Syntax only: whether the hint verifies and the redirect URI is registered is the domain's call.
 */
import { Either } from "effect"
import type * as ErrorResponse from "./ErrorResponse.js"
import * as Form from "./Form.js"

/** §2: every parameter is OPTIONAL; absent is `undefined`. */
export interface LogoutRequest {
  readonly idTokenHint: string | undefined
  readonly logoutHint: string | undefined
  readonly clientId: string | undefined
  readonly postLogoutRedirectUri: string | undefined
  readonly state: string | undefined
  readonly uiLocales: string | undefined
}

/** Parameters read once each (RFC 6749 §3.1), in order: a record of optional strings, decoded and encoded alike. */
const parameters = <K extends string>(names: ReadonlyArray<readonly [field: K, name: string]>) => ({
  /**
   * Each at most once (else "'<name>' must not be provided twice"), within `Form.defaultLimits` ("'<name>' is too
   * long"), storable (CONTRACT §2: "'<name>' must not contain NUL characters"); an empty one is absent, unknown ones
   * are ignored; the first bad one in `names`' order is the one reported.
   */
  decode: (params: Form.Params): Either.Either<{ readonly [k in K]: string | undefined }, ErrorResponse.ErrorResponse> =>
    Either.gen(function*() {
      const values: Partial<Record<K, string | undefined>> = {}
      for (const [field, name] of names) values[field] = yield* Form.single(params, name)
      return values as { readonly [k in K]: string | undefined }
    }),
  /** A query string (without `?`) of the present values, in `names`' order; empty when none is. */
  encode: (values: { readonly [k in K]: string | undefined }): string => {
    const query = new URLSearchParams()
    for (const [field, name] of names) {
      const value = values[field]
      if (value !== undefined) query.set(name, value)
    }
    return query.toString()
  }
})

const requestParameters = parameters([
  ["idTokenHint", "id_token_hint"],
  ["logoutHint", "logout_hint"],
  ["clientId", "client_id"],
  ["postLogoutRedirectUri", "post_logout_redirect_uri"],
  ["state", "state"],
  ["uiLocales", "ui_locales"]
])

/** §2 over RFC 6749 §3.1 (see `parameters`). */
export const decode: (params: Form.Params) => Either.Either<LogoutRequest, ErrorResponse.ErrorResponse> = requestParameters.decode

/** The request as a query string (without `?`): the same request sent again. */
export const encode: (request: LogoutRequest) => string = requestParameters.encode

/** What the confirmation form's action URL carries: the client, the matched redirect URI, and `state`. */
export interface Confirmation {
  readonly clientId: string | undefined
  readonly postLogoutRedirectUri: string | undefined
  readonly state: string | undefined
}

const confirmationParameters = parameters([
  ["clientId", "client_id"],
  ["postLogoutRedirectUri", "post_logout_redirect_uri"],
  ["state", "state"]
])

/** The confirmation's query, decoded like the request. */
export const decodeConfirmation: (params: Form.Params) => Either.Either<Confirmation, ErrorResponse.ErrorResponse> = confirmationParameters.decode

/** The confirmation's query string (without `?`; empty when nothing is carried). */
export const encodeConfirmation: (carried: Confirmation) => string = confirmationParameters.encode
