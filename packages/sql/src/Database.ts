/**
 * The database behind the store ports: a real PostgreSQL (`DATABASE_URL`) or the embedded PGlite, the same
 * migrations and the same SQL. Migrations run as the connecting (owner) role; the application's connections
 * then run as `tessera_app`, which owns nothing and is bound by row-level security.
 */
import { PGlite } from "@electric-sql/pglite"
import { createPgConfig } from "@electric-sql/pglite/node-postgres"
import * as Reactivity from "@effect/experimental/Reactivity"
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { execFile } from "node:child_process"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Path from "node:path"
import { Data, Effect, Layer, Redacted } from "effect"
import type { Scope } from "effect"
import Pg from "pg"
import * as DataDirLock from "./DataDirLock.js"
import * as Migrations from "./Migrations.js"

export class DatabaseUnavailable extends Data.TaggedError("DatabaseUnavailable")<{ readonly reason: string }> {
  override get message() {
    return this.reason
  }
}

/** The application role every pooled connection takes (CONTRACT of issue 3: even when the URL names a superuser). */
export const appRole = "tessera_app"

const poolOf = (make: () => Pg.Pool) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const pool = make()
      // an idle connection that dies (the server restarted, the network cut) is dropped by the pool, which then
      // emits "error": unheard, that event would crash the process; the next query simply opens a new connection
      pool.on("error", () => undefined)
      return pool
    }),
    (pool) => Effect.promise(() => pool.end().catch(() => undefined))
  )

/** Runs the migrations on a short-lived client with the owner's rights. */
const migrate = (pool: Effect.Effect<Pg.Pool, never, Scope.Scope>) =>
  Effect.scoped(Effect.gen(function*() {
    const client = yield* PgClient.fromPool({ acquire: pool })
    yield* Migrations.run.pipe(Effect.provideService(SqlClient.SqlClient, client))
    // CONTRACT §2 /readyz: the application role may read which migrations are applied (PgStoreHealth), nothing more
    yield* client`GRANT SELECT ON ${client(Migrations.table)} TO ${client(appRole)}`
  }))

/** What went wrong, in the driver's words: the innermost cause (a `SqlError`'s own message is generic). */
const reasonOf = (cause: unknown): string => {
  let error: unknown = cause
  while (error instanceof Error && error.cause instanceof Error) error = error.cause
  const { message, code, errors } = (error ?? {}) as {
    readonly message?: string
    readonly code?: string
    readonly errors?: ReadonlyArray<{ readonly message?: string }>
  }
  if (message) return message
  // a host that resolves to several addresses fails with an AggregateError and no message of its own
  if (errors !== undefined && errors.length > 0) return errors.map((e) => e.message).join("; ")
  return code ?? String(cause)
}

const unavailable = (what: string) => (cause: unknown) => new DatabaseUnavailable({ reason: `${what}: ${reasonOf(cause)}` })

/** How long connecting may take before the server counts as unreachable. */
const connectTimeoutMillis = 5000

/**
 * Nodes starting at once on one database migrate one at a time: the migrator's own first step (creating its table)
 * is not safe against a concurrent twin. A session advisory lock on a connection of its own is held for the run;
 * the connection is also the first contact with the server, so failing it means the server is unreachable.
 */
const migrationLock = (connectionString: string) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        const client = new Pg.Client({ connectionString, connectionTimeoutMillis: connectTimeoutMillis })
        client.on("error", () => undefined) // a lost session takes its lock with it; the migration then fails itself
        try {
          await client.connect()
          await client.query("SELECT pg_advisory_lock(hashtext('tessera:migrations'), 0)")
          return client
        } catch (cause) {
          await client.end().catch(() => undefined)
          throw cause
        }
      },
      catch: unavailable("PostgreSQL is unreachable")
    }),
    (client) => Effect.promise(() => client.end().catch(() => undefined))
  )

/** A real PostgreSQL: a pool whose every connection starts as `tessera_app` (the `role` startup parameter). */
export const layerPostgres = (url: Redacted.Redacted, options: { readonly maxConnections?: number } = {}) =>
  Layer.scopedContext(Effect.gen(function*() {
    const connectionString = Redacted.value(url)
    yield* Effect.scoped(Effect.zipRight(
      migrationLock(connectionString),
      migrate(poolOf(() => new Pg.Pool({ connectionString, max: 1, connectionTimeoutMillis: connectTimeoutMillis }))).pipe(
        Effect.mapError(unavailable("PostgreSQL migrations failed")),
        // a failing migration statement is a defect of the migrator (and so is a failing COMMIT)
        Effect.catchAllDefect((cause) => Effect.fail(unavailable("PostgreSQL migrations failed")(cause)))
      )
    ))
    const client = yield* PgClient.fromPool({
      acquire: poolOf(() =>
        new Pg.Pool({
          connectionString,
          max: options.maxConnections ?? 10,
          connectionTimeoutMillis: connectTimeoutMillis,
          // the role is set when the session starts: a connection that cannot take it is refused, never used
          options: `-c role=${appRole}`
        })
      )
    }).pipe(Effect.mapError(unavailable("PostgreSQL is unreachable")))
    return SqlClient.SqlClient.context(client)
  })).pipe(Layer.provide(Reactivity.layer))

/**
 * ADR 0057 (issue 17): PGlite's own start parameters, and PostgreSQL's shared buffers at 16 MB instead of the 128 MB
 * its initdb writes: PGlite's WASM memory touches the whole buffer pool when it starts (134 MB of idle RSS measured),
 * and Tessera's tables of one process fit in far less.
 */
const pgliteStartParams = [...PGlite.defaultStartParams, "-c", "shared_buffers=16MB"]

/** PGlite's CommonJS entry, for the initdb process (`import.meta.url` is the bundle's own in the compiled server). */
const pgliteEntry = createRequire(import.meta.url).resolve("@electric-sql/pglite")

/** Run by `node -e` with the entry, the directory and the start parameters: creates the database there, then closes. */
const initdbScript = `
const [entry, dataDir, startParams] = process.argv.slice(1)
require(entry).PGlite.create({ dataDir, startParams: JSON.parse(startParams) }).then((db) => db.close()).catch((error) => {
  process.stderr.write(String(error && error.message || error))
  process.exit(1)
})`

/**
 * ADR 0057: a fresh data directory's initdb runs in a node process of its own. In-process, PGlite runs it on a second
 * instance whose WASM memory and files stay in the heap as garbage after it closes (idle RSS 769 MB after a first
 * start, 236 MB after a later one); the process takes them with it when it exits (a first start then idles at 273 MB).
 */
const initdbApart = (directory: string) =>
  Effect.async<void, DatabaseUnavailable>((resume) => {
    const child = execFile(process.execPath, ["-e", initdbScript, pgliteEntry, directory, JSON.stringify(pgliteStartParams)], (error, _stdout, stderr) =>
      resume(error === null ? Effect.void : Effect.fail(unavailable("the embedded database would not initialise")(stderr.trim() !== "" ? new Error(stderr.trim()) : error))))
    return Effect.sync(() => child.kill("SIGKILL"))
  })

/**
 * The embedded PGlite (PostgreSQL compiled to WASM) in `dataDir`, or in memory when `dataDir` is undefined.
 * One process only: the directory is locked for as long as the layer lives.
 */
export const layerPglite = (dataDir: string | undefined) =>
  Layer.scopedContext(Effect.gen(function*() {
    if (dataDir !== undefined) yield* DataDirLock.acquire(dataDir)
    if (dataDir !== undefined && !Fs.existsSync(Path.join(dataDir, "pglite", "PG_VERSION"))) yield* initdbApart(Path.join(dataDir, "pglite"))
    const db = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => PGlite.create({ ...(dataDir === undefined ? {} : { dataDir: Path.join(dataDir, "pglite") }), startParams: pgliteStartParams }),
        catch: unavailable("the embedded database would not open")
      }),
      (db) => Effect.promise(() => db.close().catch(() => undefined))
    )
    const pool = poolOf(() => new Pg.Pool(createPgConfig(db) as unknown as Pg.PoolConfig))
    yield* migrate(pool).pipe(
      Effect.mapError(unavailable("embedded database migrations failed")),
      Effect.catchAllDefect((cause) => Effect.fail(unavailable("embedded database migrations failed")(cause)))
    )
    // PGlite has one session, always the superuser: drop to the application role for everything that follows
    yield* Effect.promise(() => db.exec(`SET ROLE ${appRole}`))
    const client = yield* PgClient.fromPool({ acquire: pool }).pipe(Effect.mapError(unavailable("the embedded database")))
    return SqlClient.SqlClient.context(client)
  })).pipe(Layer.provide(Reactivity.layer))
