/** The token request form: RFC 6749 §3.2, §4.1.3, §4.4.2, §6; OAuth 2.1 §3.2.2; RFC 7636 §4.5; RFC 7523 §2.1; RFC 8707 §2. */
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

/** RFC 7523 §2.1: a token for the subject of a JWT a trusted issuer signed. */
export class JwtBearer extends Schema.Class<JwtBearer>("TokenRequest/JwtBearer")({
  grant_type: Schema.Literal("urn:ietf:params:oauth:grant-type:jwt-bearer"),
  /** RFC 7523 §2.1: a single JWT; Tessera takes signed ones (RFC 7515 §7.1), verified by the domain. */
  assertion: Schema.String,
  scope,
  resource
}) {}

/** RFC 8693 §2.1: the token exchange grant type. */
export const tokenExchangeGrantType = "urn:ietf:params:oauth:grant-type:token-exchange"

/** RFC 8693 §3: the token type Tessera issues, and takes as actor token (an access token of this realm). */
export const accessTokenType = "urn:ietf:params:oauth:token-type:access_token"

/** RFC 8693 §3: a JWT; as a subject token, one signed by a trusted issuer of the realm (ADR 0013). */
export const jwtTokenType = "urn:ietf:params:oauth:token-type:jwt"

/** RFC 8693 §3: an OpenID Connect ID token; as a subject token, one this realm issued to the client (an ID-JAG's). */
export const idTokenType = "urn:ietf:params:oauth:token-type:id_token"

/** draft-ietf-oauth-identity-assertion-authz-grant §4.3: the Identity Assertion JWT Authorization Grant. */
export const idJagTokenType = "urn:ietf:params:oauth:token-type:id-jag"

/**
 * RFC 8693 §2.1: a token for a resource, acting for the subject token's `sub`. `audience` is read like `resource`
 * and lands in `resource` (one of the two, never both).
 */
export class TokenExchange extends Schema.Class<TokenExchange>("TokenRequest/TokenExchange")({
  grant_type: Schema.Literal(tokenExchangeGrantType),
  subject_token: Schema.String,
  subject_token_type: Schema.Literal(accessTokenType, jwtTokenType),
  actor_token: Schema.optional(Schema.String),
  actor_token_type: Schema.optional(Schema.Literal(accessTokenType)),
  requested_token_type: Schema.optional(Schema.Literal(accessTokenType)),
  scope,
  resource
}) {}

/**
 * draft-ietf-oauth-identity-assertion-authz-grant §4.3: an ID-JAG for another authorization server (`audience`, its
 * issuer), for the person of an ID token this realm issued to the client; `resource` and `scope` are the other
 * server's, carried into the ID-JAG.
 */
export class IdJagExchange extends Schema.Class<IdJagExchange>("TokenRequest/IdJagExchange")({
  grant_type: Schema.Literal(tokenExchangeGrantType),
  subject_token: Schema.String,
  subject_token_type: Schema.Literal(idTokenType),
  requested_token_type: Schema.Literal(idJagTokenType),
  audience: Schema.String,
  scope,
  resource
}) {}

/** RFC 8628 §3.4: the device authorization grant type. */
export const deviceCodeGrantType = "urn:ietf:params:oauth:grant-type:device_code"

/** RFC 8628 §3.4: the device polls with the device code it was given (RFC 8707 §2: `resource` picks the audience). */
export class DeviceCode extends Schema.Class<DeviceCode>("TokenRequest/DeviceCode")({
  grant_type: Schema.Literal(deviceCodeGrantType),
  device_code: Schema.String,
  resource
}) {}

/** A checked token request, one variant per grant; dispatch with `Match` on `grant_type`. */
export type TokenRequest = AuthorizationCode | RefreshToken | ClientCredentials | JwtBearer | TokenExchange | IdJagExchange | DeviceCode
/** The union as a schema, e.g. to encode a request in a test client. */
export const TokenRequest = Schema.Union(AuthorizationCode, RefreshToken, ClientCredentials, JwtBearer, TokenExchange, IdJagExchange, DeviceCode)

/** The grant types this module reads; any other `grant_type` is `unsupported_grant_type`. */
export const grantTypes = [
  "authorization_code", "refresh_token", "client_credentials", "urn:ietf:params:oauth:grant-type:jwt-bearer", tokenExchangeGrantType,
  deviceCodeGrantType
] as const
export type GrantType = (typeof grantTypes)[number]

type Result<A> = Either.Either<A, ErrorResponse.ErrorResponse>

const invalid = ErrorResponse.invalidRequest

const vsChars = (name: string) => (value: string): Result<string> =>
  // RFC 6749 Appendix A.11 and A.17: code = 1*VSCHAR, refresh-token = 1*VSCHAR
  Syntax.isVsChars(value) ? Either.right(value) : Either.left(invalid(`'${name}' must contain only printable ASCII characters`))

/** RFC 6749 §3.3: `scope`, split and de-duplicated (a malformed one is invalid_scope); undefined when absent. */
export const scopeOf = (params: Form.Params): Result<ReadonlyArray<string> | undefined> =>
  Either.flatMap(Form.single(params, "scope"), (value) => {
    if (value === undefined) return Either.right(undefined)
    const tokens = value.split(" ")
    // RFC 6749 §3.3: scope = scope-token *( SP scope-token ); §5.2: a malformed scope is invalid_scope
    return tokens.every(ScopeToken.isToken)
      ? Either.right([...new Set(tokens)])
      : Either.left(ErrorResponse.make("invalid_scope", "'scope' must be scope tokens separated by single spaces"))
  })

/** RFC 8707 §2: every `resource`, de-duplicated in order (one that is not an absolute URI is invalid_target). */
export const resourceOf = (params: Form.Params, name: "resource" | "audience" = "resource"): Result<ReadonlyArray<string>> =>
  Either.flatMap(Form.all(params, name), (uris) =>
    // RFC 8707 §2: the value MUST be an absolute URI without a fragment, else invalid_target
    uris.every(RedirectUri.isAbsoluteWithoutFragment)
      ? Either.right([...new Set(uris)])
      : Either.left(ErrorResponse.make("invalid_target", `'${name}' must be an absolute URI without a fragment`)))

/** RFC 8693 §3: a token type URI; Tessera reads and issues access tokens only (§2.2.2: invalid_request otherwise). */
const tokenType = (name: string) => (value: string): Result<typeof accessTokenType> =>
  value === accessTokenType ? Either.right(accessTokenType) : Either.left(invalid(`unsupported ${name}`))

/**
 * RFC 8693 §2.1, §3: a subject token is an access token of this realm or a trusted issuer's JWT, or (for an ID-JAG
 * only) an ID token of this realm.
 */
const subjectTokenType = (value: string): Result<typeof accessTokenType | typeof jwtTokenType | typeof idTokenType> =>
  value === jwtTokenType || value === idTokenType ? Either.right(value) : tokenType("subject_token_type")(value)

/** Whether the request carries the parameter at all (a value too long or unstorable to read included). */
const sent = (params: Form.Params, name: string) =>
  params.pairs.some(([n]) => n === name) || params.tooLong.has(name) || params.unstorable.has(name)

/**
 * draft-ietf-oauth-identity-assertion-authz-grant §4.3: the rest of an ID-JAG request, once `requested_token_type`
 * asked for one (ADR 0048).
 */
const idJagExchange = (params: Form.Params, subject_token: string, subject_token_type: string): Result<IdJagExchange> =>
  Either.gen(function*() {
    // §4.3: subject_token_type an ID token (`urn:ietf:params:oauth:token-type:id_token`); Tessera takes no SAML
    // assertion, and (MAY) no refresh token
    if (subject_token_type !== idTokenType) {
      return yield* Either.left(invalid(`an ID-JAG is issued for an ID token: 'subject_token_type' must be ${idTokenType}`))
    }
    // §4.3: the processing of actor_token is outside the draft; ADR 0048: refused rather than ignored
    if (["actor_token", "actor_token_type"].some((name) => sent(params, name))) {
      return yield* Either.left(invalid("'actor_token' is not taken with an ID-JAG request"))
    }
    // §4.3: audience REQUIRED, the issuer identifier of the other authorization server (RFC 8414 §2); one, as the
    // ID-JAG has one `aud`
    const audiences = yield* resourceOf(params, "audience")
    if (audiences.length === 0) return yield* Either.left(invalid("'audience' is required: the issuer of the authorization server the ID-JAG is for"))
    if (audiences.length > 1) return yield* Either.left(ErrorResponse.make("invalid_target", "an ID-JAG is for one authorization server: one 'audience'"))
    // §4.3: resource OPTIONAL (RFC 8707 §2), scope OPTIONAL (RFC 6749 §3.3)
    const scope = yield* scopeOf(params)
    const resource = yield* resourceOf(params)
    return new IdJagExchange({
      grant_type: tokenExchangeGrantType,
      subject_token,
      subject_token_type: idTokenType,
      requested_token_type: idJagTokenType,
      audience: audiences[0]!,
      ...(scope !== undefined ? { scope } : {}),
      resource
    }, checked)
  })

/** Every value was checked above: the classes' constructors need not validate it again. */
const checked = { disableValidation: true } as const

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
      }, checked)
    }),
  refresh_token: (params) =>
    Either.gen(function*() {
      // RFC 6749 §6: refresh_token REQUIRED
      const refresh_token = yield* Either.flatMap(Form.required(params, "refresh_token"), vsChars("refresh_token"))
      // RFC 6749 §6: scope OPTIONAL, no more than originally granted (the domain's check)
      const scope = yield* scopeOf(params)
      const resource = yield* resourceOf(params)
      return new RefreshToken({ grant_type: "refresh_token", refresh_token, ...(scope !== undefined ? { scope } : {}), resource }, checked)
    }),
  client_credentials: (params) =>
    Either.gen(function*() {
      // RFC 6749 §4.4.2: scope OPTIONAL
      const scope = yield* scopeOf(params)
      const resource = yield* resourceOf(params)
      return new ClientCredentials({ grant_type: "client_credentials", ...(scope !== undefined ? { scope } : {}), resource }, checked)
    }),
  "urn:ietf:params:oauth:grant-type:jwt-bearer": (params) =>
    Either.gen(function*() {
      // RFC 7523 §2.1: assertion REQUIRED, a single JWT. Not even JWS compact syntax (RFC 7515 §7.1) is a malformed
      // parameter, invalid_request (RFC 6749 §5.2); a well-formed JWT that is not valid is the domain's invalid_grant
      // (RFC 7523 §3.1). Form's value limit (4096 characters) bounds its size.
      const assertion = yield* Either.flatMap(Form.required(params, "assertion"), (value) =>
        Syntax.isCompactJws(value) ? Either.right(value) : Either.left(invalid("'assertion' must be a JWT in JWS compact serialization")))
      // RFC 7523 §2.1: scope OPTIONAL (RFC 6749 §3.3)
      const scope = yield* scopeOf(params)
      const resource = yield* resourceOf(params)
      return new JwtBearer({
        grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
        assertion,
        ...(scope !== undefined ? { scope } : {}),
        resource
      }, checked)
    }),
  [tokenExchangeGrantType]: (params) =>
    Either.gen(function*() {
      // RFC 8693 §2.1: subject_token and subject_token_type REQUIRED
      const subject_token = yield* Either.flatMap(Form.required(params, "subject_token"), vsChars("subject_token"))
      const subject_token_type = yield* Either.flatMap(Form.required(params, "subject_token_type"), subjectTokenType)
      // RFC 8693 §2.1: requested_token_type OPTIONAL; an access token, or an ID-JAG (ADR 0048)
      const requestedType = yield* Form.single(params, "requested_token_type")
      if (requestedType === idJagTokenType) return yield* idJagExchange(params, subject_token, subject_token_type)
      const requested_token_type = requestedType === undefined ? undefined : yield* tokenType("requested_token_type")(requestedType)
      if (subject_token_type === idTokenType) {
        return yield* Either.left(invalid(`an ID token is exchanged only for an ID-JAG: 'requested_token_type' must be ${idJagTokenType}`))
      }
      // RFC 8693 §2.1: actor_token OPTIONAL; actor_token_type REQUIRED with it and MUST NOT be sent without it
      const actor_token = yield* Either.flatMap(Form.single(params, "actor_token"), (token) =>
        token === undefined ? Either.right(undefined) : vsChars("actor_token")(token))
      const actorType = yield* Form.single(params, "actor_token_type")
      if (actor_token !== undefined && actorType === undefined) return yield* Either.left(invalid("'actor_token_type' is required with 'actor_token'"))
      if (actor_token === undefined && actorType !== undefined) {
        return yield* Either.left(invalid("'actor_token_type' must not be sent without 'actor_token'"))
      }
      const actor_token_type = actorType === undefined ? undefined : yield* tokenType("actor_token_type")(actorType)
      // RFC 8693 §2.1: scope OPTIONAL (RFC 6749 §3.3)
      const scope = yield* scopeOf(params)
      // RFC 8693 §2.1: `audience` names the target as `resource` does; Tessera's targets are resource URIs, so both
      // are read alike, and one of the two at most
      const fromResource = yield* resourceOf(params)
      const fromAudience = yield* resourceOf(params, "audience")
      if (fromResource.length > 0 && fromAudience.length > 0) {
        return yield* Either.left(invalid("'resource' and 'audience' must not both be given"))
      }
      return new TokenExchange({
        grant_type: tokenExchangeGrantType,
        subject_token,
        subject_token_type,
        ...(actor_token !== undefined ? { actor_token } : {}),
        ...(actor_token_type !== undefined ? { actor_token_type } : {}),
        ...(requested_token_type !== undefined ? { requested_token_type } : {}),
        ...(scope !== undefined ? { scope } : {}),
        resource: fromResource.length > 0 ? fromResource : fromAudience
      }, checked)
    }),
  [deviceCodeGrantType]: (params) =>
    Either.gen(function*() {
      // RFC 8628 §3.4: device_code REQUIRED, as the device authorization response gave it (RFC 6749 A.11 VSCHAR)
      const device_code = yield* Either.flatMap(Form.required(params, "device_code"), vsChars("device_code"))
      const resource = yield* resourceOf(params)
      return new DeviceCode({ grant_type: deviceCodeGrantType, device_code, resource }, checked)
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
