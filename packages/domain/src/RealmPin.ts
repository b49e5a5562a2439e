/**
 * Issue 14, DESIGN "Tenancy": a tenant admin's request runs with its realm pinned, so that a bug in a route cannot
 * read or write another realm. The pin is a FiberRef: the admin API's authentication sets it around the handler of a
 * tenant admin's call, and every store refuses (a defect, not a domain error) a transaction for another realm, or one
 * of the owner trail, inside a pinned fiber. The owner's calls and every other request run unpinned.
 */
import { Data, Effect, FiberRef, Option } from "effect"

/** The realm id the current fiber may touch, when it is pinned. */
export const current: FiberRef.FiberRef<Option.Option<string>> = FiberRef.unsafeMake(Option.none<string>())

/** A pinned fiber reached for another realm's data (or the owner trail): a bug, never an answer. */
export class RealmPinViolated extends Data.TaggedError("RealmPinViolated")<{
  readonly pinned: string
  /** The realm the store was asked for; undefined when the store cannot name it (a realm-less read, the memory store). */
  readonly requested: string | undefined
}> {
  override get message() {
    return `a fiber pinned to realm ${this.pinned} reached for ${this.requested === undefined ? "another realm's data" : `realm ${this.requested}`}`
  }
}

/** Runs `effect` with its realm pinned to `realmId` (forked fibers inherit the pin). */
export const pinned = (realmId: string) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.locally(effect, current, Option.some(realmId))

/** The pinned realm, if any. */
export const get = FiberRef.get(current)

/** Dies with `RealmPinViolated` when the fiber is pinned to a realm other than `realmId`. */
export const check = (realmId: string) =>
  Effect.flatMap(get, (pin) =>
    Option.isSome(pin) && pin.value !== realmId
      ? Effect.die(new RealmPinViolated({ pinned: pin.value, requested: realmId }))
      : Effect.void)

/** Dies with `RealmPinViolated` when the fiber is pinned at all: for realm-less reads of realm data (the owner trail). */
export const checkUnpinned = Effect.flatMap(get, (pin) =>
  Option.isSome(pin) ? Effect.die(new RealmPinViolated({ pinned: pin.value, requested: undefined })) : Effect.void)
