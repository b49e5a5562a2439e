/**
 * Slowing down password guessing (issue 12 items 5-6, ADR 0027; NIST SP 800-63B §5.2.2 rate limiting, OWASP
 * Authentication Cheat Sheet "Login Throttling"): a progressive delay per key instead of a lockout. Each attempt is
 * reserved atomically before the password is verified (it counts as a failure until it succeeds), so a burst of
 * concurrent guesses cannot all pass one check.
 *
 * Keys, per realm: the username from this address (the person's own typos), the username from every address that is
 * not one the person has signed in from before (a distributed guesser; the person's known addresses are exempt, so
 * nobody can slow them down from elsewhere), and the address across usernames (password spraying).
 */
import { Context, Data, DateTime, Duration, Effect, HashMap, Layer, Option, Schema } from "effect"
import * as MemoryDb from "./MemoryDb.js"
import type { StoreError } from "./StoreError.js"
import { usernameKey } from "./User.js"

/** A progressive delay: `burst` attempts without waiting, then each failure doubles the wait, up to `cap`. */
export interface Backoff {
  readonly burst: number
  readonly base: Duration.Duration
  readonly cap: Duration.Duration
  /** A key with no failure for this long starts over (the count decays to nothing). */
  readonly forgetAfter: Duration.Duration
}

export interface Policy {
  readonly perUserAndAddress: Backoff
  /** Failures for the username from addresses it has not signed in from (its known addresses are exempt). */
  readonly perUser: Backoff
  readonly perAddress: Backoff
  /** How long an address a person signed in from stays known (exempt from `perUser`). */
  readonly knownFor: Duration.Duration
}

const backoff = (burst: number): Backoff => ({
  burst,
  base: Duration.seconds(1),
  cap: Duration.minutes(15),
  forgetAfter: Duration.hours(24)
})

/** ADR 0027: 5 per username and address, 10 per username from unknown addresses, 30 per address; 1 s doubling to 15 min. */
export const defaultPolicy: Policy = {
  perUserAndAddress: backoff(5),
  perUser: backoff(10),
  perAddress: backoff(30),
  knownFor: Duration.days(30)
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
  /**
   * Atomically: the verdict for an attempt, and when it is allowed, one failure counted against each of its keys
   * before the password is verified (two concurrent reservations never see the same count).
   */
  readonly reserve: (attempt: Attempt, now: DateTime.Utc) => Effect.Effect<Verdict, StoreError>
  /**
   * The reserved attempt succeeded: the username's failures from this address are cleared, the reservation taken back
   * from the other keys, and the address becomes one the username is known to sign in from.
   */
  readonly succeeded: (attempt: Attempt, now: DateTime.Utc) => Effect.Effect<void, StoreError>
}>() {}

/** One key's failures and when the last was counted (epoch ms). */
export const Count = Schema.Struct({ failures: Schema.Number, last: Schema.Number })
export interface Count extends Schema.Schema.Type<typeof Count> {}

/** The wait before the next attempt after `failures` failures: none within the burst, then doubling up to the cap. */
export const waitAfter = (failures: number, b: Backoff): number =>
  failures < b.burst ? 0 : Math.min(Duration.toMillis(b.cap), Duration.toMillis(b.base) * 2 ** Math.min(failures - b.burst, 40))

/** The failures that still count at `now`: none once the key has been quiet for `forgetAfter`. */
export const current = (count: Count | undefined, b: Backoff, now: number) =>
  count === undefined || now - count.last >= Duration.toMillis(b.forgetAfter) ? 0 : count.failures

/** Pure: the verdict for one key. */
export const verdictOf = (count: Count | undefined, b: Backoff, now: number): Verdict => {
  const failures = current(count, b, now)
  if (count === undefined || failures === 0) return Verdict.Allowed()
  const freeAt = count.last + waitAfter(failures, b)
  return now >= freeAt ? Verdict.Allowed() : Verdict.Throttled({ retryAfterSeconds: Math.max(1, Math.ceil((freeAt - now) / 1000)) })
}

/** The stricter of two verdicts. */
export const combine = (a: Verdict, b: Verdict): Verdict =>
  a._tag === "Allowed" ? b : b._tag === "Allowed" ? a : Verdict.Throttled({
    retryAfterSeconds: Math.max(a.retryAfterSeconds, b.retryAfterSeconds)
  })

/** One more failure on a key at `now`. */
export const counted = (count: Count | undefined, b: Backoff, now: number): Count => ({ failures: current(count, b, now) + 1, last: now })

/** A reservation taken back (a success): one failure fewer, never below none. */
export const released = (count: Count | undefined, b: Backoff, now: number): Count => ({
  failures: Math.max(0, current(count, b, now) - 1),
  last: count?.last ?? now
})

/** How long a key's row must be kept: until its count is forgotten. */
export const expiresAt = (count: Count, b: Backoff) => count.last + Duration.toMillis(b.forgetAfter)

export type Keys = ReadonlyArray<readonly [key: string, backoff: Backoff]>

/** What a username can hold (CONTRACT §3 users: 1-255 characters, no spaces or controls), as the store can hold it. */
const possibleUsername = /^[^\s\p{Cc}\p{Cs}]{0,255}$/u

/**
 * The username as a key: its `User.usernameKey`; text no username can be (too long, controls such as U+0000, unpaired
 * surrogates) shares one key of its own, which no username can take (it has a space) and any store can hold
 * (CONTRACT §2: text that cannot be stored is a failed login, never a 5xx).
 */
const user = (attempt: Attempt) => {
  const key = usernameKey(attempt.username)
  return possibleUsername.test(attempt.username) && key.length <= 1024 ? key : " impossible"
}

/** The key that says `ip` is an address the username has signed in from (a count whose `last` is that sign-in). */
export const knownKey = (attempt: Attempt) => attempt.ip === undefined ? undefined : `known:${user(attempt)} ${attempt.ip}`

/** Whether a known-address row (its last sign-in at `last`) still makes the address known at `now`. */
export const stillKnown = (last: number | undefined, policy: Policy, now: number) =>
  last !== undefined && now - last < Duration.toMillis(policy.knownFor)

/** The keys an attempt counts against; `known`: the address is one the username signed in from (no `perUser`). */
export const keysOf = (attempt: Attempt, policy: Policy, known: boolean): Keys => [
  ...(attempt.ip !== undefined
    ? [[`user-ip:${user(attempt)} ${attempt.ip}`, policy.perUserAndAddress] as const, [`ip:${attempt.ip}`, policy.perAddress] as const]
    : []),
  // without an address, the username alone must bound guessing
  ...(known ? [] : [[`user:${user(attempt)}`, attempt.ip !== undefined ? policy.perUser : policy.perUserAndAddress] as const])
]

/** Pure: the verdict over `keys` (the stricter of all) and, when allowed, the counts after one more failure on each. */
export const reservation = (counts: ReadonlyArray<Count | undefined>, keys: Keys, now: number) => {
  const verdict = keys.reduce<Verdict>((v, [, b], i) => combine(v, verdictOf(counts[i], b, now)), Verdict.Allowed())
  return { verdict, next: verdict._tag === "Allowed" ? keys.map(([, b], i) => counted(counts[i], b, now)) : undefined }
}

const k = MemoryDb.key

/** The memory store's reservation of `keys` of a realm (any throttle on `loginFailures`): the verdict and the state. */
export const reserveIn = (state: MemoryDb.State, realmId: string, keys: Keys, now: DateTime.Utc): readonly [Verdict, MemoryDb.State] => {
  const at = DateTime.toEpochMillis(now)
  const counts = keys.map(([key]) => Option.getOrUndefined(HashMap.get(state.loginFailures, k(realmId, key))))
  const { next, verdict } = reservation(counts, keys, at)
  if (next === undefined) return [verdict, state]
  let loginFailures = state.loginFailures
  keys.forEach(([key], i) => loginFailures = HashMap.set(loginFailures, k(realmId, key), next[i]!))
  return [verdict, { ...state, loginFailures }]
}

/** The memory store's counts with one reservation taken back from each of `keys`. */
export const releaseIn = (state: MemoryDb.State, realmId: string, keys: Keys, now: DateTime.Utc): MemoryDb.State => {
  const at = DateTime.toEpochMillis(now)
  let loginFailures = state.loginFailures
  for (const [key, b] of keys) {
    loginFailures = HashMap.set(loginFailures, k(realmId, key), released(Option.getOrUndefined(HashMap.get(loginFailures, k(realmId, key))), b, at))
  }
  return { ...state, loginFailures }
}

const knownIn = (state: MemoryDb.State, attempt: Attempt, policy: Policy, now: DateTime.Utc) => {
  const key = knownKey(attempt)
  const row = key === undefined ? undefined : Option.getOrUndefined(HashMap.get(state.loginFailures, k(attempt.realmId, key)))
  return stillKnown(row?.last, policy, DateTime.toEpochMillis(now))
}

export const layerMemoryWith = (policy: Policy) =>
  Layer.effect(LoginThrottle, Effect.map(MemoryDb.MemoryDb, (db) => LoginThrottle.of({
    // MemoryDb.write runs one function over the state under its lock: the check and the count are one step
    reserve: (attempt, now) =>
      MemoryDb.write(db, (state) =>
        Effect.succeed(reserveIn(state, attempt.realmId, keysOf(attempt, policy, knownIn(state, attempt, policy, now)), now))),
    succeeded: (attempt, now) =>
      MemoryDb.write(db, (state) => {
        const keys = keysOf(attempt, policy, knownIn(state, attempt, policy, now))
        const [own, ...others] = keys
        const known = knownKey(attempt)
        let loginFailures = releaseIn(state, attempt.realmId, others, now).loginFailures
        // the person's own typos from here are forgiven; what others did from elsewhere only loses this reservation
        loginFailures = HashMap.remove(loginFailures, k(attempt.realmId, own![0]))
        if (known !== undefined) loginFailures = HashMap.set(loginFailures, k(attempt.realmId, known), { failures: 0, last: DateTime.toEpochMillis(now) })
        return Effect.succeed([undefined, { ...state, loginFailures }] as const)
      })
  })))

export const layerMemory = layerMemoryWith(defaultPolicy)
