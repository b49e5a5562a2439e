/**
 * CONTRACT §1 "Running it" through `npm start` itself (ADR 0057): the compiled server (packages/server-node/build.mjs,
 * built by `npm install`'s `prepare`) on a fresh PGlite data directory prints its ready line, answers `/readyz` 200,
 * and exits 0 on SIGTERM. npm runs in a process group of its own, so the signal reaches npm and the server alike.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { freePort, inheritedEnv, readyLine, repoRoot } from "./support/Children.js"

const tempDirs: Array<string> = []
const live = new Set<ChildProcess>()
afterAll(async () => {
  for (const child of live) if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL")
  await Promise.all(tempDirs.map((dir) => Fs.rm(dir, { recursive: true, force: true })))
})

/** `npm start`'s command, from package.json (what the README tells an operator to run). */
const startScript = async () => (JSON.parse(await Fs.readFile(Path.join(repoRoot, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts["start"]

/** The node process running bin/server.mjs in the process group `group` (npm's). */
const serverPid = (group: number): number => {
  const found = readdirSync("/proc").filter((name) => /^[0-9]+$/.test(name)).map(Number).filter((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
      // proc(5): the fifth field, after the parenthesised command name, is the process group
      const pgrp = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2])
      return pgrp === group && readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes("packages/server-node/bin/server.mjs")
    } catch {
      return false
    }
  })
  expect(found).toHaveLength(1)
  return found[0]!
}

const exitOf = (child: ChildProcess) =>
  new Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })))

describe("CONTRACT §1: npm start runs the compiled server", () => {
  it("`npm start` runs node on the bundle and its code cache, not TypeScript through tsx", async () => {
    expect(await startScript()).toBe("node packages/server-node/bin/server.mjs")
    const dist = Path.join(repoRoot, "packages/server-node/dist")
    // built by `npm install` (`prepare`), or again by the start itself when a source was newer
    expect((await Fs.readdir(dist)).filter((name) => !name.endsWith(".tmp")).sort()).toEqual(["server.cjs", "server.cjs.cache", "server.inputs.json"])
  })

  it("on a fresh PGlite data directory: the ready line, /readyz 200 {\"status\":\"ready\"}, the owner token written (0600), SIGTERM exits 0", async () => {
    const port = await freePort()
    const dataDir = await Fs.mkdtemp(Path.join(Os.tmpdir(), "tessera-startup-"))
    tempDirs.push(dataDir)
    const child = spawn("npm", ["start", "--silent"], {
      cwd: repoRoot,
      env: { ...inheritedEnv(), TESSERA_PORT: String(port), TESSERA_DATA_DIR: dataDir },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true
    })
    live.add(child)
    const exited = exitOf(child)
    await readyLine(child, "npm start", `tessera listening on http://127.0.0.1:${port}\n`, 120_000)

    // CONTRACT §2: ready once the keys are loaded, which the first key pass does as the server starts listening
    let res = await fetch(`http://127.0.0.1:${port}/readyz`)
    for (const until = Date.now() + 30_000; res.status === 503 && Date.now() < until;) {
      await res.arrayBuffer()
      await new Promise((resolve) => setTimeout(resolve, 50))
      res = await fetch(`http://127.0.0.1:${port}/readyz`)
    }
    expect({ status: res.status, contentType: res.headers.get("content-type"), cacheControl: res.headers.get("cache-control"), body: await res.json() })
      .toEqual({ status: 200, contentType: "application/json", cacheControl: "no-store", body: { status: "ready" } })
    const token = await Fs.stat(Path.join(dataDir, "admin-token"))
    expect(token.mode & 0o777).toBe(0o600)
    expect((await Fs.stat(Path.join(dataDir, "pglite", "PG_VERSION"))).isFile()).toBe(true)

    // the server is node under npm's shell: SIGTERM to it alone (a terminal's Ctrl-C would reach npm too, which dies
    // of the signal itself), and npm exits with the server's status
    process.kill(serverPid(child.pid!), "SIGTERM")
    expect(await exited).toEqual({ code: 0, signal: null })
    live.delete(child)
  }, 180_000)
})
