/** The key-encryption key: private signing keys are sealed at rest with AES-256-GCM (DESIGN "Data and isolation"). */
import { Context, Effect, Layer } from "effect"
import * as Base64Url from "./Base64Url.js"
import type { Sealed } from "./SigningKey.js"

export class Kek extends Context.Tag("@tessera/domain/Kek")<Kek, {
  /** Seals `plaintext`, bound to `context` (additional authenticated data) so a ciphertext cannot be moved. */
  readonly seal: (plaintext: Uint8Array, context: string) => Effect.Effect<Sealed>
  /** Opens what `seal` made with the same context; dies if the ciphertext was tampered with. */
  readonly open: (sealed: Sealed, context: string) => Effect.Effect<Uint8Array>
}>() {}

const encoder = new TextEncoder()

/** A KEK from 32 raw bytes (from configuration or the data directory). */
export const layer = (raw: Uint8Array) =>
  Layer.effect(Kek, Effect.gen(function*() {
    if (raw.length !== 32) return yield* Effect.dieMessage("the key-encryption key must be 32 bytes")
    const key = yield* Effect.promise(() =>
      crypto.subtle.importKey("raw", new Uint8Array(raw), { name: "AES-GCM" }, false, ["encrypt", "decrypt"])
    )
    return Kek.of({
      seal: (plaintext, context) =>
        Effect.gen(function*() {
          // NIST SP 800-38D §8.2.2: a random 96-bit IV per message
          const iv = crypto.getRandomValues(new Uint8Array(12))
          const ciphertext = yield* Effect.promise(() =>
            crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: encoder.encode(context) }, key, new Uint8Array(plaintext))
          )
          return { iv: Base64Url.encode(iv), ciphertext: Base64Url.encode(new Uint8Array(ciphertext)) }
        }),
      open: (sealed, context) =>
        Effect.promise(() =>
          crypto.subtle.decrypt(
            { name: "AES-GCM", iv: new Uint8Array(Base64Url.decode(sealed.iv)), additionalData: encoder.encode(context) },
            key,
            new Uint8Array(Base64Url.decode(sealed.ciphertext))
          )
        ).pipe(Effect.map((plain) => new Uint8Array(plain)))
    })
  }))
