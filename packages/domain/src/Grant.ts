/** A person's authorization of a client: what every code, access token and refresh family of one sign-in stems from. */
import type { DateTime } from "effect"

export interface Grant {
  readonly realmId: string
  readonly grantId: string
  readonly clientId: string
  readonly sub: string
  readonly scopes: ReadonlyArray<string>
  /** RFC 8707: the resources the person consented to for this grant. */
  readonly resources: ReadonlyArray<string>
  readonly authTime: DateTime.Utc
  readonly acr: string
  readonly amr: ReadonlyArray<string>
  readonly sid?: string
  readonly nonce?: string
  readonly createdAt: DateTime.Utc
  /** Set when the grant is revoked (code replay, refresh reuse, revocation): nothing it produced is valid after. */
  readonly revokedAt?: DateTime.Utc
}
