/** A realm: one issuer under the single origin (CONTRACT §2), the unit of isolation. */
import { Schema } from "effect"
import { optional } from "./Fields.js"

/** CONTRACT §2: realm names. */
export const namePattern = /^[a-z0-9][a-z0-9-]{0,62}$/

export const Realm = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  displayName: optional(Schema.String),
  dynamicRegistration: Schema.Boolean,
  createdAt: Schema.DateTimeUtcFromSelf,
  /** 1 at creation, +1 per change of the settings (CONTRACT §3: the ETag names it; PATCH and DELETE compare-and-set on it). */
  version: Schema.Number
})
export interface Realm extends Schema.Schema.Type<typeof Realm> {}

export interface SettingsPatch {
  readonly displayName?: string
  readonly dynamicRegistration?: boolean
}

export const patch = (realm: Realm, change: SettingsPatch): Realm => ({
  ...realm,
  ...(change.displayName !== undefined ? { displayName: change.displayName } : {}),
  ...(change.dynamicRegistration !== undefined ? { dynamicRegistration: change.dynamicRegistration } : {})
})

/** The wire names of the settings a patch would change (given and different from the realm's), in a fixed order. */
export const changedFields = (realm: Realm, change: SettingsPatch): ReadonlyArray<"display_name" | "dynamic_registration"> => [
  ...(change.displayName !== undefined && change.displayName !== realm.displayName ? ["display_name" as const] : []),
  ...(change.dynamicRegistration !== undefined && change.dynamicRegistration !== realm.dynamicRegistration
    ? ["dynamic_registration" as const]
    : [])
]
