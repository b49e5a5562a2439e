/**
 * Slowing down user-code guessing on the verification page (RFC 8628 §5.1: "the authorization server SHOULD apply
 * rate limiting"; issue 12 item 6, ADR 0027): `LoginThrottle`'s progressive delay per client address, each code
 * reserved atomically before it is looked up, kept beside the sign-in counts (same store, keys of their own). There
 * is no realm-wide key: wrong codes from one address never slow anyone else down.
 */
import { Context, Duration, Effect, Layer } from "effect"
import type { DateTime } from "effect"
import * as LoginThrottle from "./LoginThrottle.js"
import * as MemoryDb from "./MemoryDb.js"
import type { StoreError } from "./StoreError.js"

export interface Policy {
  /** Wrong codes one address may enter before each one doubles its wait. */
  readonly perAddress: LoginThrottle.Backoff
}

/**
 * ADR 0027: 5 codes per address at once, then 1 s doubling to 15 minutes, forgotten after a quiet day. An address
 * past its burst gets about 96 guesses a day; each hits one of 100 live codes with probability 100 / 20^8 (4e-9).
 */
export const defaultPolicy: Policy = {
  perAddress: { burst: 5, base: Duration.seconds(1), cap: Duration.minutes(15), forgetAfter: Duration.hours(24) }
}

/** The key a code from `ip` counts against (prefixed apart from `LoginThrottle`'s); all unknown addresses share one. */
export const keysOf = (ip: string | undefined, policy: Policy): LoginThrottle.Keys => [[`device:ip:${ip ?? ""}`, policy.perAddress]]

export class UserCodeThrottle extends Context.Tag("@tessera/domain/UserCodeThrottle")<UserCodeThrottle, {
  /** Atomically: whether a code from `ip` may be checked now, and if so one failure counted before it is looked up. */
  readonly reserve: (realmId: string, ip: string | undefined, now: DateTime.Utc) => Effect.Effect<LoginThrottle.Verdict, StoreError>
  /** The reserved code was right: the reservation is taken back. */
  readonly release: (realmId: string, ip: string | undefined, now: DateTime.Utc) => Effect.Effect<void, StoreError>
}>() {}

export const layerMemoryWith = (policy: Policy) =>
  Layer.effect(UserCodeThrottle, Effect.map(MemoryDb.MemoryDb, (db) => UserCodeThrottle.of({
    reserve: (realmId, ip, now) => MemoryDb.write(db, (state) => Effect.succeed(LoginThrottle.reserveIn(state, realmId, keysOf(ip, policy), now))),
    release: (realmId, ip, now) =>
      MemoryDb.write(db, (state) => Effect.succeed([undefined, LoginThrottle.releaseIn(state, realmId, keysOf(ip, policy), now)] as const))
  })))

export const layerMemory = layerMemoryWith(defaultPolicy)
