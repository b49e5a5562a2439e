/**
 * The real server process for end-to-end tests: `main.ts` under `node --import tsx` on a free loopback port, with
 * its own temporary `TESSERA_DATA_DIR` (the embedded store) and an owner token for the admin API. The children
 * started and the directories made are remembered; a test file calls `cleanup` in its `afterAll`.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as Fs from "node:fs/promises"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url))
export const adminToken = "e2e-owner-token-0123456789abcdefghijklmnopqrstuv"

const children = new Set<ChildProcess>()
const dirs: Array<string> = []

/** Kills every child still running (SIGKILL) and removes every data directory made. */
export const cleanup = async () => {
  for (const child of children) child.kill("SIGKILL")
  await Promise.all(dirs.map((dir) => Fs.rm(dir, { recursive: true, force: true })))
}

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

/** Starts `main.ts` and resolves with its base URL once the ready line appears. */
export const startTessera = async (env: Record<string, string>) => {
  const port = await freePort()
  const dataDir = await Fs.mkdtemp(Path.join(Os.tmpdir(), "tessera-e2e-"))
  dirs.push(dataDir)
  const childEnv: NodeJS.ProcessEnv = { ...process.env }
  for (const name of Object.keys(childEnv)) if (name.startsWith("TESSERA_") || name === "DATABASE_URL") delete childEnv[name]
  const child = spawn(process.execPath, ["--import", "tsx", Path.join(repoRoot, "packages/server-node/src/main.ts")], {
    cwd: repoRoot,
    env: { ...childEnv, TESSERA_PORT: String(port), TESSERA_DATA_DIR: dataDir, TESSERA_ADMIN_TOKEN: adminToken, ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  children.add(child)
  let err = ""
  child.stderr!.on("data", (chunk) => (err += chunk))
  await new Promise<void>((resolve, reject) => {
    let out = ""
    const timer = setTimeout(() => reject(new Error(`no ready line\n${out}\n${err}`)), 90_000)
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk
      if (out.includes("tessera listening on")) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.on("exit", (code) => reject(new Error(`exited ${code}\n${out}\n${err}`)))
  })
  return { base: `http://localhost:${port}`, child }
}

/** A POST to the admin API with the owner token; anything but 201 throws. */
export const adminCall = async (base: string, path: string, body: unknown) => {
  const res = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: JSON.stringify(body)
  })
  if (res.status !== 201) throw new Error(`${path}: ${res.status} ${await res.text()}`)
  return res.json() as Promise<Record<string, any>>
}

/** Stops a child: SIGTERM, then SIGKILL if it has not exited within `graceMs`. Resolves once it has exited. */
export const stopProcess = (child: ChildProcess, graceMs = 15_000) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs)
    child.once("exit", () => {
      clearTimeout(timer)
      children.delete(child)
      resolve()
    })
    child.kill("SIGTERM")
  })

/**
 * Starts the example MCP server (`npm run mcp:example`, CONTRACT §6) for `issuer` on a free loopback port and
 * resolves with its `/mcp` URL once it prints `mcp example listening on <url>`.
 */
export const startMcpExample = async (issuer: string, options: { readonly port?: number; readonly publicUrl?: string } = {}) => {
  const args = ["--issuer", issuer, "--port", String(options.port ?? 0), ...(options.publicUrl !== undefined ? ["--public-url", options.publicUrl] : [])]
  const child = spawn(process.execPath, ["--import", "tsx", Path.join(repoRoot, "packages/mcp/example/main.ts"), ...args], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"]
  })
  children.add(child)
  let err = ""
  child.stderr!.on("data", (chunk) => (err += chunk))
  const url = await new Promise<string>((resolve, reject) => {
    let out = ""
    const timer = setTimeout(() => reject(new Error(`no ready line\n${out}\n${err}`)), 60_000)
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk
      const ready = /mcp example listening on (\S+)/.exec(out)
      if (ready !== null) {
        clearTimeout(timer)
        resolve(ready[1]!)
      }
    })
    child.on("exit", (code) => reject(new Error(`exited ${code}\n${out}\n${err}`)))
  })
  return { url, child }
}
