/** A realm: one issuer under the single origin (CONTRACT §2), the unit of isolation. */
import type { DateTime } from "effect"

/** CONTRACT §2: realm names. */
export const namePattern = /^[a-z0-9][a-z0-9-]{0,62}$/

export interface Realm {
  readonly id: string
  readonly name: string
  readonly displayName?: string
  readonly dynamicRegistration: boolean
  readonly createdAt: DateTime.Utc
}

export interface SettingsPatch {
  readonly displayName?: string
  readonly dynamicRegistration?: boolean
}

export const patch = (realm: Realm, change: SettingsPatch): Realm => ({
  ...realm,
  ...(change.displayName !== undefined ? { displayName: change.displayName } : {}),
  ...(change.dynamicRegistration !== undefined ? { dynamicRegistration: change.dynamicRegistration } : {})
})
