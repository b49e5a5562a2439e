/**
 * ADR 0042's guarantees of audit verification, the same on every store (memory here, PGlite and PostgreSQL in
 * packages/sql): one pass in bounded batches, the first broken link named, signed checkpoints that let a later run
 * read only what is new, and checkpoints nobody without the key can forge. Tampering goes around the application,
 * as someone with database rights would (`Tamper`).
 */
import { expect, layer } from "@effect/vitest"
import { Context, DateTime, Effect, Ref } from "effect"
import type { Layer } from "effect"
import { Audit, AuditChain, AuditCheckpoints, AuditEvent, AuditVerification, CheckpointKey, Entropy, Hash } from "@tessera/domain"
import type { Realm } from "@tessera/domain"
import { newRealm, type Ports } from "./PortContract.js"

/** Changes to the stored trail made behind the application's back (the tables' owner, or the memory state itself). */
export class Tamper extends Context.Tag("@tessera/domain/test/Tamper")<Tamper, {
  /** Sets stored fields of the event at `seq`: its subject, and its link's hashes. */
  readonly update: (realmId: string, seq: number, fields: { readonly subject?: string; readonly prevHash?: string; readonly hash?: string }) => Effect.Effect<void, unknown>
  /** Deletes the events at `seq` and after it when `andAfter`. */
  readonly remove: (realmId: string, seq: number, andAfter?: boolean) => Effect.Effect<void, unknown>
  /** Swaps the positions of the events at `a` and `b`. */
  readonly swap: (realmId: string, a: number, b: number) => Effect.Effect<void, unknown>
}>() {}

/** A fixed 32-byte KEK for the checkpoint key. */
export const testKey = new Uint8Array(32).fill(7)

const at = DateTime.unsafeMake("2026-12-07T06:00:00Z")

const append = (realm: Realm.Realm, n: number) =>
  Effect.gen(function*() {
    const audit = yield* Audit.Audit
    for (let i = 0; i < n; i++) {
      const id = yield* Entropy.uuid.pipe(Effect.provide(Entropy.layer))
      yield* audit.append({
        id, at: DateTime.add(at, { seconds: i }), realmId: realm.id, realm: realm.name, type: "login.failed",
        actor: { type: "user", id: `u${i}` }, subject: `u${i}`, result: "failure", reason: "bad password"
      } satisfies AuditEvent.AuditEvent)
    }
  })

/** A realm whose trail holds `realm.created` and `n` more events. */
const trailOf = (n: number) => Effect.tap(newRealm, (realm) => append(realm, n))

/** Every link of the trail (a test reads a small one whole). */
const linksOf = (realm: Realm.Realm) => Effect.flatMap(Audit.Audit, (audit) => audit.links(realm.id, 0, 10_000))

const idAt = (realm: Realm.Realm, seq: number) => Effect.map(linksOf(realm), (links) => links.find((l) => l.seq === seq)!.id)

/** `effect` with `Audit.links` counted: every read's size, through the port every verification reads by. */
const counted = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const audit = yield* Audit.Audit
    const reads = yield* Ref.make<ReadonlyArray<{ readonly limit: number; readonly got: number }>>([])
    const result = yield* Effect.provideService(effect, Audit.Audit, {
      ...audit,
      links: (realmId, after, limit) =>
        Effect.tap(audit.links(realmId, after, limit), (got) => Ref.update(reads, (rs) => [...rs, { limit, got: got.length }]))
    })
    const all = yield* Ref.get(reads)
    return { result, reads: all, rows: all.reduce((n, r) => n + r.got, 0) }
  })

const verify = (realm: Realm.Realm, from: AuditVerification.From = "checkpoint") =>
  AuditVerification.verify(realm.id, from).pipe(Effect.provideService(AuditVerification.Batch, 7))

const checkpointsOf = (realm: Realm.Realm) =>
  Effect.flatMap(AuditCheckpoints.AuditCheckpoints, (c) => c.newest(realm.id, Number.MAX_SAFE_INTEGER, 100))

/** Recomputes every link from `seq` on, as someone who can write the table and compute SHA-256 (but has no key) would. */
const rewriteFrom = (realm: Realm.Realm, seq: number) =>
  Effect.gen(function*() {
    const tamper = yield* Tamper
    const links = yield* linksOf(realm)
    let prev = links.find((l) => l.seq === seq - 1)?.hash ?? AuditChain.genesis
    for (const l of links.filter((l) => l.seq >= seq)) {
      const hash = yield* Hash.sha256(AuditChain.linked(prev, l.canonical()!))
      yield* tamper.update(realm.id, l.seq, { prevHash: prev, hash })
      prev = hash
    }
  })

export const suite = (name: string, ports: Layer.Layer<Ports | AuditCheckpoints.AuditCheckpoints | CheckpointKey.CheckpointKey | Tamper, unknown>) =>
  layer(ports, { excludeTestServices: true })(`${name}: audit verification at scale (ADR 0042)`, (it) => {
    it.effect("CONTRACT §3 audit/verify: an intact chain of 61 events verifies in batches of 7, each link read once, at most 7 at a time", () =>
      Effect.gen(function*() {
        const realm = yield* trailOf(60)
        const { reads, result, rows } = yield* counted(verify(realm, "genesis"))
        expect(result).toEqual({ ok: true, events: 61 })
        // memory is bounded by the batch, not by the trail: no read asks for or returns more than 7
        expect(reads.every((r) => r.limit === 7 && r.got <= 7)).toBe(true)
        expect(rows).toBe(61)
        expect(reads.length).toBe(9)
        // the port's own verification (from genesis, no checkpoint) agrees
        expect(yield* Effect.flatMap(Audit.Audit, (audit) => audit.verify(realm.id))).toEqual({ ok: true, events: 61 })
      }))

    it.effect("ADR 0007: an edited, a deleted or a reordered event in the middle is the first broken, past several batches", () =>
      Effect.gen(function*() {
        const tamper = yield* Tamper
        const edited = yield* trailOf(40)
        yield* tamper.update(edited.id, 23, { subject: "someone-else" })
        expect(yield* verify(edited)).toEqual({ ok: false, firstBroken: yield* idAt(edited, 23) })

        const deleted = yield* trailOf(40)
        const after = yield* idAt(deleted, 24)
        yield* tamper.remove(deleted.id, 23)
        // the event after the gap no longer follows its predecessor
        expect(yield* verify(deleted)).toEqual({ ok: false, firstBroken: after })

        const reordered = yield* trailOf(40)
        const moved = yield* idAt(reordered, 30)
        yield* tamper.swap(reordered.id, 23, 30)
        expect(yield* verify(reordered)).toEqual({ ok: false, firstBroken: moved })
        expect(yield* Effect.flatMap(Audit.Audit, (audit) => audit.verify(reordered.id))).toEqual({ ok: false, firstBroken: moved })
      }))

    it.effect("ADR 0042: after a verified run, the next reads only the events added since (and the checkpoint's own link)", () =>
      Effect.gen(function*() {
        const realm = yield* trailOf(50)
        const first = yield* counted(verify(realm))
        expect(first.result).toEqual({ ok: true, events: 51 })
        expect(first.rows).toBe(51)
        const [checkpoint] = yield* checkpointsOf(realm)
        expect(checkpoint).toEqual({
          realmId: realm.id, seq: 51, eventId: yield* idAt(realm, 51), hash: (yield* linksOf(realm))[50]!.hash, events: 51,
          at: expect.anything(), mac: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/)
        })
        yield* append(realm, 10)
        const second = yield* counted(verify(realm))
        // the whole trail counted, 11 rows read: the checkpoint's link, then the 10 new events
        expect(second.result).toEqual({ ok: true, events: 61 })
        expect(second.rows).toBe(11)
        expect((yield* checkpointsOf(realm)).map((c) => [c.seq, c.events])).toEqual([[61, 61], [51, 51]])
        // nothing new: one row read, no new checkpoint
        const third = yield* counted(verify(realm))
        expect(third.result).toEqual({ ok: true, events: 61 })
        expect(third.rows).toBe(1)
        expect((yield* checkpointsOf(realm)).length).toBe(2)
        // from genesis on request: every event read again, whatever the checkpoints say
        expect((yield* counted(verify(realm, "genesis"))).rows).toBe(61)
      }))

    it.effect("ADR 0042: a checkpoint whose MAC is wrong is not trusted; the edit before it is still found", () =>
      Effect.gen(function*() {
        const tamper = yield* Tamper
        const checkpoints = yield* AuditCheckpoints.AuditCheckpoints
        const realm = yield* trailOf(30)
        const links = yield* linksOf(realm)
        yield* tamper.update(realm.id, 12, { subject: "someone-else" })
        // a checkpoint of the head, made without the key (an honest copy of the row's fields, a made-up MAC)
        const head = links[links.length - 1]!
        yield* checkpoints.add({
          realmId: realm.id, seq: head.seq, eventId: head.id, hash: head.hash, events: 31, at, mac: "A".repeat(43)
        })
        expect(yield* verify(realm)).toEqual({ ok: false, firstBroken: links[11]!.id })
        // signed with another KEK: as forged
        const other = yield* Effect.provide(CheckpointKey.CheckpointKey, CheckpointKey.layer(new Uint8Array(32).fill(9)))
        const realm2 = yield* trailOf(30)
        const links2 = yield* linksOf(realm2)
        yield* tamper.update(realm2.id, 12, { subject: "someone-else" })
        const head2 = links2[links2.length - 1]!
        yield* Effect.flatMap(
          AuditCheckpoints.sign(other, { realmId: realm2.id, seq: head2.seq, eventId: head2.id, hash: head2.hash, events: 31, at }),
          checkpoints.add
        )
        expect(yield* verify(realm2)).toEqual({ ok: false, firstBroken: links2[11]!.id })
      }))

    it.effect("ADR 0042: a chain rewritten end to end (every hash recomputed) is found through the signed checkpoint it contradicts", () =>
      Effect.gen(function*() {
        const tamper = yield* Tamper
        const realm = yield* trailOf(30)
        expect(yield* verify(realm)).toEqual({ ok: true, events: 31 })
        const checkpointed = yield* idAt(realm, 31)
        yield* tamper.update(realm.id, 12, { subject: "someone-else" })
        yield* rewriteFrom(realm, 12)
        // a hash chain alone cannot see this: every link follows its predecessor again
        expect(yield* Effect.flatMap(Audit.Audit, (audit) => audit.verify(realm.id))).toEqual({ ok: true, events: 31 })
        // the checkpoint's event no longer has the hash it signed: it is no starting point, and the walk from genesis
        // reaches it and finds it contradicted
        expect(yield* verify(realm)).toEqual({ ok: false, firstBroken: checkpointed })
        expect(yield* verify(realm, "genesis")).toEqual({ ok: false, firstBroken: checkpointed })
      }))

    it.effect("ADR 0042: newest events deleted after a checkpoint (a cut-off trail) are found; an empty trail is intact", () =>
      Effect.gen(function*() {
        const tamper = yield* Tamper
        const realm = yield* trailOf(20)
        expect(yield* verify(realm)).toEqual({ ok: true, events: 21 })
        const head = yield* idAt(realm, 21)
        yield* tamper.remove(realm.id, 18, true)
        expect(yield* verify(realm)).toEqual({ ok: false, firstBroken: head })
        const unknown = { id: crypto.randomUUID(), name: "nobody" } as Realm.Realm
        expect(yield* verify(unknown)).toEqual({ ok: true, events: 0 })
        expect(yield* checkpointsOf(unknown)).toEqual([])
      }))
  })
