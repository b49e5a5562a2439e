/**
 * A person at a trusted issuer (an ID-JAG's `iss` and `sub`, draft-ietf-oauth-identity-assertion-authz-grant §3) linked
 * to one user of the realm (ADR 0047): the link, and the pure rules that provision a user for a person on first use.
 */
import { Schema } from "effect"
import type { DateTime } from "effect"
import * as User from "./User.js"

export const IdentityLink = Schema.Struct({
  realmId: Schema.String,
  /** The trusted issuer's `iss`: with `subject`, unique per realm (OpenID Connect Core §2: `iss` + `sub` never reassigned). */
  issuer: Schema.String,
  /** The person's `sub` at that issuer, as the assertion said it. */
  subject: Schema.String,
  /** The realm user it is linked to. */
  sub: Schema.String,
  createdAt: Schema.DateTimeUtcFromSelf
})
export interface IdentityLink extends Schema.Schema.Type<typeof IdentityLink> {}

/** ADR 0047: the longest username a provisioned user gets (the admin API allows 255). */
const maxUsername = 255

/** An email address as the admin API takes it (protocol admin `EmailAddress`): no spaces, one `@` with text on both sides. */
const emailShape = /^[^\s@\p{Cc}\p{Cs}]+@[^\s@\p{Cc}\p{Cs}]+$/u

/**
 * ADR 0047: the email the assertion vouches for, if any: a string shaped as an address, at most 255 characters, and not
 * marked unverified (OpenID Connect Core §5.1 `email_verified: false`).
 */
export const vouchedEmail = (claims: Readonly<Record<string, unknown>>): string | undefined => {
  const email = claims["email"]
  if (typeof email !== "string" || email.length > maxUsername || !emailShape.test(email)) return undefined
  return claims["email_verified"] === false ? undefined : email
}

/** ADR 0047: a display name from the assertion's `name` (OpenID Connect Core §5.1), if it is plain text of at most 200 characters. */
export const vouchedName = (claims: Readonly<Record<string, unknown>>): string | undefined => {
  const name = claims["name"]
  if (typeof name !== "string" || name.trim() === "" || name.length > 200 || /\p{Cc}|\p{Cs}/u.test(name)) return undefined
  return name
}

/** RFC 4648 §6 base32, lower case, without padding: a generated username's random part. */
const base32 = (bytes: Uint8Array) => {
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
  let bits = 0
  let value = 0
  let out = ""
  for (const byte of bytes) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  return bits > 0 ? out + alphabet[(value << (5 - bits)) & 31] : out
}

/** ADR 0047: a username no person chose: `idjag-` and 16 base32 characters of 10 random bytes (80 bits), free in practice. */
export const generatedUsername = (random: Uint8Array) => `idjag-${base32(random)}`

/**
 * ADR 0047: a provisioned user has no password (`passwordHash` is no PHC string, so no password verifies) until an
 * admin sets one; roles none beyond the plain person.
 */
export const noPassword = "!"

export const provisionedUser = (input: {
  readonly realmId: string
  readonly sub: string
  readonly username: string
  readonly email: string | undefined
  readonly name: string | undefined
  readonly createdAt: DateTime.Utc
}): User.User => ({
  realmId: input.realmId,
  sub: input.sub,
  username: input.username,
  passwordHash: noPassword,
  ...(input.email !== undefined ? { email: input.email } : {}),
  ...(input.name !== undefined ? { name: input.name } : {}),
  roles: [],
  disabled: false,
  version: 1,
  createdAt: input.createdAt
})
