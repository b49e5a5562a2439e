/**
 * CONTRACT §8: whom the CLI acts as. `TESSERA_ADMIN_TOKEN` if set (the owner); else the session `tessera login --realm R`
 * stored for the command's realm (a tenant admin); else the owner token file `$TESSERA_DATA_DIR/admin-token` (default
 * ./.tessera, as the server writes it); else a refusal saying how to get one. A token is never printed.
 */
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { Config, Effect, Option, Redacted } from "effect"
import { defaultUrl } from "./AdminHttp.js"
import { Refused } from "./Failure.js"
import * as Session from "./Session.js"
import * as TokenFile from "./TokenFile.js"

export interface Credential {
  readonly kind: "owner" | "tenant"
  readonly token: Redacted.Redacted<string>
}

const fromEnv = Config.option(Config.redacted("TESSERA_ADMIN_TOKEN")).pipe(
  Effect.orDie,
  Effect.map(Option.filter((token) => Redacted.value(token) !== ""))
)

const dataDir = Config.string("TESSERA_DATA_DIR").pipe(Config.withDefault("./.tessera"), Effect.orDie)

/** The owner token the server generated into its data directory; none when there is no such file. */
const fromFile = Effect.gen(function*() {
  const dir = yield* dataDir
  const file = Path.join(dir === "" ? "./.tessera" : dir, "admin-token")
  const text = yield* Effect.tryPromise({
    try: () => Fs.readFile(file, "utf8"),
    catch: (cause) => cause as NodeJS.ErrnoException
  }).pipe(
    Effect.map(Option.some),
    Effect.catchAll((cause) =>
      cause.code === "ENOENT" || cause.code === "ENOTDIR"
        ? Effect.succeed(Option.none<string>())
        : Effect.fail(new Refused({ description: `cannot read ${file}: ${cause.code ?? "unreadable"}` }))
    )
  )
  return Option.flatMap(text, (t) => (t.trim() === "" ? Option.none() : Option.some(Redacted.make(t.trim()))))
})

/** A stored tenant session's failure (e.g. a refresh the server refused) is the user's to fix: said, exit 1. */
const sessionFailure = (cause: unknown) =>
  new Refused({
    description: typeof (cause as { message?: unknown })?.message === "string"
      ? (cause as { message: string }).message
      : `the stored session is unusable: run \`tessera login\` again`
  })

/** The server as `tessera login` keyed its session (Login.ts): `TESSERA_URL` as given, without trailing slashes. */
const sessionServer = Config.string("TESSERA_URL").pipe(Config.withDefault(defaultUrl), Effect.orDie, Effect.map(TokenFile.serverKey))

/** The credential for a call on `realm` (none for the owner-only calls outside any realm). */
export const choose = (realm: Option.Option<string>) =>
  Effect.gen(function*() {
    const env = yield* fromEnv
    if (Option.isSome(env)) return { kind: "owner", token: env.value } satisfies Credential
    if (Option.isSome(realm)) {
      const session = yield* Session.tenantToken(yield* sessionServer, realm.value).pipe(Effect.mapError(sessionFailure))
      if (Option.isSome(session)) return { kind: "tenant", token: Redacted.make(session.value) } satisfies Credential
    }
    const file = yield* fromFile
    if (Option.isSome(file)) return { kind: "owner", token: file.value } satisfies Credential
    return yield* new Refused({
      description: "no credentials: set TESSERA_ADMIN_TOKEN, run from the directory holding .tessera/admin-token (or set " +
        "TESSERA_DATA_DIR), or log in as a tenant admin with `tessera login --realm <realm>`"
    })
  })
