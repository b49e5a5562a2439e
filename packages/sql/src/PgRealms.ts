/**
 * Realms on Postgres: a realm row, its first key ring and its audit events are created in one transaction; settings
 * change by compare-and-set on `version`; a realm is deleted whole by `realm_delete` (migration 00012, ADR 0030) in the
 * transaction that writes `realm.deleted` to the owner trail.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Option, Schema } from "effect"
import { Audit, Conflict, Realm, RealmPin, Realms } from "@tessera/domain"
import { appendEvent } from "./PgAudit.js"
import { clientRow } from "./PgClients.js"
import * as PgKeys from "./PgKeys.js"
import { entityRow, findAll, findOne, single, Timestamp } from "./PgRows.js"
import { resourceRow } from "./PgResources.js"
import { on, withDirectory, withRealm } from "./Sql.js"

/** A `realms` row as the entity (issue 18). */
const RealmRow = entityRow({
  id: Schema.String,
  name: Schema.String,
  display_name: Schema.NullOr(Schema.String),
  dynamic_registration: Schema.Boolean,
  created_at: Timestamp,
  version: Schema.Number
}, Realm.Realm)

const Version = Schema.Struct({ version: Schema.Number })
const Locking = Schema.Struct({ realmId: Schema.String, mode: Schema.Literal("update", "delete") })

/** What `realm_delete` answers: rows deleted, by table. */
const Counts = Schema.Struct({ realm_delete: Schema.Record({ key: Schema.String, value: Schema.Number }) })

const ByName = Schema.Struct({ name: Schema.String })
const PageOf = Schema.Struct({ limit: Schema.Number, after: Schema.optionalWith(Schema.String, { exact: true }) })

export const layer = Layer.effect(Realms.Realms, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const run = on(sql)
  /** The owner trail's anchor row (migration 00012) is no realm: never found, never listed. */
  const realmsOnly = sql`id <> ${Audit.ownerTrail}`
  const byName = findOne("realms", {
    Request: ByName,
    Result: RealmRow,
    execute: ({ name }) => sql`SELECT * FROM realms WHERE name = ${name} AND ${realmsOnly}`
  })
  const all = findAll("realms", {
    Request: Schema.Void,
    Result: RealmRow,
    execute: () => sql`SELECT * FROM realms WHERE ${realmsOnly} ORDER BY created_at, name`
  })
  const page = findAll("realms", {
    Request: PageOf,
    Result: RealmRow,
    execute: ({ limit, after }) =>
      sql`SELECT * FROM realms WHERE ${realmsOnly} ${after !== undefined ? sql`AND name > ${after}` : sql``}
        ORDER BY name LIMIT ${limit + 1}`
  })
  const versionOf = findOne("realms", {
    Request: Locking,
    Result: Version,
    execute: ({ realmId, mode }) =>
      mode === "delete"
        ? sql`SELECT version FROM realms WHERE id = ${realmId} FOR UPDATE`
        : sql`SELECT version FROM realms WHERE id = ${realmId} FOR NO KEY UPDATE`
  })
  const deleteAll = single("realms", {
    Request: Schema.String,
    Result: Counts,
    execute: (realmId) => sql`SELECT realm_delete(${realmId})`
  })
  /**
   * The realm's version, locked for the rest of the transaction: `NotFound` without it, `Stale` when it moved on.
   * Deletion locks it FOR UPDATE, so that rows being inserted for the realm wait for it (they take KEY SHARE through
   * their foreign key). A change of the settings locks it FOR NO KEY UPDATE, which keeps other changes of the realm row
   * out and lets those rows in: holding FOR UPDATE while waiting for the trail head, it deadlocked (SQLSTATE 40P01,
   * answered 503) with any write that held the head and then inserted its event (issue 15).
   */
  const lockAt = (realmId: string, expectedVersion: number, mode: "update" | "delete") =>
    Effect.gen(function*() {
      const row = Option.getOrUndefined(yield* versionOf({ realmId, mode }))
      if (row === undefined) return yield* new Conflict.NotFound({ entity: "realm" })
      if (row.version !== expectedVersion) return yield* new Conflict.Stale({ entity: "realm" })
    })
  return Realms.Realms.of({
    create: (realm, ring, event, ownerEvent, builtIns) =>
      Effect.gen(function*() {
        // the name is unique across realms even where RLS hides the other row
        const inserted = yield* sql`
          INSERT INTO realms ${sql.insert(Schema.encodeSync(RealmRow)(realm))} ON CONFLICT DO NOTHING RETURNING id`
        if (inserted.length === 0) return yield* new Conflict.AlreadyExists({ entity: "realm" })
        yield* sql`INSERT INTO key_rings ${sql.insert({ realm_id: realm.id, ...PgKeys.encodeRing(ring) })}`
        yield* appendEvent(event)
        if (builtIns !== undefined) {
          // ADR 0035: the realm is born with its admin resource and tessera-cli, each row with its event
          yield* sql`INSERT INTO resources ${sql.insert(resourceRow(builtIns.resource))}`
          yield* appendEvent(builtIns.resourceEvent)
          yield* sql`INSERT INTO clients ${sql.insert(clientRow(builtIns.client))}`
          yield* appendEvent(builtIns.clientEvent)
        }
        if (ownerEvent !== undefined) yield* appendToOwnerTrail(ownerEvent)
      }).pipe(withRealm(realm.id), run),
    findByName: (name) => byName({ name }).pipe(withDirectory, run),
    list: all(undefined).pipe(withDirectory, run),
    page: (window) => page(window).pipe(withDirectory, run),
    update: (realm, expectedVersion, event) =>
      Effect.gen(function*() {
        yield* lockAt(realm.id, expectedVersion, "update")
        yield* sql`UPDATE realms SET display_name = ${realm.displayName ?? null},
          dynamic_registration = ${realm.dynamicRegistration}, version = ${realm.version} WHERE id = ${realm.id}`
        yield* appendEvent(event)
      }).pipe(withRealm(realm.id), run),
    delete: (realm, expectedVersion, describe) =>
      Effect.gen(function*() {
        yield* lockAt(realm.id, expectedVersion, "delete")
        const deleted = (yield* deleteAll(realm.id)).realm_delete
        yield* appendToOwnerTrail(describe(deleted))
        return deleted
      }).pipe(withRealm(realm.id), run)
  })
}))

/** Appends an owner-trail event inside the current realm transaction: the transaction is pinned to the owner trail for it. */
const appendToOwnerTrail = (event: Parameters<typeof appendEvent>[0]) =>
  // issue 14: a pinned fiber (a tenant admin's request) never reaches the owner trail
  Effect.zipRight(
    RealmPin.checkUnpinned,
    Effect.flatMap(SqlClient.SqlClient, (sql) =>
      sql`SELECT set_config('app.realm_id', ${Audit.ownerTrail}, true)`.pipe(Effect.zipRight(appendEvent(event))))
  )
