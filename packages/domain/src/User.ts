/** A person who signs in to a realm. */
import type { DateTime } from "effect"

export interface User {
  readonly realmId: string
  readonly sub: string
  readonly username: string
  /** PHC string (argon2id). */
  readonly passwordHash: string
  readonly email?: string
  readonly name?: string
  readonly createdAt: DateTime.Utc
}

/** Usernames are unique per realm without regard to case or Unicode normal form. */
export const usernameKey = (username: string) => username.normalize("NFC").toLowerCase()
