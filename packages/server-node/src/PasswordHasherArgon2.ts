/** argon2id password hashing (RFC 9106) via @node-rs/argon2, with a cap on concurrent hashes. */
import * as Argon2 from "@node-rs/argon2"
import { Effect, Layer } from "effect"
import { PasswordHasher as Port } from "@tessera/domain"

const { PasswordHasher } = Port

/** The primitive under the port: argon2id in production, an instrumented stand-in in the concurrency test. */
export interface Primitive {
  readonly hash: (password: string) => Promise<string>
  readonly verify: (hash: string, password: string) => Promise<boolean>
}

/** Library defaults: argon2id with OWASP's minimum (m = 19 MiB, t = 2, p = 1), a 16-byte salt, PHC output. */
export const argon2: Primitive = { hash: (password) => Argon2.hash(password), verify: Argon2.verify }

/**
 * At most `concurrency` hashes run at once, so a login flood queues here instead of starving libuv's threadpool
 * (which also serves DNS and files).
 */
export const layerWith = (primitive: Primitive, concurrency: number) =>
  Layer.effect(PasswordHasher, Effect.gen(function*() {
    const permits = yield* Effect.makeSemaphore(concurrency)
    return PasswordHasher.of({
      hash: (password) => permits.withPermits(1)(Effect.promise(() => primitive.hash(password))),
      verify: (phc, password) =>
        permits.withPermits(1)(Effect.promise(() => primitive.verify(phc, password).catch(() => false)))
    })
  }))

export const layer = (concurrency = 4) => layerWith(argon2, concurrency)
