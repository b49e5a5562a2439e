/**
 * A realm-scoped table on Postgres (issue 18, ADR 0053): its queries built once through the row schema and run in a
 * transaction pinned to the key's realm (row-level security), a row inserted with its audit event, and a row changed
 * by compare-and-set on its version. Each store says only its table, its row schema and its statements.
 */
import type { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Option, Schema } from "effect"
import { Conflict } from "@tessera/domain"
import type { AuditEvent } from "@tessera/domain"
import { appendEvent } from "./PgAudit.js"
import * as PgRows from "./PgRows.js"
import { on, realmFirst, withRealm } from "./Sql.js"

/** A request that names its realm. */
interface InRealm {
  readonly realmId: string
}

/** A row's primary key as column values, its realm's first. */
export type Key = { readonly realm_id: string } & { readonly [column: string]: string }

/** A statement that answers the rows it touched (`RETURNING`, or a `SELECT ... FOR UPDATE`). */
type Touching = Effect.Effect<ReadonlyArray<unknown>, SqlError>

/** A realm-scoped table's reads: each query built once through the row schema, run in the request's realm. */
export const rows = <A, I, R>(sql: SqlClient.SqlClient, table: string, Row: Schema.Schema<A, I, R>) => {
  const inRealm = <K extends InRealm, B, E, Q>(query: (key: K) => Effect.Effect<B, E, Q>) => (key: K) =>
    query(key).pipe(withRealm(key.realmId), on(sql))
  return {
    /** The row of a key, if any (`PgRows.findOne`), in the key's realm. */
    findOne: <K extends InRealm, KI, KR>(Key: Schema.Schema<K, KI, KR>, statement: (key: KI) => Touching) =>
      inRealm(PgRows.findOne(table, { Request: Key, Result: Row, execute: statement })),
    /** The rows of a request (`PgRows.findAll`), in its realm. */
    findAll: <K extends InRealm, KI, KR>(Key: Schema.Schema<K, KI, KR>, statement: (key: KI) => Touching) =>
      inRealm(PgRows.findAll(table, { Request: Key, Result: Row, execute: statement }))
  }
}

/** The table of an entity the admin API manages (`Conflict.Entity`): its reads, and its writes with their events. */
export const make = <A, I, R>(sql: SqlClient.SqlClient, options: {
  readonly table: string
  readonly entity: Conflict.Entity
  readonly Row: Schema.Schema<A, I, R>
}) => {
  const { entity, Row, table } = options
  const run = on(sql)

  /** Inside the realm transaction: why a compare-and-set touched no row at `key`: it is gone, or at another version. */
  const missed = (key: Key): Effect.Effect<never, Conflict.NotFound | Conflict.Stale | SqlError> =>
    Effect.flatMap(
      sql`SELECT 1 FROM ${sql(table)} WHERE ${sql.and(Object.entries(key).map(([column, value]) => sql`${sql(column)} = ${value}`))}`,
      (rows) => Effect.fail(rows.length === 0 ? new Conflict.NotFound({ entity }) : new Conflict.Stale({ entity }))
    )

  return {
    ...rows(sql, table, Row),
    /** Inserts a row and its event in one realm transaction; a taken key (any unique index) is `AlreadyExists`. */
    insert: (row: Record<string, unknown> & { readonly realm_id: string }, event: AuditEvent.AuditEvent) =>
      Effect.gen(function*() {
        const inserted = yield* sql`INSERT INTO ${sql(table)} ${sql.insert(row)} ON CONFLICT DO NOTHING RETURNING realm_id`
        if (inserted.length === 0) return yield* new Conflict.AlreadyExists({ entity })
        yield* appendEvent(event)
      }).pipe(withRealm(row.realm_id), run),
    missed,
    /**
     * A change of the row at `key` by compare-and-set on its version, in its realm's transaction: the realm row first
     * (`realmFirst`, issue 15's lock order), then `statement` (guarded by the expected version); when it touched no row,
     * `NotFound` or `Stale`; else `andThen` (the rest of the change and its event) in the same transaction.
     */
    compareAndSet: <B, E, Q>(key: Key, statement: Touching, andThen: Effect.Effect<B, E, Q>) =>
      Effect.gen(function*() {
        yield* realmFirst(key.realm_id)
        if ((yield* statement).length === 0) return yield* missed(key)
        return yield* andThen
      }).pipe(withRealm(key.realm_id), run)
  }
}

/** A lookup by a uuid column: an id that is not a uuid names no row (and its cast must not fail the query). */
export const byUuid = <K extends { readonly id: string }, A, E, R>(find: (key: K) => Effect.Effect<Option.Option<A>, E, R>) =>
  (key: K): Effect.Effect<Option.Option<A>, E, R> => Schema.is(Schema.UUID)(key.id) ? find(key) : Effect.succeed(Option.none())
