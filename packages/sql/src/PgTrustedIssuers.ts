/** Trusted issuers on Postgres: realm-scoped rows written with their audit event. */
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Option, Schema } from "effect"
import { TrustedIssuers } from "@tessera/domain"
import type { TrustedIssuer } from "@tessera/domain"
import { at, first, insertWithEvent, select } from "./PgRows.js"
import { toDate } from "./Sql.js"

const TrustedIssuerRow = Schema.Struct({
  realm_id: Schema.String,
  issuer: Schema.String,
  keys: Schema.Unknown,
  created_at: Schema.DateFromSelf
})
const toTrustedIssuer = (row: typeof TrustedIssuerRow.Type): TrustedIssuer.TrustedIssuer => ({
  realmId: row.realm_id,
  issuer: row.issuer,
  keys: row.keys as TrustedIssuer.TrustedIssuer["keys"],
  createdAt: at(row.created_at)
})

export const layerTrustedIssuers = Layer.effect(TrustedIssuers.TrustedIssuers, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  return TrustedIssuers.TrustedIssuers.of({
    insert: (trusted, event) =>
      insertWithEvent(sql, "trusted_issuers", "trusted_issuer", {
        realm_id: trusted.realmId,
        issuer: trusted.issuer,
        keys: JSON.stringify(trusted.keys),
        created_at: toDate(trusted.createdAt)
      }, event),
    find: (realmId, issuer) =>
      select(sql, realmId, TrustedIssuerRow, sql`SELECT * FROM trusted_issuers WHERE realm_id = ${realmId} AND issuer = ${issuer}`)
        .pipe(Effect.map((rows) => Option.map(first(rows), toTrustedIssuer))),
    list: (realmId) =>
      select(sql, realmId, TrustedIssuerRow, sql`SELECT * FROM trusted_issuers WHERE realm_id = ${realmId} ORDER BY issuer`)
        .pipe(Effect.map((rows) => rows.map(toTrustedIssuer)))
  })
}))
