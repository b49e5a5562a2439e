/**
 * ADR 0042: signed checkpoints of the audit trail. After a verification found a trail intact up to a link, a
 * checkpoint records that link (its position, event id and hash) and the count of events so far, with a MAC under
 * `CheckpointKey`; a later verification starts from the newest checkpoint it can trust and reads only what is new.
 */
import { Chunk, Context, DateTime, Effect, HashMap, Layer, Option, Order } from "effect"
import type { CheckpointKey } from "./CheckpointKey.js"
import * as MemoryDb from "./MemoryDb.js"
import * as RealmPin from "./RealmPin.js"
import type { StoreError } from "./StoreError.js"

export interface Checkpoint {
  /** The trail's id: a realm's, or the owner trail's (`Audit.ownerTrail`). */
  readonly realmId: string
  readonly seq: number
  readonly eventId: string
  readonly hash: string
  /** Events in the trail up to and including `seq`. */
  readonly events: number
  /** When the verification that made it ran. */
  readonly at: DateTime.Utc
  /** base64url HMAC-SHA-256 of `message(...)` under `CheckpointKey`. */
  readonly mac: string
}

export type Unsigned = Omit<Checkpoint, "mac">

/** What the MAC covers: every field, the trail's id first, so a checkpoint cannot be moved to another trail. */
export const message = (c: Unsigned) =>
  `tessera audit checkpoint v1\n${c.realmId}\n${c.seq}\n${c.eventId}\n${c.hash}\n${c.events}\n${DateTime.formatIso(c.at)}`

export const sign = (key: CheckpointKey["Type"], c: Unsigned) =>
  Effect.map(key.mac(message(c)), (mac): Checkpoint => ({ ...c, mac }))

/** Whether the checkpoint's MAC is this server's (a row forged or edited in the database is not). */
export const isAuthentic = (key: CheckpointKey["Type"], c: Checkpoint) => key.check(message(c), c.mac)

export class AuditCheckpoints extends Context.Tag("@tessera/domain/AuditCheckpoints")<AuditCheckpoints, {
  /** At most `limit` checkpoints of the trail with `seq` below `before`, newest first. */
  readonly newest: (realmId: string, before: number, limit: number) => Effect.Effect<ReadonlyArray<Checkpoint>, StoreError>
  /** At most `limit` checkpoints of the trail with `seq` in (`after`, `upTo`], oldest first. */
  readonly between: (realmId: string, after: number, upTo: number, limit: number) => Effect.Effect<ReadonlyArray<Checkpoint>, StoreError>
  /** Stores a checkpoint; one at a position is kept (the first), a second for the same position is dropped. */
  readonly add: (checkpoint: Checkpoint) => Effect.Effect<void, StoreError>
}>() {}

/** The trail's checkpoints in the memory store, by position. */
const of = (state: MemoryDb.State, realmId: string) =>
  Option.getOrElse(HashMap.get(state.auditCheckpoints, realmId), () => Chunk.empty<Checkpoint>())

export const layerMemory = Layer.effect(AuditCheckpoints, Effect.map(MemoryDb.MemoryDb, (db) =>
  AuditCheckpoints.of({
    newest: (realmId, before, limit) =>
      MemoryDb.read(db, (state) => Chunk.toReadonlyArray(of(state, realmId)).filter((c) => c.seq < before).reverse().slice(0, limit)),
    between: (realmId, after, upTo, limit) =>
      MemoryDb.read(db, (state) => Chunk.toReadonlyArray(of(state, realmId)).filter((c) => c.seq > after && c.seq <= upTo).slice(0, limit)),
    add: (checkpoint) =>
      Effect.zipRight(RealmPin.check(checkpoint.realmId), MemoryDb.write(db, (state) => {
        const trail = of(state, checkpoint.realmId)
        if (Chunk.some(trail, (c) => c.seq === checkpoint.seq)) return Effect.succeed([undefined, state] as const)
        const sorted = Chunk.sortWith(Chunk.append(trail, checkpoint), (c) => c.seq, Order.number)
        return Effect.succeed([undefined, { ...state, auditCheckpoints: HashMap.set(state.auditCheckpoints, checkpoint.realmId, sorted) }] as const)
      }))
  })))
