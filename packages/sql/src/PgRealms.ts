/** Realms on Postgres: a realm row, its first key ring and its audit chain are created in one transaction. */
import { SqlClient } from "@effect/sql"
import { DateTime, Effect, Layer, Option, Schema } from "effect"
import { Conflict, Realms } from "@tessera/domain"
import type { Realm } from "@tessera/domain"
import { appendEvent } from "./PgAudit.js"
import * as PgKeys from "./PgKeys.js"
import { on, toDate, withDirectory, withRealm } from "./Sql.js"

const Row = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  display_name: Schema.NullOr(Schema.String),
  dynamic_registration: Schema.Boolean,
  created_at: Schema.DateFromSelf
})
const decodeRows = Schema.decodeUnknown(Schema.Array(Row))

const toRealm = (row: typeof Row.Type): Realm.Realm => ({
  id: row.id,
  name: row.name,
  ...(row.display_name !== null ? { displayName: row.display_name } : {}),
  dynamicRegistration: row.dynamic_registration,
  createdAt: DateTime.unsafeMake(row.created_at)
})

export const layer = Layer.effect(Realms.Realms, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const run = on(sql)
  return Realms.Realms.of({
    create: (realm, ring, event) =>
      Effect.gen(function*() {
        // the name is unique across realms even where RLS hides the other row
        const inserted = yield* sql`
          INSERT INTO realms ${sql.insert({
            id: realm.id,
            name: realm.name,
            display_name: realm.displayName ?? null,
            dynamic_registration: realm.dynamicRegistration,
            created_at: toDate(realm.createdAt)
          })} ON CONFLICT DO NOTHING RETURNING id`
        if (inserted.length === 0) return yield* new Conflict.AlreadyExists({ entity: "realm" })
        yield* sql`INSERT INTO key_rings ${sql.insert({ realm_id: realm.id, ...PgKeys.encodeRing(ring) })}`
        yield* appendEvent(event)
      }).pipe(withRealm(realm.id), run),
    findByName: (name) =>
      Effect.flatMap(sql`SELECT * FROM realms WHERE name = ${name}`, decodeRows).pipe(
        Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), toRealm)),
        withDirectory,
        run
      ),
    list: Effect.flatMap(sql`SELECT * FROM realms ORDER BY created_at, name`, decodeRows).pipe(
      Effect.map((rows) => rows.map(toRealm)),
      withDirectory,
      run
    ),
    update: (realm, event) =>
      Effect.gen(function*() {
        yield* sql`UPDATE realms SET display_name = ${realm.displayName ?? null},
          dynamic_registration = ${realm.dynamicRegistration} WHERE id = ${realm.id}`
        yield* appendEvent(event)
      }).pipe(withRealm(realm.id), run)
  })
}))
