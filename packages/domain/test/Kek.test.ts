import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import { Entropy, Kek, Keys, MemoryDb, Realms, SigningKeys } from "@tessera/domain"

const kekA = Kek.layer(new Uint8Array(32).fill(1))
const kekB = Kek.layer(new Uint8Array(32).fill(2))
const plaintext = new TextEncoder().encode('{"d":"secret"}')

describe("DESIGN secrets at rest: private keys sealed with AES-256-GCM under the KEK", () => {
  it.effect("seal then open with the same KEK and context gives the plaintext back", () =>
    Effect.gen(function*() {
      const kek = yield* Kek.Kek
      const sealed = yield* kek.seal(plaintext, "ctx")
      expect(new TextDecoder().decode(yield* kek.open(sealed, "ctx"))).toBe('{"d":"secret"}')
      // a fresh IV each time: the same plaintext never gives the same ciphertext
      expect((yield* kek.seal(plaintext, "ctx")).ciphertext).not.toBe(sealed.ciphertext)
    }).pipe(Effect.provide(kekA)))

  it.effect("another context (realm or kid) or another KEK cannot open it", () =>
    Effect.gen(function*() {
      const sealed = yield* Effect.flatMap(Kek.Kek, (kek) => kek.seal(plaintext, "ctx")).pipe(Effect.provide(kekA))
      expect(Exit.isFailure(yield* Effect.exit(Effect.flatMap(Kek.Kek, (kek) => kek.open(sealed, "other")).pipe(Effect.provide(kekA))))).toBe(true)
      expect(Exit.isFailure(yield* Effect.exit(Effect.flatMap(Kek.Kek, (kek) => kek.open(sealed, "ctx")).pipe(Effect.provide(kekB))))).toBe(true)
    }))

  it.effect("a stored signing key holds no private member in clear", () =>
    Effect.gen(function*() {
      const fresh = yield* SigningKeys.generate("realm-1", "ES256")
      expect(fresh.publicJwk).not.toHaveProperty("d")
      expect(JSON.stringify(fresh)).not.toContain('"d"')
      expect(() => JSON.parse(new TextDecoder().decode(Uint8Array.from(Buffer.from(fresh.sealedPrivateJwk.ciphertext, "base64url"))))).toThrow()
    }).pipe(Effect.provide(Layer.mergeAll(kekA, Entropy.layer, Realms.layerMemory, Keys.layerMemory).pipe(Layer.provideMerge(MemoryDb.layer)))))

  it.effect("a KEK must be 32 bytes", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Effect.flatMap(Kek.Kek, () => Effect.void).pipe(Effect.provide(Kek.layer(new Uint8Array(16)))))
      expect(Exit.isFailure(exit)).toBe(true)
    }))
})
