/**
 * CONTRACT §2 `/readyz`: whether this node should get traffic. Three checks, each named with its state: the store
 * answers (within `storeTimeout`), its migrations are at this code's head, and the signing keys are loaded (the key
 * scheduler finished a pass since start: every realm has its active and next keys, rotated when due). A load balancer
 * polls this, so the store is asked at most once per `storeTtl` however often it is polled; the keys are a flag.
 */
import { Context, Duration, Effect, Either, Layer, Ref } from "effect"
import { StoreHealth } from "@tessera/domain"

export interface Checks {
  readonly store: "ok" | "unavailable"
  readonly migrations: "ok" | "behind" | "unknown"
  readonly keys: "ok" | "loading"
}

export interface Report {
  readonly ready: boolean
  readonly checks: Checks
}

export class Readiness extends Context.Tag("@tessera/server-node/Readiness")<Readiness, {
  /** The key scheduler's pass succeeded (`SigningKeys.runSchedulerWith`). */
  readonly keysLoaded: Effect.Effect<void>
  readonly report: Effect.Effect<Report>
}>() {}

/** How long the store may take to answer before it counts as unavailable (a hung connection, a dropped packet). */
export const storeTimeout = Duration.seconds(1)

/** How long one answer of the store stands for every poll. */
export const storeTtl = Duration.seconds(1)

export const layer = Layer.effect(Readiness, Effect.gen(function*() {
  const health = yield* StoreHealth.StoreHealth
  const keys = yield* Ref.make(false)
  // concurrent polls share one query (cachedWithTTL runs one computation at a time and keeps its result)
  const store = yield* Effect.cachedWithTTL(Effect.either(Effect.timeout(health.check, storeTimeout)), storeTtl)
  return Readiness.of({
    keysLoaded: Ref.set(keys, true),
    report: Effect.gen(function*() {
      const schema = yield* store
      const checks: Checks = {
        store: Either.isRight(schema) ? "ok" : "unavailable",
        migrations: Either.isLeft(schema) ? "unknown" : schema.right === "current" ? "ok" : "behind",
        keys: (yield* Ref.get(keys)) ? "ok" : "loading"
      }
      return { ready: checks.store === "ok" && checks.migrations === "ok" && checks.keys === "ok", checks }
    })
  })
}))
