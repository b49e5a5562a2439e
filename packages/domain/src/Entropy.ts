/** Cryptographic randomness for secrets and identifiers (never Effect's seeded `Random`). */
import { Context, Effect, Layer } from "effect"
import * as Base64Url from "./Base64Url.js"

export class Entropy extends Context.Tag("@tessera/domain/Entropy")<Entropy, {
  /** `n` bytes from the platform CSPRNG. */
  readonly bytes: (n: number) => Effect.Effect<Uint8Array>
  /** A random RFC 9562 version 4 UUID. */
  readonly uuid: Effect.Effect<string>
}>() {}

/** `n` random bytes, base64url-encoded without padding: the shape of every secret Tessera hands out. */
export const token = (n: number) => Effect.flatMap(Entropy, (e) => Effect.map(e.bytes(n), Base64Url.encode))

export const uuid = Effect.flatMap(Entropy, (e) => e.uuid)

/** The platform CSPRNG (`crypto.getRandomValues`), the same in tests and production. */
export const layer = Layer.succeed(Entropy, Entropy.of({
  bytes: (n) => Effect.sync(() => crypto.getRandomValues(new Uint8Array(n))),
  uuid: Effect.sync(() => crypto.randomUUID())
}))
