/** What the realm-scoped tables share on Postgres: an insert with its audit event, and rows read through a schema. */
import type { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { DateTime, Effect, Option, Schema } from "effect"
import type { ParseError } from "effect/ParseResult"
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

/** Each row schema's array decoder, made once (building it per read showed in the token endpoint's profile). */
const decoders = new WeakMap<Schema.Schema.Any, (rows: unknown) => Effect.Effect<ReadonlyArray<unknown>, ParseError>>()
export const arrayDecoder = <A, I>(schema: Schema.Schema<A, I>) => {
  let decode = decoders.get(schema)
  if (decode === undefined) {
    decode = Schema.decodeUnknown(Schema.Array(schema))
    decoders.set(schema, decode)
  }
  return decode as (rows: unknown) => Effect.Effect<ReadonlyArray<A>, ParseError>
}

/** Reads rows of one realm through a schema. */
export const select = <A, I>(
  sql: SqlClient.SqlClient,
  realmId: string,
  schema: Schema.Schema<A, I>,
  query: Effect.Effect<ReadonlyArray<unknown>, SqlError>
) => Effect.flatMap(query, arrayDecoder(schema)).pipe(withRealm(realmId), on(sql))

export const first = <A>(rows: ReadonlyArray<A>) => Option.fromNullable(rows[0])

export const at = (date: Date) => DateTime.unsafeMake(date)
