/**
 * Where `tessera login` keeps a tenant admin's tokens (ADR 0044): one JSON file per server and realm under
 * `$XDG_CONFIG_HOME/tessera/sessions/` (or `~/.config/tessera/sessions/`), mode 0600 in directories of mode 0700,
 * replaced atomically (a temporary file renamed over it), and a lock file beside it while a refresh is under way.
 */
import { createHash, randomBytes } from "node:crypto"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { Data, Duration, Effect, Option, Schema } from "effect"

/** The stored session: what a refresh and a logout need, and nothing about the person. */
export const Stored = Schema.Struct({
  server: Schema.String,
  realm: Schema.String,
  issuer: Schema.String,
  resource: Schema.String,
  token_endpoint: Schema.String,
  revocation_endpoint: Schema.optional(Schema.String),
  access_token: Schema.String,
  refresh_token: Schema.optional(Schema.String),
  /** Seconds since the epoch: when the access token expires (from `expires_in` at issue). */
  expires_at: Schema.Number
})
export type Stored = typeof Stored.Type

const decodeStored = Schema.decodeUnknownEither(Schema.parseJson(Stored))

/** A session file that is there but cannot be read or written. */
export class TokenFileError extends Data.TaggedError("TokenFileError")<{ readonly path: string; readonly cause: unknown }> {
  override get message() {
    return `${this.path}: ${this.cause instanceof Error ? this.cause.message : String(this.cause)}`
  }
}

/**
 * The directory of tessera's files: `$XDG_CONFIG_HOME/tessera` when that is an absolute path (the XDG Base Directory
 * specification ignores a relative one), else `~/.config/tessera`.
 */
export const directory = (env: NodeJS.ProcessEnv = process.env) => {
  const xdg = env["XDG_CONFIG_HOME"]
  return Path.join(xdg !== undefined && Path.isAbsolute(xdg) ? xdg : Path.join(Os.homedir(), ".config"), "tessera")
}

/** The server as the session is keyed: its URL as WHATWG URL writes it (host in lower case), no trailing slash. */
export const serverKey = (baseUrl: string) => (URL.canParse(baseUrl) ? new URL(baseUrl).href : baseUrl).replace(/\/+$/, "")

/**
 * The session file of `realm` at `baseUrl`: the realm's name (already checked against CONTRACT §2's pattern by the
 * caller) and a digest of the server, so the name is safe whatever the URL holds and two servers never share a file.
 */
export const pathOf = (dir: string, baseUrl: string, realm: string) =>
  Path.join(dir, "sessions", `${realm}.${createHash("sha256").update(`${serverKey(baseUrl)}\n${realm}`).digest("hex").slice(0, 16)}.json`)

const fail = (path: string) => (cause: unknown) => new TokenFileError({ path, cause })

const isMissing = (cause: unknown) => (cause as NodeJS.ErrnoException | undefined)?.code === "ENOENT"

/** The stored session, or none when the file does not exist. */
export const read = (path: string) =>
  Effect.tryPromise({ try: () => Fs.readFile(path, "utf8"), catch: (cause) => cause }).pipe(
    Effect.map(Option.some),
    Effect.catchIf(isMissing, () => Effect.succeed(Option.none<string>())),
    Effect.mapError(fail(path)),
    Effect.flatMap(Option.match({
      onNone: () => Effect.succeed(Option.none<Stored>()),
      // the decoding error is left out: it could quote the file, tokens and all
      onSome: (text) =>
        Effect.mapBoth(decodeStored(text), { onFailure: () => fail(path)(new Error("not a session file tessera wrote")), onSuccess: Option.some })
    }))
  )

/**
 * Creates `dir` and its parents as 0700, and makes `dir` itself 0700 if it was there already with another mode (it is
 * ours); a symbolic link there is the user's choice and left alone (chmod would change whatever it points to).
 */
const ensureDirectory = (dir: string) =>
  Effect.tryPromise({
    try: async () => {
      await Fs.mkdir(dir, { recursive: true, mode: 0o700 })
      const found = await Fs.lstat(dir)
      if (found.isDirectory() && (found.mode & 0o777) !== 0o700) await Fs.chmod(dir, 0o700)
    },
    catch: fail(dir)
  })

/**
 * Replaces the session file atomically: a new temporary file (0600, created exclusively) beside it, written and
 * flushed, then renamed over it; a reader sees the old session or the new one, never half of one.
 */
export const write = (path: string, stored: Stored) =>
  Effect.gen(function*() {
    yield* ensureDirectory(Path.dirname(Path.dirname(path)))
    yield* ensureDirectory(Path.dirname(path))
    const temporary = `${path}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`
    yield* Effect.tryPromise({
      try: async () => {
        const handle = await Fs.open(temporary, "wx", 0o600)
        try {
          await handle.writeFile(`${JSON.stringify(stored, null, 2)}\n`, "utf8")
          await handle.sync()
        } finally {
          await handle.close()
        }
        await Fs.rename(temporary, path)
      },
      catch: fail(path)
    }).pipe(Effect.tapError(() => Effect.promise(() => Fs.rm(temporary, { force: true }))))
  })

/** Deletes the session file; true when there was one. */
export const remove = (path: string) =>
  Effect.tryPromise({ try: () => Fs.unlink(path), catch: (cause) => cause }).pipe(
    Effect.as(true),
    Effect.catchIf(isMissing, () => Effect.succeed(false)),
    Effect.mapError(fail(path))
  )

/** A lock older than this was left by a process that died while holding it. */
const staleLock = Duration.seconds(30)
const lockWait = Duration.seconds(20)

/**
 * Runs `use` while holding `<path>.lock` (created exclusively, removed after), so that two commands refreshing the
 * same session at once do not both present the same refresh token: the second would be reuse, which revokes the whole
 * family (CONTRACT §5). Waits up to 20 s for another holder; a lock older than 30 s is taken over.
 */
export const withLock = <A, E, R>(path: string, use: Effect.Effect<A, E, R>) => {
  const lock = `${path}.lock`
  const acquire = Effect.gen(function*() {
    yield* ensureDirectory(Path.dirname(Path.dirname(path)))
    yield* ensureDirectory(Path.dirname(path))
    // wall-clock time, as the lock file's mtime is
    const deadline = Date.now() + Duration.toMillis(lockWait)
    while (true) {
      const taken = yield* Effect.tryPromise({
        try: async () => {
          try {
            await (await Fs.open(lock, "wx", 0o600)).close()
            return true
          } catch (cause) {
            if ((cause as NodeJS.ErrnoException).code !== "EEXIST") throw cause
            const since = await Fs.stat(lock).then((s) => Date.now() - s.mtimeMs, () => 0)
            if (since > Duration.toMillis(staleLock)) await Fs.rm(lock, { force: true })
            return false
          }
        },
        catch: fail(lock)
      })
      if (taken) return
      if (Date.now() > deadline) return yield* new TokenFileError({ path: lock, cause: new Error("another tessera command holds the session lock") })
      yield* Effect.sleep(Duration.millis(50))
    }
  })
  return Effect.acquireUseRelease(acquire, () => use, () => Effect.promise(() => Fs.rm(lock, { force: true })))
}
