/**
 * The server under fuzz: the real `main.ts` as a child process (test/support/Children.ts) on a free loopback port, on
 * PGlite in a fresh data directory, or on PostgreSQL when a `DATABASE_URL` is given. Its log lines are kept (the
 * recent ones, with their arrival time, to attach to a failing request), its RSS is sampled from /proc/<pid>/status,
 * and its exit is noticed. Imports node:* only, like Children.ts: the CLI runs outside vitest.
 */
import type { ChildProcess } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { freePort, inheritedEnv, readyLine, repoRoot, spawnNode, stop } from "../test/support/Children.js"

export const adminToken = "fuzz-owner-token-0123456789abcdefghijklmnopqrstuvwxyz"

export interface LogLine {
  readonly at: number
  readonly stream: "stdout" | "stderr"
  readonly line: string
}

export interface Target {
  readonly base: string
  readonly pid: number
  readonly store: "pglite" | "postgres"
  /** Log lines that arrived in [from, to] (ms since the epoch), at most `max`. */
  readonly logsBetween: (from: number, to: number, max?: number) => ReadonlyArray<LogLine>
  /** Open file descriptors of the process now (/proc/<pid>/fd); undefined once it is gone. */
  readonly openFiles: () => number | undefined
  /** Resident set size now, in KiB (VmRSS of /proc/<pid>/status); undefined once the process is gone. */
  readonly rssKib: () => number | undefined
  /** The exit code or signal, once the process has exited (a crash during the run). */
  readonly exited: () => string | undefined
  readonly stop: () => Promise<void>
}

const keptLines = 5000

/** VmRSS in KiB from /proc/<pid>/status (Linux); undefined when the process is gone or /proc is missing. */
export const rssOf = (pid: number): number | undefined => {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(Fs.readFileSync(`/proc/${pid}/status`, "utf8"))
    return match === null ? undefined : Number(match[1])
  } catch {
    return undefined
  }
}

const untilReady = async (base: string, withinMs: number) => {
  const deadline = Date.now() + withinMs
  let last = "no answer"
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${base}/readyz`)
      last = `${res.status} ${await res.text()}`
      if (res.status === 200) return
    } catch (error) {
      last = String(error)
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`tessera was not ready within ${withinMs} ms: /readyz answered ${last}`)
}

export const start = async (options: { readonly databaseUrl?: string | undefined }): Promise<Target> => {
  const port = await freePort()
  const dataDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tessera-fuzz-"))
  const base = `http://127.0.0.1:${port}`
  const child: ChildProcess = spawnNode(Path.join(repoRoot, "packages/server-node/src/main.ts"), {
    env: {
      ...inheritedEnv(),
      TESSERA_PORT: String(port),
      TESSERA_HOST: "127.0.0.1",
      TESSERA_PUBLIC_URL: base,
      TESSERA_DATA_DIR: dataDir,
      TESSERA_ADMIN_TOKEN: adminToken,
      // the fixture's own requests come "through" loopback from another address (Fixture.fixtureAddress), so that
      // the rate limits the fuzzed requests run into do not starve the fixture; fuzzed Forwarded / X-Forwarded-For
      // headers are then parsed too (CONTRACT §1)
      TESSERA_TRUSTED_PROXIES: "127.0.0.1",
      ...(options.databaseUrl !== undefined ? { DATABASE_URL: options.databaseUrl } : {})
    }
  })
  const lines: Array<LogLine> = []
  const keep = (stream: "stdout" | "stderr") => {
    let partial = ""
    return (chunk: string) => {
      const parts = (partial + chunk).split("\n")
      partial = parts.pop() ?? ""
      const at = Date.now()
      for (const line of parts) lines.push({ at, stream, line })
      if (lines.length > 2 * keptLines) lines.splice(0, lines.length - keptLines)
    }
  }
  let exit: string | undefined
  child.once("exit", (code, signal) => (exit = signal ?? `exit code ${code}`))
  try {
    await readyLine(child, "tessera", "tessera listening on", 120_000)
    // a load balancer sends traffic once /readyz answers 200 (CONTRACT §2); so does the fuzzer: on a database that
    // holds many realms, the first key pass takes a while after the listener opens, and /readyz says 503 meanwhile
    await untilReady(base, 120_000)
  } catch (error) {
    child.kill("SIGKILL")
    Fs.rmSync(dataDir, { recursive: true, force: true })
    throw error
  }
  // readyLine set both streams to utf8 and listens for the ready line; these listeners keep what follows
  child.stdout!.on("data", keep("stdout"))
  child.stderr!.on("data", keep("stderr"))
  return {
    base,
    pid: child.pid!,
    store: options.databaseUrl !== undefined ? "postgres" : "pglite",
    logsBetween: (from, to, max = 20) => lines.filter((l) => l.at >= from && l.at <= to).slice(0, max),
    rssKib: () => rssOf(child.pid!),
    openFiles: () => {
      try {
        return Fs.readdirSync(`/proc/${child.pid}/fd`).length
      } catch {
        return undefined
      }
    },
    exited: () => exit,
    stop: async () => {
      await stop(child, 15_000)
      Fs.rmSync(dataDir, { recursive: true, force: true })
    }
  }
}
