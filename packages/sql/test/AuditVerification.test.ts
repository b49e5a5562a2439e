/** ADR 0042's verification contract on PGlite, and on PostgreSQL when `DATABASE_URL` is set (tampering as the tables' owner). */
import { expect, layer } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Redacted } from "effect"
import { AuditVerification, CheckpointKey, JobLock } from "@tessera/domain"
import { Database, jobLock, ports, Sql } from "@tessera/sql"
import { newRealm } from "../../domain/test/PortContract.js"
import Pg from "pg"
import * as AuditVerificationContract from "../../domain/test/AuditVerificationContract.js"
import { fileDatabaseIfAny } from "../../../test/support/Postgres.js"

/** The owner's statements on the trail (each in its own transaction pinned to the trail's realm). */
const tamperWith = (run: (realmId: string, text: string, params: ReadonlyArray<unknown>) => Effect.Effect<unknown, unknown>) =>
  AuditVerificationContract.Tamper.of({
    update: (realmId, seq, fields) =>
      run(realmId, `UPDATE audit_events SET subject = coalesce($3, subject), prev_hash = coalesce($4, prev_hash), hash = coalesce($5, hash)
                     WHERE realm_id = $1 AND seq = $2`, [realmId, seq, fields.subject ?? null, fields.prevHash ?? null, fields.hash ?? null]),
    remove: (realmId, seq, andAfter = false) =>
      run(realmId, `DELETE FROM audit_events WHERE realm_id = $1 AND ${andAfter ? "seq >= $2" : "seq = $2"}`, [realmId, seq]),
    swap: (realmId, a, b) =>
      run(realmId, `UPDATE audit_events SET seq = CASE seq WHEN $2 THEN -$3 ELSE -$2 END WHERE realm_id = $1 AND seq IN ($2, $3)`, [realmId, a, b]).pipe(
        Effect.zipRight(run(realmId, `UPDATE audit_events SET seq = -seq WHERE realm_id = $1 AND seq < 0`, [realmId]))
      )
  })

const key = CheckpointKey.layer(AuditVerificationContract.testKey)

/** PGlite's one session is the superuser that owns the tables: the owner is one `SET LOCAL ROLE` away. */
const pgliteTamper = Layer.effect(AuditVerificationContract.Tamper, Effect.map(SqlClient.SqlClient, (sql) =>
  tamperWith((realmId, text, params) =>
    sql.withTransaction(
      sql`SET LOCAL ROLE postgres`.pipe(
        Effect.zipRight(sql`SELECT set_config('app.realm_id', ${realmId}, true)`),
        Effect.zipRight(sql.unsafe(text, params))
      )
    ))))

AuditVerificationContract.suite(
  "PGlite",
  Layer.mergeAll(ports, JobLock.layerMemory, pgliteTamper, key).pipe(Layer.provide(Database.layerPglite(undefined)))
)

// this file's own database on the DATABASE_URL server, made now (ADR 0051); undefined without one
const url = await fileDatabaseIfAny()
if (url !== undefined) {
  /** The connection string's own role (no switch to the application's): the tables' owner. */
  const ownerTamper = Layer.scoped(AuditVerificationContract.Tamper, Effect.map(
    Effect.acquireRelease(Effect.sync(() => new Pg.Pool({ connectionString: url, max: 1 })), (pool) => Effect.promise(() => pool.end())),
    (pool) =>
      tamperWith((realmId, text, params) =>
        Effect.tryPromise(async () => {
          const client = await pool.connect()
          try {
            await client.query("BEGIN")
            await client.query("SELECT set_config('app.realm_id', $1, true)", [realmId])
            await client.query(text, params as Array<unknown>)
            await client.query("COMMIT")
          } catch (e) {
            await client.query("ROLLBACK").catch(() => undefined)
            throw e
          } finally {
            client.release()
          }
        }))
  ))
  AuditVerificationContract.suite(
    "PostgreSQL",
    Layer.mergeAll(ports, jobLock, ownerTamper, key).pipe(Layer.provide(Database.layerPostgres(Redacted.make(url))))
  )
}

/** Migration 00019 as the application sees it: realm-isolated, insert and read only (a checkpoint is history). */
layer(Layer.mergeAll(ports, key).pipe(Layer.provideMerge(Database.layerPglite(undefined))), { excludeTestServices: true })(
  "PGlite: audit_checkpoints as tessera_app (ADR 0042)",
  (it) => {
    it.effect("pinned to realm A, B's checkpoints are invisible; UPDATE and DELETE are refused outright", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const a = yield* newRealm
        const b = yield* newRealm
        yield* AuditVerification.verify(a.id)
        yield* AuditVerification.verify(b.id)
        const asApp = (realmId: string, text: string) => sql.unsafe<Record<string, unknown>>(text).pipe(Sql.withRealm(realmId))
        expect((yield* asApp(a.id, "SELECT realm_id, seq FROM audit_checkpoints")).map((r) => r["realm_id"])).toEqual([a.id])
        const refused = (text: string) =>
          Effect.flip(asApp(a.id, text)).pipe(Effect.map((e) => (e.cause as { readonly message?: string }).message))
        expect(yield* refused("UPDATE audit_checkpoints SET hash = 'x'")).toBe("permission denied for table audit_checkpoints")
        expect(yield* refused("DELETE FROM audit_checkpoints")).toBe("permission denied for table audit_checkpoints")
        expect(yield* refused(`INSERT INTO audit_checkpoints (realm_id, seq, event_id, hash, events, at, mac)
          VALUES ('${b.id}', 99, gen_random_uuid(), 'h', 99, now(), 'm')`)).toBe("new row violates row-level security policy for table \"audit_checkpoints\"")
      }))
  }
)
