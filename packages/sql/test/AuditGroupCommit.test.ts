/**
 * ADR 0022: standalone audit events are group-committed per realm, on PGlite and (with DATABASE_URL) PostgreSQL.
 * Which events shared a transaction is read from the database itself: a row's `xmin` is the id of the transaction
 * that inserted it, so one flush is one `xmin`.
 */
import { expect, layer } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { DateTime, Deferred, Effect, Exit, Fiber, Layer, Redacted } from "effect"
import { Audit, AuditEvent, JobLock } from "@tessera/domain"
import type { Realm } from "@tessera/domain"
import { Database, ports, Sql } from "@tessera/sql"
import * as PgAudit from "../src/PgAudit.js"
import { newRealm } from "../../domain/test/PortContract.js"
import type { Ports } from "../../domain/test/PortContract.js"
import { fileDatabaseIfAny } from "../../../test/support/Postgres.js"

const at = DateTime.unsafeMake("2026-11-29T12:00:00Z")

const event = (realm: Realm.Realm, extra: Partial<AuditEvent.AuditEvent> = {}): AuditEvent.AuditEvent => ({
  id: crypto.randomUUID(),
  at,
  realmId: realm.id,
  realm: realm.name,
  type: "token.issued",
  actor: { type: "client", id: "c1" },
  clientId: "c1",
  grantType: "client_credentials",
  result: "success",
  ...extra
})

const append = (e: AuditEvent.AuditEvent) => Effect.flatMap(Audit.Audit, (audit) => audit.append(e))

/** Every event of the realm, oldest first, with the transaction that inserted it. */
const rows = (realm: Realm.Realm) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ readonly id: string; readonly tx: string }>`
      SELECT id::text AS id, xmin::text AS tx FROM audit_events WHERE realm_id = ${realm.id} ORDER BY seq`.pipe(
      Sql.withRealm(realm.id)
    ))

const transactions = (list: ReadonlyArray<{ readonly tx: string }>) => new Set(list.map((r) => r.tx))

/**
 * Holds the realm's chain head (and, on PGlite, its one connection) in a transaction until `release` is done: a
 * flush started meanwhile cannot finish, so whatever is appended after it queues for the next flush.
 */
const holdHead = (realm: Realm.Realm) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const locked = yield* Deferred.make<void>()
    const release = yield* Deferred.make<void>()
    const holder = yield* sql`SELECT seq FROM audit_heads WHERE realm_id = ${realm.id} FOR UPDATE`.pipe(
      Effect.zipRight(Deferred.succeed(locked, undefined)),
      Effect.zipRight(Deferred.await(release)),
      Sql.withRealm(realm.id),
      Effect.fork
    )
    yield* Deferred.await(locked)
    return Deferred.succeed(release, undefined).pipe(Effect.zipRight(Fiber.join(holder)))
  })

/**
 * Lets forked appends reach the queue (and a started flush take its batch) before the test goes on; a real timer,
 * as `it.effect` runs on the TestClock.
 */
const settle = Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 100)))

/** The row as PgAudit first built it (absent fields as JSON nulls, the time by DateTime.formatIso): the reference. */
const referenceRow = (e: AuditEvent.AuditEvent) => ({
  realm_id: e.realmId,
  id: e.id,
  at: DateTime.formatIso(e.at),
  realm: e.realm,
  type: e.type,
  actor_type: e.actor.type,
  actor_id: e.actor.id,
  subject: e.subject ?? null,
  client_id: e.clientId ?? null,
  grant_type: e.grantType ?? null,
  resource: e.resource ?? null,
  scope: e.scope ?? null,
  act: e.act ?? null,
  result: e.result,
  reason: e.reason ?? null,
  ip: e.ip ?? null,
  user_agent: e.userAgent ?? null
})

/** Each column of the stored row and of the reference row as `audit_append` would insert it, link excluded. */
const storedAndReference = (realm: Realm.Realm, e: AuditEvent.AuditEvent) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ readonly stored: string; readonly reference: string }>`
      SELECT (to_jsonb(s) - 'seq' - 'prev_hash' - 'hash')::text AS stored,
             (to_jsonb(jsonb_populate_record(NULL::audit_events, ${JSON.stringify(referenceRow(e))}::jsonb))
               - 'seq' - 'prev_hash' - 'hash')::text AS reference
      FROM audit_events s WHERE s.realm_id = ${realm.id} AND s.id = ${e.id}`.pipe(Sql.withRealm(realm.id)))

const suite = (name: string, store: Layer.Layer<Ports | SqlClient.SqlClient, unknown>) =>
  layer(store, { timeout: 60_000 })(`${name}: ADR 0022 group commit of standalone audit events`, (it) => {
    it.effect("50 concurrent appends of one realm all resolve; the chain verifies and holds exactly them", () =>
      Effect.gen(function*() {
        const audit = yield* Audit.Audit
        const realm = yield* newRealm
        const events = Array.from({ length: 50 }, () => event(realm))
        yield* Effect.forEach(events, append, { concurrency: "unbounded", discard: true })
        expect(yield* audit.verify(realm.id)).toEqual({ ok: true, events: 51 })
        const stored = (yield* audit.query(realm.id, { limit: 1000 })).map((s) => s.event)
        expect(stored.length).toBe(51)
        expect(new Set(stored.filter((e) => e.type === "token.issued"))).toEqual(new Set(events))
      }))

    it.effect("concurrent appends share flushes (fewer transactions than events); sequential ones get one each", () =>
      Effect.gen(function*() {
        const realm = yield* newRealm
        yield* Effect.forEach(Array.from({ length: 50 }, () => event(realm)), append, { concurrency: "unbounded", discard: true })
        const concurrent = (yield* rows(realm)).slice(1)
        expect(concurrent.length).toBe(50)
        expect(transactions(concurrent).size).toBeLessThan(50)

        const sequential = Array.from({ length: 10 }, () => event(realm))
        yield* Effect.forEach(sequential, append, { discard: true })
        const after = (yield* rows(realm)).slice(51)
        // in the order appended, each in a transaction of its own that no other event shares
        expect(after.map((r) => r.id)).toEqual(sequential.map((e) => e.id))
        expect(transactions(after).size).toBe(10)
        for (const tx of transactions(after)) expect(transactions(concurrent).has(tx)).toBe(false)
        expect(yield* Effect.flatMap(Audit.Audit, (audit) => audit.verify(realm.id))).toEqual({ ok: true, events: 61 })
      }))

    it.effect("events queued behind a flush go together, in arrival order, in the next one", () =>
      Effect.gen(function*() {
        const realm = yield* newRealm
        const release = yield* holdHead(realm)
        const first = event(realm)
        const blocked = yield* Effect.fork(append(first))
        yield* settle
        const queued = Array.from({ length: 5 }, () => event(realm))
        const waiters: Array<Fiber.RuntimeFiber<void, unknown>> = []
        for (const e of queued) {
          waiters.push(yield* Effect.fork(append(e)))
          yield* Effect.yieldNow()
        }
        yield* settle
        yield* release
        yield* Fiber.join(blocked)
        yield* Effect.forEach(waiters, Fiber.join, { discard: true })
        const stored = (yield* rows(realm)).slice(1)
        expect(stored.map((r) => r.id)).toEqual([first, ...queued].map((e) => e.id))
        expect(stored.map((r) => r.tx).slice(2).every((tx) => tx === stored[1]?.tx)).toBe(true)
        expect(stored[0]?.tx).not.toBe(stored[1]?.tx)
      }))

    it.effect("a failing flush fails every waiter of its batch with StoreError and writes none of it; the next append succeeds", () =>
      Effect.gen(function*() {
        const audit = yield* Audit.Audit
        const realm = yield* newRealm
        const a = event(realm)
        yield* append(a)
        const release = yield* holdHead(realm)
        const x = event(realm)
        const blocked = yield* Effect.fork(append(x))
        yield* settle
        // the middle event repeats a's id: UNIQUE (realm_id, id) refuses it, and with it its whole transaction
        const batch = [event(realm), event(realm, { id: a.id }), event(realm)]
        const waiters: Array<Fiber.RuntimeFiber<void, unknown>> = []
        for (const e of batch) waiters.push(yield* Effect.fork(append(e)))
        yield* settle
        yield* release
        expect(yield* Fiber.await(blocked)).toEqual(Exit.void)
        for (const waiter of waiters) {
          expect(yield* Fiber.await(waiter)).toEqual(Exit.fail(expect.objectContaining({ _tag: "StoreError" })))
        }
        const later = event(realm)
        yield* append(later)
        expect((yield* rows(realm)).slice(1).map((r) => r.id)).toEqual([a.id, x.id, later.id])
        expect(yield* audit.verify(realm.id)).toEqual({ ok: true, events: 4 })
      }))

    it.effect("an interrupted waiter leaves the queue working (its event may still be written)", () =>
      Effect.gen(function*() {
        const audit = yield* Audit.Audit
        const realm = yield* newRealm
        const release = yield* holdHead(realm)
        const x = event(realm)
        const blocked = yield* Effect.fork(append(x))
        yield* settle
        const gone = event(realm)
        const kept = event(realm)
        const interrupted = yield* Effect.fork(append(gone))
        const waiter = yield* Effect.fork(append(kept))
        yield* settle
        yield* Fiber.interrupt(interrupted)
        yield* release
        yield* Fiber.join(blocked)
        yield* Fiber.join(waiter)
        const later = event(realm)
        yield* append(later)
        expect((yield* rows(realm)).slice(1).map((r) => r.id)).toEqual([x.id, gone.id, kept.id, later.id])
        expect(yield* audit.verify(realm.id)).toEqual({ ok: true, events: 5 })
      }))

    it.effect("ADR 0007: a stored row is column for column the reference row, with every field and with none (batch and in-transaction append)", () =>
      Effect.gen(function*() {
        const audit = yield* Audit.Audit
        const realm = yield* newRealm
        const full = event(realm, {
          at: DateTime.unsafeMake("2026-11-29T12:00:00.123+05:30"),
          type: "token.exchanged",
          actor: { type: "agent", id: "agent \"7\" ü" },
          subject: "user-1",
          grantType: "urn:ietf:params:oauth:grant-type:token-exchange",
          resource: "https://api.example.com/",
          scope: "read write",
          act: { sub: "agent-7", act: { sub: "agent-3", n: [1, null, "日本"] } },
          result: "failure",
          reason: "invalid_target",
          ip: "2001:db8::1",
          userAgent: "curl/8 \u0001"
        })
        const bare: AuditEvent.AuditEvent = {
          id: crypto.randomUUID(),
          at,
          realmId: realm.id,
          realm: realm.name,
          type: "login.failed",
          actor: { type: "user", id: "u" },
          result: "failure"
        }
        const inTransaction = { ...bare, id: crypto.randomUUID() }
        yield* append(full)
        yield* append(bare)
        yield* PgAudit.appendEvent(inTransaction).pipe(Sql.withRealm(realm.id))
        for (const e of [full, bare, inTransaction]) {
          const [row] = yield* storedAndReference(realm, e)
          expect(row?.stored).toBeDefined()
          expect(row?.stored).toBe(row?.reference)
        }
        expect(yield* audit.verify(realm.id)).toEqual({ ok: true, events: 4 })
      }))

    it.effect("two realms' appends never share a transaction, and both chains verify", () =>
      Effect.gen(function*() {
        const audit = yield* Audit.Audit
        const a = yield* newRealm
        const b = yield* newRealm
        const events = Array.from({ length: 60 }, (_, i) => event(i % 2 === 0 ? a : b))
        yield* Effect.forEach(events, append, { concurrency: "unbounded", discard: true })
        const inA = transactions((yield* rows(a)).slice(1))
        const inB = transactions((yield* rows(b)).slice(1))
        for (const tx of inA) expect(inB.has(tx)).toBe(false)
        expect(yield* audit.verify(a.id)).toEqual({ ok: true, events: 31 })
        expect(yield* audit.verify(b.id)).toEqual({ ok: true, events: 31 })
      }))
  })

const withSql = (database: Layer.Layer<SqlClient.SqlClient, unknown>) =>
  Layer.mergeAll(ports, JobLock.layerMemory).pipe(Layer.provideMerge(database))

suite("PGlite", withSql(Database.layerPglite(undefined)))

// this file's own database on the DATABASE_URL server, made now (ADR 0051); undefined without one
const url = await fileDatabaseIfAny()
if (url !== undefined) suite("PostgreSQL", withSql(Database.layerPostgres(Redacted.make(url))))
