/**
 * Store benchmark (issue 3, "Performance"): realm-scoped transactions per second on the embedded PGlite and, when
 * DATABASE_URL is set, on PostgreSQL, through the same store ports the server uses.
 *
 * One transaction = one `Audit.append` of a realistic `token.issued` event, as the app records it. The port runs it
 * as ONE realm transaction: BEGIN; set_config('app.realm_id', $1, true); SELECT the chain head FOR UPDATE (the read);
 * INSERT the event row and INSERT/UPDATE the chain head (the writes); COMMIT.
 *
 *   npm run bench:store                                   PGlite only (Postgres skipped, and why)
 *   DATABASE_URL=postgres://... npm run bench:store       PGlite and Postgres, with the PGlite/Postgres ratio
 *   BENCH_SECONDS=5                                       measured seconds per scenario (default 5)
 *
 * Postgres runs in a scratch database `tessera_bench_<pid>` created on the DATABASE_URL's server (through its
 * `postgres` database) and dropped afterwards; the database named in DATABASE_URL is never touched. PGlite runs in
 * a fresh temporary directory, removed afterwards.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { SqlClient } from "@effect/sql"
import { DateTime, Effect, Layer, Logger, LogLevel, Redacted } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { performance } from "node:perf_hooks"
import Pg from "pg"
import { Audit, AuditEvent, Realms, SigningKey } from "@tessera/domain"
import type { Realm } from "@tessera/domain"
import { Database, ports } from "@tessera/sql"

const seconds = Number(process.env["BENCH_SECONDS"] ?? 5)
const warmupSeconds = 1
const realmCount = 8
const scenarios = [
  { name: "sequential", concurrency: 1 },
  { name: "concurrency 16", concurrency: 16 }
] as const

type Store = "PGlite" | "Postgres"

interface Result {
  readonly store: Store
  readonly scenario: string
  readonly tx: number
  readonly txPerSecond: number
  readonly p50: number
  readonly p99: number
  /** Node process CPU (user + system) per transaction, in ms. */
  readonly cpuPerTx: number
}

// --- fixtures: realms created through the ports, events shaped like the ones the token endpoint records ---

const sealed: SigningKey.Sealed = { iv: "aXY", ciphertext: "Y2lwaGVy" }
const key = (kid: string, alg: SigningKey.Alg, status: "active" | "next", at: DateTime.Utc): SigningKey.SigningKey =>
  SigningKey.SigningKey[status === "active" ? "Active" : "Next"]({ kid, alg, publicJwk: { kty: "EC", kid }, sealedPrivateJwk: sealed, createdAt: at, activatesAt: at })

const nowUtc = () => DateTime.unsafeMake(Date.now())

const createRealms = Effect.gen(function*() {
  const realms = yield* Realms.Realms
  const made: Array<Realm.Realm> = []
  for (let i = 0; i < realmCount; i++) {
    const at = nowUtc()
    const realm: Realm.Realm = {
      id: crypto.randomUUID(), name: `bench-${i}-${process.pid}`, dynamicRegistration: false, createdAt: at, version: 1
    }
    const ring: SigningKey.Ring = {
      version: 1,
      keys: [key("a1", "ES256", "active", at), key("n1", "ES256", "next", at), key("a2", "RS256", "active", at), key("n2", "RS256", "next", at)]
    }
    yield* realms.create(realm, ring, {
      id: crypto.randomUUID(), at, realmId: realm.id, realm: realm.name, type: "realm.created", actor: AuditEvent.owner, result: "success"
    })
    made.push(realm)
  }
  return made
})

const tokenIssued = (realm: Realm.Realm, n: number): AuditEvent.AuditEvent => ({
  id: crypto.randomUUID(),
  at: nowUtc(),
  realmId: realm.id,
  realm: realm.name,
  type: "token.issued",
  actor: { type: "client", id: "mcp-client-0001" },
  subject: `user-${n % 1000}`,
  clientId: "mcp-client-0001",
  grantType: "authorization_code",
  resource: "https://api.example.com/mcp",
  scope: "openid profile tools:read tools:call",
  result: "success",
  ip: "203.0.113.17",
  userAgent: "Mozilla/5.0 (X11; Linux x86_64) bench/1.0"
})

// --- measurement ---

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!

/** `concurrency` workers append events round-robin over the realms until `duration` seconds have passed. */
const run = (realms: ReadonlyArray<Realm.Realm>, concurrency: number, duration: number) =>
  Effect.gen(function*() {
    const audit = yield* Audit.Audit
    const latencies: Array<number> = []
    let next = 0
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    const deadline = t0 + duration * 1000
    const worker = Effect.gen(function*() {
      while (performance.now() < deadline) {
        const n = next++
        const event = tokenIssued(realms[n % realms.length]!, n)
        const start = performance.now()
        yield* audit.append(event)
        latencies.push(performance.now() - start)
      }
    })
    yield* Effect.all(Array.from({ length: concurrency }, () => worker), { concurrency: "unbounded", discard: true })
    const elapsed = (performance.now() - t0) / 1000
    const cpu = process.cpuUsage(cpu0)
    latencies.sort((a, b) => a - b)
    return {
      tx: latencies.length,
      txPerSecond: latencies.length / elapsed,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      cpuPerTx: (cpu.user + cpu.system) / 1000 / Math.max(1, latencies.length)
    }
  })

/** Creates the realms, then a warm-up and a measured run per scenario; checks every realm's chain at the end. */
const benchStore = (store: Store, detail: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    // what a COMMIT waits for differs between the stores: print it next to the numbers
    const [durability] = yield* sql<{ fsync: string; synchronous_commit: string }>`
      SELECT current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS synchronous_commit`.pipe(Effect.orDie)
    const opened = performance.now()
    const realms = yield* createRealms
    yield* Effect.sync(() =>
      console.log(
        `${store}: ${detail}; fsync=${durability?.fsync}, synchronous_commit=${durability?.synchronous_commit}; ` +
          `ready with ${realmCount} realms in ${((performance.now() - opened) / 1000).toFixed(1)} s`
      )
    )
    const results: Array<Result> = []
    for (const scenario of scenarios) {
      yield* run(realms, scenario.concurrency, warmupSeconds)
      const r = yield* run(realms, scenario.concurrency, seconds)
      results.push({ store, scenario: scenario.name, ...r })
      yield* Effect.sync(() => console.log(`  ${scenario.name}: ${r.tx} transactions`))
    }
    // every counted transaction committed, and the chains are intact after the concurrent writers
    const audit = yield* Audit.Audit
    let events = 0
    for (const realm of realms) {
      const verdict = yield* audit.verify(realm.id)
      if (!verdict.ok) return yield* Effect.dieMessage(`${store}: the audit chain of ${realm.name} is broken: ${JSON.stringify(verdict)}`)
      events += verdict.events
    }
    yield* Effect.sync(() => console.log(`  audit chains verified: ${events} events in ${realmCount} realms`))
    return results
  })

// --- stores ---

const tempDir = Effect.acquireRelease(
  Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "tessera-bench-"))),
  (dir) => Effect.promise(() => Fs.rm(dir, { recursive: true, force: true }))
)

const pglite = Effect.scoped(Effect.gen(function*() {
  const dir = yield* tempDir
  const opened = performance.now()
  return yield* Effect.provide(
    Effect.suspend(() => benchStore("PGlite", `fresh data directory, opened and migrated in ${((performance.now() - opened) / 1000).toFixed(1)} s`)),
    ports.pipe(Layer.provideMerge(Database.layerPglite(dir)))
  )
}))

const withUrlDatabase = (url: string, database: string) => {
  const u = new URL(url)
  u.pathname = `/${encodeURIComponent(database)}`
  return u.toString()
}

const adminQuery = (url: string, text: string) =>
  Effect.promise(async () => {
    const client = new Pg.Client({ connectionString: withUrlDatabase(url, "postgres"), connectionTimeoutMillis: 5000 })
    await client.connect()
    try {
      await client.query(text)
    } finally {
      await client.end()
    }
  })

/** A scratch database on the DATABASE_URL's server, dropped when the scope closes. */
const scratchDatabase = (url: string) => {
  const name = `tessera_bench_${process.pid}`
  return Effect.acquireRelease(
    Effect.as(adminQuery(url, `CREATE DATABASE "${name}"`), name),
    () => adminQuery(url, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).pipe(Effect.orDie)
  )
}

const postgres = (url: string) =>
  Effect.scoped(Effect.gen(function*() {
    const database = yield* scratchDatabase(url)
    const opened = performance.now()
    return yield* Effect.provide(
      Effect.suspend(() =>
        benchStore(
          "Postgres",
          `scratch database ${database}, pool of 10 (the app's default), migrated in ${((performance.now() - opened) / 1000).toFixed(1)} s`
        )
      ),
      ports.pipe(Layer.provideMerge(Database.layerPostgres(Redacted.make(withUrlDatabase(url, database)))))
    )
  }))

// --- report ---

const table = (rows: ReadonlyArray<ReadonlyArray<string>>) => {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)))
  const line = (row: ReadonlyArray<string>) => row.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ")
  return [line(rows[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)].join("\n")
}

const report = (results: ReadonlyArray<Result>) => {
  const pg = (scenario: string) => results.find((r) => r.store === "Postgres" && r.scenario === scenario)
  const rows = results.map((r) => {
    const other = pg(r.scenario)
    const ratio = r.store !== "PGlite" ? "" : other === undefined ? "no Postgres" : `${(r.txPerSecond / other.txPerSecond).toFixed(2)}x`
    return [
      r.store,
      r.scenario,
      r.txPerSecond.toFixed(0),
      r.p50.toFixed(2),
      r.p99.toFixed(2),
      r.cpuPerTx.toFixed(3) + (r.store === "Postgres" ? " (client)" : ""),
      ratio
    ]
  })
  return table([["store", "scenario", "tx/s", "p50 ms", "p99 ms", "CPU ms/tx", "PGlite/Postgres tx/s"], ...rows])
}

const program = Effect.gen(function*() {
  const url = process.env["DATABASE_URL"]
  console.log(
    `Store benchmark: node ${process.version}, ${Os.cpus().length} CPUs, load average ${Os.loadavg().map((l) => l.toFixed(2)).join(" ")}\n` +
      `One transaction = Audit.append of a token.issued event: one realm transaction (set_config, SELECT the chain head\n` +
      `FOR UPDATE, INSERT the event, UPDATE the head, COMMIT), spread round-robin over ${realmCount} realms.\n` +
      `Each scenario: ${warmupSeconds} s warm-up, then ${seconds} s measured.\n`
  )
  const results: Array<Result> = []
  results.push(...(yield* pglite))
  if (url === undefined || url === "") {
    console.log("\nPostgres: skipped, DATABASE_URL is not set (e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres)")
  } else {
    results.push(...(yield* postgres(url)))
  }
  console.log(`\n${report(results)}\n`)
  console.log(
    "CPU ms/tx is this Node process's user+system time per transaction; for PGlite that includes the database itself\n" +
      "(WASM, in-process), for Postgres only the client side (the server's CPU is not counted).\n" +
      "Latency is per transaction as a caller sees it, including the wait for a connection at concurrency 16.\n" +
      "Durability differs (see fsync above): with fsync=off (PGlite's default) a COMMIT does not wait for the disk, so a\n" +
      "power loss or OS crash can lose recent commits; with fsync=on and synchronous_commit=on each COMMIT waits for the\n" +
      "WAL flush, which bounds the sequential rate."
  )
})

NodeRuntime.runMain(program.pipe(Logger.withMinimumLogLevel(LogLevel.Warning)))
