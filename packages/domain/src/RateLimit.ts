/**
 * Rate limits as fixed windows (ADR 0055): at most `limit` events per throttle and key in a window that opens at the
 * key's first event; a refused event is not counted, and a counted one may be given back. The throttles of ADR 0019 /
 * 0028 (client ID metadata document fetches), ADR 0020 (dynamic registration) and ADR 0026 (/authorize) share one
 * `RateLimit` service; `layerMemory` counts per node, a store-backed layer would count for every node.
 */
import { Context, DateTime, Duration, Effect, Layer } from "effect"
import { Verdict } from "./LoginThrottle.js"
import type { StoreError } from "./StoreError.js"

export { Verdict }

/** At most `limit` events in `window`. */
export interface Limit {
  readonly limit: number
  readonly window: Duration.DurationInput
}

/** A limit under a throttle's name: each name has its own keys. */
export interface Rule {
  readonly name: string
  readonly limit: number
  readonly windowMillis: number
}

export const rule = (name: string, limit: Limit): Rule => ({
  name,
  limit: limit.limit,
  windowMillis: Duration.toMillis(Duration.decode(limit.window))
})

/** One key's window: when it opened (epoch ms) and the events counted in it. */
export interface Window {
  readonly start: number
  readonly count: number
}

/** Pure: the verdict on one more event of a key whose window is `current` at `now` (epoch ms), and its window after. */
export const take = (rule: Rule, current: Window | undefined, now: number): readonly [Verdict, Window] => {
  if (current === undefined || now - current.start >= rule.windowMillis) return [Verdict.Allowed(), { start: now, count: 1 }]
  if (current.count >= rule.limit) {
    // RFC 9110 §10.2.3: Retry-After in whole seconds, so rounded up, and never 0
    return [Verdict.Throttled({ retryAfterSeconds: Math.max(1, Math.ceil((current.start + rule.windowMillis - now) / 1000)) }), current]
  }
  return [Verdict.Allowed(), { start: current.start, count: current.count + 1 }]
}

/** Pure: the window after one counted event is given back at `now`; nothing once the window ended or none is counted. */
export const refund = (rule: Rule, current: Window | undefined, now: number): Window | undefined =>
  current !== undefined && now - current.start < rule.windowMillis && current.count > 0
    ? { start: current.start, count: current.count - 1 }
    : current

export class RateLimit extends Context.Tag("@tessera/domain/RateLimit")<RateLimit, {
  /** Atomically: the verdict on one more event of `key` under `rule`, counted when allowed. */
  readonly take: (rule: Rule, key: string, now: DateTime.Utc) => Effect.Effect<Verdict, StoreError>
  /** Gives back one event `take` counted for `key` in the current window (it turned out not to be what is limited). */
  readonly refund: (rule: Rule, key: string, now: DateTime.Utc) => Effect.Effect<void, StoreError>
}>() {}

/** The most keys the memory layer remembers per rule; past it, finished windows are forgotten first, then the oldest. */
export const maxKeys = 10_000

/** Per node, in this process: each node counts for itself (ADR 0055 on what a shared store would need). */
export const layerMemory = Layer.sync(RateLimit, () => {
  const rules = new Map<string, Map<string, Window>>()
  const windowsOf = (rule: Rule) => {
    let windows = rules.get(rule.name)
    if (windows === undefined) rules.set(rule.name, windows = new Map())
    return windows
  }
  return RateLimit.of({
    take: (rule, key, now) =>
      Effect.sync(() => {
        const windows = windowsOf(rule)
        const at = DateTime.toEpochMillis(now)
        const current = windows.get(key)
        const [verdict, next] = take(rule, current, at)
        if (next === current) return verdict
        if (current !== undefined && next.start === current.start) {
          windows.set(key, next)
          return verdict
        }
        // a new window: it goes last in the Map's insertion order, which is the order windows opened
        if (windows.size >= maxKeys) {
          for (const [k, w] of windows) if (at - w.start >= rule.windowMillis || windows.size >= maxKeys) windows.delete(k)
        }
        windows.delete(key)
        windows.set(key, next)
        return verdict
      }),
    refund: (rule, key, now) =>
      Effect.sync(() => {
        const windows = windowsOf(rule)
        const current = windows.get(key)
        const next = refund(rule, current, DateTime.toEpochMillis(now))
        if (next !== undefined && next !== current) windows.set(key, next)
      })
  })
})
