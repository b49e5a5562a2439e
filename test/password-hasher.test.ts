import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { PasswordHasher } from "@tessera/domain"
import * as PasswordHasherArgon2 from "@tessera/server-node/PasswordHasherArgon2"

const hasher = Effect.map(PasswordHasher.PasswordHasher, (h) => h)

describe("PasswordHasher (argon2id, RFC 9106)", () => {
  it.effect("hashes to an argon2id PHC string with OWASP's minimum parameters, salted, and verifies", () =>
    Effect.gen(function*() {
      const h = yield* hasher
      const a = yield* h.hash("correct horse battery staple")
      const b = yield* h.hash("correct horse battery staple")
      expect(a).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/)
      expect(a).not.toBe(b)
      expect(yield* h.verify(a, "correct horse battery staple")).toBe(true)
      expect(yield* h.verify(a, "correct horse battery stapler")).toBe(false)
      // a malformed stored hash is a failed verification, never a crash
      expect(yield* h.verify("not-a-phc-string", "x")).toBe(false)
    }).pipe(Effect.provide(PasswordHasherArgon2.layer())))

  it.live("at most `concurrency` hashes run at once; the rest queue", () =>
    Effect.gen(function*() {
      let running = 0
      let most = 0
      const slow = (result: string) => new Promise<string>((resolve) => setTimeout(() => resolve(result), 20))
      const instrumented: PasswordHasherArgon2.Primitive = {
        hash: async (password) => {
          most = Math.max(most, ++running)
          try {
            return await slow(`hash:${password}`)
          } finally {
            running--
          }
        },
        verify: async (hash, password) => hash === `hash:${password}`
      }
      const hashes = yield* Effect.flatMap(hasher, (h) =>
        Effect.forEach(Array.from({ length: 10 }, (_, i) => `password-${i}`), h.hash, { concurrency: "unbounded" })
      ).pipe(Effect.provide(PasswordHasherArgon2.layerWith(instrumented, 2)))
      expect(hashes).toHaveLength(10)
      expect(most).toBe(2)
    }))
})
