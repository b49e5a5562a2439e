/** Authorization server metadata: RFC 8414 §2 and OpenID Connect Discovery 1.0 §3, one document for both. */
import * as Dpop from "./Dpop.js"
import { idJagTokenType } from "./TokenRequest.js"

export interface Input {
  readonly issuer: string
  /** RFC 8414 §2 `jwks_uri`: the server builds its endpoint URLs (domain `Endpoints`). */
  readonly jwksUri: string
  /** Grant types that work today; never `implicit` or `password` (OAuth 2.1 §10). */
  readonly grantTypes: ReadonlyArray<string>
}

/** The grant profile of an Identity Assertion JWT Authorization Grant (MCP enterprise-managed authorization). */
export const idJagProfile = "urn:ietf:params:oauth:grant-profile:id-jag"

/** The realm's metadata document: only what works is advertised. */
export const make = (input: Input) => ({
  issuer: input.issuer,
  jwks_uri: input.jwksUri,
  // OAuth 2.1 §3.1.1: the code response type only
  response_types_supported: ["code"],
  response_modes_supported: ["query"],
  // RFC 8414 §2: when omitted the default includes "implicit", so the list is always explicit
  grant_types_supported: input.grantTypes,
  // OAuth 2.1 §4.1.1 / RFC 7636 §4.2: S256 only, never plain
  code_challenge_methods_supported: ["S256"],
  // OIDC Discovery §3: REQUIRED; RS256 per OIDC Core §15.1
  subject_types_supported: ["public"],
  id_token_signing_alg_values_supported: ["RS256"],
  // RFC 9449 §5.1: DPoP is supported, with these proof algorithms
  dpop_signing_alg_values_supported: Dpop.algorithms,
  // MCP enterprise-managed authorization (SEP-990), CONTRACT §5 ID-JAG: the JWT-bearer grant takes ID-JAGs
  // (draft-ietf-oauth-identity-assertion-authz-grant §4.4) from trusted issuers registered with `id_jag`
  authorization_grant_profiles_supported: [idJagProfile],
  // draft-ietf-oauth-identity-assertion-authz-grant §7.1 (SHOULD): as the enterprise IdP, token exchange issues
  // ID-JAGs (CONTRACT §5 ID-JAG, ADR 0048)
  identity_chaining_requested_token_types_supported: [idJagTokenType]
})

export type ServerMetadata = ReturnType<typeof make>
