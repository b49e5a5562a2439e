/** The servers under test run as child processes: started on a free loopback port, ready on a log line, stopped by id. */
import { type ChildProcess, spawn } from "node:child_process"
import * as Net from "node:net"
import { fileURLToPath } from "node:url"

export const repoRoot = fileURLToPath(new URL("..", import.meta.url))

/** A port nothing listens on right now: bind port 0 on loopback, read it, close. */
export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = Net.createServer()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as Net.AddressInfo
      server.close(() => resolve(port))
    })
  })

export interface Child {
  readonly name: string
  readonly process: ChildProcess
  /** The node process itself (spawned directly, no npm or shell in between), whose CPU time is measured. */
  readonly pid: number
}

/** `BENCH_CPU_PROF=<dir>`: every child writes a V8 CPU profile there when it exits. */
const profileFlags = (): Array<string> => {
  const dir = process.env["BENCH_CPU_PROF"]
  return dir === undefined || dir === "" ? [] : ["--cpu-prof", `--cpu-prof-dir=${dir}`]
}

/** Runs `node --import tsx <script>` with `env` (the parent's TESSERA_* and DATABASE_URL left out) until `ready` is logged. */
export const start = async (name: string, script: string, env: Record<string, string>, ready: string): Promise<Child> => {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: "production" }
  for (const key of Object.keys(childEnv)) if (key.startsWith("TESSERA_") || key === "DATABASE_URL" || key.startsWith("BENCH_")) delete childEnv[key]
  const child = spawn(process.execPath, [...profileFlags(), "--import", "tsx", script], {
    cwd: repoRoot,
    env: { ...childEnv, ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let out = ""
  let err = ""
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (err += chunk))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: no ready line within 120 s\n${out}\n${err}`)), 120_000)
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk
      if (out.includes(ready)) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`${name} exited with ${code} before it was ready\n${out}\n${err}`))
    })
  })
  return { name, process: child, pid: child.pid! }
}

/** SIGTERM (so a CPU profile is written), SIGKILL after `graceMs`; resolves once the child has exited. */
export const stop = (child: Child, graceMs = 20_000) =>
  new Promise<void>((resolve) => {
    const p = child.process
    if (p.exitCode !== null || p.signalCode !== null) return resolve()
    const timer = setTimeout(() => p.kill("SIGKILL"), graceMs)
    p.once("exit", () => {
      clearTimeout(timer)
      resolve()
    })
    p.kill("SIGTERM")
  })
