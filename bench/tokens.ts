/**
 * Token benchmark (issue 5, "Benchmark"): the client credentials grant with `resource` (an ES256 RFC 9068 JWT access
 * token), the JWKS and the discovery document, on Tessera over PostgreSQL, Tessera over PGlite, and oidc-provider 9
 * configured the same way (bench/peer.ts). Every server is a child process on loopback; autocannon runs here.
 *
 *   npm run bench                                      PGlite and oidc-provider; Postgres skipped, and why
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench
 *                                                      all three (a scratch database on that server, dropped after)
 *   BENCH_SECONDS=10 BENCH_WARMUP_SECONDS=3 BENCH_CONNECTIONS=20   the defaults (use e.g. 3 and 1 for a quick run)
 *   BENCH_SERVERS=postgres,pglite,oidc-provider        which servers to run (default: all)
 *   BENCH_ENDPOINTS=token,token-dpop,jwks,discovery    which endpoints to load (default: these four; introspect and
 *                                                      exchange run when named, e.g. BENCH_ENDPOINTS=token,introspect,exchange)
 *   BENCH_DPOP_PROOFS_PER_SECOND=4000                  DPoP proofs signed ahead of each token-dpop run, per second of it
 *   BENCH_CPU_PROF=<dir>                               every child writes a V8 CPU profile (node --cpu-prof) there
 *
 * token-dpop is the same token request with a DPoP proof (RFC 9449 §5): the load generator signs one fresh proof per
 * request ahead of each run (ES256, `jti`, `htm`, `htu`, `iat`), so the run measures what checking a proof costs the
 * server (signature, thumbprint, replay cache) and nothing of making one; its token is DPoP-bound (`cnf.jkt`).
 *
 * introspect is RFC 7662 introspection of a client-credentials access token (made once before the run) by the client it
 * was issued to (client_secret_basic): on Tessera AccessTokens.active reads the token's record and, the token having no
 * grant of its own, probes its client, person and delegations too (issue 13). oidc-provider refuses to introspect JWT
 * access tokens, so its row introspects the same kind of token in its opaque format (bench/peer.ts says how).
 * exchange is RFC 8693 token exchange by an agent client of a person's access token (code grant, signed in through
 * the login and consent pages before the run) for one to the bench resource: Tessera only, oidc-provider does not do
 * RFC 8693 out of the box. Each exchange upserts the agent's delegation and writes a token.exchanged audit event.
 * bench/fixtures.ts makes both and checks one answer of each before the run. They are not in the default set: the two
 * add five rows (over a minute at the default 13 s a row).
 *
 *   BENCH_COMPARE=metrics                              this checkout with metrics off (A) and on (B: TESSERA_METRICS_PORT
 *                                                      set, /metrics scraped every second during the run), interleaved as
 *                                                      below: what recording and exporting the metrics cost (ADR 0040)
 *   BENCH_COMPARE=<checkout>                           compare two checkouts of the server instead (bench/compare.sh):
 *                                                      A = that checkout, B = this one, run interleaved A B A B A B
 *                                                      (BENCH_COMPARE_ROUNDS, default 3) on each Tessera server of
 *                                                      BENCH_SERVERS, with the rows of BENCH_ENDPOINTS driven by this
 *                                                      file; per row and round the server CPU per request of A and B and
 *                                                      B/A, then the median B/A; the load average at each run's start and end
 *
 * Per row: requests/s, latency p50 and p99 (ms), errors (connection errors and timeouts) and non-2xx answers (both
 * must be 0), the server process's CPU per request (utime + stime from /proc/<pid>/stat over the measured window
 * only), and for Postgres the CPU of the database's backends per request (every pid pg_stat_activity lists for the
 * scratch database, from /proc). Then the ratios Tessera ÷ oidc-provider of CPU per request, which hold up on a noisy
 * machine far better than requests/s do.
 */
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { execFileSync } from "node:child_process"
import * as Jose from "jose"
import * as Children from "./children.js"
import * as Fixtures from "./fixtures.js"
import * as Load from "./load.js"
import * as Postgres from "./postgres.js"

const settings: Load.Settings = {
  connections: Number(process.env["BENCH_CONNECTIONS"] ?? 20),
  seconds: Number(process.env["BENCH_SECONDS"] ?? 10),
  warmupSeconds: Number(process.env["BENCH_WARMUP_SECONDS"] ?? 3)
}
const servers = (process.env["BENCH_SERVERS"] ?? "postgres,pglite,oidc-provider").split(",").map((s) => s.trim())

// What both servers are configured with: one resource, its two scopes, a confidential client asking for both.
const resource = "https://api.bench.example/"
const scope = "read write"
const accessTokenSeconds = 900 // Tessera's default access-token lifetime
const adminToken = "bench-owner-token-0123456789abcdefghijklmnopqrstuvwxyz"
const realm = "bench"

type Fixed = "token" | "token-dpop" | "jwks" | "discovery"
/** Rows whose request presents a token made before the run (bench/fixtures.ts). */
type Prepared = "introspect" | "exchange"
type Endpoint = Fixed | Prepared
const known: ReadonlyArray<Endpoint> = ["token", "token-dpop", "jwks", "discovery", "introspect", "exchange"]
const endpoints = (process.env["BENCH_ENDPOINTS"] ?? "token,token-dpop,jwks,discovery").split(",").map((s) => s.trim())
  .filter((e): e is Endpoint => (known as ReadonlyArray<string>).includes(e))

const proofsPerSecond = Number(process.env["BENCH_DPOP_PROOFS_PER_SECOND"] ?? 4000)

/** RFC 9449 §4.2: the load generator's DPoP key. */
interface ProofKey {
  readonly privateKey: CryptoKey
  readonly publicJwk: Jose.JWK
  readonly jkt: string
}

const proofKey = async (): Promise<ProofKey> => {
  const pair = await Jose.generateKeyPair("ES256", { extractable: true })
  const publicJwk = await Jose.exportJWK(pair.publicKey)
  return { privateKey: pair.privateKey, publicJwk, jkt: await Jose.calculateJwkThumbprint(publicJwk) }
}

/** RFC 9449 §4.2: one proof for a POST to `htu`, made now. */
const signProof = (key: ProofKey, htu: string) =>
  new Jose.SignJWT({ jti: crypto.randomUUID(), htm: "POST", htu, iat: Math.floor(Date.now() / 1000) })
    .setProtectedHeader({ typ: "dpop+jwt", alg: "ES256", jwk: key.publicJwk })
    .sign(key.privateKey)

/**
 * Proofs for one run, signed before it starts: enough for `proofsPerSecond` over its seconds, each used once (Tessera
 * remembers every `jti`, RFC 9449 §11.1). A proof is good for 60 s after its `iat` (ADR 0017), so a run must end by then.
 */
const proofPool = (key: ProofKey, htu: string) => async (seconds: number) => {
  if (seconds > 45) throw new Error("token-dpop: runs longer than 45 s would outlive their proofs' 60-second window")
  const proofs: Array<string> = []
  const count = Math.ceil(proofsPerSecond * seconds) + 2 * settings.connections
  while (proofs.length < count) {
    proofs.push(...await Promise.all(Array.from({ length: Math.min(256, count - proofs.length) }, () => signProof(key, htu))))
  }
  let used = 0
  let shortfall = 0
  return {
    next: () => {
      if (used < proofs.length) return { dpop: proofs[used++]! }
      shortfall++
      return { dpop: proofs[proofs.length - 1]! }
    },
    shortfall: () => shortfall
  }
}

interface Target {
  readonly server: string
  readonly child: Children.Child
  readonly issuer: string
  readonly requests: Record<Fixed, Load.Request>
  /** The request of an introspect or exchange row, made and checked now; or why this server has no such row. */
  readonly prepare: (endpoint: Prepared) => Promise<{ readonly request: Load.Request; readonly expiresAt: number; readonly checked: string } | string>
  /** The load generator's DPoP key for this server's token-dpop rows. */
  readonly key: ProofKey
  readonly database?: Postgres.Scratch
  /** After the token run: how the server shows that every token was recorded (Tessera's audit chain). */
  readonly audited?: () => Promise<string>
}

interface Result {
  readonly server: string
  readonly endpoint: Endpoint
  readonly row: Load.Row
}

const { basic } = Fixtures

const tokenBody = new URLSearchParams({ grant_type: "client_credentials", resource, scope }).toString()

const requestsFor = (
  tokenUrl: string,
  jwksUrl: string,
  discoveryUrl: string,
  authorization: string,
  key: ProofKey
): Record<Fixed, Load.Request> => ({
  token: {
    url: tokenUrl,
    method: "POST",
    headers: { authorization, "content-type": "application/x-www-form-urlencoded" },
    body: tokenBody
  },
  "token-dpop": {
    url: tokenUrl,
    method: "POST",
    headers: { authorization, "content-type": "application/x-www-form-urlencoded" },
    body: tokenBody,
    fresh: proofPool(key, tokenUrl)
  },
  jwks: { url: jwksUrl, method: "GET" },
  discovery: { url: discoveryUrl, method: "GET" }
})

// --- the servers ---

const adminCall = async (base: string, path: string, body: unknown): Promise<Record<string, string>> => {
  const res = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: JSON.stringify(body)
  })
  if (res.status !== 201) throw new Error(`${path}: ${res.status} ${await res.text()}`)
  return res.json() as Promise<Record<string, string>>
}

/** Request and expiry of a fixture (bench/fixtures.ts) as a row's request. */
const prepared = async (made: Promise<{ fixture: Fixtures.Fixture; checked: string }>) => {
  const { fixture, checked } = await made
  const request: Load.Request = {
    url: fixture.url,
    method: "POST",
    headers: { authorization: fixture.authorization, "content-type": "application/x-www-form-urlencoded" },
    body: fixture.body
  }
  return { request, expiresAt: fixture.expiresAt, checked }
}

/** Tessera from `root` (this checkout unless a comparison names another), over `database` or else PGlite. */
const tessera = async (
  server: string,
  database: Postgres.Scratch | undefined,
  cleanup: Array<() => Promise<void>>,
  root = Children.repoRoot,
  env: Record<string, string> = {}
): Promise<Target> => {
  const port = await Children.freePort()
  const dataDir = await Fs.mkdtemp(Path.join(Os.tmpdir(), "tessera-bench-"))
  cleanup.push(() => Fs.rm(dataDir, { recursive: true, force: true }))
  const base = `http://127.0.0.1:${port}`
  const child = await Children.start(server, Path.join(root, "packages/server-node/src/main.ts"), {
    TESSERA_PORT: String(port),
    TESSERA_HOST: "127.0.0.1",
    TESSERA_PUBLIC_URL: base,
    TESSERA_DATA_DIR: dataDir,
    TESSERA_ADMIN_TOKEN: adminToken,
    ...(database !== undefined ? { DATABASE_URL: database.url } : {}),
    ...env
  }, "tessera listening on", root)
  cleanup.push(() => Children.stop(child))
  await adminCall(base, "/admin/realms", { name: realm })
  await adminCall(base, `/admin/realms/${realm}/resources`, { uri: resource, scopes: scope.split(" ") })
  const client = await adminCall(base, `/admin/realms/${realm}/clients`, {
    grant_types: ["client_credentials"],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: "client_secret_basic",
    scope,
    resources: [resource]
  })
  const issuer = `${base}/realms/${realm}`
  const metadata = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json() as Record<string, string>
  const key = await proofKey()
  const authorization = basic(client["client_id"]!, client["client_secret"]!)
  return {
    server,
    child,
    issuer,
    key,
    requests: requestsFor(metadata["token_endpoint"]!, metadata["jwks_uri"]!, `${issuer}/.well-known/openid-configuration`, authorization, key),
    prepare: (endpoint) =>
      endpoint === "introspect"
        ? prepared(Fixtures.introspect({
          server, tokenUrl: metadata["token_endpoint"]!, introspectionUrl: metadata["introspection_endpoint"]!, clientId: client["client_id"]!,
          authorization, tokenBody, resource, scope, lifetime: accessTokenSeconds
        }))
        : prepared(Fixtures.exchange({
          server, base, issuer, realm, metadata, resource, scope, adminCall: (path, body) => adminCall(base, path, body)
        })),
    ...(database !== undefined ? { database } : {}),
    audited: async () => {
      const res = await fetch(`${base}/admin/realms/${realm}/audit/verify`, { headers: { authorization: `Bearer ${adminToken}` } })
      const verdict = await res.json() as { ok: boolean; events?: number; first_broken?: string }
      if (!verdict.ok) throw new Error(`${server}: the audit chain is broken at ${verdict.first_broken}`)
      return `audit chain verified: ${verdict.events} events`
    }
  }
}

const peer = async (cleanup: Array<() => Promise<void>>): Promise<Target> => {
  const port = await Children.freePort()
  const clientId = "bench-client"
  const opaqueClientId = "bench-client-opaque"
  const clientSecret = "bench-secret-0123456789abcdefghijklmnopqrstuvwxyz"
  const child = await Children.start("oidc-provider", Path.join(Children.repoRoot, "bench/peer.ts"), {
    BENCH_PEER: JSON.stringify({ port, clientId, opaqueClientId, clientSecret, resource, scope, accessTokenSeconds })
  }, "peer listening on")
  cleanup.push(() => Children.stop(child))
  const issuer = `http://127.0.0.1:${port}`
  const metadata = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json() as Record<string, string>
  const key = await proofKey()
  return {
    server: "oidc-provider",
    child,
    issuer,
    key,
    requests: requestsFor(metadata["token_endpoint"]!, metadata["jwks_uri"]!, `${issuer}/.well-known/openid-configuration`,
      basic(clientId, clientSecret), key),
    prepare: async (endpoint) =>
      endpoint === "introspect"
        ? prepared(Fixtures.introspect({
          server: "oidc-provider", tokenUrl: metadata["token_endpoint"]!, introspectionUrl: metadata["introspection_endpoint"]!,
          clientId: opaqueClientId, authorization: basic(opaqueClientId, clientSecret), tokenBody, resource, scope,
          lifetime: accessTokenSeconds
        }))
        : "oidc-provider does not do RFC 8693 token exchange out of the box: no row"
  }
}

/**
 * Before any load: one token from the server, verified against its JWKS, must be the same kind of token on every
 * server (ES256, typ at+jwt, aud the resource, the scope asked, 15 minutes), so the rows compare like with like; with
 * a DPoP proof, a DPoP token bound to the load generator's key (RFC 9449 §5, §6.1).
 */
const checkEquivalent = async (target: Target, withProof = false) => {
  const token = target.requests.token
  const proof = withProof ? { dpop: await signProof(target.key, token.url) } : {}
  const res = await fetch(token.url, { method: "POST", headers: { ...token.headers!, ...proof }, body: token.body! })
  const body = await res.json() as Record<string, unknown>
  if (res.status !== 200 || typeof body["access_token"] !== "string") throw new Error(`${target.server}: token request ${res.status} ${JSON.stringify(body)}`)
  const jwks = Jose.createLocalJWKSet(await (await fetch(target.requests.jwks.url)).json() as Jose.JSONWebKeySet)
  const { payload, protectedHeader } = await Jose.jwtVerify(body["access_token"], jwks, {
    issuer: target.issuer, audience: resource, typ: "at+jwt", algorithms: ["ES256"]
  })
  const bound = (payload["cnf"] as { jkt?: string } | undefined)?.jkt
  const same = body["token_type"] === (withProof ? "DPoP" : "Bearer") && body["expires_in"] === accessTokenSeconds && body["scope"] === scope &&
    payload.scope === scope && payload.exp! - payload.iat! === accessTokenSeconds && typeof payload.jti === "string" &&
    typeof payload["client_id"] === "string" && payload.sub === payload["client_id"] && bound === (withProof ? target.key.jkt : undefined)
  if (!same) throw new Error(`${target.server}: not the expected token: ${JSON.stringify({ body, protectedHeader, payload })}`)
  return `${protectedHeader.alg} ${protectedHeader.typ}; claims ${Object.keys(payload).sort().join(" ")}`
}

// --- report ---

const table = (rows: ReadonlyArray<ReadonlyArray<string>>) => {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)))
  const line = (row: ReadonlyArray<string>) => row.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ")
  return [line(rows[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)].join("\n")
}

const report = (results: ReadonlyArray<Result>) =>
  table([
    ["server", "endpoint", "req/s", "p50 ms", "p99 ms", "errors", "non-2xx", "server CPU µs/req", "DB CPU µs/req"],
    ...results.map(({ server, endpoint, row }) => [
      server,
      endpoint,
      row.perSecond.toFixed(0),
      row.p50.toFixed(2),
      row.p99.toFixed(2),
      String(row.errors),
      String(row.non2xx),
      row.serverCpu.toFixed(0),
      row.dbCpu === undefined ? "" : `${row.dbCpu.perRequest.toFixed(0)} (${row.dbCpu.backends} backends)`
    ])
  ])

const targets: Partial<Record<Endpoint, number>> = { token: 0.6, jwks: 0.4, discovery: 0.4 }

/**
 * What one ES256 signature verification costs on this machine (jose over WebCrypto, the key already imported, as
 * packages/protocol's `Dpop.verify` has it for a key it saw before), averaged: the yardstick for the DPoP rows.
 */
const verificationMicros = async () => {
  const key = await proofKey()
  const publicKey = await Jose.importJWK(key.publicJwk, "ES256")
  const proofs = await Promise.all(Array.from({ length: 400 }, () => signProof(key, "https://bench.example/token")))
  for (const proof of proofs.slice(0, 50)) await Jose.compactVerify(proof, publicKey)
  const started = performance.now()
  for (const proof of proofs) await Jose.compactVerify(proof, publicKey)
  return ((performance.now() - started) * 1000) / proofs.length
}

/** RFC 9449: what a proof adds to the bearer token request, server (and database) CPU per request. */
const dpopCost = (results: ReadonlyArray<Result>, verification: number) => {
  const lines: Array<string> = []
  for (const server of ["tessera/postgres", "tessera/pglite", "oidc-provider"]) {
    const bearer = results.find((r) => r.server === server && r.endpoint === "token")?.row
    const dpop = results.find((r) => r.server === server && r.endpoint === "token-dpop")?.row
    if (bearer === undefined || dpop === undefined) continue
    const extra = dpop.serverCpu - bearer.serverCpu
    const dbExtra = dpop.dbCpu !== undefined && bearer.dbCpu !== undefined ? dpop.dbCpu.perRequest - bearer.dbCpu.perRequest : undefined
    const db = dbExtra === undefined ? "" : `; database ${dbExtra >= 0 ? "+" : ""}${dbExtra.toFixed(0)} µs`
    lines.push(`token-dpop ${server.padEnd(16)} server CPU per request ${dpop.serverCpu.toFixed(0)} µs vs bearer ${bearer.serverCpu.toFixed(0)} µs: ` +
      `${extra >= 0 ? "+" : ""}${extra.toFixed(0)} µs (${(extra / verification).toFixed(1)} signature verifications)${db}`)
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n(one ES256 signature verification in this process: ${verification.toFixed(0)} µs)`
}
const p99Target = 20

const ratios = (results: ReadonlyArray<Result>) => {
  const find = (server: string, endpoint: Endpoint) => results.find((r) => r.server === server && r.endpoint === endpoint)?.row
  const lines: Array<string> = []
  for (const endpoint of endpoints) {
    const peerRow = find("oidc-provider", endpoint)
    if (peerRow === undefined) continue
    for (const server of ["tessera/postgres", "tessera/pglite"]) {
      const row = find(server, endpoint)
      if (row === undefined) continue
      const ratio = row.serverCpu / peerRow.serverCpu
      let verdict = ""
      const target = targets[endpoint]
      if (server === "tessera/postgres" && target !== undefined) {
        const said = (met: boolean) => (met ? "met" : "NOT met")
        verdict = `  target <= ${target}x: ${said(ratio <= target)}` +
          (endpoint === "token" ? `; p99 ${row.p99.toFixed(2)} ms, target < ${p99Target} ms: ${said(row.p99 < p99Target)}` : "")
      }
      lines.push(`${endpoint.padEnd(10)} ${server.padEnd(16)} ÷ oidc-provider, server CPU per request: ${ratio.toFixed(2)}x${verdict}`)
      if (row.dbCpu !== undefined && (endpoint === "token" || endpoint === "token-dpop" || endpoint === "introspect")) {
        lines.push(`${"".padEnd(10)} ${server.padEnd(16)} ÷ oidc-provider, server + database CPU:       ${((row.serverCpu + row.dbCpu.perRequest) / peerRow.serverCpu).toFixed(2)}x`)
      }
    }
  }
  if (endpoints.includes("introspect") && find("oidc-provider", "introspect") !== undefined) {
    lines.push("introspect: oidc-provider's token is opaque (it refuses to introspect JWTs), looked up in its in-memory adapter; Tessera's is its JWT.")
  }
  if (endpoints.includes("exchange")) lines.push("exchange:  no ratio, oidc-provider does not do RFC 8693 token exchange out of the box.")
  return lines.join("\n")
}

/** A row counts only if every request was answered 2xx and some were (a short window can hold none of a slow row). */
const clean = (row: Load.Row) => row.errors === 0 && row.non2xx === 0 && row.requests > 0

const load = () => Os.loadavg().map((l) => l.toFixed(2)).join(" ")

/**
 * One server's rows: its token checked first (and with a proof for token-dpop), the introspect and exchange requests
 * made and checked, then every row of `endpoints` measured in order. Logs as it goes; the rows by endpoint.
 */
const runTarget = async (target: Target, log: (line: string) => void) => {
  log(`${target.server}: pid ${target.child.pid}; token: ${await checkEquivalent(target)}`)
  if (endpoints.includes("token-dpop")) log(`  token-dpop: ${await checkEquivalent(target, true)}, cnf.jkt the proof's key`)
  const requests: Partial<Record<Endpoint, { readonly request: Load.Request; readonly expiresAt?: number }>> = {}
  for (const endpoint of endpoints) {
    if (endpoint !== "introspect" && endpoint !== "exchange") {
      requests[endpoint] = { request: target.requests[endpoint] }
      continue
    }
    const made = await target.prepare(endpoint)
    if (typeof made === "string") {
      log(`  ${endpoint}: ${made}`)
      continue
    }
    requests[endpoint] = made
    log(`  ${endpoint}: ${made.checked}`)
  }
  const rows: Array<{ endpoint: Endpoint; row: Load.Row }> = []
  for (const endpoint of endpoints) {
    const planned = requests[endpoint]
    if (planned === undefined) continue
    // what the row presents must outlive it (a 15-minute token and runs of a few minutes: only very long settings fail)
    const ends = Date.now() / 1000 + settings.warmupSeconds + settings.seconds + 5
    if (planned.expiresAt !== undefined && planned.expiresAt < ends) {
      throw new Error(`${target.server} ${endpoint}: its token expires before the row would end: shorten BENCH_SECONDS or the rows before it`)
    }
    const row = await Load.measure(planned.request, settings, target.child.pid, target.database)
    rows.push({ endpoint, row })
    const db = row.dbCpu === undefined ? "" : `, DB CPU ${row.dbCpu.perRequest.toFixed(0)} µs/req`
    log(`  ${endpoint}: ${row.requests} requests, ${row.perSecond.toFixed(0)}/s, non-2xx ${row.non2xx}, errors ${row.errors}, server CPU ${row.serverCpu.toFixed(0)} µs/req${db}`)
    if (endpoint === "token" && target.audited !== undefined) log(`  ${await target.audited()}`)
  }
  return rows
}

/** The scratch database for a tessera/postgres run, or why there is none (then the run is skipped). */
const postgresDatabase = async (): Promise<Postgres.Scratch | string> => {
  const url = process.env["DATABASE_URL"]
  if (url === undefined || url === "") return "skipped, DATABASE_URL is not set (e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres)"
  try {
    return await Postgres.scratch(url)
  } catch (cause) {
    return `skipped, PostgreSQL at DATABASE_URL is not reachable: ${(cause as Error).message}`
  }
}

const main = async () => {
  console.log(
    `Token benchmark: node ${process.version}, ${Os.cpus().length} CPUs, load average ${load()}\n` +
      `autocannon, ${settings.connections} connections, ${settings.warmupSeconds} s warm-up then ${settings.seconds} s measured per row.\n` +
      `token = client_credentials with resource and scope, client_secret_basic, ES256 JWT access token (RFC 9068).\n` +
      `token-dpop = the same with a DPoP proof (RFC 9449, ES256), one fresh proof per request signed before the run.\n` +
      (endpoints.includes("introspect") ? "introspect = RFC 7662 introspection of a client-credentials access token by its client (client_secret_basic).\n" : "") +
      (endpoints.includes("exchange") ? "exchange = RFC 8693 exchange of a person's access token (code grant) by an agent client, for the bench resource.\n" : "")
  )
  const cleanup: Array<() => Promise<void>> = []
  const results: Array<Result> = []
  let failed = false
  try {
    const plan: Array<() => Promise<Target | undefined>> = []
    if (servers.includes("postgres")) {
      plan.push(async () => {
        const database = await postgresDatabase()
        if (typeof database === "string") {
          console.log(`tessera/postgres: ${database}\n`)
          return undefined
        }
        cleanup.push(database.drop)
        console.log(`tessera/postgres: PostgreSQL ${database.version}, scratch database ${database.name}, ${database.durability}`)
        return tessera("tessera/postgres", database, cleanup)
      })
    }
    if (servers.includes("pglite")) plan.push(() => tessera("tessera/pglite", undefined, cleanup))
    if (servers.includes("oidc-provider")) plan.push(() => peer(cleanup))
    for (const next of plan) {
      const target = await next()
      if (target === undefined) continue
      for (const { endpoint, row } of await runTarget(target, console.log)) {
        results.push({ server: target.server, endpoint, row })
        if (!clean(row)) failed = true
      }
      await Children.stop(target.child)
      console.log()
    }
  } finally {
    for (const step of cleanup.reverse()) await step().catch(() => undefined)
  }
  console.log(`${report(results)}\n`)
  console.log(`${ratios(results)}\n`)
  if (endpoints.includes("token-dpop")) console.log(`${dpopCost(results, await verificationMicros())}\n`)
  console.log(
    `Load average at the end: ${load()} (a loaded machine shifts req/s and latency; the CPU ratios hold up better).\n` +
      "Server CPU: the child's utime + stime (all its threads) over the measured window only, per completed request;\n" +
      "for PGlite that includes the embedded database. DB CPU: the Postgres backends of the scratch database (not the\n" +
      "WAL writer or checkpointer). Tessera writes and chains a token.issued audit event in the token's transaction;\n" +
      "oidc-provider stores nothing for a JWT access token."
  )
  if (failed) {
    console.log("\nFAILED: some requests errored or answered non-2xx, or a row completed none (lengthen BENCH_SECONDS).")
    process.exitCode = 1
  }
}

// --- BENCH_COMPARE: two checkouts of the server, interleaved ---

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/** The commit a checkout is at, for the report: short hash and subject. */
const commitOf = (root: string) => {
  try {
    return execFileSync("git", ["-C", root, "log", "-1", "--format=%h %s"], { encoding: "utf8" }).trim().slice(0, 100)
  } catch {
    return "(not a git checkout)"
  }
}

interface Run {
  readonly store: string
  readonly round: number
  readonly label: "A" | "B"
  readonly rows: ReadonlyArray<{ endpoint: Endpoint; row: Load.Row }>
}

/**
 * BENCH_COMPARE=metrics: B listens on a metrics port and is scraped every second while it runs (Prometheus scrapes
 * every 15 s by default: this is harsher); returns what stops the scraper and says what the scrapes saw.
 */
const scraper = (port: number) => {
  let scrapes = 0
  let last = ""
  const timer = setInterval(() => {
    fetch(`http://127.0.0.1:${port}/metrics`).then((res) => res.text()).then((text) => {
      scrapes++
      last = text
    }, () => undefined)
  }, 1000)
  return () => {
    clearInterval(timer)
    const issued = last.split("\n").filter((line) => line.startsWith("tessera_tokens_issued_total{")).join("; ")
    return `${scrapes} scrapes of /metrics, the last ${last.length} bytes: ${issued}`
  }
}

const compare = async (other: string) => {
  const metrics = other === "metrics"
  const checkouts = [
    { label: "A" as const, root: Path.resolve(metrics ? Children.repoRoot : other) },
    { label: "B" as const, root: Path.resolve(Children.repoRoot) }
  ]
  for (const { root } of checkouts) {
    try {
      await Fs.access(Path.join(root, "packages/server-node/src/main.ts"))
      await Fs.access(Path.join(root, "node_modules/tsx"))
    } catch {
      throw new Error(`BENCH_COMPARE: ${root} is not a checkout of Tessera with its node_modules (git worktree add <dir> <commit> && cd <dir> && npm ci)`)
    }
  }
  const rounds = Number(process.env["BENCH_COMPARE_ROUNDS"] ?? 3)
  const stores = servers.filter((s) => s === "postgres" || s === "pglite")
  const rowNames = endpoints
  console.log(
    `Comparison: node ${process.version}, ${Os.cpus().length} CPUs, load average ${load()}\n` +
      `A = ${checkouts[0]!.root}: ${commitOf(checkouts[0]!.root)}${metrics ? ", metrics off (TESSERA_METRICS_PORT unset)" : ""}\n` +
      `B = ${checkouts[1]!.root}: ${commitOf(checkouts[1]!.root)}${metrics ? ", metrics on (TESSERA_METRICS_PORT, scraped every second)" : ""}\n` +
      `rows ${rowNames.join(", ")} (this file drives both); ${rounds} rounds A B per server (${stores.map((s) => `tessera/${s}`).join(", ")}), ` +
      `a fresh server and database per run; autocannon, ${settings.connections} connections, ` +
      `${settings.warmupSeconds} s warm-up then ${settings.seconds} s measured per row.` +
      (servers.includes("oidc-provider") ? "\n(oidc-provider is not part of a comparison: left out.)" : "") + "\n"
  )
  const runs: Array<Run> = []
  let failed = false
  for (const store of stores) {
    const server = `tessera/${store}`
    if (store === "postgres" && (process.env["DATABASE_URL"] ?? "") === "") {
      console.log(`${server}: skipped, DATABASE_URL is not set (e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres)\n`)
      continue
    }
    for (let round = 1; round <= rounds; round++) {
      for (const { label, root } of checkouts) {
        const cleanup: Array<() => Promise<void>> = []
        const loadStart = load()
        try {
          let database: Postgres.Scratch | undefined
          if (store === "postgres") {
            const made = await postgresDatabase()
            if (typeof made === "string") throw new Error(`${server}: ${made}`)
            database = made
            cleanup.push(made.drop)
          }
          console.log(`round ${round} ${label} ${server}: load average at the start ${loadStart}`)
          const metricsPort = metrics && label === "B" ? await Children.freePort() : undefined
          const target = await tessera(server, database, cleanup, root, metricsPort === undefined ? {} : { TESSERA_METRICS_PORT: String(metricsPort) })
          const scraped = metricsPort === undefined ? undefined : scraper(metricsPort)
          // the server under test runs in the checkout it stands for (its working directory, tsx and packages)
          const cwd = await Fs.readlink(`/proc/${target.child.pid}/cwd`)
          if (Path.resolve(cwd) !== Path.resolve(root)) throw new Error(`${server} ${label}: the server runs in ${cwd}, not ${root}`)
          console.log(`  ${label}: ${server} pid ${target.child.pid} runs in ${cwd}`)
          const rows = await runTarget(target, (line) => console.log(`  ${line}`))
          if (scraped !== undefined) console.log(`  ${label}: ${scraped()}`)
          for (const { row } of rows) if (!clean(row)) failed = true
          runs.push({ store: server, round, label, rows })
          await Children.stop(target.child)
        } finally {
          for (const step of cleanup.reverse()) await step().catch(() => undefined)
        }
        console.log(`round ${round} ${label} ${server}: load average at the end ${load()}\n`)
      }
    }
  }

  const cell = (n: number | undefined, digits = 0) => (n === undefined ? "" : n.toFixed(digits))
  const rowOf = (store: string, round: number, label: "A" | "B", endpoint: Endpoint) =>
    runs.find((r) => r.store === store && r.round === round && r.label === label)?.rows.find((r) => r.endpoint === endpoint)?.row
  const lines: Array<Array<string>> = [["server", "endpoint", "round", "A CPU µs/req", "B CPU µs/req", "B/A", "A +DB µs/req", "B +DB µs/req", "B/A +DB"]]
  const medians: Array<string> = []
  for (const store of [...new Set(runs.map((r) => r.store))]) {
    for (const endpoint of rowNames) {
      const ratios: Array<number> = []
      const withDb: Array<number> = []
      for (let round = 1; round <= rounds; round++) {
        const a = rowOf(store, round, "A", endpoint)
        const b = rowOf(store, round, "B", endpoint)
        if (a === undefined && b === undefined) continue
        const ratio = a !== undefined && b !== undefined ? b.serverCpu / a.serverCpu : undefined
        const total = (r: Load.Row | undefined) => (r?.dbCpu === undefined ? undefined : r.serverCpu + r.dbCpu.perRequest)
        const ta = total(a)
        const tb = total(b)
        const ratioDb = ta !== undefined && tb !== undefined ? tb / ta : undefined
        if (ratio !== undefined) ratios.push(ratio)
        if (ratioDb !== undefined) withDb.push(ratioDb)
        lines.push([store, endpoint, String(round), cell(a?.serverCpu), cell(b?.serverCpu), cell(ratio, 2), cell(ta), cell(tb), cell(ratioDb, 2)])
      }
      if (ratios.length > 0) {
        medians.push(`${store.padEnd(16)} ${endpoint.padEnd(10)} median B/A server CPU per request ${median(ratios).toFixed(2)}x` +
          ` (rounds: ${ratios.map((r) => r.toFixed(2)).join(", ")})` +
          (withDb.length > 0 ? `; server + database ${median(withDb).toFixed(2)}x (${withDb.map((r) => r.toFixed(2)).join(", ")})` : ""))
      }
    }
  }
  console.log(`${table(lines)}\n`)
  console.log(`${medians.join("\n")}\n`)
  console.log(
    `Load average at the end: ${load()}. B/A above 1: B (this checkout) spends more CPU per request than A.\n` +
      "Server CPU: the child's utime + stime over the measured window, per request (for PGlite the embedded database\n" +
      "included); +DB adds the Postgres backends of the run's scratch database."
  )
  if (failed) {
    console.log("\nFAILED: some requests errored or answered non-2xx, or a row completed none (lengthen BENCH_SECONDS).")
    process.exitCode = 1
  }
}

const other = process.env["BENCH_COMPARE"]
if (other !== undefined && other !== "") await compare(other)
else await main()
