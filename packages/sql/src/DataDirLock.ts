/**
 * One Tessera per data directory: PGlite has no cross-process lock and two processes on one directory corrupt it,
 * so the directory is locked with an exclusively created file naming the holder's pid.
 */
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { Data, Effect } from "effect"

export class DataDirLocked extends Data.TaggedError("DataDirLocked")<{ readonly dataDir: string; readonly pid: number }> {
  override get message() {
    return `another Tessera (pid ${this.pid}) is using ${this.dataDir}; stop it first (one process per data directory)`
  }
}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

const tryCreate = (path: string) =>
  Fs.writeFile(path, `${process.pid}\n`, { flag: "wx", mode: 0o600 }).then(() => true, (e: NodeJS.ErrnoException) => {
    if (e.code === "EEXIST") return false
    throw e
  })

/** Creates the lock file, taking over one left by a dead process. */
const take = (dataDir: string, path: string) =>
  Effect.gen(function*() {
    yield* Effect.promise(() => Fs.mkdir(dataDir, { recursive: true, mode: 0o700 }))
    for (let attempt = 0; attempt < 2; attempt++) {
      if (yield* Effect.promise(() => tryCreate(path))) return path
      const holder = Number((yield* Effect.promise(() => Fs.readFile(path, "utf8").catch(() => ""))).trim())
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
        return yield* new DataDirLocked({ dataDir, pid: holder })
      }
      // stale: its process is gone (or wrote nothing); remove it and race for it once more
      yield* Effect.promise(() => Fs.rm(path, { force: true }))
    }
    return yield* new DataDirLocked({ dataDir, pid: 0 })
  })

/**
 * The directories this process holds. The file alone cannot refuse a second open from this same process: a lock
 * naming our own pid is taken for a stale one (a restarted container's Tessera is often pid 1 again).
 */
const held = new Set<string>()

/** Holds the lock for the scope; a lock left by a dead process is taken over. */
export const acquire = (dataDir: string) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const path = Path.join(Path.resolve(dataDir), "tessera.lock")
      if (held.has(path)) return yield* new DataDirLocked({ dataDir, pid: process.pid })
      held.add(path)
      return yield* take(dataDir, path).pipe(Effect.tapError(() => Effect.sync(() => held.delete(path))))
    }),
    (path) => Effect.promise(() => Fs.rm(path, { force: true })).pipe(Effect.ensuring(Effect.sync(() => held.delete(path))))
  )
