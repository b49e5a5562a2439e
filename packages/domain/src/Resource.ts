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

// RFC 3986 §3: scheme "://" authority, then the rest (path, query)
const parts = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/s

/**
 * Whether a requested resource indicator names a registered one. Character for character, except what MCP clients
 * are known to vary (MCP 2025-11-25 "Canonical Server URI"; ADR 0020): the case of the scheme and the host
 * (RFC 3986 §6.2.2.1), and one trailing `/` on a resource that is only an origin (`https://h` and `https://h/`).
 */
export const sameUri = (registered: string, requested: string): boolean => {
  if (registered === requested) return true
  const a = parts.exec(registered)
  const b = parts.exec(requested)
  if (a === null || b === null) return false
  const rest = (r: string) => (r === "/" ? "" : r)
  return a[1]!.toLowerCase() === b[1]!.toLowerCase() && a[2]!.toLowerCase() === b[2]!.toLowerCase() && rest(a[3]!) === rest(b[3]!)
}
