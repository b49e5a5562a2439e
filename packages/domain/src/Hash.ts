/** SHA-256 for high-entropy secrets at rest (client secrets, codes, refresh tokens, device codes). */
import { Effect } from "effect"
import * as Base64Url from "./Base64Url.js"
import { Crypto } from "./Crypto.js"

const encoder = new TextEncoder()

/** Node's Buffer, when the platform has it: its UTF-8 encoding allocates less than `TextEncoder`'s (cf. Base64Url). */
const NodeBuffer = (globalThis as { Buffer?: typeof Buffer }).Buffer

/** A string's UTF-8 bytes. */
const utf8 = (text: string): Uint8Array => (NodeBuffer !== undefined ? NodeBuffer.from(text, "utf8") : encoder.encode(text))

export const sha256Bytes = (input: string | Uint8Array) =>
  Effect.flatMap(Crypto, (crypto) => crypto.sha256(typeof input === "string" ? encoder.encode(input) : input))

/** base64url(SHA-256(input)): how secrets are stored and looked up. */
export const sha256 = (input: string | Uint8Array) => Effect.map(sha256Bytes(input), Base64Url.encode)

/**
 * `sha256` of `text(item)` for each item, in order, through one lookup of the `Crypto` port: a caller hashing
 * thousands at a time (the audit chain's verification, ADR 0042) pays for one Effect per batch instead of a fiber step
 * per text, and each text is made just before it is hashed (so it dies young: a batch of texts held at once costs
 * more in garbage collection than it saves).
 */
export const sha256Each = <A>(items: ReadonlyArray<A>, text: (item: A) => string) =>
  Effect.flatMap(Crypto, (crypto) => Effect.forEach(items, (item) => Effect.map(crypto.sha256(utf8(text(item))), Base64Url.encode)))

/** Compares two strings in time independent of where they differ (lengths are not secret here). */
export const constantTimeEqual = (a: string, b: string): boolean => {
  const x = encoder.encode(a)
  const y = encoder.encode(b)
  let diff = x.length ^ y.length
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0)
  return diff === 0
}
