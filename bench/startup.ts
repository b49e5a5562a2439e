/**
 * The `startup` rows: how long each server takes from spawn to ready, and how much memory it holds once idle.
 * Tessera on PostgreSQL (a fresh scratch database) and on PGlite (a fresh data directory): the first start (it
 * migrates the store and makes the keys), then `later` starts on the same store; oidc-provider (bench/peer.ts, under
 * tsx) for reference. Each Tessera start is `npm start`'s command, read from package.json (the compiled server, ADR
 * 0057), spawned directly (without npm's own start-up): ready is the ready line on stdout (CONTRACT §1
 * `tessera listening on`), then `/readyz` answering 200
 * (Tessera: store, migrations, keys); the CPU the process spent up to the ready line (utime + stime, all threads);
 * its resident set (`VmRSS` in /proc/<pid>/status) after `idleSeconds` of no requests, and its peak (`VmHWM`).
 */
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Children from "./children.js"
import * as Cpu from "./cpu.js"
import * as Profile from "./profile.js"
import type * as Postgres from "./postgres.js"
import { table } from "./report.js"
import * as Servers from "./servers.js"
import * as TestChildren from "../test/support/Children.js"

export interface Start {
  readonly server: string
  readonly start: "first" | "later"
  readonly readyMs: number
  readonly readyzMs: number | undefined
  readonly cpuMs: number
  readonly rssMb: number
  readonly peakMb: number
}

const profileDir = process.env["BENCH_CPU_PROF"] !== undefined && process.env["BENCH_CPU_PROF"] !== "" ? Path.resolve(process.env["BENCH_CPU_PROF"]) : undefined

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** VmRSS and VmHWM of `pid` in MB (proc(5)). */
const memory = (pid: number) => {
  const status = Fs.readFileSync(`/proc/${pid}/status`, "utf8")
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN)
  return { rssMb: kb("VmRSS") / 1024, peakMb: kb("VmHWM") / 1024 }
}

/** Milliseconds after `from` at which `url` first answered 200 (polled every 20 ms), or undefined after 60 s. */
const firstOk = async (url: string, from: number) => {
  const until = performance.now() + 60_000
  while (performance.now() < until) {
    const ok = await fetch(url).then((res) => res.status === 200, () => false)
    if (ok) return performance.now() - from
    await sleep(20)
  }
  return undefined
}

/** `npm start`'s command from package.json, `node <flags> <script>`, as node's arguments. */
const npmStart = (): ReadonlyArray<string> => {
  const words = (JSON.parse(Fs.readFileSync(Path.join(Children.repoRoot, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts["start"]!.split(/\s+/)
  if (words[0] !== "node") throw new Error(`npm start runs ${words[0]}, not node: bench/startup.ts cannot spawn it directly`)
  return words.slice(1)
}

/** What `npm start` runs, spawned directly in the repository root (node's CPU profile flags first, when asked). */
const startTessera = async (server: string, env: Record<string, string>, ready: string): Promise<Children.Child> => {
  const childEnv = { ...TestChildren.inheritedEnv((key) => key.startsWith("BENCH_")), NODE_ENV: "production", ...env }
  const spawned = performance.now()
  const child = spawn(process.execPath, [...Children.profileFlags(), ...npmStart()], { cwd: Children.repoRoot, env: childEnv, stdio: ["ignore", "pipe", "pipe"] })
  await TestChildren.readyLine(child, server, ready, 120_000)
  return { name: server, process: child, pid: child.pid!, readyMs: performance.now() - spawned }
}

/** `start` is Tessera's (`npm start`'s command) when `script` is undefined, else `node --import tsx <script>`. */
const one = async (server: string, start: Start["start"], script: string | undefined, env: Record<string, string>, ready: string, readyz: string | undefined, idleSeconds: number): Promise<Start> => {
  const spawned = performance.now()
  const child = script === undefined ? await startTessera(server, env, ready) : await Children.start(server, script, env, ready)
  const readyAt = Number(process.hrtime.bigint() / 1000n)
  // BENCH_CPU_PROF: the profile from its first sample to the ready line (bench/profile.ts)
  if (profileDir !== undefined) Profile.recordWindow(profileDir, { server, endpoint: `startup (${start})`, pid: child.pid, start: 0, end: readyAt, requests: 1 })
  try {
    const cpuMs = (Cpu.seconds(child.pid) ?? NaN) * 1000
    const readyzMs = readyz === undefined ? undefined : await firstOk(readyz, spawned)
    await sleep(idleSeconds * 1000)
    return { server, start, readyMs: child.readyMs, readyzMs, cpuMs, ...memory(child.pid) }
  } finally {
    await Children.stop(child)
  }
}

/** First and `later` starts of Tessera on one store, the store made fresh here and removed after. */
const tessera = async (server: string, database: Postgres.Scratch | undefined, later: number, idleSeconds: number, log: (line: string) => void) => {
  const dataDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tessera-bench-start-"))
  const starts: Array<Start> = []
  try {
    for (let i = 0; i <= later; i++) {
      const port = await Children.freePort()
      const made = await one(server, i === 0 ? "first" : "later", undefined, Servers.tesseraEnv(port, dataDir, database), Servers.tesseraReady,
        `http://127.0.0.1:${port}/readyz`, idleSeconds)
      log(line(made))
      starts.push(made)
    }
  } finally {
    Fs.rmSync(dataDir, { recursive: true, force: true })
  }
  return starts
}

const line = (s: Start) =>
  `  ${s.server} ${s.start} start: ready line ${s.readyMs.toFixed(0)} ms, /readyz 200 ${s.readyzMs?.toFixed(0) ?? "-"} ms, ` +
  `CPU to ready ${s.cpuMs.toFixed(0)} ms, idle RSS ${s.rssMb.toFixed(0)} MB (peak ${s.peakMb.toFixed(0)} MB)`

export const measure = async (
  servers: ReadonlyArray<string>,
  postgres: () => Promise<Postgres.Scratch | string>,
  o: { readonly later: number; readonly idleSeconds: number },
  log: (line: string) => void
) => {
  const starts: Array<Start> = []
  if (servers.includes("postgres")) {
    const database = await postgres()
    if (typeof database === "string") log(`startup tessera/postgres: ${database}`)
    else {
      try {
        starts.push(...await tessera("tessera/postgres", database, o.later, o.idleSeconds, log))
      } finally {
        await database.drop()
      }
    }
  }
  if (servers.includes("pglite")) starts.push(...await tessera("tessera/pglite", undefined, o.later, o.idleSeconds, log))
  if (servers.includes("oidc-provider")) {
    for (let i = 0; i <= o.later; i++) {
      const port = await Children.freePort()
      const made = await one("oidc-provider", i === 0 ? "first" : "later", Path.join(Children.repoRoot, "bench/peer.ts"), Servers.peerEnv(port),
        Servers.peerReady, undefined, o.idleSeconds)
      log(line(made))
      starts.push(made)
    }
  }
  return starts
}

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/** Issue 17's start-up targets: ready (later starts) within, idle RSS (every start) at most. */
const targets: Record<string, { readonly readyMs: number; readonly rssMb: number }> = {
  "tessera/postgres": { readyMs: 1000, rssMb: 150 },
  "tessera/pglite": { readyMs: 2000, rssMb: 300 }
}

/** Per server: the first start, the median of the later ones, and the targets' verdicts. */
export const report = (starts: ReadonlyArray<Start>) => {
  const rows: Array<Array<string>> = [["server", "start", "ready line ms", "/readyz ms", "CPU to ready ms", "idle RSS MB", "peak RSS MB"]]
  const verdicts: Array<string> = []
  for (const server of [...new Set(starts.map((s) => s.server))]) {
    const first = starts.find((s) => s.server === server && s.start === "first")
    const later = starts.filter((s) => s.server === server && s.start === "later")
    const cells = (s: Start) => [s.readyMs.toFixed(0), s.readyzMs?.toFixed(0) ?? "", s.cpuMs.toFixed(0), s.rssMb.toFixed(0), s.peakMb.toFixed(0)]
    if (first !== undefined) rows.push([server, "first", ...cells(first)])
    if (later.length > 0) {
      const m = (f: (s: Start) => number | undefined) => {
        const values = later.map(f).filter((v): v is number => v !== undefined)
        return values.length === 0 ? "" : median(values).toFixed(0)
      }
      rows.push([server, `later (median of ${later.length})`, m((s) => s.readyMs), m((s) => s.readyzMs), m((s) => s.cpuMs), m((s) => s.rssMb), m((s) => s.peakMb)])
    }
    const target = targets[server]
    if (target !== undefined && later.length > 0) {
      const ready = median(later.map((s) => s.readyMs))
      const rss = Math.max(...starts.filter((s) => s.server === server).map((s) => s.rssMb))
      verdicts.push(`startup    ${server.padEnd(16)} ready (later starts, median) ${ready.toFixed(0)} ms, target <= ${target.readyMs} ms: ${said(ready <= target.readyMs)}; ` +
        `idle RSS (largest of every start) ${rss.toFixed(0)} MB, target <= ${target.rssMb} MB: ${said(rss <= target.rssMb)}`)
    }
  }
  return `${table(rows)}\n${verdicts.join("\n")}`
}

const said = (met: boolean) => (met ? "met" : "MISSED")
