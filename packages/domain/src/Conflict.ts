/** A write refused because what it would create already exists, or changed under it, or is not there. */
import { Data } from "effect"

/** What the admin API creates, changes and deletes (CONTRACT §3). */
export type Entity =
  | "realm" | "user" | "client" | "resource" | "trusted_issuer" | "session" | "grant" | "delegation" | "invitation"
  // ADR 0047: a person at a trusted issuer linked to a user (never through the admin API: by an ID-JAG's first use)
  | "identity_link"

export class AlreadyExists extends Data.TaggedError("AlreadyExists")<{
  readonly entity: Entity
}> {}

/** The row is not there (or not in this realm, which looks the same). */
export class NotFound extends Data.TaggedError("NotFound")<{
  readonly entity: Entity
}> {}

/** Compare-and-set on the row's version lost: it changed since it was read (CONTRACT §3: 412 on a stale `If-Match`). */
export class Stale extends Data.TaggedError("Stale")<{
  readonly entity: Entity
}> {}

/** Compare-and-set lost: someone else changed the key ring first. */
export class KeyRingChanged extends Data.TaggedError("KeyRingChanged")<{}> {}
