/** Resources on Postgres: realm-scoped rows written with their audit event; changes by compare-and-set on `version`. */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Layer, Option, Schema } from "effect"
import { Conflict, Resources } from "@tessera/domain"
import type { Resource } from "@tessera/domain"
import { appendEvent } from "./PgAudit.js"
import { at, first, insertWithEvent, select } from "./PgRows.js"
import { forgetResourceConsents, revokeGrantsNaming } from "./PgSignIn.js"
import { on, realmFirst, toDate, withRealm } from "./Sql.js"

const ResourceRow = Schema.Struct({
  realm_id: Schema.String,
  id: Schema.String,
  version: Schema.Number,
  uri: Schema.String,
  scopes: Schema.Array(Schema.String),
  step_up_scopes: Schema.Array(Schema.String),
  display_name: Schema.NullOr(Schema.String),
  scope_descriptions: Schema.Record({ key: Schema.String, value: Schema.String }),
  created_at: Schema.DateFromSelf
})
const toResource = (row: typeof ResourceRow.Type): Resource.Resource => ({
  realmId: row.realm_id,
  id: row.id,
  version: row.version,
  uri: row.uri,
  scopes: row.scopes,
  stepUpScopes: row.step_up_scopes,
  ...(row.display_name !== null ? { displayName: row.display_name } : {}),
  ...(Object.keys(row.scope_descriptions).length > 0 ? { scopeDescriptions: row.scope_descriptions } : {}),
  createdAt: at(row.created_at)
})

/** A new resource's row as inserted (also by PgRealms, for a realm's built-in resource). */
export const resourceRow = (resource: Resource.Resource) => ({
  realm_id: resource.realmId,
  id: resource.id,
  version: resource.version,
  uri: resource.uri,
  scopes: resource.scopes as Array<string>,
  step_up_scopes: resource.stepUpScopes as Array<string>,
  display_name: resource.displayName ?? null,
  scope_descriptions: JSON.stringify(resource.scopeDescriptions ?? {}),
  created_at: toDate(resource.createdAt)
})

export const layerResources = Layer.effect(Resources.Resources, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const many = (realmId: string, query: Effect.Effect<ReadonlyArray<unknown>, SqlError>) =>
    select(sql, realmId, ResourceRow, query).pipe(Effect.map((rows) => rows.map(toResource)))
  /** Why a compare-and-set on the row matched nothing: gone, or at another version. */
  const missed = (resource: Resource.Resource) =>
    Effect.flatMap(
      sql`SELECT 1 FROM resources WHERE realm_id = ${resource.realmId} AND id = ${resource.id}`,
      (rows) => Effect.fail(rows.length === 0 ? new Conflict.NotFound({ entity: "resource" }) : new Conflict.Stale({ entity: "resource" }))
    )
  return Resources.Resources.of({
    insert: (resource, event) => insertWithEvent(sql, "resources", "resource", resourceRow(resource), event),
    find: (realmId, uri) =>
      many(realmId, sql`SELECT * FROM resources WHERE realm_id = ${realmId} AND uri = ${uri}`).pipe(Effect.map(first)),
    list: (realmId) => many(realmId, sql`SELECT * FROM resources WHERE realm_id = ${realmId} ORDER BY uri`),
    findById: (realmId, id) =>
      // not a uuid: no row has it (and the cast must not fail the query)
      Schema.is(Schema.UUID)(id)
        ? many(realmId, sql`SELECT * FROM resources WHERE realm_id = ${realmId} AND id = ${id}`).pipe(Effect.map(first))
        : Effect.succeed(Option.none()),
    page: (realmId, window) =>
      many(
        realmId,
        sql`SELECT * FROM resources WHERE realm_id = ${realmId} AND id::text COLLATE "C" > ${window.after ?? ""} ORDER BY id::text COLLATE "C" LIMIT ${window.limit + 1}`
      ),
    update: (next, expectedVersion, event) =>
      Effect.gen(function*() {
        yield* realmFirst(next.realmId)
        const updated = yield* sql`UPDATE resources SET
            version = ${next.version},
            scopes = ${next.scopes as Array<string>},
            step_up_scopes = ${next.stepUpScopes as Array<string>},
            display_name = ${next.displayName ?? null},
            scope_descriptions = ${JSON.stringify(next.scopeDescriptions ?? {})}::jsonb
          WHERE realm_id = ${next.realmId} AND id = ${next.id} AND uri = ${next.uri} AND version = ${expectedVersion}
          RETURNING 1`
        if (updated.length === 0) return yield* missed(next)
        yield* appendEvent(event)
      }).pipe(withRealm(next.realmId), on(sql)),
    remove: (resource, expectedVersion, now, event) =>
      Effect.gen(function*() {
        // the realm row first (issue 15), then this row: a concurrent change of it waits, then misses the version
        yield* realmFirst(resource.realmId)
        const locked = yield* sql`SELECT 1 FROM resources
          WHERE realm_id = ${resource.realmId} AND id = ${resource.id} AND uri = ${resource.uri} AND version = ${expectedVersion}
          FOR UPDATE`
        if (locked.length === 0) return yield* missed(resource)
        const listing = yield* sql<{ readonly client_id: string }>`SELECT client_id FROM clients
          WHERE realm_id = ${resource.realmId} AND metadata -> 'resources' @> jsonb_build_array(${resource.uri}::text)
          ORDER BY client_id COLLATE "C" LIMIT ${Resources.namedClients}`
        if (listing.length > 0) return yield* new Resources.ResourceInUse({ clientIds: listing.map((row) => row.client_id) })
        yield* sql`DELETE FROM resources WHERE realm_id = ${resource.realmId} AND id = ${resource.id}`
        const removed: Resources.Removed = { revokedGrants: yield* revokeGrantsNaming(sql, resource.realmId, resource.uri, now) }
        yield* forgetResourceConsents(sql, resource.realmId, resource.uri)
        yield* appendEvent(event(removed))
        return removed
      }).pipe(withRealm(resource.realmId), on(sql))
  })
}))
