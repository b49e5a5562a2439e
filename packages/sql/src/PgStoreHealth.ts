/** `StoreHealth` on PostgreSQL and PGlite (CONTRACT §2 `/readyz`): one query answers both whether the store answers and how far its schema is. */
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Schema } from "effect"
import { StoreHealth } from "@tessera/domain"
import * as Migrations from "./Migrations.js"
import { single } from "./PgRows.js"
import { on } from "./Sql.js"

/** The newest migration applied, none on an empty table. */
const Applied = Schema.Struct({ applied: Schema.NullOr(Schema.Number) })

export const layer = Layer.effect(StoreHealth.StoreHealth, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const head = yield* Migrations.head
  const applied = single(Migrations.table, {
    Request: Schema.Void,
    Result: Applied,
    execute: () => sql`SELECT max(migration_id)::int AS applied FROM ${sql(Migrations.table)}`
  })
  return StoreHealth.StoreHealth.of({
    check: Effect.gen(function*() {
      // no realm: the migrator's table is not realm-scoped (read-only to tessera_app, Database.migrate)
      const newest = (yield* applied(undefined)).applied ?? 0
      return newest >= head ? "current" as const : "behind" as const
    }).pipe(on(sql))
  })
}))
