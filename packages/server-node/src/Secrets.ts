/** The owner's admin token and the key-encryption key: from configuration, or generated once into the data directory. */
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { ConfigError, Context, Effect, Layer, Option, Redacted } from "effect"
import { Base64Url, Entropy, Hash, Kek } from "@tessera/domain"
import { AppConfig } from "./AppConfig.js"

export class Secrets extends Context.Tag("@tessera/server-node/Secrets")<Secrets, {
  /** base64url(SHA-256(admin token)): compared in constant time, never logged. */
  readonly adminTokenHash: string
  readonly kek: Uint8Array
}>() {}

/**
 * Reads `name` from the data directory, or creates it (mode 0600, exclusively, so two racing starts keep one
 * value) holding `generate()`.
 */
const fileSecret = <R>(dataDir: string, name: string, generate: Effect.Effect<string, never, R>) =>
  Effect.gen(function*() {
    const path = Path.join(dataDir, name)
    yield* Effect.promise(() => Fs.mkdir(dataDir, { recursive: true, mode: 0o700 }))
    const value = yield* generate
    const created = yield* Effect.promise(() =>
      Fs.writeFile(path, `${value}\n`, { mode: 0o600, flag: "wx" }).then(() => true, (e: NodeJS.ErrnoException) => {
        if (e.code === "EEXIST") return false
        throw e
      })
    )
    if (created) {
      yield* Effect.logInfo(`generated ${path} (mode 0600)`)
      return value
    }
    return (yield* Effect.promise(() => Fs.readFile(path, "utf8"))).trim()
  })

export const layer = Layer.effect(Secrets, Effect.gen(function*() {
  const config = yield* AppConfig
  const adminToken = yield* Option.match(config.adminToken, {
    onSome: (token) => Effect.succeed(Redacted.value(token)),
    onNone: () => fileSecret(config.dataDir, "admin-token", Entropy.token(32))
  })
  const kekText = yield* Option.match(config.kek, {
    onSome: (kek) => Effect.succeed(Redacted.value(kek)),
    onNone: () => fileSecret(config.dataDir, "kek", Entropy.token(32))
  })
  const kek = yield* Effect.try(() => Base64Url.decode(kekText)).pipe(
    Effect.filterOrFail((bytes) => bytes.length === 32),
    Effect.mapError(() =>
      ConfigError.InvalidData(["TESSERA_KEK"], `the key-encryption key (from TESSERA_KEK or ${config.dataDir}/kek) is not 32 base64url bytes`)
    )
  )
  return { adminTokenHash: yield* Hash.sha256(adminToken), kek }
})).pipe(Layer.provide(Entropy.layer))

/** The KEK port, sealed under the configured or generated key. */
export const layerKek = Layer.unwrapEffect(Effect.map(Secrets, (secrets) => Kek.layer(secrets.kek)))
