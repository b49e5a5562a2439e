/** Resources on Postgres: realm-scoped rows written with their audit event; changes by compare-and-set on `version`. */
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Schema } from "effect"
import { Resource, Resources } from "@tessera/domain"
import { appendEvent } from "./PgAudit.js"
import { absentAs, entityRow, InRealm, PageOf, Strings, Timestamp } from "./PgRows.js"
import * as RealmTable from "./RealmTable.js"
import { forgetResourceConsents, revokeGrantsNaming } from "./PgSignIn.js"


/** A `resources` row as the entity (issue 18): `scope_descriptions` (jsonb) decodes as the entity's, `{}` when none. */
const ResourceRow = entityRow({
  realm_id: Schema.String,
  id: Schema.String,
  version: Schema.Number,
  uri: Schema.String,
  scopes: Strings,
  step_up_scopes: Strings,
  display_name: Schema.NullOr(Schema.String),
  scope_descriptions: absentAs(Schema.Record({ key: Schema.String, value: Schema.String }), {}, (d) => Object.keys(d).length === 0),
  created_at: Timestamp
}, Resource.Resource)

const ByUri = Schema.Struct({ realmId: Schema.String, uri: Schema.String })
const ById = Schema.Struct({ realmId: Schema.String, id: Schema.UUID })

/** A new resource's row as inserted (also by PgRealms, for a realm's built-in resource). */
export const resourceRow = (resource: Resource.Resource) => {
  const row = Schema.encodeSync(ResourceRow)(resource)
  return {
    ...row,
    scopes: row.scopes as Array<string>,
    step_up_scopes: row.step_up_scopes as Array<string>,
    scope_descriptions: JSON.stringify(row.scope_descriptions)
  }
}

export const layerResources = Layer.effect(Resources.Resources, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const resources = RealmTable.make(sql, { table: "resources", entity: "resource", Row: ResourceRow })
  const byUri = resources.findOne(ByUri, ({ realmId, uri }) => sql`SELECT * FROM resources WHERE realm_id = ${realmId} AND uri = ${uri}`)
  const byId = resources.findOne(ById, ({ realmId, id }) => sql`SELECT * FROM resources WHERE realm_id = ${realmId} AND id = ${id}`)
  const list = resources.findAll(InRealm, ({ realmId }) => sql`SELECT * FROM resources WHERE realm_id = ${realmId} ORDER BY uri`)
  const page = resources.findAll(PageOf, ({ realmId, limit, after }) =>
    sql`SELECT * FROM resources WHERE realm_id = ${realmId} AND id::text COLLATE "C" > ${after ?? ""} ORDER BY id::text COLLATE "C" LIMIT ${limit + 1}`)
  const keyOf = (resource: Resource.Resource) => ({ realm_id: resource.realmId, id: resource.id })
  return Resources.Resources.of({
    insert: (resource, event) => resources.insert(resourceRow(resource), event),
    find: (realmId, uri) => byUri({ realmId, uri }),
    list: (realmId) => list({ realmId }),
    findById: (realmId, id) => RealmTable.byUuid(byId)({ realmId, id }),
    page: (realmId, window) => page({ realmId, ...window }),
    update: (next, expectedVersion, event) =>
      resources.compareAndSet(
        keyOf(next),
        sql`UPDATE resources SET
            version = ${next.version},
            scopes = ${next.scopes as Array<string>},
            step_up_scopes = ${next.stepUpScopes as Array<string>},
            display_name = ${next.displayName ?? null},
            scope_descriptions = ${JSON.stringify(next.scopeDescriptions ?? {})}::jsonb
          WHERE realm_id = ${next.realmId} AND id = ${next.id} AND uri = ${next.uri} AND version = ${expectedVersion}
          RETURNING 1`,
        appendEvent(event)
      ),
    remove: (resource, expectedVersion, now, event) =>
      // the realm row first (issue 15), then this row: a concurrent change of it waits, then misses the version
      resources.compareAndSet(
        keyOf(resource),
        sql`SELECT 1 FROM resources
          WHERE realm_id = ${resource.realmId} AND id = ${resource.id} AND uri = ${resource.uri} AND version = ${expectedVersion}
          FOR UPDATE`,
        Effect.gen(function*() {
          const listing = yield* sql<{ readonly client_id: string }>`SELECT client_id FROM clients
            WHERE realm_id = ${resource.realmId} AND metadata -> 'resources' @> jsonb_build_array(${resource.uri}::text)
            ORDER BY client_id COLLATE "C" LIMIT ${Resources.namedClients}`
          if (listing.length > 0) return yield* new Resources.ResourceInUse({ clientIds: listing.map((row) => row.client_id) })
          yield* sql`DELETE FROM resources WHERE realm_id = ${resource.realmId} AND id = ${resource.id}`
          const removed: Resources.Removed = { revokedGrants: yield* revokeGrantsNaming(sql, resource.realmId, resource.uri, now) }
          yield* forgetResourceConsents(sql, resource.realmId, resource.uri)
          yield* appendEvent(event(removed))
          return removed
        })
      )
  })
}))
