/** Resources on Postgres: realm-scoped rows written with their audit event. */
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Option, Schema } from "effect"
import { Resources } from "@tessera/domain"
import type { Resource } from "@tessera/domain"
import { at, first, insertWithEvent, select } from "./PgRows.js"
import { toDate } from "./Sql.js"

const ResourceRow = Schema.Struct({
  realm_id: Schema.String,
  uri: Schema.String,
  scopes: Schema.Array(Schema.String),
  step_up_scopes: Schema.Array(Schema.String),
  created_at: Schema.DateFromSelf
})
const toResource = (row: typeof ResourceRow.Type): Resource.Resource => ({
  realmId: row.realm_id,
  uri: row.uri,
  scopes: row.scopes,
  stepUpScopes: row.step_up_scopes,
  createdAt: at(row.created_at)
})

export const layerResources = Layer.effect(Resources.Resources, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  return Resources.Resources.of({
    insert: (resource, event) =>
      insertWithEvent(sql, "resources", "resource", {
        realm_id: resource.realmId,
        uri: resource.uri,
        scopes: resource.scopes as Array<string>,
        step_up_scopes: resource.stepUpScopes as Array<string>,
        created_at: toDate(resource.createdAt)
      }, event),
    find: (realmId, uri) =>
      select(sql, realmId, ResourceRow, sql`SELECT * FROM resources WHERE realm_id = ${realmId} AND uri = ${uri}`)
        .pipe(Effect.map((rows) => Option.map(first(rows), toResource))),
    list: (realmId) =>
      select(sql, realmId, ResourceRow, sql`SELECT * FROM resources WHERE realm_id = ${realmId} ORDER BY uri`)
        .pipe(Effect.map((rows) => rows.map(toResource)))
  })
}))
