/** argon2id password hashing (RFC 9106) via @node-rs/argon2, with a cap on concurrent hashes. */
import { hash, verify } from "@node-rs/argon2"
import { Effect, Layer } from "effect"
import { PasswordHasher as Port } from "@tessera/domain"

const { PasswordHasher } = Port

/**
 * At most `concurrency` hashes run at once, so a login flood queues here instead of starving libuv's
 * threadpool (which also serves DNS and files). Parameters are the library's: OWASP's argon2id minimum
 * (m = 19 MiB, t = 2, p = 1).
 */
export const layer = (concurrency = 4) =>
  Layer.effect(PasswordHasher, Effect.gen(function*() {
    const permits = yield* Effect.makeSemaphore(concurrency)
    return PasswordHasher.of({
      hash: (password) => permits.withPermits(1)(Effect.promise(() => hash(password))),
      verify: (phc, password) =>
        permits.withPermits(1)(Effect.promise(() => verify(phc, password).catch(() => false)))
    })
  }))
