/**
 * The embedded database on disk: data survives a restart with its chain intact, and a data directory is used by one
 * Tessera at a time (a second process is refused, a second open in the same process too, a dead holder's lock is
 * taken over), since two PGlite instances on one directory corrupt it.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Option } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { Clients, Keys, Realms, Resources, TrustedIssuers, Users } from "@tessera/domain"
import { Database, ports } from "@tessera/sql"
import { newRealm } from "../../domain/test/PortContract.js"
import * as Proofs from "./Proofs.js"

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url))
const fixture = fileURLToPath(new URL("./fixtures/holdDataDir.ts", import.meta.url))

const dataDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tessera-pglite-"))
afterAll(() => Fs.rmSync(dataDir, { recursive: true, force: true }))

const lockFile = Path.join(dataDir, "tessera.lock")

/** The store on the data directory, open for the enclosing scope. */
const open = Layer.build(ports.pipe(Layer.provide(Database.layerPglite(dataDir))))

/** The failure of opening the directory (scoped: closed again at once if it did open). */
const openFailure = Effect.map(Effect.exit(Effect.scoped(open)), (exit) =>
  Exit.isFailure(exit) ? Option.getOrNull(Cause.failureOption(exit.cause)) : "opened")

interface Child {
  readonly process: ChildProcess.ChildProcess
  /** The first stdout line matching, within 30 s. */
  readonly line: (pattern: RegExp) => Effect.Effect<RegExpMatchArray, Error>
  readonly exited: Effect.Effect<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
}

/** Another Tessera process on the data directory (test/fixtures/holdDataDir.ts); killed if still running at the end. */
const spawnOther = Effect.acquireRelease(
  Effect.sync((): Child => {
    const child = ChildProcess.spawn(process.execPath, ["--import", "tsx", fixture, dataDir], { cwd: repoRoot, stdio: ["pipe", "pipe", "pipe"] })
    let out = ""
    let err = ""
    child.stdout.on("data", (chunk) => (out += chunk))
    child.stderr.on("data", (chunk) => (err += chunk))
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on("exit", (code, signal) => resolve({ code, signal })))
    return {
      process: child,
      line: (pattern) =>
        Effect.tryPromise({
          try: () =>
            new Promise<RegExpMatchArray>((resolve, reject) => {
              const check = () => {
                const match = out.match(pattern)
                if (match !== null) resolve(match)
              }
              child.stdout.on("data", check)
              void exit.then(() => setTimeout(() => reject(new Error(`exited without ${pattern}: ${out}${err}`)), 50))
              setTimeout(() => reject(new Error(`no ${pattern} within 30 s: ${out}${err}`)), 30_000)
              check()
            }),
          catch: (e) => e as Error
        }),
      exited: Effect.promise(() => exit)
    }
  }),
  (child) => Effect.sync(() => child.process.exitCode === null && child.process.signalCode === null && child.process.kill("SIGKILL"))
)

describe("PGlite on disk: restart and one process per data directory", () => {
  it.live("restart: everything written through the ports is there after the store closes and opens again, chain intact", () =>
    Effect.gen(function*() {
      const written = yield* Effect.scoped(Effect.gen(function*() {
        const store = yield* open
        expect(Fs.readFileSync(lockFile, "utf8")).toBe(`${process.pid}\n`)
        return yield* Effect.gen(function*() {
          const populated = yield* Proofs.populated
          const { realm } = populated
          const keys = yield* Keys.Keys
          const ring = Option.getOrThrow(yield* keys.ring(realm.id))
          const rotated = { version: 2, keys: ring.keys.slice(1) }
          yield* keys.replace(realm.id, 1, rotated, Option.some(Proofs.event(realm, "key.rotated")))
          return { populated, realm, rotated }
        }).pipe(Effect.provide(store))
      }))
      // closed: the lock is released with it
      expect(Fs.existsSync(lockFile)).toBe(false)
      yield* Effect.scoped(Effect.gen(function*() {
        const { populated, realm, rotated } = written
        const store = yield* open
        yield* Effect.gen(function*() {
          expect(Option.getOrThrow(yield* Effect.flatMap(Realms.Realms, (r) => r.findByName(realm.name)))).toEqual(realm)
          expect(Option.getOrThrow(yield* Effect.flatMap(Clients.Clients, (c) => c.find(realm.id, "c1")))).toEqual(Proofs.client(realm, "c1"))
          expect(Option.getOrThrow(yield* Effect.flatMap(Users.Users, (u) => u.findByUsername(realm.id, "Alice"))).sub).toBe("s1")
          expect(yield* Effect.flatMap(Resources.Resources, (r) => r.list(realm.id))).toHaveLength(1)
          expect(yield* Effect.flatMap(TrustedIssuers.TrustedIssuers, (t) => t.list(realm.id))).toHaveLength(1)
          expect(Option.getOrThrow(yield* Effect.flatMap(Keys.Keys, (k) => k.ring(realm.id)))).toEqual(rotated)
          // the short-lived sign-in state too: the interaction, the token's grant link, the jti, the counted failure
          yield* Proofs.expectState(populated)
          expect(yield* Proofs.trail(realm)).toEqual(["key.rotated", ...Proofs.populatedTrail])
          expect(yield* Proofs.verify(realm)).toEqual({ ok: true, events: 10 })
        }).pipe(Effect.provide(store))
      }))
    }))

  it.live("a second open in the same process is refused while the first is open; after it closes, the directory opens", () =>
    Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        yield* open
        expect(yield* openFailure).toEqual(expect.objectContaining({ _tag: "DataDirLocked", pid: process.pid, dataDir }))
        // the refused open did not take the lock away from the first
        expect(Fs.readFileSync(lockFile, "utf8")).toBe(`${process.pid}\n`)
      }))
      expect(yield* openFailure).toBe("opened")
    }))

  it.live("a second process is refused while this one holds the directory, and the directory is unharmed", () =>
    Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        const store = yield* open
        const other = yield* spawnOther
        expect((yield* other.line(/^locked (\d+)$/m))[1]).toBe(String(process.pid))
        expect(yield* other.exited).toEqual({ code: 3, signal: null })
        expect(Fs.readFileSync(lockFile, "utf8")).toBe(`${process.pid}\n`)
        const realm = yield* newRealm.pipe(Effect.provide(store))
        expect(yield* Proofs.verify(realm).pipe(Effect.provide(store))).toEqual({ ok: true, events: 1 })
      }))
      expect(yield* openFailure).toBe("opened")
    }))

  it.scopedLive("while another process holds it, opening is refused naming that process; after it closes, the directory opens with its data", () =>
    Effect.gen(function*() {
      const other = yield* spawnOther
      const [, id, name] = yield* other.line(/^ready (\S+) (\S+)$/m)
      const refused = yield* openFailure
      expect(refused).toEqual(expect.objectContaining({ _tag: "DataDirLocked", pid: other.process.pid, dataDir }))
      expect((refused as { readonly message: string }).message).toBe(
        `another Tessera (pid ${other.process.pid}) is using ${dataDir}; stop it first (one process per data directory)`
      )
      other.process.stdin!.write("close\n")
      yield* other.line(/^closed$/m)
      expect(yield* other.exited).toEqual({ code: 0, signal: null })
      yield* Effect.scoped(Effect.gen(function*() {
        const store = yield* open
        const realm = Option.getOrThrow(yield* Effect.flatMap(Realms.Realms, (r) => r.findByName(name!)).pipe(Effect.provide(store)))
        expect(realm.id).toBe(id)
        expect(yield* Proofs.verify(realm).pipe(Effect.provide(store))).toEqual({ ok: true, events: 1 })
      }))
    }))

  it.scopedLive("a holder killed with SIGKILL leaves a stale lock: the next open takes it over and finds every committed write", () =>
    Effect.gen(function*() {
      const other = yield* spawnOther
      const [, id, name] = yield* other.line(/^ready (\S+) (\S+)$/m)
      other.process.kill("SIGKILL")
      expect(yield* other.exited).toEqual({ code: null, signal: "SIGKILL" })
      expect(Fs.readFileSync(lockFile, "utf8")).toBe(`${other.process.pid}\n`)
      yield* Effect.scoped(Effect.gen(function*() {
        const store = yield* open
        expect(Fs.readFileSync(lockFile, "utf8")).toBe(`${process.pid}\n`)
        const realm = Option.getOrThrow(yield* Effect.flatMap(Realms.Realms, (r) => r.findByName(name!)).pipe(Effect.provide(store)))
        expect(realm.id).toBe(id)
        expect(yield* Proofs.verify(realm).pipe(Effect.provide(store))).toEqual({ ok: true, events: 1 })
      }))
    }))
})
