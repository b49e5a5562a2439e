/** Clients on Postgres: realm-scoped rows written with their audit event. */
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Option, Schema } from "effect"
import { Clients } from "@tessera/domain"
import type { Client } from "@tessera/domain"
import { at, first, insertWithEvent, select } from "./PgRows.js"
import { toDate } from "./Sql.js"

const ClientRow = Schema.Struct({
  realm_id: Schema.String,
  client_id: Schema.String,
  secret_hash: Schema.NullOr(Schema.String),
  metadata: Schema.Unknown,
  dynamic: Schema.Boolean,
  created_at: Schema.DateFromSelf
})
const toClient = (row: typeof ClientRow.Type): Client.Client => ({
  realmId: row.realm_id,
  clientId: row.client_id,
  ...(row.secret_hash !== null ? { secretHash: row.secret_hash } : {}),
  metadata: row.metadata as Client.Metadata,
  ...(row.dynamic ? { dynamic: true } : {}),
  createdAt: at(row.created_at)
})

export const layerClients = Layer.effect(Clients.Clients, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  return Clients.Clients.of({
    insert: (client, event) =>
      insertWithEvent(sql, "clients", "client", {
        realm_id: client.realmId,
        client_id: client.clientId,
        secret_hash: client.secretHash ?? null,
        metadata: JSON.stringify(client.metadata),
        dynamic: client.dynamic === true,
        created_at: toDate(client.createdAt)
      }, event),
    find: (realmId, clientId) =>
      select(sql, realmId, ClientRow, sql`SELECT * FROM clients WHERE realm_id = ${realmId} AND client_id = ${clientId}`)
        .pipe(Effect.map((rows) => Option.map(first(rows), toClient))),
    list: (realmId) =>
      select(sql, realmId, ClientRow, sql`SELECT * FROM clients WHERE realm_id = ${realmId} ORDER BY created_at, client_id`)
        .pipe(Effect.map((rows) => rows.map(toClient)))
  })
}))
