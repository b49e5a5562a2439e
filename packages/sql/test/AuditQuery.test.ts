/**
 * ADR 0045: the audit query's `until`/`since` bounded by key (the first event past each bound plus the trail's largest
 * lag) answers exactly what the unbounded query does, on PGlite, over times shuffled against positions: late events
 * (timed long before their neighbours), early ones, equal times, every filter combined at random. On PostgreSQL too
 * when `DATABASE_URL` is set.
 */
import { expect, layer } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { DateTime, Effect, Layer, Redacted } from "effect"
import { Audit } from "@tessera/domain"
import type { AuditEvent } from "@tessera/domain"
import { Database, ports } from "@tessera/sql"
import { newRealm } from "../../domain/test/PortContract.js"
import { fileDatabaseIfAny } from "../../../test/support/Postgres.js"

/** A small deterministic PRNG (mulberry32), so a failure names a reproducible case. */
const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const base = Date.parse("2030-01-01T00:00:00Z")
const minute = 60_000

const suite = (name: string, database: Layer.Layer<SqlClient.SqlClient, unknown>) => layer(ports.pipe(Layer.provide(database)))(`${name}: audit time filters bounded by key (ADR 0045)`, (it) => {
  it.effect("CONTRACT §3 audit `since`/`until`: on shuffled times every answer equals the unbounded query's", () =>
    Effect.gen(function*() {
      const random = prng(45)
      const realm = yield* newRealm
      const audit = yield* Audit.Audit
      const types = ["login.succeeded", "login.failed", "token.issued"] as const
      for (let i = 0; i < 240; i++) {
        const r = random()
        // mostly in order with jitter; one in ten far behind (up to three hours late), one in twenty ahead
        const at = base + i * minute + (r < 0.1 ? -Math.floor(random() * 180) * minute : r < 0.15 ? Math.floor(random() * 60) * minute : Math.floor(random() * 3) * minute)
        const event: AuditEvent.AuditEvent = {
          id: crypto.randomUUID(), at: DateTime.unsafeMake(at), realmId: realm.id, realm: realm.name,
          type: types[i % 3]!, actor: { type: "user", id: `u${i % 4}` }, subject: `s${i % 5}`, result: "success"
        }
        yield* audit.append(event)
      }
      // the unbounded query: every event, newest position first
      const all = yield* audit.query(realm.id, { limit: 1000 })
      expect(all.length).toBe(241)
      const time = () => DateTime.unsafeMake(base + Math.floor((random() * 300 - 30)) * minute)
      for (let n = 0; n < 120; n++) {
        const since = random() < 0.5 ? time() : undefined
        const until = random() < 0.7 || since === undefined ? time() : undefined
        const filter: AuditEvent.Filter = {
          ...(since !== undefined ? { since } : {}),
          ...(until !== undefined ? { until } : {}),
          ...(random() < 0.3 ? { type: types[Math.floor(random() * 3)]! } : {}),
          ...(random() < 0.2 ? { subject: `s${Math.floor(random() * 5)}` } : {}),
          ...(random() < 0.3 ? { before: 1 + Math.floor(random() * 242) } : {}),
          limit: 1 + Math.floor(random() * 20)
        }
        const expected = all.filter(Audit.matches(filter)).slice(0, filter.limit)
        expect({ filter, seqs: (yield* audit.query(realm.id, filter)).map((s) => s.seq) }).toEqual({ filter, seqs: expected.map((s) => s.seq) })
      }
    }), 120_000)
})

suite("PGlite", Database.layerPglite(undefined))
// this file's own database on the DATABASE_URL server, made now (ADR 0051); undefined without one
const url = await fileDatabaseIfAny()
if (url !== undefined) suite("PostgreSQL", Database.layerPostgres(Redacted.make(url)))
