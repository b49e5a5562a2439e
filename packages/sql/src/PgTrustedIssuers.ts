/** Trusted issuers on Postgres: realm-scoped rows written with their audit event; changes by compare-and-set on `version`. */
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Schema } from "effect"
import { TrustedIssuer, TrustedIssuers } from "@tessera/domain"
import { appendEvent } from "./PgAudit.js"
import { entityRow, InRealm, PageOf, Timestamp } from "./PgRows.js"
import * as RealmTable from "./RealmTable.js"

/** A `trusted_issuers` row as the entity (issue 18): `keys` (jsonb) decodes through `TrustedIssuer.Keys`. */
const TrustedIssuerRow = entityRow({
  realm_id: Schema.String,
  id: Schema.String,
  version: Schema.Number,
  issuer: Schema.String,
  keys: TrustedIssuer.Keys,
  id_jag: Schema.Boolean,
  provision_users: Schema.Boolean,
  created_at: Timestamp
}, TrustedIssuer.TrustedIssuer)

const ByIssuer = Schema.Struct({ realmId: Schema.String, issuer: Schema.String })
const ById = Schema.Struct({ realmId: Schema.String, id: Schema.UUID })

export const layerTrustedIssuers = Layer.effect(TrustedIssuers.TrustedIssuers, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const issuers = RealmTable.make(sql, { table: "trusted_issuers", entity: "trusted_issuer", Row: TrustedIssuerRow })
  const byIssuer = issuers.findOne(ByIssuer, ({ realmId, issuer }) =>
    sql`SELECT * FROM trusted_issuers WHERE realm_id = ${realmId} AND issuer = ${issuer}`)
  const byId = issuers.findOne(ById, ({ realmId, id }) => sql`SELECT * FROM trusted_issuers WHERE realm_id = ${realmId} AND id = ${id}`)
  const list = issuers.findAll(InRealm, ({ realmId }) => sql`SELECT * FROM trusted_issuers WHERE realm_id = ${realmId} ORDER BY issuer`)
  const page = issuers.findAll(PageOf, ({ realmId, limit, after }) =>
    sql`SELECT * FROM trusted_issuers WHERE realm_id = ${realmId} AND id::text COLLATE "C" > ${after ?? ""}
      ORDER BY id::text COLLATE "C" LIMIT ${limit + 1}`)
  const keyOf = (trusted: TrustedIssuer.TrustedIssuer) => ({ realm_id: trusted.realmId, id: trusted.id })
  return TrustedIssuers.TrustedIssuers.of({
    insert: (trusted, event) => {
      const row = Schema.encodeSync(TrustedIssuerRow)(trusted)
      return issuers.insert({ ...row, keys: JSON.stringify(row.keys) }, event)
    },
    find: (realmId, issuer) => byIssuer({ realmId, issuer }),
    list: (realmId) => list({ realmId }),
    findById: (realmId, id) => RealmTable.byUuid(byId)({ realmId, id }),
    page: (realmId, window) => page({ realmId, ...window }),
    update: (next, expectedVersion, event) =>
      issuers.compareAndSet(
        keyOf(next),
        sql`UPDATE trusted_issuers SET
            version = ${next.version},
            keys = ${JSON.stringify(next.keys)}::jsonb,
            id_jag = ${next.idJag},
            provision_users = ${next.provisionUsers}
          WHERE realm_id = ${next.realmId} AND id = ${next.id} AND issuer = ${next.issuer} AND version = ${expectedVersion}
          RETURNING 1`,
        appendEvent(event)
      ),
    remove: (trusted, expectedVersion, event) =>
      issuers.compareAndSet(
        keyOf(trusted),
        sql`DELETE FROM trusted_issuers
          WHERE realm_id = ${trusted.realmId} AND id = ${trusted.id} AND issuer = ${trusted.issuer} AND version = ${expectedVersion}
          RETURNING 1`,
        appendEvent(event)
      )
  })
}))
