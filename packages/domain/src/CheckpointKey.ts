/**
 * ADR 0042: the key that signs audit checkpoints, HMAC-SHA-256 under a key derived from the key-encryption key. The
 * KEK lives outside the database (configuration or the data directory), so someone with only database rights can
 * read and write checkpoint rows but cannot make one that verifies.
 */
import { Context, Effect, Layer } from "effect"
import * as Base64Url from "./Base64Url.js"

export class CheckpointKey extends Context.Tag("@tessera/domain/CheckpointKey")<CheckpointKey, {
  /** base64url(HMAC-SHA-256(key, message)). */
  readonly mac: (message: string) => Effect.Effect<string>
  /** Whether `mac` is `message`'s MAC under this key (WebCrypto's verify: a constant-time comparison). */
  readonly check: (message: string, mac: string) => Effect.Effect<boolean>
}>() {}

const encoder = new TextEncoder()

const macShape = /^[A-Za-z0-9_-]{43}$/

/**
 * Checkpoint MACs keyed by `secret` (the KEK's 32 bytes): an HKDF-SHA-256 key for this one purpose is derived from
 * it, so the KEK itself signs nothing, and a MAC made for another purpose (a DPoP nonce) is never a checkpoint's.
 */
export const layer = (secret: Uint8Array) =>
  Layer.effect(CheckpointKey, Effect.gen(function*() {
    const key = yield* Effect.promise(async () => {
      const base = await crypto.subtle.importKey("raw", new Uint8Array(secret), "HKDF", false, ["deriveKey"])
      return crypto.subtle.deriveKey(
        { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(32), info: encoder.encode("tessera audit-checkpoint v1") },
        base,
        { name: "HMAC", hash: "SHA-256", length: 256 },
        false,
        ["sign", "verify"]
      )
    })
    return CheckpointKey.of({
      mac: (message) =>
        Effect.promise(() => crypto.subtle.sign("HMAC", key, encoder.encode(message))).pipe(
          Effect.map((mac) => Base64Url.encode(new Uint8Array(mac)))
        ),
      check: (message, mac) =>
        macShape.test(mac)
          ? Effect.promise(() => crypto.subtle.verify("HMAC", key, new Uint8Array(Base64Url.decode(mac)), encoder.encode(message)))
          : Effect.succeed(false)
    })
  }))
