/** Resources on Postgres: realm-scoped rows written with their audit event; changes by compare-and-set on `version`. */
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Option, Schema } from "effect"
import { Conflict, Resource, Resources } from "@tessera/domain"
import { appendEvent } from "./PgAudit.js"
import { findAll, findOne, InRealm, insertWithEvent, PageOf, present, Timestamp } from "./PgRows.js"
import { forgetResourceConsents, revokeGrantsNaming } from "./PgSignIn.js"
import { on, realmFirst, withRealm } from "./Sql.js"

const Strings = Schema.Array(Schema.String)

/** A `resources` row as the entity (issue 18): `scope_descriptions` (jsonb, `{}` when none) decodes as the entity's. */
const ResourceRow = Schema.transform(
  Schema.Struct({
    realm_id: Schema.String,
    id: Schema.String,
    version: Schema.Number,
    uri: Schema.String,
    scopes: Strings,
    step_up_scopes: Strings,
    display_name: Schema.NullOr(Schema.String),
    scope_descriptions: Schema.Record({ key: Schema.String, value: Schema.String }),
    created_at: Timestamp
  }),
  Resource.Resource,
  {
    strict: true,
    decode: (row) => ({
      realmId: row.realm_id,
      id: row.id,
      version: row.version,
      uri: row.uri,
      scopes: row.scopes,
      stepUpScopes: row.step_up_scopes,
      ...present("displayName", row.display_name),
      ...(Object.keys(row.scope_descriptions).length > 0 ? { scopeDescriptions: row.scope_descriptions } : {}),
      createdAt: row.created_at
    }),
    encode: (resource) => ({
      realm_id: resource.realmId,
      id: resource.id,
      version: resource.version,
      uri: resource.uri,
      scopes: resource.scopes,
      step_up_scopes: resource.stepUpScopes,
      display_name: resource.displayName ?? null,
      scope_descriptions: resource.scopeDescriptions ?? {},
      created_at: resource.createdAt
    })
  }
)

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
  const run = on(sql)
  const byUri = findOne("resources", {
    Request: ByUri,
    Result: ResourceRow,
    execute: ({ realmId, uri }) => sql`SELECT * FROM resources WHERE realm_id = ${realmId} AND uri = ${uri}`
  })
  const byId = findOne("resources", {
    Request: ById,
    Result: ResourceRow,
    execute: ({ realmId, id }) => sql`SELECT * FROM resources WHERE realm_id = ${realmId} AND id = ${id}`
  })
  const list = findAll("resources", {
    Request: InRealm,
    Result: ResourceRow,
    execute: ({ realmId }) => sql`SELECT * FROM resources WHERE realm_id = ${realmId} ORDER BY uri`
  })
  const page = findAll("resources", {
    Request: PageOf,
    Result: ResourceRow,
    execute: ({ realmId, limit, after }) =>
      sql`SELECT * FROM resources WHERE realm_id = ${realmId} AND id::text COLLATE "C" > ${after ?? ""} ORDER BY id::text COLLATE "C" LIMIT ${limit + 1}`
  })
  /** Why a compare-and-set on the row matched nothing: gone, or at another version. */
  const missed = (resource: Resource.Resource) =>
    Effect.flatMap(
      sql`SELECT 1 FROM resources WHERE realm_id = ${resource.realmId} AND id = ${resource.id}`,
      (rows) => Effect.fail(rows.length === 0 ? new Conflict.NotFound({ entity: "resource" }) : new Conflict.Stale({ entity: "resource" }))
    )
  return Resources.Resources.of({
    insert: (resource, event) => insertWithEvent(sql, "resources", "resource", resourceRow(resource), event),
    find: (realmId, uri) => byUri({ realmId, uri }).pipe(withRealm(realmId), run),
    list: (realmId) => list({ realmId }).pipe(withRealm(realmId), run),
    findById: (realmId, id) =>
      // not a uuid: no row has it (and the cast must not fail the query)
      Schema.is(Schema.UUID)(id) ? byId({ realmId, id }).pipe(withRealm(realmId), run) : Effect.succeed(Option.none()),
    page: (realmId, window) => page({ realmId, ...window }).pipe(withRealm(realmId), run),
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
