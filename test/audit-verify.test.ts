/**
 * CONTRACT §3 `audit/verify` over HTTP and the periodic verification (ADR 0042): whole answers from checkpoints and
 * from the first event, and the job's metrics and log for every realm and the owner trail.
 */
import { expect } from "@effect/vitest"
import { Chunk, Effect, HashMap, Logger, Metric, Ref, TestClock } from "effect"
import { Audit, AuditCheckpoints, AuditVerification, MemoryDb, Metrics, Provisioning } from "@tessera/domain"
import { eventually } from "./support/Eventually.js"
import { admin, createRealm, noStore } from "./support/Http.js"
import * as TestLive from "./support/TestLive.js"

const it = TestLive.file()

const verifyOf = (realm: string, query = "") => admin.get(`/admin/realms/${realm}/audit/verify${query}`)

/** Appends `n` failed logins to the realm's trail. */
const appendTo = (realm: { readonly id: string; readonly name: string }, n: number) =>
  Effect.gen(function*() {
    const audit = yield* Audit.Audit
    for (let i = 0; i < n; i++) {
      yield* Effect.flatMap(Audit.make(realm, { type: "login.failed", actor: { type: "user", id: `u${i}` }, result: "failure" }), audit.append)
    }
  })

/** Edits the stored event at `seq` behind the application's back. */
const editAt = (realmId: string, seq: number) =>
  Effect.flatMap(MemoryDb.MemoryDb, (db) =>
    Ref.modify(db.state, (state) => {
      const trail = MemoryDb.trailOf(state, realmId)
      const target = Chunk.unsafeGet(trail, seq - 1)
      const forged = { ...target, event: { ...target.event, subject: "someone-else" } }
      return [target.event.id, { ...state, audit: HashMap.set(state.audit, realmId, Chunk.replace(trail, seq - 1, forged)) }] as const
    }))

const gauge = (metric: Metric.Metric.Gauge<number>, realm: string) =>
  Effect.map(Metric.value(metric.pipe(Metric.tagged("realm", realm))), (state) => state.value)

it.effect("CONTRACT §3 audit/verify, ADR 0042: resumed from its checkpoint the answer still counts every event; full=true reads from the first; bad `full` is 400", () =>
  Effect.gen(function*() {
    const realm = yield* createRealm()
    const { id } = yield* Provisioning.findRealm(realm.name)
    yield* appendTo({ id, name: realm.name }, 20)
    const first = yield* verifyOf(realm.name)
    expect(first.status).toBe(200)
    expect(first.headers["cache-control"]).toBe(noStore["cache-control"])
    expect(first.json).toEqual({ ok: true, events: 23 })
    const checkpoints = yield* AuditCheckpoints.AuditCheckpoints
    expect((yield* checkpoints.newest(id, Number.MAX_SAFE_INTEGER, 10)).map((c) => [c.seq, c.events])).toEqual([[23, 23]])
    yield* appendTo({ id, name: realm.name }, 5)
    expect((yield* verifyOf(realm.name)).json).toEqual({ ok: true, events: 28 })
    expect((yield* checkpoints.newest(id, Number.MAX_SAFE_INTEGER, 10)).map((c) => [c.seq, c.events])).toEqual([[28, 28], [23, 23]])
    // an edit before the newest checkpoint: the resumed check does not read that far back; the full one does
    const edited = yield* editAt(id, 10)
    expect((yield* verifyOf(realm.name)).json).toEqual({ ok: true, events: 28 })
    const full = yield* verifyOf(realm.name, "?full=true")
    expect(full.status).toBe(200)
    expect(full.json).toEqual({ ok: false, first_broken: edited })
    expect((yield* verifyOf(realm.name, "?full=false")).json).toEqual({ ok: true, events: 28 })
    for (const [query, description] of [["?full=yes", "'full' must be true or false"], ["?full=true&full=true", "'full' must not be given twice"]]) {
      const bad = yield* verifyOf(realm.name, query)
      expect(bad.status, query).toBe(400)
      expect(bad.headers["cache-control"]).toBe(noStore["cache-control"])
      expect(bad.json, query).toEqual({ error: "invalid_request", error_description: description })
    }
    // the owner trail the same way
    const owner = yield* admin.get("/admin/audit/verify")
    expect(owner.status).toBe(200)
    expect(owner.json).toEqual({ ok: true, events: expect.any(Number) })
    expect((yield* admin.get("/admin/audit/verify?full=true")).json).toEqual(owner.json)
  }).pipe(Effect.provide(TestLive.makeMemory())))

it.effect("ADR 0042: the periodic job verifies every realm and the owner trail, sets tessera_audit_verify_ok and _last_run, and logs a broken chain", () =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const capture = Logger.make(({ annotations, logLevel, message }) => {
      lines.push(`${logLevel.label} ${String(message)} ${JSON.stringify(Object.fromEntries(annotations))}`)
    })
    yield* Effect.gen(function*() {
      const intact = yield* createRealm()
      const broken = yield* createRealm()
      const brokenId = (yield* Provisioning.findRealm(broken.name)).id
      const edited = yield* editAt(brokenId, 2)
      // the first pass runs a minute after start (TestClock), then every TESSERA_AUDIT_VERIFY_INTERVAL
      yield* TestClock.adjust(AuditVerification.firstPassAfter)
      // the owner trail comes last in a pass: its checkpoint (in this fresh world) says the pass is done
      const checkpoints = yield* AuditCheckpoints.AuditCheckpoints
      const ownerCheckpoints = checkpoints.newest(Audit.ownerTrail, Number.MAX_SAFE_INTEGER, 10)
      expect((yield* eventually(ownerCheckpoints, (cs) => cs.length > 0)).length).toBe(1)
      expect(yield* gauge(Metrics.auditVerifyOk, intact.name)).toBe(1)
      expect(yield* gauge(Metrics.auditVerifyOk, broken.name)).toBe(0)
      expect(yield* gauge(Metrics.auditVerifyOk, AuditVerification.ownerTrailLabel)).toBe(1)
      // the time is the clock's (TestClock's: a minute after the epoch or later, never the wall clock), in seconds;
      // CI once read 2 449 here rather than 60 (a world's clock moved by another suite sharing the worker, unexplained)
      const lastRun = yield* gauge(Metrics.auditVerifyLastRun, intact.name)
      expect(lastRun).toBeGreaterThanOrEqual(60)
      expect(lastRun).toBeLessThan(1_000_000)
      expect(lines.filter((l) => l.includes(broken.name))).toEqual([
        `ERROR audit chain of realm ${broken.name} is broken: first broken event ${edited} ${JSON.stringify({ realm: broken.name, first_broken: edited })}`
      ])
      // the intact realm got its checkpoint: the next pass reads only what is new
      const intactId = (yield* Provisioning.findRealm(intact.name)).id
      expect((yield* checkpoints.newest(intactId, Number.MAX_SAFE_INTEGER, 10)).map((c) => c.seq)).toEqual([3])
    }).pipe(Effect.provide(TestLive.makeMemory()), Effect.provide(Logger.add(capture)))
  }))
