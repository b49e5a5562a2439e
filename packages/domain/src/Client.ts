/** A registered OAuth client (RFC 7591 metadata plus Tessera's `principal_type`, `resources` and `id_jag_targets`). */
import { DateTime, Schema } from "effect"
import { Jwk, optional } from "./Fields.js"

export const GrantType = Schema.Literal(
  "authorization_code",
  "refresh_token",
  "client_credentials",
  "urn:ietf:params:oauth:grant-type:token-exchange",
  "urn:ietf:params:oauth:grant-type:device_code",
  "urn:ietf:params:oauth:grant-type:jwt-bearer"
)
export type GrantType = typeof GrantType.Type

export const AuthMethod = Schema.Literal("client_secret_basic", "client_secret_post", "private_key_jwt", "none")
export type AuthMethod = typeof AuthMethod.Type

export const PrincipalType = Schema.Literal("app", "agent")
export type PrincipalType = typeof PrincipalType.Type

/** draft-ietf-oauth-identity-assertion-authz-grant §5: the client's registration at another authorization server. */
export const IdJagTarget = Schema.Struct({ audience: Schema.String, clientId: Schema.String })
export interface IdJagTarget extends Schema.Schema.Type<typeof IdJagTarget> {}

/** Client metadata as registered: field names follow RFC 7591 §2 on the wire and are camelCase here. */
export const Metadata = Schema.Struct({
  redirectUris: Schema.Array(Schema.String),
  postLogoutRedirectUris: Schema.Array(Schema.String),
  grantTypes: Schema.Array(GrantType),
  responseTypes: Schema.Array(Schema.Literal("code")),
  tokenEndpointAuthMethod: AuthMethod,
  /** OIDC Registration §2; absent when the registration did not say (required at dynamic registration, ADR 0046). */
  applicationType: optional(Schema.Literal("web", "native")),
  jwks: optional(Schema.Struct({ keys: Schema.Array(Jwk) })),
  jwksUri: optional(Schema.String),
  scope: optional(Schema.String),
  clientName: optional(Schema.String),
  frontchannelLogoutUri: optional(Schema.String),
  frontchannelLogoutSessionRequired: Schema.Boolean,
  dpopBoundAccessTokens: Schema.Boolean,
  principalType: PrincipalType,
  /** Resource URIs this client may ask tokens for; absent means every resource of the realm. */
  resources: optional(Schema.Array(Schema.String)),
  /**
   * CONTRACT §5 "ID-JAG": the authorization servers (`audience`, their issuer) this client may get an Identity
   * Assertion JWT Authorization Grant for by token exchange, and its `clientId` at each (the ID-JAG's `client_id`).
   */
  idJagTargets: optional(Schema.Array(IdJagTarget))
})
export interface Metadata extends Schema.Schema.Type<typeof Metadata> {}

export const Client = Schema.Struct({
  realmId: Schema.String,
  clientId: Schema.String,
  /** base64url(SHA-256(secret)); absent for public clients (`token_endpoint_auth_method: none`). */
  secretHash: optional(Schema.String),
  /**
   * After a rotation with an overlap window (CONTRACT §3 `previous_valid_for`): the secret it replaced, as
   * base64url(SHA-256), accepted until `previousSecretExpiresAt` (ADR 0032).
   */
  previousSecretHash: optional(Schema.String),
  previousSecretExpiresAt: optional(Schema.DateTimeUtcFromSelf),
  metadata: Metadata,
  /**
   * Registered by anyone through RFC 7591 dynamic registration rather than by the realm's owner: like a client ID
   * metadata document client, its redirect URIs are its own word (RFC 9700 §4.11.2, `Authorize.redirectsUnattended`).
   */
  dynamic: optional(Schema.Boolean),
  createdAt: Schema.DateTimeUtcFromSelf,
  /**
   * 1 at registration, +1 per change (metadata or secret): a change applies only while the row is still at the version
   * it read (CONTRACT §3 `If-Match`). Absent on a client that is no row (a client ID metadata document's).
   */
  version: optional(Schema.Number)
})
export interface Client extends Schema.Schema.Type<typeof Client> {}

/** The row's version (`version`, 1 when a client was built without one). */
export const versionOf = (client: Client) => client.version ?? 1

export const isConfidential = (metadata: Metadata) => metadata.tokenEndpointAuthMethod !== "none"

/** Client secrets are shown once and only hashed at rest; these methods need one. */
export const usesSecret = (metadata: Metadata) =>
  metadata.tokenEndpointAuthMethod === "client_secret_basic" || metadata.tokenEndpointAuthMethod === "client_secret_post"

/**
 * The secret hashes a presented secret may match at `nowMillis`: the current one, and the one a rotation replaced while
 * its overlap window lasts (CONTRACT §3: "the old secret works until then"; ADR 0032).
 */
export const acceptedSecretHashes = (client: Client, nowMillis: number): ReadonlyArray<string> => {
  const hashes: Array<string> = []
  if (client.secretHash !== undefined) hashes.push(client.secretHash)
  if (
    client.previousSecretHash !== undefined && client.previousSecretExpiresAt !== undefined &&
    nowMillis < DateTime.toEpochMillis(client.previousSecretExpiresAt)
  ) hashes.push(client.previousSecretHash)
  return hashes
}
