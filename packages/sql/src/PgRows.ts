/**
 * What the realm-scoped tables share on Postgres: an insert with its audit event, and rows read through schemas
 * (issue 18, ADR 0053): every query is an `SqlSchema` function built once, whose row schema maps the table's columns
 * onto the domain entity's schema; a row that does not decode is `RowRejected`, naming its table.
 */
import { SqlSchema } from "@effect/sql"
import type { SqlClient } from "@effect/sql"
import { Cause, Data, DateTime, Effect, ParseResult, Schema } from "effect"
import type { Option } from "effect"
import { Conflict } from "@tessera/domain"
import type { AuditEvent } from "@tessera/domain"
import { appendEvent } from "./PgAudit.js"
import { on, withRealm } from "./Sql.js"

/** Inserts a row and its event in one realm transaction; a taken key (any unique index) is `AlreadyExists`. */
export const insertWithEvent = (
  sql: SqlClient.SqlClient,
  table: string,
  entity: Conflict.AlreadyExists["entity"],
  row: Record<string, unknown> & { readonly realm_id: string },
  event: AuditEvent.AuditEvent
) =>
  Effect.gen(function*() {
    const inserted = yield* sql`INSERT INTO ${sql(table)} ${sql.insert(row)} ON CONFLICT DO NOTHING RETURNING realm_id`
    if (inserted.length === 0) return yield* new Conflict.AlreadyExists({ entity })
    yield* appendEvent(event)
  }).pipe(withRealm(row.realm_id), on(sql))

/**
 * A row of `table` that does not decode through its schema (an edit behind the application's back, a migration that
 * went wrong): the cause of the port's `StoreError`, never a defect and never a value cast into shape.
 */
export class RowRejected extends Data.TaggedError("RowRejected")<{
  readonly table: string
  readonly cause: ParseResult.ParseError | Cause.NoSuchElementException
}> {
  override get message() {
    return `a row of ${this.table} does not decode: ${this.cause.message}`
  }
}

const naming = (table: string) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.mapError(effect, (e) =>
    ParseResult.isParseError(e) || Cause.isNoSuchElementException(e) ? new RowRejected({ table, cause: e }) : e as Exclude<E, ParseResult.ParseError | Cause.NoSuchElementException>)

interface Query<IA, II, IR, A, AI, AR, E, R> {
  readonly Request: Schema.Schema<IA, II, IR>
  readonly Result: Schema.Schema<A, AI, AR>
  readonly execute: (request: II) => Effect.Effect<ReadonlyArray<unknown>, E, R>
}

/** `SqlSchema.findAll` over `table`: every row decoded by `Result`, or `RowRejected`. */
export const findAll = <IA, II, IR, A, AI, AR, E, R>(table: string, query: Query<IA, II, IR, A, AI, AR, E, R>) => {
  const run = SqlSchema.findAll(query)
  return (request: IA): Effect.Effect<ReadonlyArray<A>, E | RowRejected, R | IR | AR> => naming(table)(run(request))
}

/** `SqlSchema.findOne` over `table`: the first row decoded by `Result`, if any, or `RowRejected`. */
export const findOne = <IA, II, IR, A, AI, AR, E, R>(table: string, query: Query<IA, II, IR, A, AI, AR, E, R>) => {
  const run = SqlSchema.findOne(query)
  return (request: IA): Effect.Effect<Option.Option<A>, E | RowRejected, R | IR | AR> => naming(table)(run(request))
}

/** `SqlSchema.single` over `table`: the one row a statement always answers, decoded by `Result`, or `RowRejected`. */
export const single = <IA, II, IR, A, AI, AR, E, R>(table: string, query: Query<IA, II, IR, A, AI, AR, E, R>) => {
  const run = SqlSchema.single(query)
  return (request: IA): Effect.Effect<A, E | RowRejected, R | IR | AR> => naming(table)(run(request))
}

/**
 * A `timestamptz` column (a JS Date from the driver) as the domain's `DateTime.Utc`. Not `Schema.DateTimeUtcFromDate`,
 * whose decoding cost 13 times this one's per column in bench/rows.ts (ADR 0053).
 */
export const Timestamp = Schema.transform(Schema.DateFromSelf, Schema.DateTimeUtcFromSelf, {
  strict: true,
  decode: (date) => DateTime.unsafeMake(date),
  encode: (utc) => DateTime.toDate(utc)
})

/** A nullable column of `schema`: null is absent. */
export const nullable = <S extends Schema.Schema.All>(schema: S) => Schema.NullOr(schema)

/** A realm's rows: the request of a list. */
export const InRealm = Schema.Struct({ realmId: Schema.String })

/** A realm's rows after a sort key (`Page.Window`): the request of a page. */
export const PageOf = Schema.Struct({ realmId: Schema.String, limit: Schema.Number, after: Schema.optionalWith(Schema.String, { exact: true }) })

/** Columns that are absent from an entity when null. */
export const present = <K extends string, V>(key: K, value: V | null): { readonly [k in K]?: V } =>
  (value === null ? {} : { [key]: value }) as { readonly [k in K]?: V }
