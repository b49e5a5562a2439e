/** The audit port's memory layer (CONTRACT §7): `offer`, the append for code outside any fiber, on the layer's runtime. */
import { describe, expect, it } from "@effect/vitest"
import { DateTime, Effect, Exit, Layer } from "effect"
import { Audit, Crypto, MemoryDb } from "@tessera/domain"
import type { AuditEvent } from "@tessera/domain"

/** WebCrypto's answers, with every SHA-256 counted: the Crypto the layer is built with. */
const counting = () => {
  const calls = { sha256: 0 }
  const shape: Crypto.Shape = { ...Crypto.webCrypto, sha256: (data) => Effect.suspend(() => (calls.sha256++, Crypto.webCrypto.sha256(data))) }
  return { calls, layer: Layer.succeed(Crypto.Crypto, shape) }
}

const event = (realmId: string): AuditEvent.AuditEvent => ({
  id: crypto.randomUUID(),
  at: DateTime.unsafeMake("2026-12-07T12:00:00Z"),
  realmId,
  realm: "r",
  type: "token.issued",
  actor: { type: "client", id: "c1" },
  clientId: "c1",
  grantType: "client_credentials",
  result: "success"
})

const offered = (audit: Audit.Audit["Type"], e: AuditEvent.AuditEvent) =>
  Effect.async<Exit.Exit<void, unknown>>((resume) => audit.offer(e, (outcome) => resume(Effect.succeed(outcome))))

describe("Audit.layerMemory: offer runs with the services the layer was built with", () => {
  it.effect("the event is linked with the layer's Crypto, not the default runtime's WebCrypto", () => {
    const crypto = counting()
    // the caller's own fiber has no Crypto of its own: only the layer was built with the counting one
    return Effect.gen(function*() {
      const audit = yield* Audit.Audit
      const realmId = "a1b2c3d4-0000-4000-8000-000000000001"
      const first = event(realmId)
      const second = event(realmId)
      expect(yield* offered(audit, first)).toEqual(Exit.void)
      expect(yield* offered(audit, second)).toEqual(Exit.void)
      // one link hashed per event (ADR 0007), each through the layer's Crypto
      expect(crypto.calls.sha256).toBe(2)
      expect(yield* audit.query(realmId, { limit: 10 })).toEqual([{ seq: 2, event: second }, { seq: 1, event: first }])
    }).pipe(Effect.provide(Audit.layerMemory.pipe(Layer.provideMerge(MemoryDb.layer), Layer.provide(crypto.layer))))
  })
})
