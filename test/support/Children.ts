/**
 * Node child processes for the process tests, the end-to-end tests and the benchmark: `node --import tsx <script>`
 * spawned directly (no npm, npx or shell in between, so signals reach it) from the repository root, ready on a line of
 * its stdout, stopped by SIGTERM then SIGKILL. Imports node:* only: the benchmark runs it outside vitest.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as Net from "node:net"
import { fileURLToPath } from "node:url"

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url))

/** A port nothing listens on right now: bind port 0 on loopback, read it, close. */
export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = Net.createServer()
    server.unref()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as Net.AddressInfo
      server.close(() => resolve(port))
    })
  })

/**
 * The parent's environment without TESSERA_*, DATABASE_URL and whatever else `drop` names: a child is configured
 * only by what its starter passes, never by the shell it was run from.
 */
export const inheritedEnv = (drop: (name: string) => boolean = () => false): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const name of Object.keys(env)) if (name.startsWith("TESSERA_") || name === "DATABASE_URL" || drop(name)) delete env[name]
  return env
}

/** Spawns `node [nodeFlags] --import tsx <script> [args]` in the repository root, stdout and stderr piped. */
export const spawnNode = (script: string, options: {
  readonly args?: ReadonlyArray<string>
  readonly nodeFlags?: ReadonlyArray<string>
  /** The whole environment of the child; the parent's when left out. */
  readonly env?: NodeJS.ProcessEnv
} = {}): ChildProcess =>
  spawn(process.execPath, [...(options.nodeFlags ?? []), "--import", "tsx", script, ...(options.args ?? [])], {
    cwd: repoRoot,
    ...(options.env !== undefined ? { env: options.env } : {}),
    stdio: ["ignore", "pipe", "pipe"]
  })

/**
 * Resolves once the child's stdout (so far) contains `ready` (a string, or a RegExp whose match is returned); rejects,
 * with stdout and stderr, if the child exits first or `timeoutMs` passes. Call it right after `spawnNode`.
 */
export const readyLine = (child: ChildProcess, name: string, ready: string | RegExp, timeoutMs: number) => {
  let out = ""
  let err = ""
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (err += chunk))
  return new Promise<ReadonlyArray<string>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: no ready line within ${timeoutMs / 1000} s\n${out}\n${err}`)), timeoutMs)
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk
      const match = typeof ready === "string" ? (out.includes(ready) ? [ready] : null) : ready.exec(out)
      if (match !== null) {
        clearTimeout(timer)
        resolve(match)
      }
    })
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`${name} exited with ${code} before it was ready\n${out}\n${err}`))
    })
  })
}

/** SIGTERM (a server drains, a profiler writes its profile), SIGKILL after `graceMs`; resolves once the child has exited. */
export const stop = (child: ChildProcess, graceMs: number) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs)
    child.once("exit", () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill("SIGTERM")
  })
