/**
 * The built `tessera` CLI (packages/cli) as a child process against a real server on a loopback port. The CLI is
 * compiled once per test process (`build`, before the first run), so a test never runs a stale dist/tessera.mjs.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import * as HttpServer from "@effect/platform/HttpServer"
import { Effect, ManagedRuntime } from "effect"
import type * as AppConfig from "@tessera/server-node/AppConfig"
import { inheritedEnv, repoRoot } from "./Children.js"
import { onFileEnd } from "./FileEnd.js"
import * as TestLive from "./TestLive.js"

export const bin = Path.join(repoRoot, "packages/cli/bin/tessera.mjs")

let built: Promise<void> | undefined

/** Compiles the CLI (packages/cli/build.mjs, as `npm install` does): once per test process. */
export const build = () =>
  (built ??= new Promise<void>((resolve, reject) =>
    execFile(process.execPath, [Path.join(repoRoot, "packages/cli/build.mjs")], { cwd: repoRoot }, (error, _stdout, stderr) =>
      error === null ? resolve() : reject(new Error(`the CLI did not build: ${stderr}`)))
  ))

/**
 * The app (the run's store) on a loopback port, closed after the file's last test: its base URL, and its runtime for
 * setting a scene through the ports and the support modules' HTTP helpers.
 */
export const serve = async (overrides: Partial<AppConfig.AppConfigShape> = {}) => {
  const runtime = ManagedRuntime.make(TestLive.make(overrides))
  const address = await runtime.runPromise(Effect.map(HttpServer.HttpServer, (server) => server.address))
  onFileEnd(() => runtime.dispose())
  if (address._tag !== "TcpAddress") throw new Error("the test server must listen on TCP")
  return { base: `http://127.0.0.1:${address.port}`, runtime }
}

/** A directory of the test's own, removed after the file's last test (the CLI's working and config directories). */
export const tempDir = async () => {
  const dir = await Fs.mkdtemp(Path.join(Os.tmpdir(), "tessera-cli-"))
  onFileEnd(() => Fs.rm(dir, { recursive: true, force: true }))
  return dir
}

export interface Result {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

export interface RunOptions {
  /** Added to (or, when undefined, removed from) the CLI's environment. */
  readonly env?: Record<string, string | undefined>
  readonly cwd?: string
  readonly stdin?: string
}

/**
 * The environment of a run: nothing from the shell's TESSERA_*, the server at `base`, the owner token of the test
 * server, and an empty configuration directory (no stored login).
 */
const environment = async (base: string, options: RunOptions) => {
  const env: NodeJS.ProcessEnv = {
    ...inheritedEnv(),
    TESSERA_URL: base,
    TESSERA_ADMIN_TOKEN: TestLive.adminToken,
    XDG_CONFIG_HOME: await tempDir(),
    NO_COLOR: "1"
  }
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[name]
    else env[name] = value
  }
  return env
}

/** Starts `tessera <args>`; stdout and stderr piped. */
export const spawnCli = async (base: string, args: ReadonlyArray<string>, options: RunOptions = {}): Promise<ChildProcess> => {
  await build()
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: options.cwd ?? (await tempDir()),
    env: await environment(base, options),
    stdio: ["pipe", "pipe", "pipe"]
  })
  child.stdin!.end(options.stdin ?? "")
  return child
}

/** Runs `tessera <args>` to its end. */
export const run = async (base: string, args: ReadonlyArray<string>, options: RunOptions = {}): Promise<Result> => {
  const child = await spawnCli(base, args, options)
  let stdout = ""
  let stderr = ""
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
  const code = await new Promise<number | null>((resolve) => child.once("close", (status) => resolve(status)))
  return { code, stdout, stderr }
}

/** Runs `tessera <args> --json` and parses what it printed; anything but exit 0 throws. */
export const json = async (base: string, args: ReadonlyArray<string>, options: RunOptions = {}) => {
  const result = await run(base, [...args, "--json"], options)
  if (result.code !== 0) throw new Error(`tessera ${args.join(" ")}: exit ${result.code}\n${result.stderr}`)
  return JSON.parse(result.stdout) as any
}

/** The owner's call to the admin API itself (to compare with what the CLI printed, or to set a scene). */
export const api = async (base: string, method: string, path: string, body?: unknown) => {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${TestLive.adminToken}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {})
  })
  const text = await res.text()
  return { status: res.status, etag: res.headers.get("etag"), text, json: text === "" ? undefined : JSON.parse(text) }
}
