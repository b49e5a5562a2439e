/**
 * Token benchmark (issues 5 and 17): Tessera over PostgreSQL, Tessera over PGlite, and oidc-provider 9 configured the
 * same way (bench/servers.ts, bench/peer.ts), each a child process on loopback loaded by autocannon from here, and
 * the ratio of Tessera's server CPU per request to oidc-provider's in the same run (docs/performance.md).
 *
 *   npm run bench                                      PGlite and oidc-provider; Postgres skipped, and why
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench
 *                                                      all three (a scratch database on that server, dropped after)
 *   BENCH_SECONDS=10 BENCH_WARMUP_SECONDS=3 BENCH_CONNECTIONS=20   the defaults (use e.g. 3 and 1 for a quick run)
 *   BENCH_SERVERS=postgres,pglite,oidc-provider        which servers to run (default: all)
 *   BENCH_ROWS=startup,token,token-dpop,refresh,code,introspect,jwks,discovery
 *                                                      which rows (default: these; `exchange` runs when named;
 *                                                      BENCH_ENDPOINTS is the older name)
 *   BENCH_DPOP_PROOFS_PER_SECOND=4000                  at most this many DPoP proofs per second of a token-dpop run
 *   BENCH_POOL_MAX=10000                               at most this many codes or refresh tokens per code or refresh run
 *   BENCH_START_LATER=3 BENCH_IDLE_SECONDS=5           startup: later starts after the first, idle time before the RSS
 *   BENCH_CPU_PROF=<dir>                               every child writes a V8 CPU profile (node --cpu-prof) there, and
 *                                                      the end of the run prints each row's top (bench/profile.ts)
 *
 * Rows (each checks every answer: bench/shapes.ts; a row with connection errors, non-2xx or wrong answers fails):
 *   startup     spawn to ready, first start (migrations) and later ones, and idle RSS (bench/startup.ts)
 *   token       client credentials with `resource` and `scope`, client_secret_basic: an ES256 RFC 9068 access token
 *   token-dpop  the same with a DPoP proof (RFC 9449 §4), one fresh proof per request signed before the run
 *   refresh     RFC 6749 §6 refresh with `resource`, each request a different refresh token (both servers rotate it)
 *   code        RFC 6749 §4.1.3 code exchange with PKCE and `resource`, each request a different code
 *   introspect  RFC 7662 introspection of a client-credentials access token by its client (bench/fixtures.ts)
 *   jwks, discovery   GETs of the JWKS and of /.well-known/openid-configuration
 *   exchange    RFC 8693 token exchange by an agent (Tessera only; not in the default set)
 * The codes and refresh tokens are made by the real flow before the measured window (bench/flows.ts): the measured
 * request is exactly the client's. Rows with a value used once run a fixed number of requests (bench/load.ts).
 *
 *   BENCH_COMPARE=metrics                              this checkout with metrics off (A) and on (B: TESSERA_METRICS_PORT
 *                                                      set, /metrics scraped every second during the run), interleaved as
 *                                                      below: what recording and exporting the metrics cost (ADR 0040)
 *   BENCH_COMPARE=<checkout>                           compare two checkouts of the server instead (bench/compare.sh):
 *                                                      A = that checkout, B = this one, run interleaved A B A B A B
 *                                                      (BENCH_COMPARE_ROUNDS, default 3) on each Tessera server of
 *                                                      BENCH_SERVERS, with the rows of BENCH_ROWS driven by this
 *                                                      file; per row and round the server CPU per request of A and B and
 *                                                      B/A, then the median B/A; the load average at each run's start and end
 *
 * Per row: requests/s, latency p50 and p99 (ms), errors (connection errors and timeouts), non-2xx and wrong answers
 * (all must be 0), the server process's CPU per request (utime + stime from /proc/<pid>/stat over the measured window
 * only), and for Postgres the CPU of the database's backends per request (every pid pg_stat_activity lists for the
 * scratch database, from /proc). Then the ratios Tessera ÷ oidc-provider of CPU per request, which hold up on a noisy
 * machine far better than requests/s do, with issue 17's targets.
 */
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { execFileSync } from "node:child_process"
import * as Jose from "jose"
import * as Children from "./children.js"
import * as Dpop from "./dpop.js"
import * as Load from "./load.js"
import * as Postgres from "./postgres.js"
import * as Profile from "./profile.js"
import { clean, dpopCost, ratios, type Result, rows as rowsTable, table } from "./report.js"
import { accessTokenSeconds, type Endpoint, resource, scope, type Target } from "./servers.js"
import * as Servers from "./servers.js"
import * as Startup from "./startup.js"

const settings: Load.Settings = {
  connections: Number(process.env["BENCH_CONNECTIONS"] ?? 20),
  seconds: Number(process.env["BENCH_SECONDS"] ?? 10),
  warmupSeconds: Number(process.env["BENCH_WARMUP_SECONDS"] ?? 3)
}
const options: Servers.Options = {
  settings,
  proofsPerSecond: Number(process.env["BENCH_DPOP_PROOFS_PER_SECOND"] ?? 4000),
  poolMax: Number(process.env["BENCH_POOL_MAX"] ?? 10000)
}
const servers = (process.env["BENCH_SERVERS"] ?? "postgres,pglite,oidc-provider").split(",").map((s) => s.trim())

const known: ReadonlyArray<Endpoint> = ["token", "token-dpop", "refresh", "code", "introspect", "jwks", "discovery", "exchange"]
const rowNames = (process.env["BENCH_ROWS"] ?? process.env["BENCH_ENDPOINTS"] ?? "startup,token,token-dpop,refresh,code,introspect,jwks,discovery")
  .split(",").map((s) => s.trim())
const unknownRows = rowNames.filter((r) => r !== "startup" && !(known as ReadonlyArray<string>).includes(r))
if (unknownRows.length > 0) throw new Error(`BENCH_ROWS: no row ${unknownRows.join(", ")} (rows: startup, ${known.join(", ")})`)
const endpoints = rowNames.filter((e): e is Endpoint => (known as ReadonlyArray<string>).includes(e))
const startupRow = rowNames.includes("startup")
const profileDir = process.env["BENCH_CPU_PROF"] !== undefined && process.env["BENCH_CPU_PROF"] !== "" ? Path.resolve(process.env["BENCH_CPU_PROF"]) : undefined

/**
 * Before any load: one token from the server, verified against its JWKS, must be the same kind of token on every
 * server (ES256, typ at+jwt, aud the resource, the scope asked, 15 minutes), so the rows compare like with like; with
 * a DPoP proof, a DPoP token bound to the load generator's key (RFC 9449 §5, §6.1).
 */
const checkEquivalent = async (target: Target, withProof = false) => {
  const token = target.requests.token
  const proof = withProof ? { dpop: await Dpop.signProof(target.key, token.url) } : {}
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

const load = () => Os.loadavg().map((l) => l.toFixed(2)).join(" ")

/**
 * One server's rows: its token checked first (and with a proof for token-dpop), the prepared rows' requests made and
 * one answer of each checked, then every row of `endpoints` measured in order. Logs as it goes; the rows by endpoint.
 */
const runTarget = async (target: Target, log: (line: string) => void) => {
  log(`${target.server}: pid ${target.child.pid}, ready in ${target.child.readyMs.toFixed(0)} ms; token: ${await checkEquivalent(target)}`)
  if (endpoints.includes("token-dpop")) log(`  token-dpop: ${await checkEquivalent(target, true)}, cnf.jkt the proof's key`)
  const rows: Array<{ endpoint: Endpoint; row: Load.Row }> = []
  for (const endpoint of endpoints) {
    let planned: { readonly request: Load.Request; readonly expiresAt?: number }
    if (endpoint === "token" || endpoint === "token-dpop" || endpoint === "jwks" || endpoint === "discovery") {
      planned = { request: target.requests[endpoint] }
    } else {
      const made = await target.prepare(endpoint)
      if (typeof made === "string") {
        log(`  ${endpoint}: ${made}`)
        continue
      }
      planned = made
      log(`  ${endpoint}: ${made.checked}`)
    }
    // what the row presents must outlive it (a 15-minute token and runs of a few minutes: only very long settings fail)
    const ends = Date.now() / 1000 + 2 * settings.warmupSeconds + settings.seconds + 60
    if (planned.expiresAt !== undefined && planned.expiresAt < ends) {
      throw new Error(`${target.server} ${endpoint}: its token expires before the row would end: shorten BENCH_SECONDS`)
    }
    const row = await Load.measure(planned.request, settings, target.child.pid, target.database)
    rows.push({ endpoint, row })
    if (profileDir !== undefined) {
      Profile.recordWindow(profileDir, { server: target.server, endpoint, pid: target.child.pid, ...row.window, requests: row.requests })
    }
    const db = row.dbCpu === undefined ? "" : `, DB CPU ${row.dbCpu.perRequest.toFixed(0)} µs/req`
    const wrong = row.wrong === 0 ? "" : ` (the first: ${row.firstWrong})`
    log(`  ${endpoint}: ${row.requests} requests, ${row.perSecond.toFixed(0)}/s, non-2xx ${row.non2xx}, errors ${row.errors}, wrong ${row.wrong}${wrong}, ` +
      `server CPU ${row.serverCpu.toFixed(0)} µs/req${db}`)
    if ((endpoint === "token" || endpoint === "code" || endpoint === "refresh") && target.audited !== undefined) log(`  ${await target.audited()}`)
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
      `rows ${rowNames.join(", ")}; servers ${servers.join(", ")}\n` +
      `autocannon, ${settings.connections} connections, ${settings.warmupSeconds} s warm-up then ${settings.seconds} s measured per row` +
      ` (rows with a value used once: a fixed count sized from the warm-up's rate to last about as long).\n`
  )
  if (profileDir !== undefined) await Fs.rm(Profile.windowsFile(profileDir), { force: true })
  let failed = false
  let starts: ReadonlyArray<Startup.Start> = []
  if (startupRow) {
    console.log(`startup: load average ${load()}`)
    starts = await Startup.measure(servers, postgresDatabase, {
      later: Number(process.env["BENCH_START_LATER"] ?? 3),
      idleSeconds: Number(process.env["BENCH_IDLE_SECONDS"] ?? 5)
    }, console.log)
    console.log(`startup: load average at the end ${load()}\n`)
  }
  const cleanup: Array<() => Promise<void>> = []
  const results: Array<Result> = []
  try {
    const plan: Array<() => Promise<Target | undefined>> = []
    if (endpoints.length > 0 && servers.includes("postgres")) {
      plan.push(async () => {
        const database = await postgresDatabase()
        if (typeof database === "string") {
          console.log(`tessera/postgres: ${database}\n`)
          return undefined
        }
        cleanup.push(database.drop)
        console.log(`tessera/postgres: PostgreSQL ${database.version}, scratch database ${database.name}, ${database.durability}`)
        return Servers.tessera(options, "tessera/postgres", database, cleanup)
      })
    }
    if (endpoints.length > 0 && servers.includes("pglite")) plan.push(() => Servers.tessera(options, "tessera/pglite", undefined, cleanup))
    if (endpoints.length > 0 && servers.includes("oidc-provider")) plan.push(() => Servers.peer(options, cleanup))
    for (const next of plan) {
      const target = await next()
      if (target === undefined) continue
      console.log(`${target.server}: load average ${load()}`)
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
  if (starts.length > 0) console.log(`${Startup.report(starts)}\n`)
  if (results.length > 0) {
    console.log(`${rowsTable(results)}\n`)
    console.log(`${ratios(results, endpoints)}\n`)
  }
  if (endpoints.includes("token-dpop")) console.log(`${dpopCost(results, await Dpop.verificationMicros())}\n`)
  console.log(
    `Load average at the end: ${load()} (a loaded machine shifts req/s and latency; the CPU ratios hold up better).\n` +
      "Server CPU: the child's utime + stime (all its threads) over the measured window only, per completed request;\n" +
      "for PGlite that includes the embedded database. DB CPU: the Postgres backends of the scratch database (not the\n" +
      "WAL writer or checkpointer). Tessera writes and chains an audit event for every token it answers;\n" +
      "oidc-provider stores nothing for a JWT access token (it stores codes, grants and refresh tokens in memory)."
  )
  if (profileDir !== undefined && (results.length > 0 || starts.length > 0)) console.log(`\nCPU profiles over each row's measured window (${profileDir}):\n\n${Profile.summarizeDir(profileDir)}`)
  if (failed) {
    console.log("\nFAILED: some requests errored, answered non-2xx or a wrong body, or a row completed none (lengthen BENCH_SECONDS).")
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
    console.log(
    `Comparison: node ${process.version}, ${Os.cpus().length} CPUs, load average ${load()}\n` +
      `A = ${checkouts[0]!.root}: ${commitOf(checkouts[0]!.root)}${metrics ? ", metrics off (TESSERA_METRICS_PORT unset)" : ""}\n` +
      `B = ${checkouts[1]!.root}: ${commitOf(checkouts[1]!.root)}${metrics ? ", metrics on (TESSERA_METRICS_PORT, scraped every second)" : ""}\n` +
      `rows ${endpoints.join(", ")} (this file drives both); ${rounds} rounds A B per server (${stores.map((s) => `tessera/${s}`).join(", ")}), ` +
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
          const target = await Servers.tessera(options, server, database, cleanup, root, metricsPort === undefined ? {} : { TESSERA_METRICS_PORT: String(metricsPort) })
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
    for (const endpoint of endpoints) {
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
