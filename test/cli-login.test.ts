/**
 * CONTRACT §8 `tessera login --realm R` / `tessera logout --realm R`, and the session the commands use
 * (`Session.tenantToken`): the BUILT CLI as a child process against a real Tessera on a loopback port whose public URL
 * is that port (the device flow follows the metadata's URLs), a person approving through the pages (CONTRACT §4),
 * RFC 8628 (device flow), RFC 6749 §6 (refresh, rotation), RFC 7009 (revocation), ADR 0044 (the token file).
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as Fs from "node:fs/promises"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Clock, Effect, Either, Exit, Fiber, Layer, Option, Scope, TestClock, TestContext } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as AuthServer from "@tessera/cli/AuthServer"
import * as DeviceFlow from "@tessera/cli/DeviceFlow"
import * as Session from "@tessera/cli/Session"
import { Fetcher } from "@tessera/domain"
import * as AppConfig from "@tessera/server-node/AppConfig"
import * as Live from "@tessera/server-node/Live"
import { freePort, inheritedEnv } from "./support/Children.js"
import * as Cli from "./support/Cli.js"
import { person } from "./support/Person.js"
import { adminToken, config } from "./support/TestLive.js"

const password = "correct horse battery staple"
/** CONTRACT §5 / the server's access token lifetime (15 minutes). */
const accessTokenLifetime = 900

/** A clock that runs with the real one, `shift` milliseconds ahead: moved to let a device code expire. */
const shiftedClock = () => {
  const real = Clock.make()
  let shift = 0
  const clock: Clock.Clock = {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => real.unsafeCurrentTimeMillis() + shift,
    currentTimeMillis: Effect.sync(() => real.unsafeCurrentTimeMillis() + shift),
    unsafeCurrentTimeNanos: () => real.unsafeCurrentTimeNanos() + BigInt(shift) * 1_000_000n,
    currentTimeNanos: Effect.sync(() => real.unsafeCurrentTimeNanos() + BigInt(shift) * 1_000_000n),
    sleep: (duration) => real.sleep(duration)
  }
  return { clock, advance: (ms: number) => (shift += ms) }
}

interface Server {
  readonly base: string
  readonly advance: (ms: number) => void
}

const scopes: Array<Scope.CloseableScope> = []

/**
 * Tessera (memory store) listening on a free loopback port, its public URL that very port: the metadata, the device
 * page and the token endpoint are all on it, as for an operator running it on their machine.
 */
const startServer = async (): Promise<Server> => {
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const server = Http.createServer(Live.serverOptions)
  const { clock, advance } = shiftedClock()
  const app = Live.app(server, Layer.merge(Live.MemoryPorts, Fetcher.layerMemoryTable), Fetcher.layerFromTable.pipe(Layer.provide(Fetcher.layerMemoryTable))).pipe(
    Layer.provide(NodeHttpServer.layer(() => server, { port, host: "127.0.0.1" })),
    Layer.provide(AppConfig.layer({ ...config, port, publicUrl: base })),
    Layer.provide(Layer.setClock(clock))
  )
  const scope = Effect.runSync(Scope.make())
  scopes.push(scope)
  await Effect.runPromise(Layer.buildWithScope(app, scope))
  return { base, advance }
}

let server: Server
let home: string

beforeAll(async () => {
  // the tests run the CLI as it is shipped: compiled now (once per test process), never a stale dist
  await Cli.build()
  home = await Fs.mkdtemp(Path.join(Os.tmpdir(), "tessera-cli-login-"))
  server = await startServer()
}, 120_000)

afterAll(async () => {
  for (const scope of scopes) await Effect.runPromise(Scope.close(scope, Exit.void))
  await Fs.rm(home, { recursive: true, force: true })
})

let counter = 0

/** The owner's admin API call (CONTRACT §3). */
const asOwner = async (s: Server, method: string, path: string, body?: unknown) => {
  const res = await fetch(`${s.base}${path}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {})
  })
  return { status: res.status, json: res.status === 204 ? undefined : await res.json() as any }
}

/** A realm with an admin `ada` and a member `bob`, and a user's own XDG_CONFIG_HOME. */
const tenant = async (s: Server = server) => {
  const name = `cli-${process.pid}-${(counter++).toString(36)}-${Date.now().toString(36)}`
  expect((await asOwner(s, "POST", "/admin/realms", { name })).status).toBe(201)
  expect((await asOwner(s, "POST", `/admin/realms/${name}/users`, { username: "ada", password, roles: ["admin"] })).status).toBe(201)
  expect((await asOwner(s, "POST", `/admin/realms/${name}/users`, { username: "bob", password })).status).toBe(201)
  const xdg = await Fs.mkdtemp(Path.join(home, "xdg-"))
  return { name, issuer: `${s.base}/realms/${name}`, resource: `${s.base}/admin/realms/${name}`, xdg, server: s }
}
type Tenant = Awaited<ReturnType<typeof tenant>>

interface Run {
  readonly child: ChildProcess
  /** Resolves with the match once stdout matches `pattern`. */
  readonly waitFor: (pattern: RegExp) => Promise<RegExpExecArray>
  readonly done: Promise<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }>
}

/** Every stdout and stderr the CLI wrote in this file, to search for tokens. */
const printed: Array<string> = []

/** `tessera <args>` as the tenant's user: its own config directory and HOME, the server in TESSERA_URL. */
const tessera = (t: Tenant, args: ReadonlyArray<string>, env: Record<string, string> = {}): Run => {
  const child = spawn(process.execPath, [Cli.bin, ...args], {
    cwd: t.xdg,
    env: { ...inheritedEnv((name) => name === "XDG_CONFIG_HOME"), HOME: t.xdg, XDG_CONFIG_HOME: t.xdg, TESSERA_URL: t.server.base, ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  const waiters: Array<() => void> = []
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk
    for (const w of waiters) w()
  })
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once("close", (code) => {
      printed.push(stdout, stderr)
      resolve({ code, stdout, stderr })
    }))
  const waitFor = (pattern: RegExp) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(stdout)
        if (match !== null) resolve(match)
      }
      waiters.push(check)
      check()
      void done.then(() => reject(new Error(`tessera ${args.join(" ")} ended before printing ${pattern}\n${stdout}\n${stderr}`)))
    })
  return { child, waitFor, done }
}

/** RFC 8628 §3.3, CONTRACT §4: the person opens the URI, enters the code, signs in, and decides on the consent page. */
const approve = async (t: Tenant, uri: string, userCode: string, username: string, decision?: "allow" | "deny") => {
  const browser = person()
  const entry = await browser.follow(t.server.base, await browser.go(uri))
  expect(entry.res.status).toBe(200)
  const login = await browser.submit(t.server.base, uri, entry.html, { user_code: userCode })
  const page = await browser.submit(t.server.base, login.url || uri, login.html, { username, password })
  if (decision === undefined) return page
  expect(page.html).toContain('name="decision"')
  return browser.submit(t.server.base, page.url, page.html, { decision })
}

const instructions = /To sign in, open (\S+) and enter the code ([A-Z]{4}-[A-Z]{4})\nor open (\S+)\nWaiting for approval\.\.\.\n/

/** `tessera login --realm R` approved by ada: the finished run, the session file and what it holds. */
const loggedIn = async (t: Tenant) => {
  const run = tessera(t, ["login", "--realm", t.name])
  const [, uri, userCode, complete] = await run.waitFor(instructions)
  expect(uri).toBe(`${t.issuer}/device`)
  expect(complete).toBe(`${t.issuer}/device?user_code=${userCode}`)
  const done = await approve(t, complete!, userCode!, "ada", "allow")
  expect(done.res.status).toBe(200)
  const result = await run.done
  const file = Session.fileOf(t.server.base, t.name, { XDG_CONFIG_HOME: t.xdg })
  return { result, userCode: userCode!, file, stored: JSON.parse(await Fs.readFile(file, "utf8")) }
}

const tokenAt = (file: string) => Effect.runPromise(Effect.either(Session.tokenAt(file)))

/** An admin API call as the tenant admin (CONTRACT §3). */
const asTenantAdmin = async (t: Tenant, token: string, path = `/admin/realms/${t.name}`) => {
  const res = await fetch(`${t.server.base}${path}`, { headers: { authorization: `Bearer ${token}` } })
  return { status: res.status, json: await res.json() as any }
}

/** RFC 6749 §6: the refresh grant as tessera-cli. */
const refreshWith = async (t: Tenant, refreshToken: string) => {
  const res = await fetch(`${t.issuer}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshToken, client_id: "tessera-cli", resource: t.resource })
  })
  return { status: res.status, json: await res.json() as any }
}

const modeOf = async (path: string) => (await Fs.stat(path)).mode & 0o777

/** Forces the stored access token to look expired, as time passing would. */
const forceExpiry = async (file: string) => {
  const stored = JSON.parse(await Fs.readFile(file, "utf8"))
  await Fs.writeFile(file, JSON.stringify({ ...stored, expires_at: Math.floor(Date.now() / 1000) - 1 }), { mode: 0o600 })
}

/** The refusal when the refresh token is refused (invalid_grant): the session is dropped, and the user told what to do. */
const endedSession = (t: Tenant) => ({
  error: "invalid_grant",
  description: `the session for realm ${t.name} at ${t.server.base} has ended: the refresh was refused (HTTP 400); run 'tessera login --realm ${t.name}' again`
})

// each test runs the CLI a few times and waits out at least one polling interval (5 s); on a busy 2-core machine a
// CLI start alone can take a few seconds
describe.concurrent("CONTRACT §8 tessera login: RFC 8628 device flow with tessera-cli", { timeout: 90_000 }, () => {
  it("RFC 8628 §3.2-3.3: prints the verification URI (and the complete one) and the user code; an admin approves; the session is stored 0600 in a 0700 directory; exit 0", async () => {
    const t = await tenant()
    const { result, userCode, file, stored } = await loggedIn(t)
    expect(result).toEqual({
      code: 0,
      stdout: [
        `To sign in, open ${t.issuer}/device and enter the code ${userCode}`,
        `or open ${t.issuer}/device?user_code=${userCode}`,
        "Waiting for approval...",
        `Logged in to realm ${t.name} at ${t.server.base} as a tenant admin; the session is in ${file}`,
        ""
      ].join("\n"),
      stderr: ""
    })
    // ADR 0044: under $XDG_CONFIG_HOME/tessera/sessions, keyed by server and realm
    expect(Path.dirname(file)).toBe(Path.join(t.xdg, "tessera", "sessions"))
    expect(Path.basename(file)).toMatch(new RegExp(`^${t.name}\\.[0-9a-f]{16}\\.json$`))
    expect(await modeOf(file)).toBe(0o600)
    expect(await modeOf(Path.dirname(file))).toBe(0o700)
    expect(await modeOf(Path.join(t.xdg, "tessera"))).toBe(0o700)
    // nothing else was left there (no temporary file, no lock)
    expect(await Fs.readdir(Path.dirname(file))).toEqual([Path.basename(file)])
    const now = Math.floor(Date.now() / 1000)
    expect(stored).toEqual({
      server: t.server.base,
      realm: t.name,
      issuer: t.issuer,
      resource: t.resource,
      token_endpoint: `${t.issuer}/token`,
      revocation_endpoint: `${t.issuer}/revoke`,
      access_token: expect.stringMatching(/^ey[\w-]+\.[\w-]+\.[\w-]+$/),
      refresh_token: expect.stringMatching(/^[\w-]{20,}$/),
      expires_at: expect.any(Number)
    })
    expect(stored.expires_at).toBeGreaterThan(now + accessTokenLifetime - 30)
    expect(stored.expires_at).toBeLessThanOrEqual(now + accessTokenLifetime)
    // CONTRACT §3: it is a tenant admin's token for this realm's admin API
    expect(await asTenantAdmin(t, stored.access_token)).toEqual({
      status: 200,
      json: { name: t.name, issuer: t.issuer, dynamic_registration: false }
    })
    expect(await Effect.runPromise(Session.tokenAt(file))).toEqual(Option.some(stored.access_token))
    // CONTRACT §8: never printed
    for (const out of printed) {
      expect(out).not.toContain(stored.access_token)
      expect(out).not.toContain(stored.refresh_token)
    }
  })

  it("RFC 8628 §3.5 access_denied: the person denies; exit 1 with the error on stderr; nothing stored", async () => {
    const t = await tenant()
    const run = tessera(t, ["login", "--realm", t.name])
    const [, , userCode, complete] = await run.waitFor(instructions)
    const denied = await approve(t, complete!, userCode!, "ada", "deny")
    expect(denied.res.status).toBe(200)
    const result = await run.done
    expect(result).toEqual({
      code: 1,
      stdout: expect.stringMatching(/^To sign in, .*\nor open .*\nWaiting for approval\.\.\.\n$/),
      stderr: "tessera: access_denied: the person denied the request\n"
    })
    await expect(Fs.readdir(Path.join(t.xdg, "tessera", "sessions"))).rejects.toThrow("ENOENT")
  })

  it("ADR 0035: a member's approval is refused at the page (403 access_denied); the device waits, the code expires: exit 1 expired_token", async () => {
    // its own server: its clock is moved past the code's lifetime (10 minutes)
    const s = await startServer()
    const t = await tenant(s)
    const run = tessera(t, ["login", "--realm", t.name])
    const [, , userCode, complete] = await run.waitFor(instructions)
    const refused = await approve(t, complete!, userCode!, "bob")
    expect(refused.res.status).toBe(403)
    expect(refused.html).toContain("<code>access_denied</code>")
    expect(refused.html).toContain("only an admin of the realm may grant access to its admin API")
    s.advance(11 * 60 * 1000)
    const result = await run.done
    expect(result).toEqual({
      code: 1,
      stdout: expect.stringMatching(/^To sign in, .*\nor open .*\nWaiting for approval\.\.\.\n$/),
      stderr: "tessera: expired_token: the device code has expired: start again\n"
    })
    await expect(Fs.readdir(Path.join(t.xdg, "tessera"))).rejects.toThrow("ENOENT")
  })

  it("CONTRACT §2: an unknown realm is the server's 404 error, exit 1; a malformed realm name is bad usage and never a path", async () => {
    const t = await tenant()
    expect(await tessera(t, ["login", "--realm", "no-such-realm"]).done).toEqual({ code: 1, stdout: "", stderr: "tessera: invalid_request: unknown realm\n" })
    const bad = await tessera(t, ["login", "--realm", "../../etc"]).done
    expect(bad.code).toBe(2)
    expect(`${bad.stdout}${bad.stderr}`).toContain("a realm name is [a-z0-9][a-z0-9-]{0,62}")
    await expect(Fs.readdir(t.xdg)).resolves.toEqual([])
  })

  it("CONTRACT §8 hostile input: a TESSERA_URL that is no URL or where nothing listens; a hostile server (another realm's issuer, endpoints elsewhere, a redirect, terminal escapes, a huge answer); a session file that is not one: exit 1 or a refusal, never a crash, an escape or a token", async () => {
    const t = await tenant()
    const closed = await freePort()
    // a hostile server: every realm name a different lie
    const liar = Http.createServer((req, res) => {
      const base = `http://127.0.0.1:${(liar.address() as { port: number }).port}`
      const realm = /^\/realms\/([a-z-]+)\//.exec(req.url ?? "")?.[1] ?? ""
      const issuer = `${base}/realms/${realm}`
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json" })
        res.end(JSON.stringify(body))
      }
      if (req.url?.endsWith("/.well-known/openid-configuration")) {
        if (realm === "redirects") {
          res.writeHead(302, { location: `${t.issuer}/.well-known/openid-configuration` })
          return res.end()
        }
        const endpoints = { token_endpoint: `${issuer}/token`, device_authorization_endpoint: `${issuer}/device_authorization` }
        // RFC 8414 §3.3: an issuer that is not realm R's
        if (realm === "other-issuer") return json(200, { issuer: `${base}/realms/other`, ...endpoints })
        // endpoints on another origin: the refresh token would go there
        if (realm === "other-origin") return json(200, { issuer, ...endpoints, token_endpoint: "https://collector.example/token" })
        return json(200, { issuer, ...endpoints })
      }
      // terminal escape sequences in the error, and an answer too large for memory
      if (realm === "escapes") return json(400, { error: "invalid_request\u001b[2J", error_description: "\u001b]0;pwned\u0007 see \u009b31mred" })
      res.writeHead(200, { "content-type": "application/json" })
      res.end(`{"device_code":"${"x".repeat(2 * 1024 * 1024)}"}`)
    })
    await new Promise<void>((resolve) => liar.listen(0, "127.0.0.1", resolve))
    const liarUrl = `http://127.0.0.1:${(liar.address() as { port: number }).port}`
    const realms = ["other-issuer", "other-origin", "redirects", "escapes", "huge"] as const
    const [noUrl, nobody, ...lies] = await Promise.all([
      tessera(t, ["login", "--realm", t.name], { TESSERA_URL: "not a url" }).done,
      tessera(t, ["login", "--realm", t.name], { TESSERA_URL: `http://127.0.0.1:${closed}` }).done,
      ...realms.map((realm) => tessera(t, ["login", "--realm", realm], { TESSERA_URL: liarUrl }).done)
    ]).finally(() => liar.close())
    expect(noUrl).toEqual({
      code: 1, stdout: "", stderr: `tessera: unreachable: "not a url/realms/${t.name}/.well-known/openid-configuration" did not answer: Invalid URL\n`
    })
    expect(nobody).toEqual({
      code: 1, stdout: "", stderr: `tessera: unreachable: http://127.0.0.1:${closed} did not answer: connect ECONNREFUSED 127.0.0.1:${closed}\n`
    })
    expect(lies).toEqual([
      { code: 1, stdout: "", stderr: `tessera: server_error: the metadata names the issuer "${liarUrl}/realms/other", not realm other-issuer's\n` },
      { code: 1, stdout: "", stderr: `tessera: server_error: the metadata names endpoints outside the issuer's origin ${liarUrl}\n` },
      { code: 1, stdout: "", stderr: "tessera: server_error: the metadata of realm redirects: unexpected answer (HTTP 302)\n" },
      { code: 1, stdout: "", stderr: "tessera: invalid_request\\u001b[2J: \\u001b]0;pwned\\u0007 see \\u009b31mred\n" },
      { code: 1, stdout: "", stderr: `tessera: server_error: ${liarUrl} answered more than 1048576 bytes\n` }
    ])
    // a session file that is not one (here: a bare token) is refused without quoting it, and left for logout
    const file = Session.fileOf(t.server.base, t.name, { XDG_CONFIG_HOME: t.xdg })
    await Fs.mkdir(Path.dirname(file), { recursive: true, mode: 0o700 })
    await Fs.writeFile(file, JSON.stringify("eyJhbGciOiJFUzI1NiJ9.c2VjcmV0LXBheWxvYWQ.c2lnbmF0dXJl"), { mode: 0o600 })
    const refused = await tokenAt(file)
    expect(refused._tag === "Left" && { error: refused.left.error, description: refused.left.description }).toEqual({
      error: "invalid_session",
      description: `the stored session cannot be used (${file}: not a session file tessera wrote); run 'tessera logout' and 'tessera login' again`
    })
    expect(await tessera(t, ["logout", "--realm", t.name]).done).toEqual({ code: 0, stdout: `Logged out of realm ${t.name} at ${t.server.base}\n`, stderr: "" })
    await expect(Fs.stat(file)).rejects.toThrow("ENOENT")
    // a revocation endpoint that does not answer: the session is deleted here all the same, and the command says so
    await Fs.writeFile(file, JSON.stringify({
      server: t.server.base, realm: t.name, issuer: t.issuer, resource: t.resource, token_endpoint: `${t.issuer}/token`,
      revocation_endpoint: `http://127.0.0.1:${closed}/revoke`, access_token: "at", refresh_token: "rt", expires_at: 0
    }), { mode: 0o600 })
    expect(await tessera(t, ["logout", "--realm", t.name]).done).toEqual({
      code: 1,
      stdout: `Logged out of realm ${t.name} at ${t.server.base}\n`,
      stderr: `tessera: unreachable: the session was deleted here, but the server did not revoke it: http://127.0.0.1:${closed} did not answer: connect ECONNREFUSED 127.0.0.1:${closed}\n`
    })
    await expect(Fs.stat(file)).rejects.toThrow("ENOENT")
  })

  it("RFC 6749 §6, ADR 0044: an expiring token is refreshed by the next command, once even for two at once (the lock); the file gets the new tokens; the old refresh token no longer works; a refused refresh drops the session: exit 1, log in again", async () => {
    const t = await tenant()
    const { file, stored } = await loggedIn(t)
    // CONTRACT §8: a command of the realm acts as its tenant admin, through a refresh first
    await forceExpiry(file)
    const listed = await tessera(t, ["users", "list", "--realm", t.name, "--json"]).done
    const renewed = JSON.parse(await Fs.readFile(file, "utf8"))
    expect(listed).toEqual({ code: 0, stdout: `${JSON.stringify((await asTenantAdmin(t, renewed.access_token, `/admin/realms/${t.name}/users`)).json)}\n`, stderr: "" })
    expect(JSON.parse(listed.stdout).users.map((u: { username: string }) => u.username).sort()).toEqual(["ada", "bob"])
    expect(renewed).toEqual({
      ...stored,
      access_token: expect.stringMatching(/^ey/),
      refresh_token: expect.stringMatching(/^[\w-]{20,}$/),
      expires_at: expect.any(Number)
    })
    expect(renewed.access_token).not.toBe(stored.access_token)
    expect(renewed.refresh_token).not.toBe(stored.refresh_token)
    expect(renewed.expires_at).toBeGreaterThan(Math.floor(Date.now() / 1000) + accessTokenLifetime - 30)
    expect(await modeOf(file)).toBe(0o600)
    // two at once: one refreshes, the other waits for the lock and finds the new token (had both presented the
    // same refresh token, the second would be reuse and revoke the family, CONTRACT §5)
    await forceExpiry(file)
    const [a, b] = await Promise.all([Effect.runPromise(Session.tokenAt(file)), Effect.runPromise(Session.tokenAt(file))])
    const again = JSON.parse(await Fs.readFile(file, "utf8"))
    expect(a).toEqual(Option.some(again.access_token))
    expect(b).toEqual(Option.some(again.access_token))
    expect(again.refresh_token).not.toBe(renewed.refresh_token)
    expect(await Fs.readdir(Path.dirname(file))).toEqual([Path.basename(file)])
    expect((await asTenantAdmin(t, again.access_token, `/admin/realms/${t.name}/users`)).status).toBe(200)
    // CONTRACT §5: rotation; presenting an old one is reuse, which revokes the family
    expect(await refreshWith(t, stored.refresh_token)).toEqual({ status: 400, json: { error: "invalid_grant" } })
    // the family is gone: the next refresh is invalid_grant, the session is dropped and the user told to log in again
    await forceExpiry(file)
    expect(await tessera(t, ["users", "list", "--realm", t.name]).done).toEqual({
      code: 1, stdout: "", stderr: `tessera: ${endedSession(t).error}: ${endedSession(t).description}\n`
    })
    await expect(Fs.stat(file)).rejects.toThrow("ENOENT")
    expect(await tokenAt(file)).toEqual(Either.right(Option.none()))
    // the same refusal, as Session.tenantToken's caller sees it
    await Fs.writeFile(file, JSON.stringify({ ...again, expires_at: 0 }), { mode: 0o600 })
    const ended = await tokenAt(file)
    expect(ended._tag === "Left" && { error: ended.left.error, description: ended.left.description }).toEqual(endedSession(t))
  })

  it("RFC 7009: logging in again revokes the session it replaces; tessera logout revokes the refresh token (its grant and access tokens with it) and deletes the session; again: nothing to do", async () => {
    const t = await tenant()
    const first = await loggedIn(t)
    const { file, stored } = await loggedIn(t)
    expect(stored.refresh_token).not.toBe(first.stored.refresh_token)
    expect(await refreshWith(t, first.stored.refresh_token)).toEqual({ status: 400, json: { error: "invalid_grant" } })
    expect((await asTenantAdmin(t, first.stored.access_token)).status).toBe(401)
    expect((await asTenantAdmin(t, stored.access_token)).status).toBe(200)
    expect(await tessera(t, ["logout", "--realm", t.name]).done).toEqual({
      code: 0, stdout: `Logged out of realm ${t.name} at ${t.server.base}\n`, stderr: ""
    })
    await expect(Fs.stat(file)).rejects.toThrow("ENOENT")
    expect(await refreshWith(t, stored.refresh_token)).toEqual({ status: 400, json: { error: "invalid_grant" } })
    expect((await asTenantAdmin(t, stored.access_token)).status).toBe(401)
    expect(await tessera(t, ["logout", "--realm", t.name]).done).toEqual({
      code: 0, stdout: `Not logged in to realm ${t.name} at ${t.server.base}\n`, stderr: ""
    })
    expect(await Effect.runPromise(Session.tokenAt(file))).toEqual(Option.none())
  })
})

it("CONTRACT §8: no token the CLI handled ever appears in what it printed", () => {
  expect(printed.length).toBeGreaterThan(0)
  for (const out of printed) expect(out).not.toMatch(/ey[\w-]{10,}\.[\w-]{10,}\./)
})

describe("RFC 8628 §3.4-3.5: the CLI's polling, on a test clock", () => {
  const metadata = { issuer: "https://tessera.test/realms/r", token_endpoint: "https://tessera.test/realms/r/token", device_authorization_endpoint: "x" }
  const started = { device_code: "dc", user_code: "BCDF-GHJK", verification_uri: "v", expires_in: 600, interval: 5 }
  const pending = { status: 400, body: { error: "authorization_pending", error_description: "not yet" } }
  const slowDown = { status: 400, body: { error: "slow_down", error_description: "polling too fast" } }
  const tokens = { status: 200, body: { access_token: "at", token_type: "Bearer", expires_in: 900, refresh_token: "rt" } }

  /** Polls against `answers` in turn; returns when each poll was sent (ms on the test clock) and how it ended. */
  const pollAgainst = (answers: Array<DeviceFlow.Answer>, start: DeviceFlow.Started = started) => {
    const sent: Array<{ readonly at: number; readonly params: Readonly<Record<string, string>> }> = []
    const send: DeviceFlow.Send = (_url, params) =>
      Effect.map(Clock.currentTimeMillis, (at) => {
        sent.push({ at, params })
        return answers.shift()!
      })
    return Effect.runPromise(Effect.gen(function*() {
      const fiber = yield* Effect.fork(Effect.either(DeviceFlow.poll(metadata, start, send)))
      yield* TestClock.adjust("20 minutes")
      return { sent, outcome: yield* Fiber.join(fiber) }
    }).pipe(Effect.provide(TestContext.TestContext)))
  }

  it("§3.5: waits the interval before each poll; slow_down adds 5 seconds for this and every later poll", async () => {
    const { sent, outcome } = await pollAgainst([pending, slowDown, pending, slowDown, tokens])
    expect(sent.map((s) => s.at)).toEqual([5_000, 10_000, 20_000, 30_000, 45_000])
    expect(sent[0]!.params).toEqual({ grant_type: "urn:ietf:params:oauth:grant-type:device_code", device_code: "dc" })
    expect(outcome).toEqual(Either.right(tokens.body))
  })

  it("§3.5: access_denied and expired_token end it with the server's error; §3.2: no interval means 5 s", async () => {
    const { interval: _, ...noInterval } = started
    const denied = await pollAgainst([pending, { status: 400, body: { error: "access_denied", error_description: "the person denied the request" } }], noInterval)
    expect(denied.sent.map((s) => s.at)).toEqual([5_000, 10_000])
    expect(Either.getLeft(denied.outcome).pipe(Option.map((e) => e.message))).toEqual(Option.some("access_denied: the person denied the request"))
    const expired = await pollAgainst([{ status: 400, body: { error: "expired_token", error_description: "the device code has expired: start again" } }])
    expect(Either.getLeft(expired.outcome).pipe(Option.map((e) => e.message))).toEqual(Option.some("expired_token: the device code has expired: start again"))
  })

  it("a server that accepts the connection and never answers: given up after 30 s (unreachable), not a CLI that hangs", async () => {
    const silent = Http.createServer(() => undefined)
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve))
    const url = `http://127.0.0.1:${(silent.address() as { port: number }).port}`
    try {
      const outcome = await Effect.runPromise(Effect.gen(function*() {
        const fiber = yield* Effect.fork(Effect.either(AuthServer.discover(url, "acme")))
        yield* TestClock.adjust("29 seconds")
        expect(fiber.unsafePoll()).toBeNull()
        yield* TestClock.adjust("1 second")
        return yield* Fiber.join(fiber)
      }).pipe(Effect.provide(TestContext.TestContext)))
      expect(Either.getLeft(outcome).pipe(Option.map((e) => e.message))).toEqual(Option.some(`unreachable: ${url} did not answer within 30s`))
    } finally {
      silent.closeAllConnections()
      silent.close()
    }
  })

  it("§3.2 expires_in: the CLI stops polling on its own once the code has expired; a 5xx or a body that is no token response is a refusal", async () => {
    const { sent, outcome } = await pollAgainst([pending, pending, pending], { ...started, expires_in: 12 })
    expect(sent.map((s) => s.at)).toEqual([5_000, 10_000])
    expect(Either.getLeft(outcome).pipe(Option.map((e) => e.message))).toEqual(Option.some("expired_token: the code expired before anyone approved it"))
    const broken = await pollAgainst([{ status: 502, body: undefined }])
    expect(Either.getLeft(broken.outcome).pipe(Option.map((e) => e.message))).toEqual(Option.some("server_error: the token request: unexpected answer (HTTP 502)"))
    const odd = await pollAgainst([{ status: 200, body: { access_token: 42 } }])
    expect(Either.getLeft(odd.outcome).pipe(Option.map((e) => e.message))).toEqual(
      Option.some("server_error: the token request: the answer is not what RFC 6749 / RFC 8628 describe")
    )
  })
})
