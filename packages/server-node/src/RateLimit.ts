/**
 * A per-node rate limit: at most `limit` events per key in a fixed window (ADR 0019, ADR 0020: dynamic client
 * registration and client ID metadata document fetches). In memory, so each node counts for itself.
 */
import { Clock, Duration, Effect } from "effect"

export interface Limit {
  readonly limit: number
  readonly window: Duration.DurationInput
}

export interface RateLimit {
  /** Counts one event for `key`: `undefined` when allowed, else the seconds until the window ends. */
  readonly take: (key: string) => Effect.Effect<number | undefined>
  /** Gives back one event `take` counted for `key` in the current window (it turned out not to be what is limited). */
  readonly refund: (key: string) => Effect.Effect<void>
}

/** The most keys remembered; past it, finished windows are forgotten first, then the oldest. */
const maxKeys = 10_000

export const make = (limit: Limit): RateLimit => {
  const windowMs = Duration.toMillis(Duration.decode(limit.window))
  const windows = new Map<string, { readonly start: number; count: number }>()
  return {
    take: (key) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const current = windows.get(key)
        if (current === undefined || now - current.start >= windowMs) {
          if (windows.size >= maxKeys) {
            for (const [k, w] of windows) if (now - w.start >= windowMs || windows.size >= maxKeys) windows.delete(k)
          }
          windows.delete(key)
          windows.set(key, { start: now, count: 1 })
          return undefined
        }
        if (current.count >= limit.limit) return Math.max(1, Math.ceil((current.start + windowMs - now) / 1000))
        current.count++
        return undefined
      }),
    refund: (key) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const current = windows.get(key)
        if (current !== undefined && now - current.start < windowMs && current.count > 0) current.count--
      })
  }
}
