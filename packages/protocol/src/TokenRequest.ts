/** The token request form: RFC 6749 §3.2, §4.1.3, §4.4.2, §6; OAuth 2.1 §3.2.2; RFC 7636 §4.5; RFC 8707 §2. */
import { Either, Schema } from "effect"
import * as ErrorResponse from "./ErrorResponse.js"
import * as Form from "./Form.js"
import * as RedirectUri from "./RedirectUri.js"
import * as ScopeToken from "./ScopeToken.js"
import * as Syntax from "./Syntax.js"

/** RFC 8707 §2: every requested resource, de-duplicated in request order; how many a grant allows is the endpoint's call. */
const resource = Schema.Array(Schema.String)

/** RFC 6749 §3.3: the requested scope, split and de-duplicated; absent when the request had none. */
const scope = Schema.optional(Schema.Array(Schema.String))

/** OAuth 2.1 §4.1.3: redeem an authorization code, proving possession of the PKCE verifier. */
export class AuthorizationCode extends Schema.Class<AuthorizationCode>("TokenRequest/AuthorizationCode")({
  grant_type: Schema.Literal("authorization_code"),
  code: Schema.String,
  /** OAuth 2.1 §4.1.3: REQUIRED if the authorization request included it; whether it did is the code's to know. */
  redirect_uri: Schema.optional(Schema.String),
  code_verifier: Schema.String,
  resource
}) {}

/** RFC 6749 §6: a new access token from a refresh token, optionally for less scope. */
export class RefreshToken extends Schema.Class<RefreshToken>("TokenRequest/RefreshToken")({
  grant_type: Schema.Literal("refresh_token"),
  refresh_token: Schema.String,
  scope,
  resource
}) {}

/** RFC 6749 §4.4.2: a token for the client itself. */
export class ClientCredentials extends Schema.Class<ClientCredentials>("TokenRequest/ClientCredentials")({
  grant_type: Schema.Literal("client_credentials"),
  scope,
  resource
}) {}

/** A checked token request, one variant per grant; dispatch with `Match` on `grant_type`. */
export type TokenRequest = AuthorizationCode | RefreshToken | ClientCredentials
/** The union as a schema, e.g. to encode a request in a test client. */
export const TokenRequest = Schema.Union(AuthorizationCode, RefreshToken, ClientCredentials)

/** The grant types this module reads; any other `grant_type` is `unsupported_grant_type`. */
export const grantTypes = ["authorization_code", "refresh_token", "client_credentials"] as const
export type GrantType = (typeof grantTypes)[number]

type Result<A> = Either.Either<A, ErrorResponse.ErrorResponse>

const invalid = ErrorResponse.invalidRequest

const vsChars = (name: string) => (value: string): Result<string> =>
  // RFC 6749 Appendix A.11 and A.17: code = 1*VSCHAR, refresh-token = 1*VSCHAR
  Syntax.isVsChars(value) ? Either.right(value) : Either.left(invalid(`'${name}' must contain only printable ASCII characters`))

const scopeOf = (params: Form.Params): Result<ReadonlyArray<string> | undefined> =>
  Either.flatMap(Form.single(params, "scope"), (value) => {
    if (value === undefined) return Either.right(undefined)
    const tokens = value.split(" ")
    // RFC 6749 §3.3: scope = scope-token *( SP scope-token ); §5.2: a malformed scope is invalid_scope
    return tokens.every(ScopeToken.isToken)
      ? Either.right([...new Set(tokens)])
      : Either.left(ErrorResponse.make("invalid_scope", "'scope' must be scope tokens separated by single spaces"))
  })

const resourceOf = (params: Form.Params): Result<ReadonlyArray<string>> =>
  Either.flatMap(Form.all(params, "resource"), (uris) =>
    // RFC 8707 §2: the value MUST be an absolute URI without a fragment, else invalid_target
    uris.every(RedirectUri.isAbsoluteWithoutFragment)
      ? Either.right([...new Set(uris)])
      : Either.left(ErrorResponse.make("invalid_target", "'resource' must be an absolute URI without a fragment")))

const grants: { readonly [G in GrantType]: (params: Form.Params) => Result<TokenRequest> } = {
  authorization_code: (params) =>
    Either.gen(function*() {
      // OAuth 2.1 §4.1.3: code REQUIRED
      const code = yield* Either.flatMap(Form.required(params, "code"), vsChars("code"))
      // OAuth 2.1 §4.1.3: redirect_uri REQUIRED if the authorization request included it (checked against the code)
      const redirect_uri = yield* Either.flatMap(Form.single(params, "redirect_uri"), (uri) =>
        uri === undefined || RedirectUri.isAbsoluteWithoutFragment(uri)
          ? Either.right(uri)
          : Either.left(invalid("'redirect_uri' must be an absolute URI without a fragment")))
      // OAuth 2.1 §4.1.3: code_verifier REQUIRED; RFC 7636 §4.1: 43*128unreserved
      const code_verifier = yield* Either.flatMap(Form.required(params, "code_verifier"), (verifier) =>
        Syntax.isCodeVerifier(verifier)
          ? Either.right(verifier)
          : Either.left(invalid("'code_verifier' must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~")))
      const resource = yield* resourceOf(params)
      return new AuthorizationCode({
        grant_type: "authorization_code",
        code,
        ...(redirect_uri !== undefined ? { redirect_uri } : {}),
        code_verifier,
        resource
      })
    }),
  refresh_token: (params) =>
    Either.gen(function*() {
      // RFC 6749 §6: refresh_token REQUIRED
      const refresh_token = yield* Either.flatMap(Form.required(params, "refresh_token"), vsChars("refresh_token"))
      // RFC 6749 §6: scope OPTIONAL, no more than originally granted (the domain's check)
      const scope = yield* scopeOf(params)
      const resource = yield* resourceOf(params)
      return new RefreshToken({ grant_type: "refresh_token", refresh_token, ...(scope !== undefined ? { scope } : {}), resource })
    }),
  client_credentials: (params) =>
    Either.gen(function*() {
      // RFC 6749 §4.4.2: scope OPTIONAL
      const scope = yield* scopeOf(params)
      const resource = yield* resourceOf(params)
      return new ClientCredentials({ grant_type: "client_credentials", ...(scope !== undefined ? { scope } : {}), resource })
    })
}

const isGrantType = (s: string): s is GrantType => (grantTypes as ReadonlyArray<string>).includes(s)

/**
 * Checks a token request's form parameters. Client authentication parameters are `ClientAuthentication`'s;
 * unrecognized parameters are ignored (RFC 6749 §3.1).
 */
export const decode = (params: Form.Params): Result<TokenRequest> =>
  // RFC 6749 §4.1.3, §4.4.2, §6: grant_type REQUIRED
  Either.flatMap(Form.required(params, "grant_type"), (grantType) =>
    isGrantType(grantType)
      ? grants[grantType](params)
      // RFC 6749 §5.2: unsupported_grant_type; OAuth 2.1 §10: implicit and password are gone
      : Either.left(ErrorResponse.make("unsupported_grant_type", "'grant_type' is not supported")))

/** Parses and checks a token request body (`application/x-www-form-urlencoded`, RFC 6749 §3.2). */
export const parse = (body: string, limits: Partial<Form.Limits> = {}): Result<TokenRequest> =>
  Either.flatMap(Form.parse(body, limits), decode)
