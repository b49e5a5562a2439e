/** `StoreHealth` on PostgreSQL and PGlite (CONTRACT §2 `/readyz`): one query answers both whether the store answers and how far its schema is. */
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Schema } from "effect"
import { StoreHealth } from "@tessera/domain"
import * as Migrations from "./Migrations.js"
import { on } from "./Sql.js"

const Applied = Schema.Array(Schema.Struct({ applied: Schema.NullOr(Schema.Number) }))

export const layer = Layer.effect(StoreHealth.StoreHealth, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const head = yield* Migrations.head
  return StoreHealth.StoreHealth.of({
    check: Effect.gen(function*() {
      // no realm: the migrator's table is not realm-scoped (read-only to tessera_app, Database.migrate)
      const rows = yield* Effect.flatMap(
        sql`SELECT max(migration_id)::int AS applied FROM ${sql(Migrations.table)}`,
        Schema.decodeUnknown(Applied)
      )
      const applied = rows[0]?.applied ?? 0
      return applied >= head ? "current" as const : "behind" as const
    }).pipe(on(sql))
  })
}))
