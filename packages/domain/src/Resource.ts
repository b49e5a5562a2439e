/** A protected resource (RFC 8707 resource indicator) and the scopes it understands. */
import { Schema } from "effect"

export const Resource = Schema.Struct({
  realmId: Schema.String,
  /** The admin API's name for the row (CONTRACT §3); `uri` is its identity toward clients, and never changes (ADR 0033). */
  id: Schema.String,
  /** 1 at creation, +1 per change: the admin API's ETag and compare-and-set. */
  version: Schema.Number,
  uri: Schema.String,
  scopes: Schema.Array(Schema.String),
  /** Scopes that need a fresh human authentication (RFC 9470); a subset of `scopes`. */
  stepUpScopes: Schema.Array(Schema.String),
  /** What the consent page calls the resource instead of its URI. */
  displayName: Schema.optional(Schema.String),
  /** What the consent page says each scope allows, by scope (each a scope of `scopes`); absent means none. */
  scopeDescriptions: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
  createdAt: Schema.DateTimeUtcFromSelf
})
export interface Resource extends Schema.Schema.Type<typeof Resource> {}

/** The settings an administrator writes: everything but the identity (realm, id, uri), the version and the time. */
export interface Settings {
  readonly scopes: ReadonlyArray<string>
  readonly stepUpScopes: ReadonlyArray<string>
  readonly displayName?: string | undefined
  readonly scopeDescriptions?: Readonly<Record<string, string>> | undefined
}

/**
 * Why settings cannot stand (the admin API's 400): a step-up scope or a described scope the resource does not have.
 * Checked on the whole result, so a change of `scopes` alone cannot leave a step-up scope or description behind.
 */
export const invalidSettings = (settings: Settings): string | undefined => {
  // CONTRACT §3: step_up_scopes is a subset of scopes
  if (!settings.stepUpScopes.every((scope) => settings.scopes.includes(scope))) return "'step_up_scopes' must be a subset of 'scopes'"
  const described = Object.keys(settings.scopeDescriptions ?? {})
  if (!described.every((scope) => settings.scopes.includes(scope))) return "'scope_descriptions' must describe only scopes of 'scopes'"
  return undefined
}

/** The description of `scope` the resource gives, if any (never an inherited property of the record). */
export const describe = (resource: Resource, scope: string): string | undefined =>
  resource.scopeDescriptions !== undefined && Object.hasOwn(resource.scopeDescriptions, scope) ? resource.scopeDescriptions[scope] : undefined

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
