/**
 * Lining up concurrent writes on PostgreSQL: a transaction holds a realm's audit trail head (`audit_heads` FOR UPDATE,
 * as every append takes it) while the calls under test start one by one, each waiting behind it before the next
 * starts; then it lets go. What the calls do next runs in a known order, so a lock-order cycle between them (a
 * deadlock, SQLSTATE 40P01) happens every time instead of once in a while.
 */
import { SqlClient } from "@effect/sql"
import { Deferred, Effect, Fiber, Option } from "effect"
import * as Sql from "@tessera/sql"
import { sqlOf } from "./TestLive.js"

const realSleep = (ms: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))

/** How many sessions wait behind `pid`, directly or through one another. */
const waitingBehind = (sql: SqlClient.SqlClient, pid: number) =>
  Effect.map(
    sql<{ n: number }>`
      WITH RECURSIVE blocked (pid) AS (
        SELECT a.pid FROM pg_stat_activity a WHERE ${pid}::int = ANY (pg_blocking_pids(a.pid))
        UNION
        SELECT a.pid FROM pg_stat_activity a JOIN blocked b ON b.pid = ANY (pg_blocking_pids(a.pid))
      )
      SELECT count(*)::int AS n FROM blocked`,
    (rows) => rows[0]!.n
  ).pipe(Effect.orDie)

/**
 * Runs `calls` in order, each started once the one before waits behind the trail head of `realmId` (held by a
 * transaction of this file's PostgreSQL database, as the application role), then releases the head and returns every
 * call's result. A call that finishes without waiting lets the next one start at once.
 */
export const queuedBehindTrailHead = <A, E, R>(realmId: string, calls: ReadonlyArray<Effect.Effect<A, E, R>>) =>
  Effect.gen(function*() {
    const sql = yield* sqlOf("postgres")
    const held = yield* Deferred.make<number>()
    const release = yield* Deferred.make<void>()
    const holder = yield* Effect.fork(
      Effect.gen(function*() {
        const [row] = yield* sql<{ pid: number }>`
          SELECT pg_backend_pid() AS pid FROM audit_heads WHERE realm_id = ${realmId} FOR UPDATE`
        yield* Deferred.succeed(held, row!.pid)
        yield* Deferred.await(release)
      }).pipe(Sql.Sql.withRealm(realmId), Effect.provideService(SqlClient.SqlClient, sql), Effect.orDie)
    )
    const pid = yield* Deferred.await(held)
    const running: Array<Fiber.RuntimeFiber<A, E>> = []
    for (const call of calls) {
      const fiber = yield* Effect.fork(call)
      running.push(fiber)
      const deadline = Date.now() + 60_000
      while (Date.now() < deadline) {
        let pending = 0
        for (const started of running) if (Option.isNone(yield* Fiber.poll(started))) pending++
        if ((yield* waitingBehind(sql, pid)) >= pending) break
        yield* realSleep(20)
      }
    }
    yield* Deferred.succeed(release, undefined)
    yield* Fiber.join(holder)
    return yield* Effect.forEach(running, Fiber.join)
  })
