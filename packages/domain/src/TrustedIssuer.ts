/** An issuer whose assertions a realm accepts with the RFC 7523 JWT-bearer grant. */
import { Schema } from "effect"
import { Jwk } from "./Fields.js"

/** Where the issuer's keys come from: a JWK Set given inline, or its `jwks_uri` (RFC 7523 §3 leaves it to the AS). */
export const Keys = Schema.Union(
  Schema.TaggedStruct("Jwks", { jwks: Schema.Struct({ keys: Schema.Array(Jwk) }) }),
  Schema.TaggedStruct("JwksUri", { jwksUri: Schema.String })
)
export type Keys = typeof Keys.Type

export const TrustedIssuer = Schema.Struct({
  realmId: Schema.String,
  /** The admin API's name for the row (CONTRACT §3); `issuer` never changes (ADR 0033). */
  id: Schema.String,
  /** 1 at creation, +1 per change: the admin API's ETag and compare-and-set. */
  version: Schema.Number,
  issuer: Schema.String,
  keys: Keys,
  /** CONTRACT §5 ID-JAG: its assertions may also be identity assertion grants (behaviour: issue 16). */
  idJag: Schema.Boolean,
  /** CONTRACT §5 ID-JAG: a person it names is created on first use (behaviour: issue 16). */
  provisionUsers: Schema.Boolean,
  createdAt: Schema.DateTimeUtcFromSelf
})
export interface TrustedIssuer extends Schema.Schema.Type<typeof TrustedIssuer> {}

/** The `jwks_uri` whose fetched keys a process may hold for this issuer, if it has one. */
export const jwksUri = (trusted: Pick<TrustedIssuer, "keys">) => (trusted.keys._tag === "JwksUri" ? trusted.keys.jwksUri : undefined)
