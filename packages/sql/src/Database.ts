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
  Effect.acquireRelease(Effect.sync(make), (pool) => Effect.promise(() => pool.end().catch(() => undefined)))

/** Runs the migrations on a short-lived client with the owner's rights. */
const migrate = (pool: Effect.Effect<Pg.Pool, never, Scope.Scope>) =>
  Effect.scoped(Effect.gen(function*() {
    const client = yield* PgClient.fromPool({ acquire: pool })
    yield* Migrations.run.pipe(Effect.provideService(SqlClient.SqlClient, client))
  }))

const unavailable = (what: string) => (cause: unknown) =>
  new DatabaseUnavailable({ reason: `${what}: ${String((cause as { message?: string })?.message ?? cause)}` })

/** A real PostgreSQL: a pool whose every connection starts as `tessera_app` (the `role` startup parameter). */
export const layerPostgres = (url: Redacted.Redacted, options: { readonly maxConnections?: number } = {}) =>
  Layer.scopedContext(Effect.gen(function*() {
    const connectionString = Redacted.value(url)
    yield* migrate(poolOf(() => new Pg.Pool({ connectionString, max: 1, connectionTimeoutMillis: 5000 }))).pipe(
      Effect.mapError(unavailable("PostgreSQL migrations failed")),
      Effect.catchAllDefect((cause) => Effect.fail(unavailable("PostgreSQL is unreachable")(cause)))
    )
    const client = yield* PgClient.fromPool({
      acquire: poolOf(() =>
        new Pg.Pool({
          connectionString,
          max: options.maxConnections ?? 10,
          connectionTimeoutMillis: 5000,
          // the role is set when the session starts: a connection that cannot take it is refused, never used
          options: `-c role=${appRole}`
        })
      )
    }).pipe(Effect.mapError(unavailable("PostgreSQL is unreachable")))
    return SqlClient.SqlClient.context(client)
  })).pipe(Layer.provide(Reactivity.layer))

/**
 * The embedded PGlite (PostgreSQL compiled to WASM) in `dataDir`, or in memory when `dataDir` is undefined.
 * One process only: the directory is locked for as long as the layer lives.
 */
export const layerPglite = (dataDir: string | undefined) =>
  Layer.scopedContext(Effect.gen(function*() {
    if (dataDir !== undefined) yield* DataDirLock.acquire(dataDir)
    const db = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => PGlite.create(dataDir === undefined ? {} : { dataDir: Path.join(dataDir, "pglite") }),
        catch: unavailable("the embedded database would not open")
      }),
      (db) => Effect.promise(() => db.close().catch(() => undefined))
    )
    const pool = poolOf(() => new Pg.Pool(createPgConfig(db) as unknown as Pg.PoolConfig))
    yield* migrate(pool).pipe(Effect.mapError(unavailable("embedded database migrations failed")))
    // PGlite has one session, always the superuser: drop to the application role for everything that follows
    yield* Effect.promise(() => db.exec(`SET ROLE ${appRole}`))
    const client = yield* PgClient.fromPool({ acquire: pool }).pipe(Effect.mapError(unavailable("the embedded database")))
    return SqlClient.SqlClient.context(client)
  })).pipe(Layer.provide(Reactivity.layer))
