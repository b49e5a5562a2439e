/**
 * ADR 0055: the cost of one rate-limit take, the port's memory layer against @effect/experimental's RateLimiter on its
 * memory store ("fixed-window", onExceeded "fail"), and (ADR 0059) the store-backed layer on PGlite and, with
 * BENCH_DATABASE_URL (a scratch database: migrated here), on PostgreSQL: `node --import tsx bench/ratelimit.ts`
 * (BENCH_TAKES, default 1e6; BENCH_SQL_TAKES for the store rows, default 2 000, one take at a time).
 * Each take runs inside one fiber, as in a route; "allowed" never reaches its limit, "refused" is over it from the
 * start. Nanoseconds per take, best of 5 runs each.
 */
import * as RateLimiter from "@effect/experimental/RateLimiter"
import { DateTime, Duration, Effect, Layer, Redacted } from "effect"
import type { Context } from "effect"
import type { SqlClient } from "@effect/sql"
import { RateLimit } from "@tessera/domain"
import { Database, PgRateLimit } from "@tessera/sql"

const takes = Number(process.env["BENCH_TAKES"] ?? 1_000_000)
const keys = Array.from({ length: 1_000 }, (_, i) => `realm ${i}.${i}.${i}.${i}`)

type Take = (key: string, refused: boolean) => Effect.Effect<unknown, unknown>

const takeOn = (limits: Context.Tag.Service<RateLimit.RateLimit>): Take => {
  const allowed = RateLimit.rule("bench.allowed", { limit: 1e12, window: Duration.minutes(1) })
  const refused = RateLimit.rule("bench.refused", { limit: 1, window: Duration.minutes(1) })
  return (key, over) => Effect.flatMap(DateTime.now, (now) => limits.take(over ? refused : allowed, key, now))
}

const port: Effect.Effect<Take> = Effect.map(RateLimit.RateLimit.pipe(Effect.provide(RateLimit.layerMemory)), takeOn)

const experimental: Effect.Effect<Take> = Effect.map(
  RateLimiter.make.pipe(Effect.provide(RateLimiter.layerStoreMemory)),
  (limiter) => (key, over) =>
    Effect.either(limiter.consume({ key: `${over}:${key}`, limit: over ? 1 : 1e12, window: "1 minute", onExceeded: "fail" }))
)

const measure = (take: Take, refused: boolean, count = takes) =>
  Effect.gen(function*() {
    for (const key of keys) yield* take(key, refused) // refused: every key over its limit from here on
    let best = Infinity
    for (let run = 0; run < 5; run++) {
      const start = process.hrtime.bigint()
      for (let i = 0; i < count; i++) yield* take(keys[i % keys.length]!, refused)
      best = Math.min(best, Number(process.hrtime.bigint() - start) / count)
    }
    return best
  })

const sqlTakes = Number(process.env["BENCH_SQL_TAKES"] ?? 2_000)
const databaseUrl = process.env["BENCH_DATABASE_URL"]

const report = (name: string, allowed: number, refused: number) =>
  console.log(`${name.padEnd(34)} allowed ${allowed.toFixed(0).padStart(6)} ns/take   refused ${refused.toFixed(0).padStart(6)} ns/take`)

/** PgRateLimit on a store: one take at a time, each its own statement, as a route would. */
const onStore = <A extends SqlClient.SqlClient, E>(name: string, database: Layer.Layer<A, E>) =>
  Effect.gen(function*() {
    const take = takeOn(yield* RateLimit.RateLimit)
    report(name, yield* measure(take, false, sqlTakes), yield* measure(take, true, sqlTakes))
  }).pipe(Effect.provide(PgRateLimit.layer.pipe(Layer.provide(database))), Effect.orDie)

const program = Effect.gen(function*() {
  const rows: Array<[string, Take]> = [["RateLimit.layerMemory", yield* port], ["@effect/experimental RateLimiter", yield* experimental]]
  for (const [name, take] of rows) report(name, yield* measure(take, false), yield* measure(take, true))
  yield* onStore("PgRateLimit, PGlite in process", Database.layerPglite(undefined))
  if (databaseUrl !== undefined) yield* onStore("PgRateLimit, PostgreSQL", Database.layerPostgres(Redacted.make(databaseUrl)))
})

Effect.runPromise(program)
