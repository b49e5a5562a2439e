/** A person who signs in to a realm. */
import { Schema } from "effect"
import { optional } from "./Fields.js"

/**
 * What a person may do beyond signing in (CONTRACT §3, §4): `admin` may get the realm's `tessera:admin` resource;
 * `member` is the plain person an invitation names (ADR 0031).
 */
export const roles = ["admin", "member"] as const
export const Role = Schema.Literal(...roles)
export type Role = typeof Role.Type

export const User = Schema.Struct({
  realmId: Schema.String,
  sub: Schema.String,
  username: Schema.String,
  /** PHC string (argon2id). */
  passwordHash: Schema.String,
  email: optional(Schema.String),
  name: optional(Schema.String),
  /** A set: each role at most once, in the order given. */
  roles: Schema.Array(Role),
  /** A disabled person cannot sign in, and nothing they signed in to before still counts (CONTRACT §3). */
  disabled: Schema.Boolean,
  /**
   * Tokens issued at or before this time are inactive (CONTRACT §3): set when the person is disabled or gets a new
   * password, so that enabling them again does not revive a grant-less token (JWT-bearer, exchanges) issued before.
   */
  tokensNotBefore: optional(Schema.DateTimeUtcFromSelf),
  /** 1 at creation, +1 per change: the admin API's ETag and compare-and-set (CONTRACT §3). */
  version: Schema.Number,
  createdAt: Schema.DateTimeUtcFromSelf
})
export interface User extends Schema.Schema.Type<typeof User> {}

/** Usernames are unique per realm without regard to case or Unicode normal form. */
export const usernameKey = (username: string) => username.normalize("NFC").toLowerCase()

/** The admin API's search matches emails as it matches usernames: without regard to case or normal form. */
export const emailKey = (email: string) => email.normalize("NFC").toLowerCase()

/** CONTRACT §3 user search: `q` is a prefix of the username or the email, compared as `usernameKey` compares. */
export const matches = (user: User, prefix: string) => {
  const key = usernameKey(prefix)
  return usernameKey(user.username).startsWith(key) || (user.email !== undefined && emailKey(user.email).startsWith(key))
}

/** Whether the person may use what they signed in to (a session, a consent page, a device approval). */
export const canSignIn = (user: User) => !user.disabled

/** Whether a token of this person issued at `issuedAt` (epoch seconds) still counts (`tokensNotBefore`). */
export const acceptsTokenIssuedAt = (user: User, issuedAt: number) =>
  !user.disabled && (user.tokensNotBefore === undefined || issuedAt * 1000 > user.tokensNotBefore.epochMillis)

/** Whether a password can sign this person in: a PHC string (`$argon2id$...`); a provisioned person's `!` is none. */
export const hasPassword = (user: User): boolean => user.passwordHash.startsWith("$")
