/** The audit trail port (CONTRACT §7): append-only, queried newest first. */
import { Chunk, Clock, Context, DateTime, Effect, Layer, Ref } from "effect"
import * as AuditChain from "./AuditChain.js"
import type { AuditEvent, Draft, Filter, Stored } from "./AuditEvent.js"
import * as Entropy from "./Entropy.js"
import * as MemoryDb from "./MemoryDb.js"
import * as Metrics from "./Metrics.js"
import type { Realm } from "./Realm.js"
import * as RealmPin from "./RealmPin.js"
import type { StoreError } from "./StoreError.js"

export class Audit extends Context.Tag("@tessera/domain/Audit")<Audit, {
  /** Records an event that accompanies no stored change (e.g. a failed login). */
  readonly append: (event: AuditEvent) => Effect.Effect<void, StoreError>
  /** Events matching the filter, newest first. */
  readonly query: (realmId: string, filter: Filter) => Effect.Effect<ReadonlyArray<Stored>, StoreError>
  /**
   * ADR 0042: at most `limit` links of the trail with `seq` above `after`, oldest first: the trail read by key, one
   * bounded batch at a time, never by offset and never whole.
   */
  readonly links: (realmId: string, after: number, limit: number) => Effect.Effect<ReadonlyArray<AuditChain.Link>, StoreError>
  /** Checks the realm's hash chain from its first event, streamed in batches (ADR 0007, ADR 0042); no checkpoint. */
  readonly verify: (realmId: string) => Effect.Effect<AuditChain.Verdict, StoreError>
}>() {}

/** ADR 0042: how many links a verification reads at a time (its memory is one batch, whatever the trail's length). */
export const verifyBatch = 10_000

/**
 * The owner trail (CONTRACT §3 `GET /admin/audit`): realm creation and deletion and tenant invitations, in a hash
 * chain of its own that belongs to no realm, so it outlives every realm it names (ADR 0030). Its events carry this
 * trail id as `realmId`; their `realm` is the name of the realm they are about and their `subject` its id.
 * No realm has this id (realm ids are random UUIDs).
 */
export const ownerTrail = "00000000-0000-0000-0000-000000000000"

/** An owner-trail event about `realm` (its name in `realm`, its id in `subject`). */
export const makeOwner = (realm: Pick<Realm, "id" | "name">, draft: Omit<Draft, "subject">) =>
  make({ id: ownerTrail, name: realm.name }, { ...draft, subject: realm.id })

/** Completes a draft with its id, time and realm. */
export const make = (realm: Pick<Realm, "id" | "name">, draft: Draft) =>
  Effect.gen(function*() {
    const id = yield* Entropy.uuid
    return complete(realm, draft, id, yield* Clock.currentTimeMillis)
  })

/** `make` with the id and the time given. */
export const complete = (realm: Pick<Realm, "id" | "name">, draft: Draft, id: string, atMillis: number): AuditEvent =>
  ({ ...draft, id, at: DateTime.unsafeMake(atMillis), realmId: realm.id, realm: realm.name })

/** Whether an event passes a filter (the memory store's query, and the contract suite's oracle). */
export const matches = (filter: Filter) => ({ seq, event }: Stored) =>
  (filter.before === undefined || seq < filter.before) &&
  (filter.type === undefined || event.type === filter.type) &&
  (filter.subject === undefined || event.subject === filter.subject) &&
  (filter.actor === undefined || event.actor.id === filter.actor) &&
  (filter.clientId === undefined || event.clientId === filter.clientId) &&
  (filter.since === undefined || DateTime.greaterThanOrEqualTo(event.at, filter.since)) &&
  (filter.until === undefined || DateTime.lessThanOrEqualTo(event.at, filter.until))

export const layerMemory = Layer.effect(Audit, Effect.gen(function*() {
  const db = yield* MemoryDb.MemoryDb
  const append = (event: AuditEvent) =>
    MemoryDb.write(db, (state) => Effect.map(MemoryDb.appendEvent(state, event), (next) => [undefined, next] as const)).pipe(
      // CONTRACT §8 `tessera_audit_commit_batch_size`: in memory every event is committed alone
      Effect.zipRight(Metrics.auditBatchOf(1))
    )
  // a trail is an immutable Chunk: reading it is taking the current one (the pin checked as MemoryDb.read would)
  const links = (realmId: string, after: number, limit: number) =>
    Effect.zipRight(RealmPin.check(realmId), Effect.map(Ref.get(db.state), (state) => {
      const trail = MemoryDb.trailOf(state, realmId)
      // the first link above `after`, by binary search over the increasing seq
      let lo = 0
      let hi = Chunk.size(trail)
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        if (Chunk.unsafeGet(trail, mid).seq <= after) lo = mid + 1
        else hi = mid
      }
      const out: Array<AuditChain.Link> = []
      for (let i = lo; i < Chunk.size(trail) && out.length < limit; i++) {
        const { seq, event, prevHash, hash } = Chunk.unsafeGet(trail, i)
        // the canonical form of the event as it is now (an edit behind the application's back shows)
        out.push({ seq, id: event.id, prevHash, hash, canonical: () => AuditChain.canonical(event) })
      }
      return out
    }))
  return Audit.of({
    append,
    query: (realmId, filter) =>
      MemoryDb.read(db, (state) => {
        const trail = MemoryDb.trailOf(state, realmId)
        const out: Array<Stored> = []
        for (let i = Chunk.size(trail) - 1; i >= 0 && out.length < filter.limit; i--) {
          const { seq, event } = Chunk.unsafeGet(trail, i)
          if (matches(filter)({ seq, event })) out.push({ seq, event })
        }
        return out
      }),
    links,
    verify: (realmId) => AuditChain.verifyAll((after, limit) => links(realmId, after, limit), verifyBatch)
  })
}))
