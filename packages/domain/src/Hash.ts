/** SHA-256 for high-entropy secrets at rest (client secrets, codes, refresh tokens, device codes). */
import { Effect } from "effect"
import * as Base64Url from "./Base64Url.js"
import { Crypto } from "./Crypto.js"

const encoder = new TextEncoder()

export const sha256Bytes = (input: string | Uint8Array) =>
  Effect.flatMap(Crypto, (crypto) => crypto.sha256(typeof input === "string" ? encoder.encode(input) : input))

/** base64url(SHA-256(input)): how secrets are stored and looked up. */
export const sha256 = (input: string | Uint8Array) => Effect.map(sha256Bytes(input), Base64Url.encode)

/** Compares two strings in time independent of where they differ (lengths are not secret here). */
export const constantTimeEqual = (a: string, b: string): boolean => {
  const x = encoder.encode(a)
  const y = encoder.encode(b)
  let diff = x.length ^ y.length
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0)
  return diff === 0
}

/** RFC 2104 §2: B, the block size of SHA-256 in bytes. */
const hmacBlock = 64

const concat = (a: Uint8Array, b: Uint8Array) => {
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}

/**
 * base64url(HMAC-SHA-256(key, message)) of the UTF-8 bytes of both (RFC 2104 §2), over the `Crypto` port's SHA-256:
 * the bytes node:crypto's `createHmac("sha256", key)` gives, for a key of any length (WebCrypto refuses an empty one).
 */
export const hmacSha256 = (key: string, message: string) =>
  Effect.gen(function*() {
    const raw = encoder.encode(key)
    // RFC 2104 §2: a key longer than B is hashed first; then it is padded with zeros to B bytes
    const k0 = new Uint8Array(hmacBlock)
    k0.set(raw.length > hmacBlock ? yield* sha256Bytes(raw) : raw)
    const inner = yield* sha256Bytes(concat(k0.map((b) => b ^ 0x36), encoder.encode(message)))
    return Base64Url.encode(yield* sha256Bytes(concat(k0.map((b) => b ^ 0x5c), inner)))
  })
