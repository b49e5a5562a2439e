/** A registered OAuth client (RFC 7591 metadata plus Tessera's `principal_type` and `resources`). */
import type { DateTime } from "effect"

export type GrantType =
  | "authorization_code"
  | "refresh_token"
  | "client_credentials"
  | "urn:ietf:params:oauth:grant-type:token-exchange"
  | "urn:ietf:params:oauth:grant-type:device_code"
  | "urn:ietf:params:oauth:grant-type:jwt-bearer"

export type AuthMethod = "client_secret_basic" | "client_secret_post" | "private_key_jwt" | "none"

export type PrincipalType = "app" | "agent"

/** Client metadata as registered: field names follow RFC 7591 §2 on the wire and are camelCase here. */
export interface Metadata {
  readonly redirectUris: ReadonlyArray<string>
  readonly postLogoutRedirectUris: ReadonlyArray<string>
  readonly grantTypes: ReadonlyArray<GrantType>
  readonly responseTypes: ReadonlyArray<"code">
  readonly tokenEndpointAuthMethod: AuthMethod
  readonly jwks?: { readonly keys: ReadonlyArray<Record<string, unknown>> }
  readonly jwksUri?: string
  readonly scope?: string
  readonly clientName?: string
  readonly frontchannelLogoutUri?: string
  readonly frontchannelLogoutSessionRequired: boolean
  readonly dpopBoundAccessTokens: boolean
  readonly principalType: PrincipalType
  /** Resource URIs this client may ask tokens for; absent means every resource of the realm. */
  readonly resources?: ReadonlyArray<string>
}

export interface Client {
  readonly realmId: string
  readonly clientId: string
  /** base64url(SHA-256(secret)); absent for public clients (`token_endpoint_auth_method: none`). */
  readonly secretHash?: string
  readonly metadata: Metadata
  /**
   * Registered by anyone through RFC 7591 dynamic registration rather than by the realm's owner: like a client ID
   * metadata document client, its redirect URIs are its own word (RFC 9700 §4.11.2, `Authorize.redirectsUnattended`).
   */
  readonly dynamic?: boolean
  readonly createdAt: DateTime.Utc
}

export const isConfidential = (metadata: Metadata) => metadata.tokenEndpointAuthMethod !== "none"

/** Client secrets are shown once and only hashed at rest; these methods need one. */
export const usesSecret = (metadata: Metadata) =>
  metadata.tokenEndpointAuthMethod === "client_secret_basic" || metadata.tokenEndpointAuthMethod === "client_secret_post"
