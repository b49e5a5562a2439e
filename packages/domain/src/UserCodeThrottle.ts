/**
 * Throttling user-code guessing on the verification page (RFC 8628 §5.1: "the authorization server SHOULD apply
 * rate limiting"): a sliding window of wrong codes per realm and per client address, kept beside the sign-in
 * failures of `LoginThrottle` (same store, keys of their own).
 */
import { Context, Duration, Effect, Layer } from "effect"
import type { DateTime } from "effect"
import * as LoginThrottle from "./LoginThrottle.js"
import * as MemoryDb from "./MemoryDb.js"
import type { StoreError } from "./StoreError.js"

export interface Policy {
  /** Wrong codes a realm takes from everyone together: bounds a distributed guesser. */
  readonly perRealm: LoginThrottle.Limit
  /** Wrong codes one address may enter. */
  readonly perAddress: LoginThrottle.Limit
}

/**
 * 10 wrong codes per address and 100 per realm in 15 minutes (ADR 0014): at 100 live codes in a realm, a guesser
 * using every attempt the realm allows hits one with probability 100 / 20^8 per try, about 4e-5 a day.
 */
export const defaultPolicy: Policy = {
  perRealm: { failures: 100, window: Duration.minutes(15) },
  perAddress: { failures: 10, window: Duration.minutes(15) }
}

/** The keys a wrong code counts against, with their limits (prefixed apart from `LoginThrottle`'s). */
export const keysOf = (ip: string | undefined, policy: Policy): ReadonlyArray<readonly [key: string, limit: LoginThrottle.Limit]> => [
  ["device:realm", policy.perRealm],
  ...(ip !== undefined ? [[`device:ip:${ip}`, policy.perAddress] as const] : [])
]

export class UserCodeThrottle extends Context.Tag("@tessera/domain/UserCodeThrottle")<UserCodeThrottle, {
  /** Whether a code from `ip` may be checked now. */
  readonly check: (realmId: string, ip: string | undefined, now: DateTime.Utc) => Effect.Effect<LoginThrottle.Verdict, StoreError>
  /** Counts a wrong code against the realm and the address. */
  readonly recordFailure: (realmId: string, ip: string | undefined, now: DateTime.Utc) => Effect.Effect<void, StoreError>
}>() {}

export const layerMemoryWith = (policy: Policy) =>
  Layer.effect(UserCodeThrottle, Effect.map(MemoryDb.MemoryDb, (db) => UserCodeThrottle.of({
    check: (realmId, ip, now) => MemoryDb.read(db, (state) => LoginThrottle.checkIn(state, realmId, keysOf(ip, policy), now)),
    recordFailure: (realmId, ip, now) =>
      MemoryDb.write(db, (state) => Effect.succeed([undefined, LoginThrottle.recordIn(state, realmId, keysOf(ip, policy), now)] as const))
  })))

export const layerMemory = layerMemoryWith(defaultPolicy)
