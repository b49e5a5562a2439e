/** ADR 0055: the fixed-window rate limit as a pure transition, and its memory layer (contract plus its bound). */
import { describe, expect, it } from "@effect/vitest"
import { DateTime, Duration, Effect } from "effect"
import { LoginThrottle, RateLimit } from "@tessera/domain"
import * as RateLimitContract from "./RateLimitContract.js"

RateLimitContract.suite("memory", RateLimit.layerMemory)

const { Verdict } = LoginThrottle
const minute = RateLimit.rule("pure", { limit: 2, window: Duration.minutes(1) })

describe("ADR 0055: RateLimit.take, pure", () => {
  it.each([
    ["no window yet: allowed, a window opens now", undefined, 1_000, Verdict.Allowed(), { start: 1_000, count: 1 }],
    ["within the window, under the limit: allowed, counted", { start: 0, count: 1 }, 30_000, Verdict.Allowed(), { start: 0, count: 2 }],
    ["within the window, at the limit: throttled until it ends, not counted", { start: 0, count: 2 }, 30_000,
      Verdict.Throttled({ retryAfterSeconds: 30 }), { start: 0, count: 2 }],
    ["the wait is rounded up to whole seconds", { start: 0, count: 2 }, 30_001, Verdict.Throttled({ retryAfterSeconds: 30 }), { start: 0, count: 2 }],
    ["at the window's end: a new window", { start: 0, count: 2 }, 60_000, Verdict.Allowed(), { start: 60_000, count: 1 }]
  ] as const)("%s", (_, current, now, verdict, next) => {
    expect(RateLimit.take(minute, current, now)).toEqual([verdict, next])
  })

  it.each([
    ["in the window: one fewer", { start: 0, count: 2 }, 59_999, { start: 0, count: 1 }],
    ["none counted: unchanged", { start: 0, count: 0 }, 1, { start: 0, count: 0 }],
    ["the window ended: unchanged", { start: 0, count: 2 }, 60_000, { start: 0, count: 2 }],
    ["no window: none", undefined, 0, undefined]
  ] as const)("refund: %s", (_, current, now, next) => {
    expect(RateLimit.refund(minute, current, now)).toEqual(next)
  })
})

describe("ADR 0055: the memory layer remembers at most `maxKeys` keys per rule", () => {
  it.effect("past the bound the oldest window is forgotten (its key starts over), the others and other rules are kept", () =>
    Effect.gen(function*() {
      const limits = yield* RateLimit.RateLimit
      const t0 = DateTime.unsafeMake("2026-12-07T12:00:00Z")
      const full = RateLimit.rule("bound.full", { limit: 1, window: Duration.minutes(1) })
      const other = RateLimit.rule("bound.other", { limit: 1, window: Duration.minutes(1) })
      expect(yield* limits.take(other, "k0", t0)).toEqual(Verdict.Allowed())
      for (let i = 0; i < RateLimit.maxKeys; i++) yield* limits.take(full, `k${i}`, t0)
      expect(yield* limits.take(full, "k1", t0)).toEqual(Verdict.Throttled({ retryAfterSeconds: 60 }))
      // one key more: k0, the oldest, goes
      expect(yield* limits.take(full, "new", t0)).toEqual(Verdict.Allowed())
      expect(yield* limits.take(full, "k0", t0)).toEqual(Verdict.Allowed())
      expect(yield* limits.take(full, "k2", t0)).toEqual(Verdict.Throttled({ retryAfterSeconds: 60 }))
      // another rule's keys are bounded apart
      expect(yield* limits.take(other, "k0", t0)).toEqual(Verdict.Throttled({ retryAfterSeconds: 60 }))
    }).pipe(Effect.provide(RateLimit.layerMemory)))
})
