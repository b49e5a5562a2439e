/**
 * RFC 8628 §6.1 user codes: 8 characters from the 20 consonants BCDFGHJKLMNPQRSTVWXZ (no vowels, so no words; no
 * look-alike digits), about 34.6 bits, shown as `XXXX-XXXX` and read case-insensitively with dashes and spaces ignored.
 */
import { Effect } from "effect"
import { Entropy } from "./Entropy.js"

/** RFC 8628 §6.1: "the base-20 character set, BCDFGHJKLMNPQRSTVWXZ". */
export const alphabet = "BCDFGHJKLMNPQRSTVWXZ"

/** RFC 8628 §6.1: 8 characters of a 20-character set give 20^8 (about 2^34.6) codes. */
export const length = 8

/** The longest input the verification form reads: the code with a dash and a few stray spaces. */
export const maxInputLength = 32

/** 256 mod 20 = 16: bytes from 240 on would favour the first 16 letters, so they are drawn again. */
const unbiasedBelow = 240

/** A fresh user code from the CSPRNG, normalized (8 letters, no dash), each letter uniformly chosen. */
export const make = Effect.gen(function*() {
  const entropy = yield* Entropy
  let code = ""
  while (code.length < length) {
    for (const byte of yield* entropy.bytes(length)) {
      if (byte < unbiasedBelow && code.length < length) code += alphabet[byte % alphabet.length]
    }
  }
  return code
})

/**
 * What a person typed, as the stored form, or undefined when it cannot be a user code. RFC 8628 §6.1: "the user
 * code SHOULD be case-insensitive", and dashes and spaces (as typed from `XXXX-XXXX`) are ignored.
 */
export const normalize = (input: string): string | undefined => {
  if (input.length > maxInputLength) return undefined
  const code = input.replace(/[\s-]/g, "").toUpperCase()
  if (code.length !== length) return undefined
  for (const c of code) if (!alphabet.includes(c)) return undefined
  return code
}

/** RFC 8628 §6.1: shown with a separator, `WDJB-MJHT`, "to aid readability". */
export const format = (code: string) => `${code.slice(0, length / 2)}-${code.slice(length / 2)}`
