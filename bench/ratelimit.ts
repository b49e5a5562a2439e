/**
 * ADR 0055: the cost of one rate-limit take, the port's memory layer against @effect/experimental's RateLimiter on its
 * memory store ("fixed-window", onExceeded "fail"): `node --import tsx bench/ratelimit.ts` (BENCH_TAKES, default 1e6).
 * Each take runs inside one fiber, as in a route; "allowed" never reaches its limit, "refused" is over it from the
 * start. Nanoseconds per take, best of 5 runs each.
 */
import * as RateLimiter from "@effect/experimental/RateLimiter"
import { DateTime, Duration, Effect } from "effect"
import { RateLimit } from "@tessera/domain"

const takes = Number(process.env["BENCH_TAKES"] ?? 1_000_000)
const keys = Array.from({ length: 1_000 }, (_, i) => `realm ${i}.${i}.${i}.${i}`)

type Take = (key: string, refused: boolean) => Effect.Effect<unknown, unknown>

const port: Effect.Effect<Take> = Effect.map(RateLimit.RateLimit.pipe(Effect.provide(RateLimit.layerMemory)), (limits) => {
  const allowed = RateLimit.rule("bench.allowed", { limit: 1e12, window: Duration.minutes(1) })
  const refused = RateLimit.rule("bench.refused", { limit: 1, window: Duration.minutes(1) })
  return (key, over) => Effect.flatMap(DateTime.now, (now) => limits.take(over ? refused : allowed, key, now))
})

const experimental: Effect.Effect<Take> = Effect.map(
  RateLimiter.make.pipe(Effect.provide(RateLimiter.layerStoreMemory)),
  (limiter) => (key, over) =>
    Effect.either(limiter.consume({ key: `${over}:${key}`, limit: over ? 1 : 1e12, window: "1 minute", onExceeded: "fail" }))
)

const measure = (take: Take, refused: boolean) =>
  Effect.gen(function*() {
    for (const key of keys) yield* take(key, refused) // refused: every key over its limit from here on
    let best = Infinity
    for (let run = 0; run < 5; run++) {
      const start = process.hrtime.bigint()
      for (let i = 0; i < takes; i++) yield* take(keys[i % keys.length]!, refused)
      best = Math.min(best, Number(process.hrtime.bigint() - start) / takes)
    }
    return best
  })

const program = Effect.gen(function*() {
  const rows: Array<[string, Take]> = [["RateLimit.layerMemory", yield* port], ["@effect/experimental RateLimiter", yield* experimental]]
  for (const [name, take] of rows) {
    const allowed = yield* measure(take, false)
    const refused = yield* measure(take, true)
    console.log(`${name.padEnd(34)} allowed ${allowed.toFixed(0).padStart(6)} ns/take   refused ${refused.toFixed(0).padStart(6)} ns/take`)
  }
})

Effect.runSync(program)
