/**
 * Server-provided DPoP nonces (RFC 9449 §8, §9), stateless (ADR 0017): a nonce names a 60-second window and carries
 * an HMAC of the realm and that window under a key derived from the key-encryption key, so every node that shares
 * the KEK issues and accepts the same nonces without storing any.
 */
import { Clock, Context, Effect, Layer } from "effect"
import * as Base64Url from "./Base64Url.js"

/** The length of one nonce window. */
export const stepSeconds = 60

/** A nonce is accepted in its own window and the next four: 4 to 5 minutes after it was handed out. */
export const windows = 5

export class DpopNonces extends Context.Tag("@tessera/domain/DpopNonces")<DpopNonces, {
  /** Whether DPoP proofs must carry a nonce of this server (RFC 9449 §8: `use_dpop_nonce` otherwise). */
  readonly required: boolean
  /** The realm's nonce for the current window: what `DPoP-Nonce` hands out. */
  readonly current: (realmId: string) => Effect.Effect<string>
  /** Whether `nonce` is one `current` gave for this realm within the last `windows` windows (constant-time MAC check). */
  readonly check: (realmId: string, nonce: string) => Effect.Effect<boolean>
}>() {}

const encoder = new TextEncoder()

// the window in base 36, a dot, and the 43-character base64url HMAC-SHA-256: RFC 9449 §8.1 NQCHAR only
const shape = /^([0-9a-z]{1,10})\.([A-Za-z0-9_-]{43})$/

const windowAt = Effect.map(Clock.currentTimeMillis, (ms) => Math.floor(ms / 1000 / stepSeconds))

const message = (realmId: string, window: number) => encoder.encode(`${realmId}|${window}`)

/**
 * Nonces keyed by `secret` (the KEK's 32 bytes: an HKDF-SHA-256 key for this one purpose is derived from it, so the
 * KEK itself never signs anything).
 */
export const layer = (options: { readonly secret: Uint8Array; readonly required: boolean }) =>
  Layer.effect(DpopNonces, Effect.gen(function*() {
    const key = yield* Effect.promise(async () => {
      const base = await crypto.subtle.importKey("raw", new Uint8Array(options.secret), "HKDF", false, ["deriveKey"])
      return crypto.subtle.deriveKey(
        { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(32), info: encoder.encode("tessera dpop-nonce v1") },
        base,
        { name: "HMAC", hash: "SHA-256", length: 256 },
        false,
        ["sign", "verify"]
      )
    })
    const nonceOf = (realmId: string, window: number) =>
      Effect.promise(() => crypto.subtle.sign("HMAC", key, message(realmId, window))).pipe(
        Effect.map((mac) => `${window.toString(36)}.${Base64Url.encode(new Uint8Array(mac))}`)
      )
    return DpopNonces.of({
      required: options.required,
      current: (realmId) => Effect.flatMap(windowAt, (window) => nonceOf(realmId, window)),
      check: (realmId, nonce) =>
        Effect.gen(function*() {
          const match = shape.exec(nonce)
          if (match === null) return false
          const window = parseInt(match[1]!, 36)
          const age = (yield* windowAt) - window
          if (!(age >= 0 && age < windows)) return false
          const mac = Base64Url.decode(match[2]!)
          return yield* Effect.promise(() => crypto.subtle.verify("HMAC", key, new Uint8Array(mac), message(realmId, window)))
        })
    })
  }))
