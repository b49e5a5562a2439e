/**
 * The real server process for end-to-end tests: `main.ts` under `node --import tsx` on a free loopback port, with
 * its own temporary `TESSERA_DATA_DIR` (the embedded store) and an owner token for the admin API. The children
 * started and the directories made are remembered; a test file calls `cleanup` in its `afterAll`.
 */
import type { ChildProcess } from "node:child_process"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { freePort, inheritedEnv, readyLine, repoRoot, spawnNode, stop } from "./Children.js"

export { freePort }
export const adminToken = "e2e-owner-token-0123456789abcdefghijklmnopqrstuv"

const children = new Set<ChildProcess>()
const dirs: Array<string> = []

/** Kills every child still running (SIGKILL) and removes every data directory made. */
export const cleanup = async () => {
  for (const child of children) child.kill("SIGKILL")
  await Promise.all(dirs.map((dir) => Fs.rm(dir, { recursive: true, force: true })))
}

/** Starts `main.ts` and resolves with its base URL once the ready line appears. */
export const startTessera = async (env: Record<string, string>) => {
  const port = await freePort()
  const dataDir = await Fs.mkdtemp(Path.join(Os.tmpdir(), "tessera-e2e-"))
  dirs.push(dataDir)
  const child = spawnNode(Path.join(repoRoot, "packages/server-node/src/main.ts"), {
    env: { ...inheritedEnv(), TESSERA_PORT: String(port), TESSERA_DATA_DIR: dataDir, TESSERA_ADMIN_TOKEN: adminToken, ...env }
  })
  children.add(child)
  // everything it writes, from the first byte (the operations tests read every line)
  let stdout = ""
  let stderr = ""
  child.stdout!.on("data", (chunk: Buffer | string) => (stdout += chunk.toString()))
  child.stderr!.on("data", (chunk: Buffer | string) => (stderr += chunk.toString()))
  await readyLine(child, "tessera", "tessera listening on", 90_000)
  return { base: `http://localhost:${port}`, child, output: () => ({ stdout, stderr }) }
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
export const stopProcess = async (child: ChildProcess, graceMs = 15_000) => {
  await stop(child, graceMs)
  children.delete(child)
}

/**
 * Starts the example MCP server (`npm run mcp:example`, CONTRACT §6) for `issuer` on a free loopback port and
 * resolves with its `/mcp` URL once it prints `mcp example listening on <url>`.
 */
export const startMcpExample = async (issuer: string, options: { readonly port?: number; readonly publicUrl?: string } = {}) => {
  const args = ["--issuer", issuer, "--port", String(options.port ?? 0), ...(options.publicUrl !== undefined ? ["--public-url", options.publicUrl] : [])]
  const child = spawnNode(Path.join(repoRoot, "packages/mcp/example/main.ts"), { args })
  children.add(child)
  const [, url] = await readyLine(child, "mcp example", /mcp example listening on (\S+)/, 60_000)
  return { url: url!, child }
}
