/** The signing-key store port: each realm's key ring, changed only by compare-and-set on its version. */
import { Context, Effect, Either, HashMap, Layer, Option } from "effect"
import type { AuditEvent } from "./AuditEvent.js"
import { KeyRingChanged } from "./Conflict.js"
import * as MemoryDb from "./MemoryDb.js"
import type { Ring } from "./SigningKey.js"
import { realmGone, type StoreError } from "./StoreError.js"

export class Keys extends Context.Tag("@tessera/domain/Keys")<Keys, {
  /**
   * The realm's ring. Issue 15 (ADR 0030): with no ring, the store asks whether the realm row is there (as a foreign
   * key failure does, `realmGoneOnForeignKey`): gone is `StoreError.realmGone`; there, `None` (a live realm without a
   * ring is a store fault for the caller to report, never an unknown realm).
   */
  readonly ring: (realmId: string) => Effect.Effect<Option.Option<Ring>, StoreError>
  /** Replaces the ring if it is still at `expectedVersion`, with the event that records why (if any). */
  readonly replace: (
    realmId: string,
    expectedVersion: number,
    ring: Ring,
    event: Option.Option<AuditEvent>
  ) => Effect.Effect<void, KeyRingChanged | StoreError>
}>() {}

export const layerMemory = Layer.effect(Keys, Effect.map(MemoryDb.MemoryDb, (db) => Keys.of({
  ring: (realmId) =>
    MemoryDb.read(db, (state) => {
      const ring = HashMap.get(state.keyRings, realmId)
      return Option.isNone(ring) && !HashMap.has(state.realms, realmId) ? Either.left(realmGone(realmId)) : Either.right(ring)
    }).pipe(Effect.flatMap((found) => found)),
  replace: (realmId, expectedVersion, ring, event) =>
    MemoryDb.write(db, (state) => {
      const current = HashMap.get(state.keyRings, realmId)
      if (Option.isNone(current) || current.value.version !== expectedVersion) return Effect.fail(new KeyRingChanged())
      const next = { ...state, keyRings: HashMap.set(state.keyRings, realmId, ring) }
      return Option.match(event, { onNone: () => Effect.succeed(next), onSome: (e) => MemoryDb.appendEvent(next, e) }).pipe(
        Effect.map((after) => [undefined, after] as const)
      )
    })
})))
