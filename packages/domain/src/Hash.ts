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
