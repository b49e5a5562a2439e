/** Clients on Postgres: realm-scoped rows written with their audit event; changes compare-and-set on `version`. */
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Option, Schema } from "effect"
import { Clients, Conflict } from "@tessera/domain"
import type { Client } from "@tessera/domain"
import { appendEvent } from "./PgAudit.js"
import { at, first, insertWithEvent, select } from "./PgRows.js"
import { revokeGrantsWhere } from "./PgSignIn.js"
import { on, realmFirst, toDate, withRealm } from "./Sql.js"

const ClientRow = Schema.Struct({
  realm_id: Schema.String,
  client_id: Schema.String,
  secret_hash: Schema.NullOr(Schema.String),
  previous_secret_hash: Schema.NullOr(Schema.String),
  previous_secret_expires_at: Schema.NullOr(Schema.DateFromSelf),
  metadata: Schema.Unknown,
  dynamic: Schema.Boolean,
  created_at: Schema.DateFromSelf,
  version: Schema.Number
})
const toClient = (row: typeof ClientRow.Type): Client.Client => ({
  realmId: row.realm_id,
  clientId: row.client_id,
  ...(row.secret_hash !== null ? { secretHash: row.secret_hash } : {}),
  ...(row.previous_secret_hash !== null ? { previousSecretHash: row.previous_secret_hash } : {}),
  ...(row.previous_secret_expires_at !== null ? { previousSecretExpiresAt: at(row.previous_secret_expires_at) } : {}),
  metadata: row.metadata as Client.Metadata,
  ...(row.dynamic ? { dynamic: true } : {}),
  createdAt: at(row.created_at),
  version: row.version
})

const entity = "client" as const

/** A new client's row as inserted (also by PgRealms, for a realm's built-in client). */
export const clientRow = (client: Client.Client) => ({
  realm_id: client.realmId,
  client_id: client.clientId,
  secret_hash: client.secretHash ?? null,
  metadata: JSON.stringify(client.metadata),
  dynamic: client.dynamic === true,
  created_at: toDate(client.createdAt),
  version: client.version ?? 1
})

export const layerClients = Layer.effect(Clients.Clients, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const run = on(sql)
  /** Inside the realm transaction: why a compare-and-set on `version` touched no row. */
  const missed = (realmId: string, clientId: string) =>
    Effect.flatMap(
      sql`SELECT 1 FROM clients WHERE realm_id = ${realmId} AND client_id = ${clientId}`,
      (rows) => Effect.fail(rows.length === 0 ? new Conflict.NotFound({ entity }) : new Conflict.Stale({ entity }))
    )
  return Clients.Clients.of({
    insert: (client, event) => insertWithEvent(sql, "clients", "client", clientRow(client), event),
    find: (realmId, clientId) =>
      select(sql, realmId, ClientRow, sql`SELECT * FROM clients WHERE realm_id = ${realmId} AND client_id = ${clientId}`)
        .pipe(Effect.map((rows) => Option.map(first(rows), toClient))),
    list: (realmId) =>
      select(sql, realmId, ClientRow, sql`SELECT * FROM clients WHERE realm_id = ${realmId} ORDER BY created_at, client_id`)
        .pipe(Effect.map((rows) => rows.map(toClient))),
    // Clients.sortKey: ids in code-unit order, whatever the database's collation
    page: (realmId, window) =>
      select(sql, realmId, ClientRow, sql`SELECT * FROM clients
        WHERE realm_id = ${realmId} AND (${window.after ?? null}::text IS NULL OR client_id COLLATE "C" > ${window.after ?? null})
        ORDER BY client_id COLLATE "C" LIMIT ${window.limit + 1}`)
        .pipe(Effect.map((rows) => rows.map(toClient))),
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
