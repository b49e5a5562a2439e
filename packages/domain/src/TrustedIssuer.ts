/** An issuer whose assertions a realm accepts with the RFC 7523 JWT-bearer grant. */
import type { DateTime } from "effect"

export interface TrustedIssuer {
  readonly realmId: string
  readonly issuer: string
  readonly keys: { readonly _tag: "Jwks"; readonly jwks: { readonly keys: ReadonlyArray<Record<string, unknown>> } }
    | { readonly _tag: "JwksUri"; readonly jwksUri: string }
  readonly createdAt: DateTime.Utc
}
