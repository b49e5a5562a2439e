/** The servers under test run as child processes (test/support/Children.ts): started on a free loopback port, ready on a log line, stopped by id. */
import { type ChildProcess, spawn } from "node:child_process"
import * as Path from "node:path"
import * as Children from "../test/support/Children.js"

export const { freePort, repoRoot } = Children

export interface Child {
  readonly name: string
  readonly process: ChildProcess
  /** The node process itself (spawned directly, no npm or shell in between), whose CPU time is measured. */
  readonly pid: number
  /** Milliseconds from the spawn to the ready line. */
  readonly readyMs: number
}

/** `BENCH_CPU_PROF=<dir>`: every child writes a V8 CPU profile there when it exits. */
export const profileFlags = (): Array<string> => {
  const dir = process.env["BENCH_CPU_PROF"]
  return dir === undefined || dir === "" ? [] : ["--cpu-prof", `--cpu-prof-dir=${dir}`]
}

/**
 * Runs `node --import tsx <script>` with `env` (the parent's TESSERA_*, DATABASE_URL and BENCH_* left out) until `ready`
 * is logged. `root` is the checkout it runs in (its working directory, so `tsx`, the workspace packages and
 * node_modules are that checkout's): this repository unless a comparison names another (BENCH_COMPARE).
 */
export const start = async (name: string, script: string, env: Record<string, string>, ready: string, root = repoRoot): Promise<Child> => {
  const childEnv = { ...Children.inheritedEnv((key) => key.startsWith("BENCH_")), NODE_ENV: "production", ...env }
  const spawned = performance.now()
  const child = Path.resolve(root) === Path.resolve(repoRoot)
    ? Children.spawnNode(script, { nodeFlags: profileFlags(), env: childEnv })
    : spawn(process.execPath, [...profileFlags(), "--import", "tsx", script], { cwd: root, env: childEnv, stdio: ["ignore", "pipe", "pipe"] })
  await Children.readyLine(child, name, ready, 120_000)
  return { name, process: child, pid: child.pid!, readyMs: performance.now() - spawned }
}

/** SIGTERM (so a CPU profile is written), SIGKILL after `graceMs`; resolves once the child has exited. */
export const stop = (child: Child, graceMs = 20_000) => Children.stop(child.process, graceMs)
