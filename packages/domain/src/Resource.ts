/** A protected resource (RFC 8707 resource indicator) and the scopes it understands. */
import type { DateTime } from "effect"

export interface Resource {
  readonly realmId: string
  readonly uri: string
  readonly scopes: ReadonlyArray<string>
  /** Scopes that need a fresh human authentication (RFC 9470); a subset of `scopes`. */
  readonly stepUpScopes: ReadonlyArray<string>
  readonly createdAt: DateTime.Utc
}
