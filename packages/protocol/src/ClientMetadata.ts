/** Client metadata (RFC 7591 §2) as Tessera honours it, validated with OAuth 2.1's stricter rules. */
import { Either } from "effect"
import * as ErrorResponse from "./ErrorResponse.js"
import * as RedirectUri from "./RedirectUri.js"
import * as Jwks from "./Jwks.js"
import * as ScopeToken from "./ScopeToken.js"

export const grantTypes = [
  "authorization_code",
  "refresh_token",
  "client_credentials",
  "urn:ietf:params:oauth:grant-type:token-exchange",
  "urn:ietf:params:oauth:grant-type:device_code",
  "urn:ietf:params:oauth:grant-type:jwt-bearer"
] as const
export type GrantType = (typeof grantTypes)[number]

export const authMethods = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"] as const
export type AuthMethod = (typeof authMethods)[number]

/** OIDC Registration §2 `application_type`. */
export const applicationTypes = ["web", "native"] as const
export type ApplicationType = (typeof applicationTypes)[number]

/** Grants a public client may use: the rest need a client that authenticates (RFC 6749 §4.4, RFC 8693 §2.1). */
const publicGrantTypes: ReadonlySet<string> = new Set([
  "authorization_code",
  "refresh_token",
  "urn:ietf:params:oauth:grant-type:device_code"
])

/** Validated metadata, every default applied. */
export interface ClientMetadata {
  readonly redirectUris: ReadonlyArray<string>
  readonly postLogoutRedirectUris: ReadonlyArray<string>
  readonly grantTypes: ReadonlyArray<GrantType>
  readonly responseTypes: ReadonlyArray<"code">
  readonly tokenEndpointAuthMethod: AuthMethod
  /** OIDC Registration §2; absent when the registration did not say (the admin API's clients keep that default). */
  readonly applicationType?: ApplicationType
  readonly jwks?: Jwks.Jwks
  readonly jwksUri?: string
  readonly scope?: string
  readonly clientName?: string
  readonly frontchannelLogoutUri?: string
  readonly frontchannelLogoutSessionRequired: boolean
  readonly dpopBoundAccessTokens: boolean
  readonly principalType: "app" | "agent"
  readonly resources?: ReadonlyArray<string>
  /** CONTRACT §5 "ID-JAG": the authorization servers this client may get an ID-JAG for, and its client id at each. */
  readonly idJagTargets?: ReadonlyArray<IdJagTarget>
}

/** draft-ietf-oauth-identity-assertion-authz-grant §5 (Cross-Domain Client ID Handling): one target's mapping. */
export interface IdJagTarget {
  /** RFC 8414 §2: the other authorization server's issuer identifier, the ID-JAG's `aud`. */
  readonly audience: string
  /** The client's id there, the ID-JAG's `client_id`. */
  readonly clientId: string
}

/** ADR 0048: how many `id_jag_targets` one client may list. */
export const maxIdJagTargets = 20

/** ADR 0048: the longest `client_id` a target may name (the other server's identifier; a CIMD URL fits). */
export const maxTargetClientIdLength = 2048

class Refused {
  constructor(readonly response: ErrorResponse.ErrorResponse) {}
}

const refuse = (description: string, code: "invalid_client_metadata" | "invalid_redirect_uri" = "invalid_client_metadata"): never => {
  throw new Refused(ErrorResponse.make(code, description))
}

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const optionalString = (body: Record<string, unknown>, field: string): string | undefined => {
  const value = body[field]
  if (value === undefined) return undefined
  if (typeof value !== "string" || value.length === 0) return refuse(`'${field}' must be a non-empty string`)
  return value
}

const optionalBoolean = (body: Record<string, unknown>, field: string): boolean => {
  const value = body[field]
  if (value === undefined) return false
  if (typeof value !== "boolean") return refuse(`'${field}' must be a boolean`)
  return value
}

const stringArray = (
  body: Record<string, unknown>,
  field: string,
  code: "invalid_client_metadata" | "invalid_redirect_uri" = "invalid_client_metadata"
): ReadonlyArray<string> | undefined => {
  const value = body[field]
  if (value === undefined) return undefined
  if (!Array.isArray(value) || !value.every((v): v is string => typeof v === "string")) {
    return refuse(`'${field}' must be an array of strings`, code)
  }
  if (new Set(value).size !== value.length) return refuse(`'${field}' must not repeat a value`, code)
  return value
}

const absoluteUri = RedirectUri.isAbsoluteWithoutFragment

const httpsOrLoopback = (uri: string) => RedirectUri.problem(uri) === undefined && /^https?:/.test(uri)

/** Validates a registration body; an Either so the route can answer the RFC 7591 §3.2.2 error. */
export const validate = (body: unknown): Either.Either<ClientMetadata, ErrorResponse.ErrorResponse> => {
  try {
    return Either.right(check(body))
  } catch (e) {
    if (e instanceof Refused) return Either.left(e.response)
    throw e
  }
}

const check = (body: unknown): ClientMetadata => {
  if (!isObject(body)) throw new Refused(ErrorResponse.invalidRequest("the body must be a JSON object"))

  const grants = stringArray(body, "grant_types") ?? ["authorization_code"]
  for (const grant of grants) {
    // OAuth 2.1 §2.1.2 and §10: the implicit and password grants are removed
    if (grant === "implicit" || grant === "password") refuse(`the '${grant}' grant is not supported`)
    if (!(grantTypes as ReadonlyArray<string>).includes(grant)) refuse(`unknown grant type '${grant}'`)
  }
  const usesCode = grants.includes("authorization_code")

  const responseTypes = stringArray(body, "response_types") ?? (usesCode ? ["code"] : [])
  for (const type of responseTypes) {
    // OAuth 2.1 §3.1.1: only the code response type
    if (type !== "code") refuse(`the response type '${type}' is not supported; only 'code' is`)
  }
  // RFC 7591 §2.1: grant_types and response_types must be consistent
  if (usesCode !== responseTypes.includes("code")) {
    refuse("'response_types' must contain 'code' exactly when 'grant_types' contains 'authorization_code'")
  }

  const redirectUris = stringArray(body, "redirect_uris", "invalid_redirect_uri") ?? []
  redirectUris.forEach((uri, i) => {
    const why = RedirectUri.problem(uri)
    if (why !== undefined) refuse(`redirect_uris[${i}] ${why}`, "invalid_redirect_uri")
  })
  // RFC 7591 §2: redirect-based flows need registered redirect URIs (OAuth 2.1 §2.3.1)
  if (usesCode && redirectUris.length === 0) refuse("'redirect_uris' is required for the authorization_code grant", "invalid_redirect_uri")

  const applicationType = body["application_type"]
  if (applicationType !== undefined && !(applicationTypes as ReadonlyArray<unknown>).includes(applicationType)) {
    refuse("'application_type' must be 'web' or 'native'")
  }
  redirectUris.forEach((uri, i) => {
    // OIDC Registration §2 (ADR 0046): a web client comes back over https (or http on loopback), never a private-use scheme
    if (applicationType === "web" && !/^https?:/i.test(uri)) {
      refuse(`redirect_uris[${i}] must use https or loopback http for 'application_type' 'web'`, "invalid_redirect_uri")
    }
  })

  const postLogoutRedirectUris = stringArray(body, "post_logout_redirect_uris") ?? []
  postLogoutRedirectUris.forEach((uri, i) => {
    const why = RedirectUri.problem(uri)
    if (why !== undefined) refuse(`post_logout_redirect_uris[${i}] ${why}`)
  })

  const method = body["token_endpoint_auth_method"] ?? "client_secret_basic"
  if (typeof method !== "string" || !(authMethods as ReadonlyArray<string>).includes(method)) {
    refuse(`'token_endpoint_auth_method' must be one of ${authMethods.join(", ")}`)
  }
  const tokenEndpointAuthMethod = method as AuthMethod
  if (tokenEndpointAuthMethod === "none") {
    const needAuth = grants.find((grant) => !publicGrantTypes.has(grant))
    if (needAuth !== undefined) refuse(`the '${needAuth}' grant needs a client that authenticates, not 'none'`)
  }

  const checkedJwks = body["jwks"] === undefined ? undefined : Jwks.validatePublic(body["jwks"])
  const jwks = typeof checkedJwks === "string" ? refuse(`'jwks' ${checkedJwks}`) : checkedJwks
  const jwksUri = optionalString(body, "jwks_uri")
  // RFC 7591 §2: jwks_uri and jwks MUST NOT both be present
  if (jwks !== undefined && jwksUri !== undefined) refuse("'jwks' and 'jwks_uri' must not both be present")
  if (jwksUri !== undefined && !(absoluteUri(jwksUri) && jwksUri.startsWith("https://"))) refuse("'jwks_uri' must be an https URL")
  // RFC 7523 §2.2 / OIDC Core §9: private_key_jwt verifies with the client's registered keys
  if (tokenEndpointAuthMethod === "private_key_jwt" && jwks === undefined && jwksUri === undefined) {
    refuse("'private_key_jwt' needs 'jwks' or 'jwks_uri'")
  }

  const scope = optionalString(body, "scope")
  // RFC 6749 §3.3: scope-token = 1*NQCHAR, space-delimited
  if (scope !== undefined && !ScopeToken.isScope(scope)) refuse("'scope' must be space-separated scope tokens")

  const clientName = optionalString(body, "client_name")

  const frontchannelLogoutUri = optionalString(body, "frontchannel_logout_uri")
  if (frontchannelLogoutUri !== undefined) {
    if (!httpsOrLoopback(frontchannelLogoutUri)) refuse("'frontchannel_logout_uri' must be an https (or loopback http) URL without a fragment")
    // OIDC Front-Channel Logout 1.0 §2: same scheme, host and port as a registered redirect URI
    const origin = new URL(frontchannelLogoutUri).origin
    if (!redirectUris.some((uri) => /^https?:/.test(uri) && new URL(uri).origin === origin)) {
      refuse("'frontchannel_logout_uri' must have the scheme, host and port of a registered redirect URI")
    }
  }

  const principal = body["principal_type"] ?? "app"
  if (principal !== "app" && principal !== "agent") refuse("'principal_type' must be 'app' or 'agent'")

  const resources = stringArray(body, "resources")
  // RFC 8707 §2: a resource indicator is an absolute URI without a fragment
  resources?.forEach((uri, i) => {
    if (!absoluteUri(uri)) refuse(`resources[${i}] must be an absolute URI without a fragment`)
  })

  const idJagTargets = idJagTargetsOf(body)

  return {
    redirectUris,
    postLogoutRedirectUris,
    grantTypes: grants as ReadonlyArray<GrantType>,
    responseTypes: responseTypes as ReadonlyArray<"code">,
    tokenEndpointAuthMethod,
    ...(applicationType !== undefined ? { applicationType: applicationType as ApplicationType } : {}),
    ...(jwks !== undefined ? { jwks } : {}),
    ...(jwksUri !== undefined ? { jwksUri } : {}),
    ...(scope !== undefined ? { scope } : {}),
    ...(clientName !== undefined ? { clientName } : {}),
    ...(frontchannelLogoutUri !== undefined ? { frontchannelLogoutUri } : {}),
    frontchannelLogoutSessionRequired: optionalBoolean(body, "frontchannel_logout_session_required"),
    dpopBoundAccessTokens: optionalBoolean(body, "dpop_bound_access_tokens"),
    principalType: principal as "app" | "agent",
    ...(resources !== undefined ? { resources } : {}),
    ...(idJagTargets !== undefined ? { idJagTargets } : {})
  }
}

/**
 * CONTRACT §3, §5 "ID-JAG": `id_jag_targets`, each `{"audience", "client_id"}` and nothing else. The audience is an
 * issuer identifier (draft-ietf-oauth-identity-assertion-authz-grant §4.3: the IdP MUST support the RFC 8414 §2
 * issuer of the Resource Authorization Server), one entry per audience (it decides the ID-JAG's `client_id`).
 */
const idJagTargetsOf = (body: Record<string, unknown>): ReadonlyArray<IdJagTarget> | undefined => {
  const value = body["id_jag_targets"]
  if (value === undefined) return undefined
  if (!Array.isArray(value)) return refuse("'id_jag_targets' must be an array of {\"audience\", \"client_id\"} objects")
  if (value.length > maxIdJagTargets) return refuse(`'id_jag_targets' may list at most ${maxIdJagTargets} targets`)
  const targets = value.map((entry: unknown, i): IdJagTarget => {
    if (!isObject(entry)) return refuse(`id_jag_targets[${i}] must be an object with 'audience' and 'client_id'`)
    const extra = Object.keys(entry).find((key) => key !== "audience" && key !== "client_id")
    if (extra !== undefined) return refuse(`id_jag_targets[${i}] may hold only 'audience' and 'client_id'`)
    const { audience, client_id: clientId } = entry
    if (typeof audience !== "string" || !RedirectUri.isIssuerUrl(audience)) {
      return refuse(`id_jag_targets[${i}].audience must be an issuer: an https URL without query or fragment`)
    }
    // RFC 6749 §2.2: the client identifier is a string of VSCHAR (Appendix A.1)
    if (typeof clientId !== "string" || clientId.length === 0 || clientId.length > maxTargetClientIdLength || !/^[\x20-\x7e]+$/.test(clientId)) {
      return refuse(`id_jag_targets[${i}].client_id must be 1 to ${maxTargetClientIdLength} printable ASCII characters`)
    }
    return { audience, clientId }
  })
  if (new Set(targets.map((t) => t.audience)).size !== targets.length) refuse("'id_jag_targets' must not name an audience twice")
  return targets
}

/** RFC 7591 §3.2.1: the registration response, every registered field included. */
export const toResponse = (input: {
  readonly clientId: string
  readonly clientSecret?: string
  readonly issuedAt: number
  readonly metadata: ClientMetadata
}) => {
  const m = input.metadata
  return {
    client_id: input.clientId,
    ...(input.clientSecret !== undefined ? { client_secret: input.clientSecret, client_secret_expires_at: 0 } : {}),
    client_id_issued_at: input.issuedAt,
    redirect_uris: m.redirectUris,
    post_logout_redirect_uris: m.postLogoutRedirectUris,
    grant_types: m.grantTypes,
    response_types: m.responseTypes,
    token_endpoint_auth_method: m.tokenEndpointAuthMethod,
    ...(m.applicationType !== undefined ? { application_type: m.applicationType } : {}),
    ...(m.jwks !== undefined ? { jwks: m.jwks } : {}),
    ...(m.jwksUri !== undefined ? { jwks_uri: m.jwksUri } : {}),
    ...(m.scope !== undefined ? { scope: m.scope } : {}),
    ...(m.clientName !== undefined ? { client_name: m.clientName } : {}),
    ...(m.frontchannelLogoutUri !== undefined ? { frontchannel_logout_uri: m.frontchannelLogoutUri } : {}),
    frontchannel_logout_session_required: m.frontchannelLogoutSessionRequired,
    dpop_bound_access_tokens: m.dpopBoundAccessTokens,
    principal_type: m.principalType,
    ...(m.resources !== undefined ? { resources: m.resources } : {}),
    ...(m.idJagTargets !== undefined
      ? { id_jag_targets: m.idJagTargets.map((t) => ({ audience: t.audience, client_id: t.clientId })) }
      : {})
  }
}
