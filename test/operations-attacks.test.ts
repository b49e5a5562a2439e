/**
 * Adversarial review of issue 15 (operating Tessera): attacks on the metrics listener and its label series (CONTRACT
 * §1, §8, ADR 0040), the health checks (CONTRACT §2), the logs (CONTRACT §8, ADR 0041), the audit checkpoints
 * (CONTRACT §3 `audit/verify`, ADR 0042) and the `tessera` CLI against a hostile server (CONTRACT §8). Each test is
 * one attack with the whole answer the contract demands.
 */
import { expect } from "@effect/vitest"
import * as Fs from "node:fs/promises"
import * as Http from "node:http"
import * as Net from "node:net"
import * as Path from "node:path"
import { Chunk, Effect, HashMap, Layer, Logger, LogLevel, Option, Ref } from "effect"
import { AuditCheckpoints, MemoryDb, Provisioning, StoreHealth } from "@tessera/domain"
import * as Logs from "@tessera/server-node/Logs"
import { MetricsListener } from "@tessera/server-node/MetricsListener"
import * as Readiness from "@tessera/server-node/Readiness"
import * as IpAddress from "@tessera/server-node/IpAddress"
import { admin, createRealm, request } from "./support/Http.js"
import * as TokenFile from "@tessera/cli/TokenFile"
import * as Cli from "./support/Cli.js"
import { onFileEnd } from "./support/FileEnd.js"
import * as TestLive from "./support/TestLive.js"
import { authOf, post, registerClient, world } from "./support/TokenFixtures.js"

const it = TestLive.file()

/** A string no request of this file sends by chance: what an attacker writes, searched for afterwards. */
const marker = `atk${process.pid}x${Date.now().toString(36)}`

const metricsPort = Effect.map(MetricsListener, (listener) => Option.getOrThrow(listener.port))

const scrapeAt = (port: number) =>
  Effect.promise(async () => {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`)
    return { status: res.status, text: await res.text() }
  })

/** The series (name and labels, no value) of an exposition. */
const seriesOf = (text: string) =>
  text.split("\n").filter((line) => line.startsWith("tessera_")).map((line) => line.slice(0, line.lastIndexOf(" "))).sort()

/** Writes raw bytes to `port` and reads what comes back until the peer closes (or 2 s pass). */
const raw = (port: number, bytes: string | Buffer) =>
  Effect.promise(() =>
    new Promise<string>((resolve) => {
      const socket = Net.connect(port, "127.0.0.1")
      let answer = ""
      socket.setEncoding("latin1")
      socket.on("data", (chunk: string) => (answer += chunk))
      socket.on("error", () => resolve(answer))
      socket.on("close", () => resolve(answer))
      socket.setTimeout(2000, () => socket.destroy())
      socket.write(bytes)
    })
  )

const statusLine = (answer: string) => answer.slice(0, answer.indexOf("\r\n"))

it.live("CONTRACT §8, ADR 0040: random realms, paths, grant types, error-inducing bodies and methods mint no new label series; no secret, token or attacker text reaches /metrics", () =>
  Effect.gen(function*() {
    const w = yield* world
    const machine = yield* registerClient(w, { grant_types: ["client_credentials"], redirect_uris: [], response_types: [] })
    const port = yield* metricsPort
    const issued = yield* post(w, "token", authOf(machine), [["grant_type", "client_credentials"], ["resource", w.resource]])
    expect(issued.status).toBe(200)
    const round = (i: number) =>
      Effect.all([
        request("POST", `/realms/${marker}-${i}/token`, { body: "grant_type=client_credentials", contentType: "application/x-www-form-urlencoded" }),
        request("GET", `/realms/${w.name}/${marker}-${i}`),
        request("GET", `/${marker}/${i}?code=${marker}`),
        request("DELETE", `/admin/realms/${marker}-${i}/users/${marker}`, { headers: { authorization: `Bearer ${TestLive.adminToken}` } }),
        post(w, "token", authOf(machine), [["grant_type", `urn:${marker}:${i}`]]),
        post(w, "token", { basic: [`${marker}-${i}`, `${marker}-secret`] }, [["grant_type", "client_credentials"]]),
        post(w, "token", authOf(machine), [["grant_type", "client_credentials"], ["resource", `https://${marker}.example/${i}`]]),
        post(w, "token", authOf(machine), [["grant_type", "client_credentials"], ["error", marker], ["scope", `${marker}\u0000`]])
      ], { concurrency: 4 })
    // the first round makes whatever series these answers have (each route and status once)
    yield* round(0)
    const first = yield* scrapeAt(port)
    expect(first.status).toBe(200)
    for (let i = 1; i <= 6; i++) yield* round(i)
    const after = yield* scrapeAt(port)
    expect(after.status).toBe(200)
    expect(seriesOf(after.text)).toEqual(seriesOf(first.text))
    for (const secret of [marker, machine.client_secret!, issued.json.access_token, TestLive.adminToken]) {
      expect(after.text.includes(secret), secret.slice(0, 12)).toBe(false)
    }
  }).pipe(Effect.provide(TestLive.makeMemory({ metricsPort: Option.some(0) }))))

it.live("CONTRACT §1: /metrics is not served on the public port, under any method or spelling", () =>
  Effect.gen(function*() {
    for (const path of ["/metrics", "/metrics/", "/METRICS", "//metrics", "/metrics?format=prometheus", "/realms/metrics"]) {
      const res = yield* request("GET", path)
      expect([path, res.status, res.json]).toEqual([path, 404, { error: "not_found", error_description: expect.any(String) }])
      expect(res.text).not.toContain("tessera_")
    }
  }).pipe(Effect.provide(TestLive.makeMemory({ metricsPort: Option.some(0) }))))

it.live("CONTRACT §1 metrics listener: huge headers, NUL in the target, bad methods, a large body, a half request: each a 4xx or a drop, and the next scrape still answers", () =>
  Effect.gen(function*() {
    const port = yield* metricsPort
    const huge = yield* raw(port, `GET /metrics HTTP/1.1\r\nhost: x\r\nx-big: ${"a".repeat(200_000)}\r\n\r\n`)
    expect(statusLine(huge)).toBe("HTTP/1.1 431 Request Header Fields Too Large")
    const nul = yield* raw(port, "GET /metrics\u0000 HTTP/1.1\r\nhost: x\r\n\r\n")
    expect(statusLine(nul)).toBe("HTTP/1.1 400 Bad Request")
    const method = yield* raw(port, "BREW /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
    expect(statusLine(method)).toMatch(/^HTTP\/1\.1 (400|404) /)
    const posted = yield* raw(port, `POST /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: 5000000\r\n\r\n${"b".repeat(100_000)}`)
    expect(statusLine(posted)).toBe("HTTP/1.1 404 Not Found")
    expect(posted).not.toContain("tessera_")
    const traversal = yield* raw(port, "GET /x/../metrics/../../etc/passwd HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
    expect(statusLine(traversal)).toBe("HTTP/1.1 404 Not Found")
    // a client that sends half a request and goes away
    yield* Effect.promise(() =>
      new Promise<void>((resolve) => {
        const socket = Net.connect(port, "127.0.0.1", () => {
          socket.write("GET /metr")
          socket.destroy()
          resolve()
        })
      })
    )
    const scrape = yield* scrapeAt(port)
    expect(scrape.status).toBe(200)
    expect(scrape.text).toContain("# TYPE tessera_tokens_issued_total counter")
  }).pipe(Effect.provide(TestLive.makeMemory({ metricsPort: Option.some(0) }))))

/** A StoreHealth whose every check is counted, answering as `answer` says. */
const countingStore = (answer: () => Effect.Effect<StoreHealth.Schema>) =>
  Effect.map(Ref.make(0), (calls) => ({
    calls,
    layer: Layer.succeed(StoreHealth.StoreHealth, StoreHealth.StoreHealth.of({ check: Effect.zipRight(Ref.update(calls, (n) => n + 1), Effect.suspend(answer)) }))
  }))

it.live("CONTRACT §2 /readyz cannot be made expensive: 500 concurrent polls ask the store once; a hung store answers 'unavailable' within its timeout, to every poll at once", () =>
  Effect.gen(function*() {
    const healthy = yield* countingStore(() => Effect.succeed("current"))
    const reports = yield* Effect.flatMap(Readiness.Readiness, (r) =>
      Effect.zipRight(r.keysLoaded, Effect.all(Array.from({ length: 500 }, () => r.report), { concurrency: "unbounded" }))).pipe(
        Effect.provide(Readiness.layer.pipe(Layer.provide(healthy.layer)))
      )
    expect(yield* Ref.get(healthy.calls)).toBe(1)
    expect(new Set(reports.map((r) => JSON.stringify(r)))).toEqual(new Set([JSON.stringify({ ready: true, checks: { store: "ok", migrations: "ok", keys: "ok" } })]))

    const hung = yield* countingStore(() => Effect.never)
    const started = Date.now()
    const stuck = yield* Effect.flatMap(Readiness.Readiness, (r) =>
      Effect.zipRight(r.keysLoaded, Effect.all(Array.from({ length: 200 }, () => r.report), { concurrency: "unbounded" }))).pipe(
        Effect.provide(Readiness.layer.pipe(Layer.provide(hung.layer)))
      )
    const took = Date.now() - started
    expect(yield* Ref.get(hung.calls)).toBe(1)
    expect(took).toBeLessThan(3000)
    expect(new Set(stuck.map((r) => JSON.stringify(r)))).toEqual(
      new Set([JSON.stringify({ ready: false, checks: { store: "unavailable", migrations: "unknown", keys: "ok" } })])
    )
  }))

it.live("CONTRACT §2: /readyz and /healthz say nothing more than the contract; other methods are 404; a query or headers change nothing", () =>
  Effect.gen(function*() {
    const ready = yield* request("GET", `/readyz?verbose=1&checks=all`, { headers: { "x-forwarded-for": "10.0.0.1", authorization: `Bearer ${TestLive.adminToken}` } })
    expect([ready.status, ready.text]).toEqual([200, `{"status":"ready"}`])
    const healthy = yield* request("GET", "/healthz?x=1")
    expect([healthy.status, healthy.text]).toEqual([200, `{"status":"ok"}`])
    for (const method of ["POST", "DELETE", "PUT"] as const) {
      const res = yield* request(method, "/readyz", { body: "{}" })
      expect([method, res.status, res.json?.error]).toEqual([method, 404, "not_found"])
    }
  }).pipe(Effect.provide(TestLive.makeMemory())))

it("ADR 0041 log injection: X-Request-ID with a newline, a quote, or too long, or from an untrusted peer, is replaced; a realm with path tricks is not annotated", () => {
  const trusted = [IpAddress.parseCidr("10.0.0.0/8")!]
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
  for (const header of ["abc\ninjected", "abc\r\n{\"level\":\"error\"}", "a\"b", "x".repeat(65), "a b", "\u001b[31mred", ["a", "b"]]) {
    expect(Logs.requestId("10.1.2.3", header, trusted)).toMatch(uuid)
  }
  expect(Logs.requestId("192.168.1.1", "plain-id", trusted)).toMatch(uuid)
  expect(Logs.requestId(undefined, "plain-id", trusted)).toMatch(uuid)
  expect(Logs.requestId("10.1.2.3", "plain-id", trusted)).toBe("plain-id")
  for (const url of ["/realms/acme%0a/token", "/realms/acme\n/token", "/realms/ACME/token", "/realms/acme%2f..%2fx/token", `/realms/${"a".repeat(64)}/token`]) {
    expect([url, Logs.realmOf(url)]).toEqual([url, undefined])
  }
  expect(Logs.realmOf("/admin/realms/acme/users?q=x")).toBe("acme")
})

it.live("CONTRACT §8: hostile requests carrying secrets (client secrets, codes, refresh tokens, passwords in bad JSON, bearer tokens, cookies, DPoP proofs) leave none of them in any log line, at debug level", () =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const capture = Logger.make((options) => void lines.push(Logs.jsonLine(options)))
    const secrets = {
      clientSecret: `${marker}-client-secret`,
      code: `${marker}-code`,
      refreshToken: `${marker}-refresh`,
      password: `${marker}-password`,
      bearer: `${marker}-bearer`,
      cookie: `${marker}-cookie`,
      dpop: `${marker}.dpop.proof`,
      assertion: `${marker}.assertion.jwt`
    }
    yield* Effect.gen(function*() {
      const w = yield* world
      const app = yield* registerClient(w)
      const answers = yield* Effect.all([
        post(w, "token", { basic: [app.client_id, secrets.clientSecret] }, [["grant_type", "client_credentials"]]),
        post(w, "token", { post: [app.client_id, secrets.clientSecret] }, [["grant_type", "client_credentials"]]),
        post(w, "token", authOf(app), [["grant_type", "authorization_code"], ["code", secrets.code], ["redirect_uri", "https://app.example/cb"]]),
        post(w, "token", authOf(app), [["grant_type", "refresh_token"], ["refresh_token", secrets.refreshToken]]),
        post(w, "token", authOf(app), [["grant_type", "client_credentials"]], { headers: { dpop: secrets.dpop } }),
        post(w, "token", { assertion: secrets.assertion, clientId: app.client_id }, [["grant_type", "client_credentials"]]),
        post(w, "token", authOf(app), [["grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"], ["assertion", secrets.assertion]]),
        request("GET", `/realms/${w.name}/authorize?client_id=${app.client_id}&code=${secrets.code}&response_type=code`, { headers: { cookie: `tessera_session=${secrets.cookie}` } }),
        request("GET", `/realms/${w.name}/userinfo`, { headers: { authorization: `Bearer ${secrets.bearer}` } }),
        request("GET", `/realms/${w.name}/userinfo`, { headers: { authorization: `DPoP ${secrets.bearer}`, dpop: secrets.dpop } }),
        request("GET", `/admin/realms/${w.name}/users`, { headers: { authorization: `Bearer ${secrets.bearer}` } }),
        request("POST", `/admin/realms/${w.name}/users`, {
          headers: { authorization: `Bearer ${TestLive.adminToken}` },
          body: `{"username":"mallory","password":"${secrets.password}",`
        }),
        request("POST", `/admin/realms/${w.name}/users`, {
          headers: { authorization: `Bearer ${TestLive.adminToken}` },
          json: { username: "mallory\u0000", password: secrets.password, email: 42 }
        }),
        request("PUT", `/admin/realms/${w.name}/users/${w.sub}/password`, {
          headers: { authorization: `Bearer ${TestLive.adminToken}` },
          json: { password: `${secrets.password}\u0000` }
        }),
        request("POST", `/realms/${w.name}/login`, {
          headers: { cookie: `tessera_session=${secrets.cookie}; tessera_csrf=${secrets.cookie}` },
          body: `username=ada&password=${secrets.password}&csrf=${secrets.cookie}`,
          contentType: "application/x-www-form-urlencoded"
        })
      ], { concurrency: 4 })
      for (const answer of answers) expect(answer.status, answer.text).toBeLessThan(500)
    }).pipe(
      Effect.provide(TestLive.makeMemory()),
      Effect.provide(Logger.add(capture)),
      Effect.provide(Logger.minimumLogLevel(LogLevel.Debug))
    )
    expect(lines.length).toBeGreaterThan(0)
    const leaked = lines.filter((line) => Object.values(secrets).some((secret) => line.includes(secret)) || line.includes(TestLive.adminToken))
    expect(leaked).toEqual([])
  }))

/** The realm's checkpoints, as the port lists them (newest first). */
const checkpointsOf = (realmId: string) =>
  Effect.flatMap(AuditCheckpoints.AuditCheckpoints, (c) => c.newest(realmId, Number.MAX_SAFE_INTEGER, 100))

const verifyOf = (realm: string, query = "") => admin.get(`/admin/realms/${realm}/audit/verify${query}`)

it.effect("ADR 0042: checkpoint rows forged with only database rights (a bad MAC beyond the end, another realm's genuine row, a genuine row moved) neither break nor vouch for a trail", () =>
  Effect.gen(function*() {
    const a = yield* createRealm()
    const b = yield* createRealm()
    const aId = (yield* Provisioning.findRealm(a.name)).id
    const bId = (yield* Provisioning.findRealm(b.name)).id
    expect((yield* verifyOf(a.name)).json).toEqual({ ok: true, events: 3 })
    expect((yield* verifyOf(b.name)).json).toEqual({ ok: true, events: 3 })
    const [genuineA] = yield* checkpointsOf(aId)
    const store = yield* AuditCheckpoints.AuditCheckpoints
    // a row beyond B's end, with a MAC that is not the server's: a DoS on the verdict if it were believed
    yield* store.add({ ...genuineA!, realmId: bId, seq: 1000, mac: "A".repeat(43) })
    // A's genuine checkpoint replayed into B's trail at a position B has not verified
    yield* store.add({ ...genuineA!, realmId: bId, seq: 2 })
    // A's genuine row moved beyond A's end (its MAC covers the position)
    yield* store.add({ ...genuineA!, seq: 50 })
    expect((yield* verifyOf(b.name)).json).toEqual({ ok: true, events: 3 })
    expect((yield* verifyOf(b.name, "?full=true")).json).toEqual({ ok: true, events: 3 })
    expect((yield* verifyOf(a.name)).json).toEqual({ ok: true, events: 3 })
    expect((yield* verifyOf(a.name, "?full=true")).json).toEqual({ ok: true, events: 3 })
  }).pipe(Effect.provide(TestLive.makeMemory())))

it.effect("ADR 0042: a trail cut short behind a checkpoint (its newest events deleted) is broken at the checkpoint's event, resumed or full", () =>
  Effect.gen(function*() {
    const realm = yield* createRealm()
    const { id } = yield* Provisioning.findRealm(realm.name)
    for (let i = 0; i < 4; i++) expect((yield* admin.post(`/admin/realms/${realm.name}/users`, { username: `u${i}`, password: "correct horse battery staple" })).status).toBe(201)
    expect((yield* verifyOf(realm.name)).json).toEqual({ ok: true, events: 7 })
    const [checkpoint] = yield* checkpointsOf(id)
    expect(checkpoint!.seq).toBe(7)
    yield* Effect.flatMap(MemoryDb.MemoryDb, (db) =>
      Ref.update(db.state, (state) => ({ ...state, audit: HashMap.set(state.audit, id, Chunk.take(MemoryDb.trailOf(state, id), 5)) })))
    expect((yield* verifyOf(realm.name)).json).toEqual({ ok: false, first_broken: checkpoint!.eventId })
    expect((yield* verifyOf(realm.name, "?full=true")).json).toEqual({ ok: false, first_broken: checkpoint!.eventId })
  }).pipe(Effect.provide(TestLive.makeMemory())))

it.effect("CONTRACT §3: a tenant admin of realm A cannot verify realm B's trail (404, as if it did not exist) nor the owner trail (403)", () =>
  Effect.gen(function*() {
    const w = yield* world
    const other = yield* createRealm()
    const adminResource = `${TestLive.publicUrl}/admin/realms/${w.name}`
    const automation = yield* registerClient(w, { grant_types: ["client_credentials"], redirect_uris: [], response_types: [], resources: [adminResource] })
    const cc = yield* post(w, "token", authOf(automation), { grant_type: "client_credentials", scope: "tessera:admin", resource: adminResource })
    expect(cc.status).toBe(200)
    const bearer = { authorization: `Bearer ${cc.json.access_token}` }
    const own = yield* request("GET", `/admin/realms/${w.name}/audit/verify`, { headers: bearer })
    expect([own.status, own.json.ok]).toEqual([200, true])
    const theirs = yield* request("GET", `/admin/realms/${other.name}/audit/verify?full=true`, { headers: bearer })
    const unknown = yield* request("GET", `/admin/realms/no-such-${marker}/audit/verify?full=true`, { headers: bearer })
    expect([theirs.status, theirs.json]).toEqual([404, unknown.json])
    expect(theirs.json.error).toBe("not_found")
    const owner = yield* request("GET", "/admin/audit/verify", { headers: bearer })
    expect([owner.status, owner.json.error]).toEqual([403, "insufficient_scope"])
  }).pipe(Effect.provide(TestLive.makeMemory())))


/** A hostile "Tessera" on a loopback port: every request is recorded and answered by `answer`. */
const hostile = async (answer: (request: Http.IncomingMessage, response: Http.ServerResponse) => void) => {
  const seen: Array<{ readonly url: string; readonly authorization: string | undefined }> = []
  const server = Http.createServer((request, response) => {
    seen.push({ url: request.url ?? "", authorization: request.headers.authorization })
    answer(request, response)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  onFileEnd(() => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  return { base: `http://127.0.0.1:${(server.address() as Net.AddressInfo).port}`, seen }
}

/** Runs `tessera <args>` against `base` for at most `ms`: its result, or `code: "running"` when it had to be killed. */
const runFor = async (base: string, args: ReadonlyArray<string>, ms: number) => {
  const child = await Cli.spawnCli(base, args)
  let stdout = ""
  let stderr = ""
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
  const closed = new Promise<number | null>((resolve) => child.once("close", (status) => resolve(status)))
  const timer = setTimeout(() => child.kill("SIGKILL"), ms)
  const code = await closed
  clearTimeout(timer)
  return { code: child.signalCode === "SIGKILL" ? "running" as const : code, stdout, stderr }
}

const answerJson = (response: Http.ServerResponse, status: number, body: string) => {
  response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
  response.end(body)
}

it("CONTRACT §8 CLI vs a hostile server: a redirect to another origin is a refusal, and the owner token never reaches that origin", async () => {
  const elsewhere = await hostile((_, response) => answerJson(response, 200, `{"realms":[]}`))
  const redirecting = await hostile((request, response) => {
    // 307 keeps the method and body (RFC 9110 §15.4.8): a client following it would re-send the credential too
    response.writeHead(request.method === "POST" ? 307 : 302, { location: `${elsewhere.base}/admin/realms` })
    response.end()
  })
  const [list, create] = await Promise.all([
    runFor(redirecting.base, ["realms", "list"], 60_000),
    runFor(redirecting.base, ["realms", "create", "--name", "acme"], 60_000)
  ])
  expect(list).toEqual({ code: 1, stdout: "", stderr: "tessera: HTTP 302\n" })
  expect(create).toEqual({ code: 1, stdout: "", stderr: "tessera: HTTP 307\n" })
  expect(redirecting.seen.map((s) => s.authorization)).toEqual([`Bearer ${TestLive.adminToken}`, `Bearer ${TestLive.adminToken}`])
  expect(elsewhere.seen).toEqual([])
}, 120_000)

it("CONTRACT §8 CLI vs a hostile server: terminal controls in the error code and description are escaped on stderr; a 5xx without JSON is 'HTTP 502', exit 1", async () => {
  const server = await hostile((request, response) =>
    request.url!.includes("/users")
      ? answerJson(response, 400, JSON.stringify({ error: "\u001b[2Jx", error_description: "\u001b]0;owned\u0007 \u202edesc\r\nline" }))
      : (response.writeHead(502, { "content-type": "text/html" }), response.end("<h1>\u001b[31mbad gateway</h1>")))
  const [refused, gateway] = await Promise.all([
    runFor(server.base, ["users", "list", "--realm", "acme"], 60_000),
    runFor(server.base, ["realms", "list"], 60_000)
  ])
  expect(refused).toEqual({ code: 1, stdout: "", stderr: "tessera: \\u001b[2Jx: \\u001b]0;owned\\u0007 \\u202edesc\\u000d\\u000aline\n" })
  expect(gateway).toEqual({ code: 1, stdout: "", stderr: "tessera: HTTP 502\n" })
}, 120_000)

it("ADR 0044: a symbolic link planted at the session file's path is replaced, never written through; the file is 0600", async () => {
  const dir = await Cli.tempDir()
  const victim = Path.join(dir, "victim")
  await Fs.writeFile(victim, "untouched\n", { mode: 0o644 })
  const path = TokenFile.pathOf(Path.join(dir, "tessera"), "http://127.0.0.1:1", "acme")
  await Fs.mkdir(Path.dirname(path), { recursive: true, mode: 0o700 })
  await Fs.symlink(victim, path)
  const stored: TokenFile.Stored = {
    server: "http://127.0.0.1:1", realm: "acme", issuer: "http://127.0.0.1:1/realms/acme", resource: "http://127.0.0.1:1/admin/realms/acme",
    token_endpoint: "http://127.0.0.1:1/realms/acme/token", access_token: `${marker}-at`, refresh_token: `${marker}-rt`, expires_at: 1
  }
  await Effect.runPromise(TokenFile.write(path, stored))
  expect(await Fs.readFile(victim, "utf8")).toBe("untouched\n")
  const written = await Fs.lstat(path)
  expect([written.isSymbolicLink(), written.isFile(), written.mode & 0o777]).toEqual([false, true, 0o600])
  expect((await Fs.stat(Path.dirname(path))).mode & 0o777).toBe(0o700)
  expect(JSON.parse(await Fs.readFile(path, "utf8"))).toEqual(stored)
})
