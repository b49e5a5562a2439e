/**
 * Periodic jobs across nodes: a Postgres advisory lock, so exactly one node runs each pass. The lock is a session
 * lock on a connection reserved for it, while the job runs on the pool: the job's own transactions commit as they
 * go (other nodes see its work at once and wait on none of its row locks), and a node that dies, or loses that
 * connection, frees the lock with its session.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Option, Schema } from "effect"
import { JobLock } from "@tessera/domain"
import { orStoreError } from "./Sql.js"

/** `pg_try_advisory_lock`'s answer (issue 18: decoded, not cast). */
const decodeLocked = Schema.decodeUnknown(Schema.Tuple(Schema.Struct({ locked: Schema.Boolean })))

/** Needs a pool of at least two connections: one holds the lock, the job's queries take the others. */
export const layer = Layer.effect(JobLock.JobLock, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  return JobLock.JobLock.of({
    tryRun: (name, job) =>
      Effect.scoped(Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          // uninterruptible from reserving to taking the lock: a lock that was won is always given back
          const holder = yield* orStoreError(sql.reserve)
          const [{ locked }] = yield* orStoreError(
            Effect.flatMap(holder.execute("SELECT pg_try_advisory_lock(hashtext($1)) AS locked", [name], undefined), decodeLocked)
          )
          if (!locked) return Option.none()
          return yield* restore(job).pipe(
            Effect.map(Option.some),
            // if the connection is gone, so is its session and the lock
            Effect.ensuring(Effect.ignore(holder.execute("SELECT pg_advisory_unlock(hashtext($1))", [name], undefined)))
          )
        })
      ))
  })
}))
