/** Clients on Postgres: realm-scoped rows written with their audit event; changes compare-and-set on `version`. */
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Schema } from "effect"
import { Client, Clients } from "@tessera/domain"
import { appendEvent } from "./PgAudit.js"
import { absentAs, entityRow, InRealm, PageOf, Timestamp } from "./PgRows.js"
import * as RealmTable from "./RealmTable.js"
import { revokeGrantsWhere } from "./PgSignIn.js"
import { toDate } from "./Sql.js"

/**
 * A `clients` row as the entity (issue 18): `metadata` (jsonb) decodes through `Client.Metadata`; `dynamic` false is
 * absent, and a client without a version is written at 1 (`Client.versionOf`).
 */
export const ClientRow = entityRow({
  realm_id: Schema.String,
  client_id: Schema.String,
  secret_hash: Schema.NullOr(Schema.String),
  previous_secret_hash: Schema.NullOr(Schema.String),
  previous_secret_expires_at: Schema.NullOr(Timestamp),
  metadata: Client.Metadata,
  dynamic: absentAs(Schema.Boolean, false, (dynamic) => !dynamic),
  created_at: Timestamp,
  version: absentAs(Schema.Number, 1)
}, Client.Client)

const ClientKey = Schema.Struct({ realmId: Schema.String, clientId: Schema.String })

/** A new client's row as inserted (also by PgRealms, for a realm's built-in client). */
export const clientRow = (client: Client.Client) => {
  const row = Schema.encodeSync(ClientRow)(client)
  return { ...row, metadata: JSON.stringify(row.metadata) }
}

export const layerClients = Layer.effect(Clients.Clients, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const clients = RealmTable.make(sql, { table: "clients", entity: "client", Row: ClientRow })
  const find = clients.findOne(ClientKey, ({ realmId, clientId }) =>
    sql`SELECT * FROM clients WHERE realm_id = ${realmId} AND client_id = ${clientId}`)
  const list = clients.findAll(InRealm, ({ realmId }) =>
    sql`SELECT * FROM clients WHERE realm_id = ${realmId} ORDER BY created_at, client_id`)
  // Clients.sortKey: ids in code-unit order, whatever the database's collation
  const page = clients.findAll(PageOf, ({ realmId, limit, after }) =>
    sql`SELECT * FROM clients
      WHERE realm_id = ${realmId} AND (${after ?? null}::text IS NULL OR client_id COLLATE "C" > ${after ?? null})
      ORDER BY client_id COLLATE "C" LIMIT ${limit + 1}`)
  return Clients.Clients.of({
    insert: (client, event) => clients.insert(clientRow(client), event),
    find: (realmId, clientId) => find({ realmId, clientId }),
    list: (realmId) => list({ realmId }),
    page: (realmId, window) => page({ realmId, ...window }),
    update: (next, expectedVersion, event) =>
      clients.compareAndSet(
        { realm_id: next.realmId, client_id: next.clientId },
        sql`UPDATE clients SET
            secret_hash = ${next.secretHash ?? null},
            previous_secret_hash = ${next.previousSecretHash ?? null},
            previous_secret_expires_at = ${next.previousSecretExpiresAt === undefined ? null : toDate(next.previousSecretExpiresAt)},
            metadata = ${JSON.stringify(next.metadata)}::jsonb,
            version = ${expectedVersion + 1}
          WHERE realm_id = ${next.realmId} AND client_id = ${next.clientId} AND version = ${expectedVersion}
          RETURNING client_id`,
        appendEvent(event)
      ),
    remove: (realmId, clientId, expectedVersion, when, event) =>
      clients.compareAndSet(
        { realm_id: realmId, client_id: clientId },
        sql`DELETE FROM clients
          WHERE realm_id = ${realmId} AND client_id = ${clientId} AND version = ${expectedVersion} RETURNING client_id`,
        Effect.gen(function*() {
          yield* revokeGrantsWhere(sql, realmId, { clientId }, when)
          yield* sql`DELETE FROM consents WHERE realm_id = ${realmId} AND client_id = ${clientId}`
          yield* appendEvent(event)
        })
      )
  })
}))
