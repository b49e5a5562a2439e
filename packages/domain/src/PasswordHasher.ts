/** The password hashing port (argon2id in production: server-node's `PasswordHasherArgon2`). */
import { Context } from "effect"
import type { Effect } from "effect"

export class PasswordHasher extends Context.Tag("@tessera/domain/PasswordHasher")<PasswordHasher, {
  /** A PHC string. */
  readonly hash: (password: string) => Effect.Effect<string>
  /** Whether `password` matches the PHC string `hash`; false (never a failure) for a malformed hash. */
  readonly verify: (hash: string, password: string) => Effect.Effect<boolean>
}>() {}
