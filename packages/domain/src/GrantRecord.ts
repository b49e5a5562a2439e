/**
 * A person's authorization of a client, as the `Grants` store keeps it: what every code, access token and refresh family
 * of one sign-in stems from. Not a grant type (those are `grants/<Name>Grant.ts`, ADR 0061).
 */
import type { DateTime } from "effect"

export interface GrantRecord {
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
