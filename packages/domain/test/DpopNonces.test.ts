import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, TestClock } from "effect"
import { DpopNonces } from "@tessera/domain"

const secret = new Uint8Array(32).fill(9)
const Nonces = DpopNonces.layer({ secret, required: true })

describe("RFC 9449 §8 (ADR 0017): stateless server nonces", () => {
  it.effect("§8.1: a nonce is NQCHAR, and accepted in its window and the next four, then no longer", () =>
    Effect.gen(function*() {
      const nonces = yield* DpopNonces.DpopNonces
      yield* TestClock.setTime(1_700_000_000_000)
      const nonce = yield* nonces.current("realm-1")
      expect(nonce).toMatch(/^[\x21\x23-\x5B\x5D-\x7E]+$/)
      expect(yield* nonces.check("realm-1", nonce)).toBe(true)
      // the same window hands out the same nonce; the next window a new one
      expect(yield* nonces.current("realm-1")).toBe(nonce)
      yield* TestClock.adjust("60 seconds")
      expect(yield* nonces.current("realm-1")).not.toBe(nonce)
      yield* TestClock.adjust("180 seconds")
      expect(yield* nonces.check("realm-1", nonce)).toBe(true)
      yield* TestClock.adjust("60 seconds")
      expect(yield* nonces.check("realm-1", nonce)).toBe(false)
    }).pipe(Effect.provide(Nonces)))

  it.effect("§8: unpredictable and bound to its realm and key: another realm's, a future window's, a forged or tampered one fail", () =>
    Effect.gen(function*() {
      const nonces = yield* DpopNonces.DpopNonces
      yield* TestClock.setTime(1_700_000_000_000)
      const nonce = yield* nonces.current("realm-1")
      expect(yield* nonces.check("realm-2", nonce)).toBe(false)
      const [window, mac] = nonce.split(".") as [string, string]
      const next = (parseInt(window, 36) + 1).toString(36)
      expect(yield* nonces.check("realm-1", `${next}.${mac}`)).toBe(false)
      const flipped = `${window}.${mac[0] === "A" ? "B" : "A"}${mac.slice(1)}`
      expect(yield* nonces.check("realm-1", flipped)).toBe(false)
      for (const junk of ["", ".", "abc", `${window}.`, `${window}.${mac}x`, `-1.${mac}`, "x".repeat(5000)]) {
        expect(yield* nonces.check("realm-1", junk)).toBe(false)
      }
      // a future nonce (which a client could not have got) is refused even when correctly made
      const otherKey = yield* Effect.provide(
        Effect.flatMap(DpopNonces.DpopNonces, (n) => n.current("realm-1")),
        DpopNonces.layer({ secret: new Uint8Array(32).fill(1), required: true })
      )
      expect(yield* nonces.check("realm-1", otherKey)).toBe(false)
      yield* TestClock.setTime(1_700_000_060_000)
      const later = yield* nonces.current("realm-1")
      yield* TestClock.setTime(1_700_000_000_000)
      expect(yield* nonces.check("realm-1", later)).toBe(false)
    }).pipe(Effect.provide(Nonces)))

  it.effect("two nodes with the same KEK issue and accept the same nonces", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_700_000_000_000)
      const a = yield* Effect.provide(DpopNonces.DpopNonces, Nonces)
      const b = yield* Effect.provide(DpopNonces.DpopNonces, Layer.fresh(Nonces))
      expect(yield* b.check("realm-1", yield* a.current("realm-1"))).toBe(true)
      expect(a.required).toBe(true)
    }))
})
