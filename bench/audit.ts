/**
 * Audit trail at scale (issue 15, ADR 0042): one realm's trail filled with valid chained events to each size, then
 * the full verification (from the first event), a verification resumed from its checkpoint after 1 000 new events,
 * and the audit query of CONTRACT §3 with each of its filters and a cursor page, through the store ports the server
 * uses (the HTTP route adds only its own decoding and encoding).
 *
 *   DATABASE_URL=postgres://... npm run bench:audit       PostgreSQL (a scratch database, dropped afterwards)
 *   BENCH_STORE=pglite npm run bench:audit                 the embedded PGlite (in memory)
 *   BENCH_SIZES=100000,1000000,10000000                    the sizes, in increasing order (this is the default)
 *   BENCH_FILL_INDEXES=after                               the fill drops audit_events' secondary indexes and
 *                                                          builds them again from their own definitions before
 *                                                          anything is measured (checked identical)
 *   BENCH_ONLY=verify, BENCH_ONLY=queries                  only the full and the resumed verification, or only
 *                                                          the queries
 *   BENCH_DB=h_audit                                       PostgreSQL: this database, created if absent and kept
 *                                                          afterwards; a trail already there is reused, so a size
 *                                                          it has reached is measured without filling again
 *
 * The fill writes rows as the tables' owner, in batches of `fillChunk` (INSERT ... SELECT FROM unnest), each link
 * hashed here exactly as `audit_append` hashes it, and moves the chain head, so the application appends after it.
 * The next batch is built while the database inserts the last one.
 */
import * as NodeCrypto from "node:crypto"
import * as Os from "node:os"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { performance } from "node:perf_hooks"
import { SqlClient } from "@effect/sql"
import { DateTime, Effect, Layer, Logger, LogLevel, Redacted } from "effect"
import Pg from "pg"
import { Audit, AuditChain, AuditEvent, AuditVerification, CheckpointKey, Realms, SigningKey } from "@tessera/domain"
import type { Realm } from "@tessera/domain"
import * as ServerCrypto from "@tessera/server-node/NodeCrypto"
import { Database, ports } from "@tessera/sql"
import * as PgAudit from "@tessera/sql/PgAudit"
import { kept, scratch } from "./postgres.js"

const sizes = (process.env["BENCH_SIZES"] ?? "100000,1000000,10000000").split(",").map(Number)
const store = process.env["BENCH_STORE"] === "pglite" ? "PGlite" : "PostgreSQL"
const fillChunk = 5000
const queryRuns = 7

const base = Date.parse("2026-01-01T00:00:00Z")
/** Event `i` happens 100 ms after event `i - 1`: 10 000 000 events span about 11.6 days. */
const atOf = (i: number) => base + i * 100

const types: ReadonlyArray<AuditEvent.EventType> = ["token.issued", "token.refreshed", "login.succeeded", "token.exchanged", "consent.granted"]

/** Event `i` of the filled trail: 10 000 subjects, 100 clients, 5 common types, one `refresh.reuse_detected` in 100 000. */
const eventOf = (realm: Realm.Realm, i: number): AuditEvent.AuditEvent => ({
  id: NodeCrypto.randomUUID(),
  at: DateTime.unsafeMake(atOf(i)),
  realmId: realm.id,
  realm: realm.name,
  type: i % 100_000 === 7 ? "refresh.reuse_detected" : types[i % types.length]!,
  actor: { type: "client", id: `client-${i % 100}` },
  subject: `user-${i % 10_000}`,
  clientId: `client-${i % 100}`,
  grantType: "authorization_code",
  resource: "https://api.example.com/mcp",
  scope: "openid tools:read",
  result: "success",
  ip: "203.0.113.17",
  userAgent: "bench/1.0"
})

const hashOf = (prev: string, event: AuditEvent.AuditEvent) =>
  NodeCrypto.createHash("sha256").update(`${prev}\n${AuditChain.canonical(event)}`).digest("base64url")

/** Runs owner SQL in a transaction pinned to the realm; answers its rows. */
type Owner = (realmId: string, text: string, params: ReadonlyArray<unknown>, role?: "tessera_app") => Effect.Effect<ReadonlyArray<Record<string, unknown>>, unknown>

/** The plan PostgreSQL picks for `text` as the application (`tessera_app`, under row-level security), run once. */
const explain = (owner: Owner, realmId: string, text: string, params: ReadonlyArray<unknown>) =>
  Effect.map(
    owner(realmId, `EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) ${text}`, params, "tessera_app"),
    (rows) => rows.map((r) => String(r["QUERY PLAN"])).filter((l) => !/^\s*(Planning|Buffers)/.test(l)).join(" | ")
  )

const columns = [
  "seq", "id", "at", "type", "actor_id", "subject", "client_id", "prev_hash", "hash"
] as const

/** Sends one INSERT of the fill (as the tables' owner); resolves when it is committed. */
type Insert = (text: string, params: ReadonlyArray<unknown>) => Promise<unknown>

/** Where the fill's time went: building and hashing the rows here, and waiting for the database beyond that. */
interface FillTime {
  buildMs: number
  waitMs: number
  /** BENCH_FILL_INDEXES=after: building the secondary indexes after the rows. */
  indexMs: number
}

const insertChunk = `
  INSERT INTO audit_events (realm_id, seq, id, at, realm, type, actor_type, actor_id, subject, client_id, grant_type,
    resource, scope, result, ip, user_agent, prev_hash, hash)
  SELECT $1, seq, id, at, $2, type, 'client', actor_id, subject, client_id, 'authorization_code',
    'https://api.example.com/mcp', 'openid tools:read', 'success', '203.0.113.17', 'bench/1.0', prev_hash, hash
  FROM unnest($3::bigint[], $4::uuid[], $5::timestamptz[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])
    AS t(seq, id, at, type, actor_id, subject, client_id, prev_hash, hash)`

const nextTick = () => new Promise<void>((resolve) => setImmediate(resolve))

/**
 * Appends events `from + 1` .. `to` (positions) after the head `prev`; answers the new head's hash. Pipelined: the
 * next chunk is built and hashed while the database inserts the one before (two cores: Node's and PostgreSQL's),
 * built in slices of 500 so the socket writes the pending INSERT in between.
 */
const fill = async (insert: Insert, realm: Realm.Realm, from: number, to: number, prevHash: string, time: FillTime) => {
  let prev = prevHash
  const build = async (start: number, end: number) => {
    let t0 = performance.now()
    const cols: Record<(typeof columns)[number], Array<unknown>> = {
      seq: [], id: [], at: [], type: [], actor_id: [], subject: [], client_id: [], prev_hash: [], hash: []
    }
    for (let seq = start; seq <= end; seq++) {
      if ((seq - start) % 500 === 499) {
        time.buildMs += performance.now() - t0
        await nextTick()
        t0 = performance.now()
      }
      const event = eventOf(realm, seq)
      const hash = hashOf(prev, event)
      cols.seq.push(seq)
      cols.id.push(event.id)
      cols.at.push(new Date(event.at.epochMillis).toISOString())
      cols.type.push(event.type)
      cols.actor_id.push(event.actor.id)
      cols.subject.push(event.subject)
      cols.client_id.push(event.clientId)
      cols.prev_hash.push(prev)
      cols.hash.push(hash)
      prev = hash
    }
    time.buildMs += performance.now() - t0
    return cols
  }
  let pending: Promise<unknown> = Promise.resolve()
  let reported = from
  const t0 = performance.now()
  for (let start = from + 1; start <= to; start += fillChunk) {
    const end = Math.min(to, start + fillChunk - 1)
    const cols = await build(start, end)
    const tw = performance.now()
    await pending
    time.waitMs += performance.now() - tw
    pending = insert(insertChunk,
      [realm.id, realm.name, cols.seq, cols.id, cols.at, cols.type, cols.actor_id, cols.subject, cols.client_id, cols.prev_hash, cols.hash])
    if (end - reported >= 1_000_000 || end === to) {
      reported = end
      console.log(`  filled to ${end.toLocaleString("en")} in ${((performance.now() - t0) / 1000).toFixed(0)} s; load average ${loadavg()}`)
    }
  }
  const tw = performance.now()
  await pending
  time.waitMs += performance.now() - tw
  return prev
}

/** The statement `PgAudit`'s query sends for `filter` (for EXPLAIN). */
const querySql = (realmId: string, filter: AuditEvent.Filter): readonly [string, ReadonlyArray<unknown>] => {
  const params: Array<unknown> = [realmId]
  const clauses = ["realm_id = $1"]
  const add = (column: string, op: string, value: unknown) => {
    params.push(value)
    clauses.push(`${column} ${op} $${params.length}`)
  }
  if (filter.before !== undefined) add("seq", "<", filter.before)
  if (filter.type !== undefined) add("type", "=", filter.type)
  if (filter.subject !== undefined) add("subject", "=", filter.subject)
  if (filter.actor !== undefined) add("actor_id", "=", filter.actor)
  if (filter.clientId !== undefined) add("client_id", "=", filter.clientId)
  // ADR 0045: as PgAudit bounds the key range of `since`/`until`
  const bound = (op: string) => `(SELECT $${params.length}::timestamptz ${op} max_lag FROM audit_heads WHERE realm_id = $1)`
  if (filter.since !== undefined) {
    add("at", ">=", new Date(filter.since.epochMillis))
    clauses.push(`seq > (SELECT coalesce((SELECT b.seq FROM audit_events b WHERE b.realm_id = $1 AND b.at < ${bound("-")} ORDER BY b.at DESC LIMIT 1), 0))`)
  }
  if (filter.until !== undefined) {
    add("at", "<=", new Date(filter.until.epochMillis))
    clauses.push(`seq < (SELECT coalesce((SELECT b.seq FROM audit_events b WHERE b.realm_id = $1 AND b.at > ${bound("+")} ORDER BY b.at LIMIT 1), 9223372036854775807))`)
  }
  return [`SELECT * FROM audit_events WHERE ${clauses.join(" AND ")} ORDER BY seq DESC LIMIT ${filter.limit}`, params]
}

const sealed: SigningKey.Sealed = { iv: "aXY", ciphertext: "Y2lwaGVy" }

const ms = (t0: number) => performance.now() - t0

const loadavg = () => Os.loadavg().map((l) => l.toFixed(2)).join(" ")

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/** Wall time, and this process's CPU time (user + system): on a loaded machine the CPU time is the steadier figure. */
const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const t0 = performance.now()
    const cpu0 = process.cpuUsage()
    const value = yield* effect
    const cpu = process.cpuUsage(cpu0)
    return { value, ms: ms(t0), cpuMs: (cpu.user + cpu.system) / 1000 }
  })

/** The secondary indexes and constraints of `audit_events` as PostgreSQL prints their definitions. */
const indexDefinitions = (owner: Owner, realmId: string) =>
  Effect.map(
    owner(realmId, `
      SELECT i.relname AS name, pg_get_indexdef(i.oid) AS index, c.conname AS constraint, pg_get_constraintdef(c.oid) AS constraint_def
      FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid LEFT JOIN pg_constraint c ON c.conindid = i.oid AND c.conrelid = x.indrelid
      WHERE x.indrelid = 'audit_events'::regclass ORDER BY i.relname`, []),
    (rows) => rows.map((r) => ({
      name: String(r["name"]),
      index: String(r["index"]),
      constraint: r["constraint"] === null ? undefined : { name: String(r["constraint"]), def: String(r["constraint_def"]) }
    }))
  )

type Definitions = Effect.Effect.Success<ReturnType<typeof indexDefinitions>>

/** BENCH_FILL_INDEXES=after: every index of `audit_events` but the primary key dropped for the fill; answers them. */
const dropIndexes = (owner: Owner, realmId: string) =>
  Effect.gen(function*() {
    const all = yield* indexDefinitions(owner, realmId)
    for (const d of all) {
      if (d.name === "audit_events_pkey") continue
      yield* owner(realmId, d.constraint !== undefined
        ? `ALTER TABLE audit_events DROP CONSTRAINT "${d.constraint.name}"`
        : `DROP INDEX "${d.name}"`, [])
    }
    return all
  })

/** Builds the indexes `dropIndexes` dropped, from their own definitions, and fails unless they are all back as they were. */
const rebuildIndexes = (owner: Owner, realmId: string, before: Definitions, time: FillTime) =>
  Effect.gen(function*() {
    const t0 = performance.now()
    for (const d of before) {
      if (d.name === "audit_events_pkey") continue
      // the sort in memory where it fits (64 MB by default here): a setting of this transaction only
      yield* owner(realmId, `${store === "PostgreSQL" ? "SET LOCAL maintenance_work_mem = '1GB'; " : ""}${d.constraint !== undefined
        ? `ALTER TABLE audit_events ADD CONSTRAINT "${d.constraint.name}" ${d.constraint.def}`
        : d.index}`, [])
    }
    time.indexMs = performance.now() - t0
    const after = yield* indexDefinitions(owner, realmId)
    if (JSON.stringify(after) !== JSON.stringify(before)) {
      return yield* Effect.dieMessage(`audit_events' indexes differ after the rebuild: ${JSON.stringify(before)} -> ${JSON.stringify(after)}`)
    }
  })

const deferIndexes = process.env["BENCH_FILL_INDEXES"] === "after"

/**
 * BENCH_ONLY=verify: the full and the resumed verification, without the breakdown reads and the queries;
 * BENCH_ONLY=queries: the queries alone (no verification, no appends). For a kept database (BENCH_DB).
 */
const only = process.env["BENCH_ONLY"]
if (only !== undefined && only !== "verify" && only !== "queries") throw new Error(`BENCH_ONLY=${only}: verify or queries`)

/** The realm of a kept database (`BENCH_DB`): one name, so a later run finds it and its trail. */
const keptRealm = "bench-audit"

const bench = (owner: Owner, insert: Insert, kept: boolean) =>
  Effect.gen(function*() {
    const at = DateTime.unsafeMake(atOf(0))
    const audit = yield* Audit.Audit
    const found = kept ? yield* owner(NodeCrypto.randomUUID(), "SELECT id FROM realms WHERE name = $1", [keptRealm]) : []
    const realm: Realm.Realm = {
      id: found.length > 0 ? String(found[0]!["id"]) : NodeCrypto.randomUUID(),
      name: kept ? keptRealm : `bench-audit-${process.pid}`,
      dynamicRegistration: false,
      createdAt: at,
      version: 1
    }
    if (found.length === 0) {
      const key = (kid: string, alg: SigningKey.Alg, status: "active" | "next"): SigningKey.SigningKey =>
        SigningKey.SigningKey[status === "active" ? "Active" : "Next"]({ kid, alg, publicJwk: { kty: "EC", kid }, sealedPrivateJwk: sealed, createdAt: at, activatesAt: at })
      const realmCreated: AuditEvent.AuditEvent = {
        id: NodeCrypto.randomUUID(), at, realmId: realm.id, realm: realm.name, type: "realm.created", actor: AuditEvent.owner, result: "success"
      }
      yield* Effect.flatMap(Realms.Realms, (realms) =>
        realms.create(realm, { version: 1, keys: [key("a1", "ES256", "active"), key("n1", "ES256", "next")] }, realmCreated))
    }
    // the trail's length so far: realm.created, the filled events, and the 1 000 appended after each size (a kept
    // database's trail continues where the last run left it: a size it has already reached is not filled again)
    const headRow = (yield* owner(realm.id, "SELECT seq, hash FROM audit_heads WHERE realm_id = $1", [realm.id]))[0]!
    let head = String(headRow["hash"])
    let events = Number(headRow["seq"])
    if (found.length > 0) console.log(`kept database: realm ${realm.name} (${realm.id}) holds ${events.toLocaleString("en")} events`)
    for (const size of sizes) {
      const time: FillTime = { buildMs: 0, waitMs: 0, indexMs: 0 }
      const tf = performance.now()
      const filling = size > events
      if (filling) {
        const deferred = deferIndexes ? yield* dropIndexes(owner, realm.id) : undefined
        head = yield* Effect.promise(() => fill(insert, realm, events, size, head, time))
        if (deferred !== undefined) yield* rebuildIndexes(owner, realm.id, deferred, time)
        // ADR 0045: the head's time bounds as `audit_append` keeps them (the filled events are in time order: no lag)
        yield* owner(realm.id, "UPDATE audit_heads SET seq = $2, hash = $3, latest_at = greatest(latest_at, $4::timestamptz) WHERE realm_id = $1",
          [realm.id, size, head, new Date(atOf(size)).toISOString()])
        events = size
      }
      const fillSeconds = ms(tf) / 1000
      yield* owner(realm.id, "ANALYZE audit_events", [])
      const dbSize = store === "PostgreSQL"
        ? `, database ${(Number((yield* owner(realm.id, "SELECT pg_database_size(current_database()) AS b", []))[0]!["b"]) / 2 ** 30).toFixed(2)} GiB`
        : ""
      console.log(`\n## ${store}, ${events.toLocaleString("en")} events (${filling
        ? `filled in ${fillSeconds.toFixed(0)} s: ${(time.buildMs / 1000).toFixed(0)} s building and hashing rows here, ${(time.waitMs / 1000).toFixed(0)} s more waiting for the database${deferIndexes ? `, ${(time.indexMs / 1000).toFixed(0)} s building the indexes after` : ""}`
        : "kept from an earlier run"}${dbSize}); load average ${loadavg()}`)

      if (only !== "queries") {
        const full = yield* timed(AuditVerification.verify(realm.id, "genesis"))
        console.log(`full verify: ${(full.ms / 1000).toFixed(2)} s, ${((full.ms * 1000) / events).toFixed(2)} µs/event wall, ${((full.cpuMs * 1000) / events).toFixed(2)} µs/event Node CPU -> ${JSON.stringify(full.value)}`)
        // where verification's CPU goes: the same batches read through the port (driver, schema, events), and read
        // raw through the driver alone
        if (only === undefined) {
          const read = yield* timed(Effect.gen(function*() {
            for (let after = 0; ;) {
              const links = yield* audit.links(realm.id, after, Audit.verifyBatch)
              if (links.length < Audit.verifyBatch) return
              after = links[links.length - 1]!.seq
            }
          }))
          const raw = yield* timed(Effect.gen(function*() {
            for (let after = 0; after < events; after += Audit.verifyBatch) {
              yield* owner(realm.id, `SELECT ${PgAudit.linkText} FROM audit_events WHERE realm_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, [realm.id, after, Audit.verifyBatch])
            }
          }))
          console.log(`  of which: read through the port ${((read.cpuMs * 1000) / events).toFixed(2)} µs/event Node CPU, the driver alone ${((raw.cpuMs * 1000) / events).toFixed(2)}`)
        }

        for (let i = 0; i < 1000; i++) yield* audit.append(eventOf(realm, ++events))
        head = (yield* audit.links(realm.id, events - 1, 1))[0]!.hash
        const resumed = yield* timed(AuditVerification.verify(realm.id, "checkpoint"))
        console.log(`resume after 1 000 new events: ${resumed.ms.toFixed(1)} ms wall, ${resumed.cpuMs.toFixed(1)} ms Node CPU -> ${JSON.stringify(resumed.value)}`)
      }

      if (only === "verify") continue
      if (process.env["BENCH_EXPLAIN"] === "1") {
        console.log(`plan of a verification batch: ${yield* explain(owner, realm.id,
          "SELECT * FROM audit_events WHERE realm_id = $1 AND seq > $2 ORDER BY seq LIMIT 10000", [realm.id, Math.floor(events / 2)])}`)
      }
      const total = events
      const filters: ReadonlyArray<readonly [string, AuditEvent.Filter]> = [
        ["newest page", { limit: 51 }],
        ["type (1 in 5)", { type: "token.refreshed", limit: 51 }],
        ["type (1 in 100 000)", { type: "refresh.reuse_detected", limit: 51 }],
        ["subject", { subject: "user-4242", limit: 51 }],
        ["actor", { actor: "client-42", limit: 51 }],
        ["client_id", { clientId: "client-42", limit: 51 }],
        ["since (last hour)", { since: DateTime.unsafeMake(atOf(total) - 3_600_000), limit: 51 }],
        ["until (first 1%)", { until: DateTime.unsafeMake(atOf(Math.floor(total / 100))), limit: 51 }],
        ["since + until (a day in the middle)", {
          since: DateTime.unsafeMake(atOf(Math.floor(total / 2))), until: DateTime.unsafeMake(atOf(Math.floor(total / 2)) + 86_400_000), limit: 51
        }],
        ["cursor page (middle)", { before: Math.floor(total / 2), limit: 51 }],
        ["cursor page + subject (middle)", { before: Math.floor(total / 2), subject: "user-4242", limit: 51 }],
        ["subject + since (last day)", { subject: "user-4242", since: DateTime.unsafeMake(atOf(total) - 86_400_000), limit: 51 }]
      ]
      for (const [name, filter] of filters) {
        const times: Array<number> = []
        let rows = 0
        for (let i = 0; i < queryRuns; i++) {
          const r = yield* timed(audit.query(realm.id, filter))
          times.push(r.ms)
          rows = r.value.length
        }
        console.log(`query ${name}: median ${median(times).toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms (${rows} rows)`)
        if (process.env["BENCH_EXPLAIN"] === "1") console.log(`  plan: ${yield* explain(owner, realm.id, ...querySql(realm.id, filter))}`)
      }
    }
  })

// a kept database's checkpoints must verify in the next run: its key is fixed by the database's name (a bench key; a
// second checkpoint of a position is dropped, so under a new key the next resumed verification would start at genesis)
const checkpointKey = CheckpointKey.layer(process.env["BENCH_DB"] === undefined
  ? NodeCrypto.randomBytes(32)
  : NodeCrypto.createHash("sha256").update(`bench:audit checkpoint key of ${process.env["BENCH_DB"]}`).digest())

const main = Effect.gen(function*() {
  console.log(`# bench:audit on ${store}, sizes ${sizes.join(", ")}; ${Os.cpus().length} CPUs; load average ${loadavg()}`)
  if (store === "PGlite") {
    // one PGlite: the owner runs on the same database as the ports
    return yield* Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const asOwner: Owner = (realmId, text, params, role) =>
        sql.withTransaction(sql.unsafe(`SET LOCAL ROLE ${role ?? "postgres"}`).pipe(
          Effect.zipRight(sql`SELECT set_config('app.realm_id', ${realmId}, true)`),
          Effect.zipRight(sql.unsafe<Record<string, unknown>>(text, params))
        ))
      yield* bench(asOwner, (text, params) => Effect.runPromise(asOwner(String(params[0]), text, params)), false)
    }).pipe(Effect.provide(Layer.mergeAll(ports, checkpointKey, ServerCrypto.layer).pipe(Layer.provideMerge(Database.layerPglite(undefined)))))
  }
  const url = process.env["DATABASE_URL"]
  if (url === undefined) return yield* Effect.dieMessage("DATABASE_URL is unset: set it, or BENCH_STORE=pglite")
  const keep = process.env["BENCH_DB"]
  const db = yield* Effect.acquireRelease(Effect.promise(() => keep === undefined ? scratch(url) : kept(url, keep)), (s) => Effect.promise(() => s.drop()))
  console.log(`PostgreSQL ${db.version}, ${db.durability}${keep === undefined ? "" : `; database ${db.name} kept after the run`}`)
  const pool = yield* Effect.acquireRelease(Effect.sync(() => new Pg.Pool({ connectionString: db.url, max: 1 })), (p) => Effect.promise(() => p.end()))
  // the fill's own connection: one autocommitted INSERT per chunk, so a chunk is one round trip and the next is
  // built while it runs; a commit need not wait for the WAL flush (what is stored is the same)
  const filler = new Pg.Client({ connectionString: db.url })
  yield* Effect.acquireRelease(
    Effect.promise(async () => {
      await filler.connect()
      await filler.query("SET synchronous_commit = off")
    }),
    () => Effect.promise(() => filler.end())
  )
  const asOwner: Owner = (realmId, text, params, role) =>
    Effect.tryPromise(async () => {
      const client = await pool.connect()
      try {
        await client.query("BEGIN")
        if (role !== undefined) await client.query(`SET LOCAL ROLE ${role}`)
        await client.query("SELECT set_config('app.realm_id', $1, true)", [realmId])
        const result = await client.query(text, params as Array<unknown>)
        await client.query("COMMIT")
        return result.rows as ReadonlyArray<Record<string, unknown>>
      } catch (e) {
        await client.query("ROLLBACK").catch(() => undefined)
        throw e
      } finally {
        client.release()
      }
    })
  yield* bench(asOwner, (text, params) => filler.query(text, params as Array<unknown>), keep !== undefined).pipe(
    Effect.provide(Layer.mergeAll(ports, checkpointKey, ServerCrypto.layer).pipe(Layer.provideMerge(Database.layerPostgres(Redacted.make(db.url)))))
  )
})

// runMain: SIGINT/SIGTERM interrupt the run, so the scratch database is dropped on the way out as well
NodeRuntime.runMain(main.pipe(Effect.scoped, Logger.withMinimumLogLevel(LogLevel.Warning)))
