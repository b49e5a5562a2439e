/** Clients on Postgres: realm-scoped rows written with their audit event; changes compare-and-set on `version`. */
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Schema } from "effect"
import { Client, Clients, Conflict } from "@tessera/domain"
import { appendEvent } from "./PgAudit.js"
import { findAll, findOne, InRealm, insertWithEvent, PageOf, present, Timestamp } from "./PgRows.js"
import { revokeGrantsWhere } from "./PgSignIn.js"
import { on, realmFirst, toDate, withRealm } from "./Sql.js"

/** A `clients` row as the entity (issue 18): `metadata` (jsonb) decodes through `Client.Metadata`. */
export const ClientRow = Schema.transform(
  Schema.Struct({
    realm_id: Schema.String,
    client_id: Schema.String,
    secret_hash: Schema.NullOr(Schema.String),
    previous_secret_hash: Schema.NullOr(Schema.String),
    previous_secret_expires_at: Schema.NullOr(Timestamp),
    metadata: Client.Metadata,
    dynamic: Schema.Boolean,
    created_at: Timestamp,
    version: Schema.Number
  }),
  Client.Client,
  {
    strict: true,
    decode: (row) => ({
      realmId: row.realm_id,
      clientId: row.client_id,
      ...present("secretHash", row.secret_hash),
      ...present("previousSecretHash", row.previous_secret_hash),
      ...present("previousSecretExpiresAt", row.previous_secret_expires_at),
      metadata: row.metadata,
      ...(row.dynamic ? { dynamic: true } : {}),
      createdAt: row.created_at,
      version: row.version
    }),
    encode: (client) => ({
      realm_id: client.realmId,
      client_id: client.clientId,
      secret_hash: client.secretHash ?? null,
      previous_secret_hash: client.previousSecretHash ?? null,
      previous_secret_expires_at: client.previousSecretExpiresAt ?? null,
      metadata: client.metadata,
      dynamic: client.dynamic === true,
      created_at: client.createdAt,
      version: Client.versionOf(client)
    })
  }
)

const ClientKey = Schema.Struct({ realmId: Schema.String, clientId: Schema.String })

const entity = "client" as const

/** A new client's row as inserted (also by PgRealms, for a realm's built-in client). */
export const clientRow = (client: Client.Client) => {
  const row = Schema.encodeSync(ClientRow)(client)
  return { ...row, metadata: JSON.stringify(row.metadata) }
}

export const layerClients = Layer.effect(Clients.Clients, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const run = on(sql)
  /** Inside the realm transaction: why a compare-and-set on `version` touched no row. */
  const missed = (realmId: string, clientId: string) =>
    Effect.flatMap(
      sql`SELECT 1 FROM clients WHERE realm_id = ${realmId} AND client_id = ${clientId}`,
      (rows) => Effect.fail(rows.length === 0 ? new Conflict.NotFound({ entity }) : new Conflict.Stale({ entity }))
    )
  const find = findOne("clients", {
    Request: ClientKey,
    Result: ClientRow,
    execute: ({ realmId, clientId }) => sql`SELECT * FROM clients WHERE realm_id = ${realmId} AND client_id = ${clientId}`
  })
  const list = findAll("clients", {
    Request: InRealm,
    Result: ClientRow,
    execute: ({ realmId }) => sql`SELECT * FROM clients WHERE realm_id = ${realmId} ORDER BY created_at, client_id`
  })
  // Clients.sortKey: ids in code-unit order, whatever the database's collation
  const page = findAll("clients", {
    Request: PageOf,
    Result: ClientRow,
    execute: ({ realmId, limit, after }) => sql`SELECT * FROM clients
      WHERE realm_id = ${realmId} AND (${after ?? null}::text IS NULL OR client_id COLLATE "C" > ${after ?? null})
      ORDER BY client_id COLLATE "C" LIMIT ${limit + 1}`
  })
  return Clients.Clients.of({
    insert: (client, event) => insertWithEvent(sql, "clients", "client", clientRow(client), event),
    find: (realmId, clientId) => find({ realmId, clientId }).pipe(withRealm(realmId), run),
    list: (realmId) => list({ realmId }).pipe(withRealm(realmId), run),
    page: (realmId, window) => page({ realmId, ...window }).pipe(withRealm(realmId), run),
    update: (next, expectedVersion, event) =>
      Effect.gen(function*() {
        yield* realmFirst(next.realmId)
        const updated = yield* sql`UPDATE clients SET
            secret_hash = ${next.secretHash ?? null},
            previous_secret_hash = ${next.previousSecretHash ?? null},
            previous_secret_expires_at = ${next.previousSecretExpiresAt === undefined ? null : toDate(next.previousSecretExpiresAt)},
            metadata = ${JSON.stringify(next.metadata)}::jsonb,
            version = ${expectedVersion + 1}
          WHERE realm_id = ${next.realmId} AND client_id = ${next.clientId} AND version = ${expectedVersion}
          RETURNING client_id`
        if (updated.length === 0) return yield* missed(next.realmId, next.clientId)
        yield* appendEvent(event)
      }).pipe(withRealm(next.realmId), run),
    remove: (realmId, clientId, expectedVersion, when, event) =>
      Effect.gen(function*() {
        yield* realmFirst(realmId)
        const deleted = yield* sql`DELETE FROM clients
          WHERE realm_id = ${realmId} AND client_id = ${clientId} AND version = ${expectedVersion} RETURNING client_id`
        if (deleted.length === 0) return yield* missed(realmId, clientId)
        yield* revokeGrantsWhere(sql, realmId, { clientId }, when)
        yield* sql`DELETE FROM consents WHERE realm_id = ${realmId} AND client_id = ${clientId}`
        yield* appendEvent(event)
      }).pipe(withRealm(realmId), run)
  })
}))
