/** A write refused because what it would create already exists, or changed under it. */
import { Data } from "effect"

export class AlreadyExists extends Data.TaggedError("AlreadyExists")<{
  readonly entity: "realm" | "user" | "client" | "resource" | "trusted_issuer"
}> {}

/** Compare-and-set lost: someone else changed the key ring first. */
export class KeyRingChanged extends Data.TaggedError("KeyRingChanged")<{}> {}
