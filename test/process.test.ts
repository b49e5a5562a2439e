/**
 * CONTRACT §1 "Running it", observed from outside: the real `main.ts` in its own node process, a fresh data
 * directory and a free loopback port per test. Node is spawned directly (not npm/npx/tsx) so signals reach it.
 */
import type { ChildProcess } from "node:child_process"
import * as Fs from "node:fs/promises"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { Effect, Layer } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { Database } from "@tessera/sql"
import { freePort, inheritedEnv, repoRoot, spawnNode } from "./support/Children.js"
import { fileDatabase, skipWithoutPostgres } from "./support/Postgres.js"

const mainTs = Path.join(repoRoot, "packages/server-node/src/main.ts")

/** How long a start or an exit may take on a slow, busy machine (not a performance assertion). */
const startTimeoutMs = 60_000
const testTimeoutMs = 120_000

const tempDirs: Array<string> = []
afterAll(async () => {
  await Promise.all(tempDirs.map((dir) => Fs.rm(dir, { recursive: true, force: true })))
})

/**
 * An embedded database made once (initdb and migrations take seconds of CPU), copied into each fresh data
 * directory: every start still opens, locks and migrates its own copy; only the initdb is shared.
 */
let template: Promise<string> | undefined
const pgliteTemplate = () =>
  template ??= (async () => {
    const dir = await Fs.mkdtemp(Path.join(Os.tmpdir(), "tessera-template-"))
    tempDirs.push(dir)
    await Effect.runPromise(Effect.scoped(Layer.build(Database.layerPglite(dir))))
    return Path.join(dir, "pglite")
  })()

const freshDataDir = async (): Promise<string> => {
  const dir = await Fs.mkdtemp(Path.join(Os.tmpdir(), "tessera-process-"))
  tempDirs.push(dir)
  await Fs.cp(await pgliteTemplate(), Path.join(dir, "pglite"), { recursive: true })
  return dir
}

interface Exit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

interface Proc {
  readonly child: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exited: Promise<Exit>
  /** Resolves when stdout has a line satisfying `test`; rejects if the process exits first or time runs out. */
  readonly waitForLine: (test: (line: string) => boolean, timeoutMs?: number) => Promise<string>
}

/** Every process a test started; each test's `finally` (and this file's `afterAll`) kills what is still alive. */
const live = new Set<ChildProcess>()
afterAll(() => {
  for (const child of live) child.kill("SIGKILL")
})

const run = (env: Record<string, string>): Proc => {
  const child = spawnNode(mainTs, { env: { ...inheritedEnv(), ...env } })
  live.add(child)
  let out = ""
  let err = ""
  const listeners = new Set<() => void>()
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    out += chunk
    for (const listener of listeners) listener()
  })
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    err += chunk
  })
  const exited = new Promise<Exit>((resolve) => {
    child.on("close", (code, signal) => {
      live.delete(child)
      for (const listener of listeners) listener()
      resolve({ code, signal })
    })
  })
  const lines = () => out.split("\n").map((line) => line.replace(/\r$/, ""))
  const waitForLine = (test: (line: string) => boolean, timeoutMs = startTimeoutMs) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        listeners.delete(check)
        reject(new Error(`no matching stdout line within ${timeoutMs} ms\nstdout:\n${out}\nstderr:\n${err}`))
      }, timeoutMs)
      const check = () => {
        const found = lines().find(test)
        if (found !== undefined) {
          clearTimeout(timer)
          listeners.delete(check)
          resolve(found)
        } else if (child.exitCode !== null || child.signalCode !== null) {
          clearTimeout(timer)
          listeners.delete(check)
          reject(new Error(`exited (${child.exitCode ?? child.signalCode}) before the line\nstdout:\n${out}\nstderr:\n${err}`))
        }
      }
      listeners.add(check)
      check()
    })
  return { child, stdout: () => out, stderr: () => err, exited, waitForLine }
}

const kill = (proc: Proc) => {
  if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill("SIGKILL")
}

/** Resolves with the exit, or rejects when it takes longer than `ms`. */
const exitWithin = (proc: Proc, ms: number): Promise<Exit> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`did not exit within ${ms} ms\nstderr:\n${proc.stderr()}`)), ms)
    proc.exited.then((exit) => {
      clearTimeout(timer)
      resolve(exit)
    }, reject)
  })

interface Server extends Proc {
  readonly port: number
  readonly dataDir: string
  readonly base: string
}

/** Starts Tessera and waits for CONTRACT §1's ready line. */
const startServer = async (options: { readonly dataDir?: string; readonly env?: Record<string, string> } = {}): Promise<Server> => {
  const port = await freePort()
  const dataDir = options.dataDir ?? await freshDataDir()
  const proc = run({ TESSERA_PORT: String(port), TESSERA_DATA_DIR: dataDir, ...options.env })
  try {
    await proc.waitForLine((line) => line === `tessera listening on http://127.0.0.1:${port}`)
  } catch (error) {
    kill(proc)
    throw error
  }
  return { ...proc, port, dataDir, base: `http://127.0.0.1:${port}` }
}

/** Stops a server (SIGTERM, then SIGKILL if it lingers) and waits for it to be gone. */
const stop = async (proc: Proc): Promise<Exit> => {
  if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill("SIGTERM")
  const timer = setTimeout(() => kill(proc), 15_000)
  try {
    return await proc.exited
  } finally {
    clearTimeout(timer)
  }
}

const createRealm = (base: string, token: string, name: string) =>
  fetch(`${base}/admin/realms`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ name })
  })

const readSecret = async (dataDir: string, name: string) => {
  const path = Path.join(dataDir, name)
  const stat = await Fs.stat(path)
  return { mode: stat.mode & 0o777, value: (await Fs.readFile(path, "utf8")).trim() }
}

/** A refused start: exit code ≠ 0 and exactly one non-empty stderr line that names `variable`. */
const expectRefused = async (env: Record<string, string>, variable: RegExp) => {
  const proc = run({ TESSERA_DATA_DIR: await freshDataDir(), ...env })
  try {
    const exit = await exitWithin(proc, startTimeoutMs)
    expect(exit.code).not.toBe(0)
    expect(exit.code).not.toBeNull()
    const lines = proc.stderr().split("\n").filter((line) => line.trim() !== "")
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(variable)
    expect(proc.stdout()).not.toContain("tessera listening on")
    return lines[0]!
  } finally {
    kill(proc)
  }
}

describe.concurrent("CONTRACT §1: running Tessera as a process", () => {
  it("logs the ready line `tessera listening on <url>`, then serves (unknown realm is 404)", { timeout: testTimeoutMs }, async () => {
    const server = await startServer()
    try {
      expect(server.stdout().split("\n")).toContain(`tessera listening on http://127.0.0.1:${server.port}`)
      const res = await fetch(`${server.base}/realms/nope/.well-known/openid-configuration`)
      expect(res.status).toBe(404)
      expect(await res.json()).toEqual({ error: "invalid_request", error_description: "unknown realm" })
    } finally {
      await stop(server)
    }
  })

  it("generates the admin token and KEK once (mode 0600, never logged) and keeps them across restarts", { timeout: testTimeoutMs }, async () => {
    const first = await startServer()
    let firstSecrets: { token: string; kek: string }
    try {
      const token = await readSecret(first.dataDir, "admin-token")
      const kek = await readSecret(first.dataDir, "kek")
      expect(token.mode).toBe(0o600)
      expect(kek.mode).toBe(0o600)
      expect(token.value.length).toBeGreaterThanOrEqual(32)
      expect(kek.value.length).toBeGreaterThanOrEqual(32)
      const created = await createRealm(first.base, token.value, "acme")
      expect(created.status).toBe(201)
      firstSecrets = { token: token.value, kek: kek.value }
    } finally {
      expect((await stop(first)).code).toBe(0)
    }
    for (const secret of [firstSecrets.token, firstSecrets.kek]) {
      expect(first.stdout()).not.toContain(secret)
      expect(first.stderr()).not.toContain(secret)
    }

    const second = await startServer({ dataDir: first.dataDir })
    try {
      const token = await readSecret(second.dataDir, "admin-token")
      const kek = await readSecret(second.dataDir, "kek")
      expect(token).toEqual({ mode: 0o600, value: firstSecrets.token })
      expect(kek).toEqual({ mode: 0o600, value: firstSecrets.kek })
      expect((await createRealm(second.base, firstSecrets.token, "acme2")).status).toBe(201)
    } finally {
      await stop(second)
    }
    for (const secret of [firstSecrets.token, firstSecrets.kek]) {
      expect(second.stdout()).not.toContain(secret)
      expect(second.stderr()).not.toContain(secret)
    }
  })

  it("uses TESSERA_ADMIN_TOKEN when set and writes no admin-token file", { timeout: testTimeoutMs }, async () => {
    const token = "configured-owner-token-0123456789abcdef"
    const server = await startServer({ env: { TESSERA_ADMIN_TOKEN: token } })
    try {
      expect((await createRealm(server.base, token, "acme")).status).toBe(201)
      await expect(Fs.stat(Path.join(server.dataDir, "admin-token"))).rejects.toMatchObject({ code: "ENOENT" })
    } finally {
      await stop(server)
    }
    expect(server.stdout()).not.toContain(token)
    expect(server.stderr()).not.toContain(token)
  })

  describe.concurrent("a bad configuration value stops the start with one line naming the variable", () => {
    const cases: ReadonlyArray<readonly [string, string, Record<string, string>?]> = [
      ["TESSERA_PORT", "abc"],
      ["TESSERA_PORT", "70000"],
      ["TESSERA_PUBLIC_URL", "ftp://x"],
      ["TESSERA_PUBLIC_URL", "https://x.test/path"],
      ["TESSERA_DEV_INSECURE_CIMD", "yes"],
      ["TESSERA_KEK", "short"],
      ["TESSERA_ADMIN_TOKEN", "short"],
      // must be ≥ 2 × the 10-minute JWKS max-age
      ["TESSERA_KEY_ROTATION", "5 minutes"],
      ["TESSERA_REFRESH_ABSOLUTE_LIFETIME", "soon"],
      // the sliding lifetime cannot exceed the absolute one (default 30 days)
      ["TESSERA_REFRESH_IDLE_LIFETIME", "40 days"],
      // CONTRACT §1: addresses and CIDRs only
      ["TESSERA_TRUSTED_PROXIES", "10.0.0.0/33"],
      ["TESSERA_TRUSTED_PROXIES", "10.0.0.1, proxy.internal"],
      // CONTRACT §1: both or neither, an smtp:// or smtps:// URL, one sender address (ADR 0038)
      ["TESSERA_SMTP_URL", "", { TESSERA_MAIL_FROM: "tessera@example.com" }],
      ["TESSERA_SMTP_URL", "https://u:hunter2-secret@relay.example", { TESSERA_MAIL_FROM: "tessera@example.com" }],
      ["TESSERA_MAIL_FROM", "a@example.com, b@example.com", { TESSERA_SMTP_URL: "smtp://relay.example" }],
      // ADR 0042: an Effect duration of at least a minute
      ["TESSERA_AUDIT_VERIFY_INTERVAL", "30 seconds"],
      ["TESSERA_AUDIT_VERIFY_INTERVAL", "often"],
      // CONTRACT §1, §8: a port, and not the public one
      ["TESSERA_METRICS_PORT", "metrics"]
    ]
    for (const [name, value, others] of cases) {
      it(`${name}=${value}${others === undefined ? "" : ` (with ${Object.keys(others).join(", ")})`}`, { timeout: testTimeoutMs }, async () => {
        const port = await freePort()
        // the line begins with the variable it refuses, and never repeats a credential
        const line = await expectRefused({ TESSERA_PORT: String(port), ...others, [name]: value }, new RegExp(`\\b${name}\\b`))
        if (others !== undefined) expect(line).toMatch(new RegExp(`^tessera: bad configuration: ${name}: `))
        expect(line).not.toContain("secret")
      })
    }

    it("a metrics port already in use", { timeout: testTimeoutMs }, async () => {
      const blocker = Net.createServer()
      await new Promise<void>((resolve, reject) => {
        blocker.on("error", reject)
        blocker.listen(0, "127.0.0.1", () => resolve())
      })
      try {
        const metricsPort = (blocker.address() as Net.AddressInfo).port
        const line = await expectRefused({ TESSERA_PORT: String(await freePort()), TESSERA_METRICS_PORT: String(metricsPort) }, /TESSERA_METRICS_PORT/)
        expect(line).toMatch(/^tessera: cannot listen on TESSERA_METRICS_PORT: .*EADDRINUSE/)
      } finally {
        await new Promise((resolve) => blocker.close(resolve))
      }
    })

    it("a port already in use", { timeout: testTimeoutMs }, async () => {
      const blocker = Net.createServer()
      await new Promise<void>((resolve, reject) => {
        blocker.on("error", reject)
        blocker.listen(0, "127.0.0.1", () => resolve())
      })
      try {
        const port = (blocker.address() as Net.AddressInfo).port
        await expectRefused({ TESSERA_PORT: String(port) }, /./)
      } finally {
        await new Promise((resolve) => blocker.close(resolve))
      }
    })
  })

  it("SIGTERM lets an in-flight request finish, then exits 0", { timeout: testTimeoutMs }, async () => {
    const token = "drain-test-owner-token-0123456789abcdef"
    const server = await startServer({ env: { TESSERA_ADMIN_TOKEN: token } })
    try {
      // Warm up the client and the connection, so the request below reaches the server well within 20 ms.
      expect((await fetch(`${server.base}/realms/nope/.well-known/openid-configuration`)).status).toBe(404)
      // Realm creation generates RSA keys (~100–300 ms): SIGTERM arrives while it is being handled.
      let answered = false
      const inFlight = createRealm(server.base, token, "acme").finally(() => {
        answered = true
      })
      await new Promise((resolve) => setTimeout(resolve, 20))
      expect(answered).toBe(false)
      server.child.kill("SIGTERM")
      const res = await inFlight
      expect(res.status).toBe(201)
      expect(await res.json()).toEqual({ name: "acme", issuer: `http://localhost:${server.port}/realms/acme` })
      expect(await exitWithin(server, 15_000)).toEqual({ code: 0, signal: null })
    } finally {
      kill(server)
    }
  })

  it("SIGTERM on an idle server exits 0 within a few seconds", { timeout: testTimeoutMs }, async () => {
    const server = await startServer()
    try {
      server.child.kill("SIGTERM")
      expect(await exitWithin(server, 8_000)).toEqual({ code: 0, signal: null })
    } finally {
      kill(server)
    }
  })

  it("TESSERA_PUBLIC_URL is the issuer origin", { timeout: testTimeoutMs }, async () => {
    const token = "issuer-test-owner-token-0123456789abcdef"
    const server = await startServer({ env: { TESSERA_ADMIN_TOKEN: token, TESSERA_PUBLIC_URL: "https://id.example.test" } })
    try {
      const created = await createRealm(server.base, token, "acme")
      expect(created.status).toBe(201)
      expect(await created.json()).toEqual({ name: "acme", issuer: "https://id.example.test/realms/acme" })
      const discovery = await fetch(`${server.base}/realms/acme/.well-known/openid-configuration`)
      expect(discovery.status).toBe(200)
      expect(((await discovery.json()) as { issuer: string }).issuer).toBe("https://id.example.test/realms/acme")
    } finally {
      await stop(server)
    }
  })

  it("the embedded store (PGlite in TESSERA_DATA_DIR) keeps realms and their audit chain across a restart", { timeout: testTimeoutMs }, async () => {
    const first = await startServer()
    try {
      const token = (await readSecret(first.dataDir, "admin-token")).value
      expect((await createRealm(first.base, token, "durable")).status).toBe(201)
      expect(await stop(first)).toEqual({ code: 0, signal: null })
      const second = await startServer({ dataDir: first.dataDir })
      try {
        const doc = await fetch(`${second.base}/realms/durable/.well-known/openid-configuration`)
        expect(doc.status).toBe(200)
        const verify = await fetch(`${second.base}/admin/realms/durable/audit/verify`, { headers: { authorization: `Bearer ${token}` } })
        // realm.created and its built-ins; then, as the second start is on another port and so (by default) another
        // public URL, the admin resource under it and tessera-cli following it (ADR 0035)
        expect(await verify.json()).toEqual({ ok: true, events: 5 })
        const trail = await fetch(`${second.base}/admin/realms/durable/audit`, { headers: { authorization: `Bearer ${token}` } })
        expect(((await trail.json()) as { events: Array<{ type: string; reason?: string }> }).events.map((e) => [e.type, e.reason])).toEqual([
          ["client.updated", "changed: resources (built in: the admin resource moved with the public URL)"],
          ["resource.created", "built in"],
          ["client.created", "built in"],
          ["resource.created", "built in"],
          ["realm.created", undefined]
        ])
      } finally {
        await stop(second)
      }
    } finally {
      kill(first)
    }
  })

  it("a second Tessera on the same data directory is refused with one line, and the directory still opens", { timeout: testTimeoutMs }, async () => {
    const first = await startServer()
    try {
      const second = run({ TESSERA_PORT: String(await freePort()), TESSERA_DATA_DIR: first.dataDir })
      const exit = await exitWithin(second, startTimeoutMs)
      expect(exit.code).toBe(1)
      const lines = second.stderr().split("\n").filter((line) => line.trim() !== "")
      expect(lines).toEqual([`tessera: another Tessera (pid ${first.child.pid}) is using ${first.dataDir}; stop it first (one process per data directory)`])
      // the first one is unharmed
      expect((await fetch(`${first.base}/realms/nope/jwks`)).status).toBe(404)
      expect(await stop(first)).toEqual({ code: 0, signal: null })
      const third = await startServer({ dataDir: first.dataDir })
      await stop(third)
    } finally {
      kill(first)
    }
  })

  it("an unreachable DATABASE_URL stops the start with one line and a non-zero exit", { timeout: testTimeoutMs }, async () => {
    const closed = await freePort()
    await expectRefused({ DATABASE_URL: `postgres://postgres@127.0.0.1:${closed}/tessera` }, /^tessera: PostgreSQL (is unreachable|migrations failed)/)
  })
})

// skipped only without DATABASE_URL outside CI (a fresh clone with no Postgres); under CI=true it fails instead
describe.skipIf(skipWithoutPostgres)("CONTRACT §1 with DATABASE_URL: Tessera on PostgreSQL", () => {
  it("two processes on one database serve the same realms", { timeout: testTimeoutMs }, async () => {
    const env = { DATABASE_URL: await fileDatabase(), TESSERA_ADMIN_TOKEN: "process-test-owner-token-0123456789abcdef" }
    const [a, b] = await Promise.all([startServer({ env }), startServer({ env })])
    try {
      const name = `shared-${process.pid}-${Date.now().toString(36)}`
      expect((await createRealm(a.base, env.TESSERA_ADMIN_TOKEN, name)).status).toBe(201)
      const doc = await fetch(`${b.base}/realms/${name}/.well-known/openid-configuration`)
      expect(doc.status).toBe(200)
      expect((await doc.json() as { issuer: string }).issuer).toBe(`http://localhost:${b.port}/realms/${name}`)
      expect((await createRealm(b.base, env.TESSERA_ADMIN_TOKEN, name)).status).toBe(409)
    } finally {
      await Promise.all([stop(a), stop(b)])
    }
  })
})
