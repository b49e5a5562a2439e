/** An issuer whose assertions a realm accepts with the RFC 7523 JWT-bearer grant. */
import type { DateTime } from "effect"

export type Keys =
  | { readonly _tag: "Jwks"; readonly jwks: { readonly keys: ReadonlyArray<Record<string, unknown>> } }
  | { readonly _tag: "JwksUri"; readonly jwksUri: string }

export interface TrustedIssuer {
  readonly realmId: string
  /** The admin API's name for the row (CONTRACT §3); `issuer` never changes (ADR 0033). */
  readonly id: string
  /** 1 at creation, +1 per change: the admin API's ETag and compare-and-set. */
  readonly version: number
  readonly issuer: string
  readonly keys: Keys
  /** CONTRACT §5 ID-JAG: its assertions may also be identity assertion grants (behaviour: issue 16). */
  readonly idJag: boolean
  /** CONTRACT §5 ID-JAG: a person it names is created on first use (behaviour: issue 16). */
  readonly provisionUsers: boolean
  readonly createdAt: DateTime.Utc
}

/** The `jwks_uri` whose fetched keys a process may hold for this issuer, if it has one. */
export const jwksUri = (trusted: Pick<TrustedIssuer, "keys">) => (trusted.keys._tag === "JwksUri" ? trusted.keys.jwksUri : undefined)
