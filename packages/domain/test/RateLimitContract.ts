/**
 * The contract of the `RateLimit` port (ADR 0055): a fixed window per throttle and key, opened by the key's first
 * event, with refunds. Run on memory here, and on PGlite and PostgreSQL in packages/sql/test (PgRateLimit, ADR 0059).
 * Times are passed in, so the suite never moves a shared clock; keys are unique per test, so tests may share one layer.
 */
import { expect, layer } from "@effect/vitest"
import { DateTime, Duration, Effect } from "effect"
import type { Layer } from "effect"
import { LoginThrottle, RateLimit } from "@tessera/domain"

const t0 = DateTime.unsafeMake("2026-12-07T12:00:00Z")
const at = (d: Duration.DurationInput) => DateTime.addDuration(t0, d)
const { Verdict } = LoginThrottle
const allowed = Verdict.Allowed()
const throttled = (retryAfterSeconds: number) => Verdict.Throttled({ retryAfterSeconds })

/** A rule of its own per test: `limit` a minute. */
const rule = (name: string, limit = 3): RateLimit.Rule => RateLimit.rule(`contract.${name}`, { limit, window: Duration.minutes(1) })

export const suite = (name: string, store: Layer.Layer<RateLimit.RateLimit, unknown>) =>
  layer(store)(`RateLimit contract (${name}), ADR 0055`, (it) => {
    it.effect("up to `limit` events per key in the window opened by the first; the next is Throttled until the window ends, in whole seconds", () =>
      Effect.gen(function*() {
        const limits = yield* RateLimit.RateLimit
        const r = rule("window")
        expect(yield* limits.take(r, "k", t0)).toEqual(allowed)
        expect(yield* limits.take(r, "k", at("10 seconds"))).toEqual(allowed)
        expect(yield* limits.take(r, "k", at("20 seconds"))).toEqual(allowed)
        // the window opened at t0, not at the last event: 60 - 20.5 = 39.5 s, rounded up (RFC 9110 §10.2.3 whole seconds)
        expect(yield* limits.take(r, "k", at("20500 millis"))).toEqual(throttled(40))
        // never 0: a wait under a second is 1
        expect(yield* limits.take(r, "k", at("59999 millis"))).toEqual(throttled(1))
      }))

    it.effect("a refused event is not counted: the window still ends when it would have", () =>
      Effect.gen(function*() {
        const limits = yield* RateLimit.RateLimit
        const r = rule("refused", 1)
        expect(yield* limits.take(r, "k", t0)).toEqual(allowed)
        for (let i = 1; i <= 5; i++) expect(yield* limits.take(r, "k", at(`${i} seconds`))).toEqual(throttled(60 - i))
        expect(yield* limits.take(r, "k", at("60 seconds"))).toEqual(allowed)
      }))

    it.effect("the window ends at its start plus its length exactly: the event then opens a new window", () =>
      Effect.gen(function*() {
        const limits = yield* RateLimit.RateLimit
        const r = rule("boundary", 2)
        expect(yield* limits.take(r, "k", t0)).toEqual(allowed)
        expect(yield* limits.take(r, "k", at("59 seconds"))).toEqual(allowed)
        expect(yield* limits.take(r, "k", at("59999 millis"))).toEqual(throttled(1))
        // fixed, not sliding: two events just before and two just after the boundary all pass
        expect(yield* limits.take(r, "k", at("60 seconds"))).toEqual(allowed)
        expect(yield* limits.take(r, "k", at("61 seconds"))).toEqual(allowed)
        expect(yield* limits.take(r, "k", at("62 seconds"))).toEqual(throttled(58))
      }))

    it.effect("keys and rules count apart: another key, or the same key under another rule, has its own window", () =>
      Effect.gen(function*() {
        const limits = yield* RateLimit.RateLimit
        const a = rule("apart-a", 1)
        const b = rule("apart-b", 1)
        expect(yield* limits.take(a, "k", t0)).toEqual(allowed)
        expect(yield* limits.take(a, "k", t0)).toEqual(throttled(60))
        expect(yield* limits.take(a, "other", t0)).toEqual(allowed)
        expect(yield* limits.take(b, "k", t0)).toEqual(allowed)
      }))

    it.effect("take is atomic: of 20 concurrent takes on one key under a limit of 5, exactly 5 are allowed, and the rest wait for the same window", () =>
      Effect.gen(function*() {
        const limits = yield* RateLimit.RateLimit
        const r = rule("concurrent", 5)
        const verdicts = yield* Effect.forEach(Array.from({ length: 20 }), () => limits.take(r, "k", at("1 second")), { concurrency: "unbounded" })
        expect(verdicts.filter((v) => v._tag === "Allowed")).toHaveLength(5)
        expect(verdicts.filter((v) => v._tag === "Throttled")).toEqual(Array.from({ length: 15 }, () => throttled(60)))
      }))

    it.effect("a refund gives back one event of the current window, never below none, and nothing once the window ended", () =>
      Effect.gen(function*() {
        const limits = yield* RateLimit.RateLimit
        const r = rule("refund", 2)
        expect(yield* limits.take(r, "k", t0)).toEqual(allowed)
        expect(yield* limits.take(r, "k", t0)).toEqual(allowed)
        yield* limits.refund(r, "k", at("1 second"))
        expect(yield* limits.take(r, "k", at("2 seconds"))).toEqual(allowed)
        expect(yield* limits.take(r, "k", at("3 seconds"))).toEqual(throttled(57))
        // refunds past zero do not bank events
        for (let i = 0; i < 5; i++) yield* limits.refund(r, "k", at("4 seconds"))
        expect(yield* limits.take(r, "k", at("5 seconds"))).toEqual(allowed)
        expect(yield* limits.take(r, "k", at("5 seconds"))).toEqual(allowed)
        expect(yield* limits.take(r, "k", at("5 seconds"))).toEqual(throttled(55))
        // the window ended: a refund then is of nothing, and the new window is full-sized
        yield* limits.refund(r, "k", at("60 seconds"))
        expect(yield* limits.take(r, "k", at("61 seconds"))).toEqual(allowed)
        expect(yield* limits.take(r, "k", at("62 seconds"))).toEqual(allowed)
        expect(yield* limits.take(r, "k", at("63 seconds"))).toEqual(throttled(58))
        // a refund of a key never seen is of nothing
        yield* limits.refund(r, "unseen", t0)
        expect(yield* limits.take(r, "unseen", t0)).toEqual(allowed)
      }))
  })
