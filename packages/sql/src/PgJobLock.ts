/** Periodic jobs across nodes: a transaction-scoped Postgres advisory lock, so exactly one node runs each pass. */
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Option } from "effect"
import { JobLock } from "@tessera/domain"
import { orStoreError } from "./Sql.js"

export const layer = Layer.effect(JobLock.JobLock, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  return JobLock.JobLock.of({
    tryRun: (name, job) =>
      sql.withTransaction(Effect.gen(function*() {
        // the lock is held until this transaction ends; the job's own transactions nest inside it
        const [row] = yield* orStoreError(sql<{ locked: boolean }>`SELECT pg_try_advisory_xact_lock(hashtext(${name})) AS locked`)
        return row?.locked === true ? Option.some(yield* job) : Option.none()
      })).pipe(orStoreError)
  })
}))
