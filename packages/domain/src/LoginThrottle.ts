/**
 * Throttling failed sign-ins (issue 4 "Pages": per user and per address, with a clear message; OWASP Authentication
 * Cheat Sheet "Login Throttling"): a sliding window of failures per (realm, username) and per (realm, address).
 */
import { Context, Data, DateTime, Duration, Effect, HashMap, Layer, Option } from "effect"
import * as MemoryDb from "./MemoryDb.js"
import type { StoreError } from "./StoreError.js"
import { usernameKey } from "./User.js"

export interface Limit {
  /** Failures allowed inside the window; the next attempt is refused until the oldest leaves it. */
  readonly failures: number
  readonly window: Duration.Duration
}

export interface Policy {
  readonly perUser: Limit
  readonly perAddress: Limit
}

/** 5 failures per username and 20 per address in 15 minutes. */
export const defaultPolicy: Policy = {
  perUser: { failures: 5, window: Duration.minutes(15) },
  perAddress: { failures: 20, window: Duration.minutes(15) }
}

/** Who is trying: the username as typed (compared as `User.usernameKey`) and the client address when known. */
export interface Attempt {
  readonly realmId: string
  readonly username: string
  readonly ip?: string | undefined
}

export type Verdict = Data.TaggedEnum<{
  Allowed: {}
  Throttled: { readonly retryAfterSeconds: number }
}>
export const Verdict = Data.taggedEnum<Verdict>()

export class LoginThrottle extends Context.Tag("@tessera/domain/LoginThrottle")<LoginThrottle, {
  /** Whether an attempt may be checked now. */
  readonly check: (attempt: Attempt, now: DateTime.Utc) => Effect.Effect<Verdict, StoreError>
  /** Counts a failed attempt against the username and the address. */
  readonly recordFailure: (attempt: Attempt, now: DateTime.Utc) => Effect.Effect<void, StoreError>
  /** A successful sign-in clears the username's failures (the address keeps its count). */
  readonly reset: (realmId: string, username: string) => Effect.Effect<void, StoreError>
}>() {}

/** The keys an attempt counts against, with their limits. */
export const keysOf = (attempt: Attempt, policy: Policy): ReadonlyArray<readonly [key: string, limit: Limit]> => [
  [`user:${usernameKey(attempt.username)}`, policy.perUser],
  ...(attempt.ip !== undefined ? [[`ip:${attempt.ip}`, policy.perAddress] as const] : [])
]

/** Failures (epoch ms, oldest first) still inside the window at `now`. */
export const inWindow = (failures: ReadonlyArray<number>, limit: Limit, now: number) =>
  failures.filter((at) => at > now - Duration.toMillis(limit.window))

/** Pure: the verdict for one key's failures. */
export const verdictOf = (failures: ReadonlyArray<number>, limit: Limit, now: number): Verdict => {
  const recent = inWindow(failures, limit, now)
  if (recent.length < limit.failures) return Verdict.Allowed()
  // the attempt is allowed again when enough of the oldest failures have left the window
  const freeAt = recent[recent.length - limit.failures]! + Duration.toMillis(limit.window)
  return Verdict.Throttled({ retryAfterSeconds: Math.max(1, Math.ceil((freeAt - now) / 1000)) })
}

/** The stricter of two verdicts. */
export const combine = (a: Verdict, b: Verdict): Verdict =>
  a._tag === "Allowed" ? b : b._tag === "Allowed" ? a : Verdict.Throttled({
    retryAfterSeconds: Math.max(a.retryAfterSeconds, b.retryAfterSeconds)
  })

const k = MemoryDb.key

/** The memory store's verdict for `keys` of a realm: the stricter over every key (any throttle on `loginFailures`). */
export const checkIn = (state: MemoryDb.State, realmId: string, keys: ReadonlyArray<readonly [string, Limit]>, now: DateTime.Utc) =>
  keys.reduce<Verdict>((verdict, [key, limit]) => {
    const failures = Option.getOrElse(HashMap.get(state.loginFailures, k(realmId, key)), () => [])
    return combine(verdict, verdictOf(failures, limit, DateTime.toEpochMillis(now)))
  }, Verdict.Allowed())

/** The memory store's failures after one more against each of `keys` at `now`. */
export const recordIn = (state: MemoryDb.State, realmId: string, keys: ReadonlyArray<readonly [string, Limit]>, now: DateTime.Utc): MemoryDb.State => {
  const at = DateTime.toEpochMillis(now)
  let loginFailures = state.loginFailures
  for (const [key, limit] of keys) {
    const earlier = Option.getOrElse(HashMap.get(loginFailures, k(realmId, key)), () => [])
    // only the newest `failures` inside the window can ever matter: the list stays bounded
    loginFailures = HashMap.set(loginFailures, k(realmId, key), [...inWindow(earlier, limit, at), at].slice(-limit.failures))
  }
  return { ...state, loginFailures }
}

export const layerMemoryWith = (policy: Policy) =>
  Layer.effect(LoginThrottle, Effect.map(MemoryDb.MemoryDb, (db) => LoginThrottle.of({
    check: (attempt, now) => MemoryDb.read(db, (state) => checkIn(state, attempt.realmId, keysOf(attempt, policy), now)),
    recordFailure: (attempt, now) =>
      MemoryDb.write(db, (state) => Effect.succeed([undefined, recordIn(state, attempt.realmId, keysOf(attempt, policy), now)] as const)),
    reset: (realmId, username) =>
      MemoryDb.write(db, (state) =>
        Effect.succeed([undefined, {
          ...state,
          loginFailures: HashMap.remove(state.loginFailures, k(realmId, `user:${usernameKey(username)}`))
        }] as const))
  })))

export const layerMemory = layerMemoryWith(defaultPolicy)
