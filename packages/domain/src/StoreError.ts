/** Infrastructure failure of a store port: the cause is for logs, never for the wire. */
import { Data, Predicate } from "effect"

export class StoreError extends Data.TaggedError("StoreError")<{ readonly cause: unknown }> {}

/**
 * Issue 15: the realm a store call was for is gone, deleted after the caller found it (a write's foreign key to the
 * realm row failed with the realm row missing, or the realm's key ring is missing). Not an outage: the edge answers it
 * as an unknown realm (CONTRACT §2, §3). It travels as a `StoreError`'s cause so that no port's error type changes
 * (ADR 0030).
 */
export class RealmGone extends Data.TaggedError("RealmGone")<{ readonly realmId: string }> {}

/** The store failure of a call whose realm is gone. */
export const realmGone = (realmId: string) => new StoreError({ cause: new RealmGone({ realmId }) })

/** Whether a store failure is a realm gone (`RealmGone` along its cause chain, as the SQL layer wraps it). */
export const isRealmGone = (e: StoreError): boolean => {
  let cause: unknown = e.cause
  for (let depth = 0; depth < 8 && Predicate.isObject(cause); depth++) {
    if (cause instanceof RealmGone) return true
    cause = (cause as { cause?: unknown }).cause
  }
  return false
}
