/** Trusted issuers on Postgres: realm-scoped rows written with their audit event; changes by compare-and-set on `version`. */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Layer, Option, Schema } from "effect"
import { Conflict, TrustedIssuers } from "@tessera/domain"
import type { AuditEvent, TrustedIssuer } from "@tessera/domain"
import { appendEvent } from "./PgAudit.js"
import { at, first, insertWithEvent, select } from "./PgRows.js"
import { on, realmFirst, toDate, withRealm } from "./Sql.js"

const Jwk = Schema.Record({ key: Schema.String, value: Schema.Unknown })
const Keys = Schema.Union(
  Schema.Struct({ _tag: Schema.Literal("Jwks"), jwks: Schema.Struct({ keys: Schema.Array(Jwk) }) }),
  Schema.Struct({ _tag: Schema.Literal("JwksUri"), jwksUri: Schema.String })
)

const TrustedIssuerRow = Schema.Struct({
  realm_id: Schema.String,
  id: Schema.String,
  version: Schema.Number,
  issuer: Schema.String,
  keys: Keys,
  id_jag: Schema.Boolean,
  provision_users: Schema.Boolean,
  created_at: Schema.DateFromSelf
})
const toTrustedIssuer = (row: typeof TrustedIssuerRow.Type): TrustedIssuer.TrustedIssuer => ({
  realmId: row.realm_id,
  id: row.id,
  version: row.version,
  issuer: row.issuer,
  keys: row.keys,
  idJag: row.id_jag,
  provisionUsers: row.provision_users,
  createdAt: at(row.created_at)
})

export const layerTrustedIssuers = Layer.effect(TrustedIssuers.TrustedIssuers, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const many = (realmId: string, query: Effect.Effect<ReadonlyArray<unknown>, SqlError>) =>
    select(sql, realmId, TrustedIssuerRow, query).pipe(Effect.map((rows) => rows.map(toTrustedIssuer)))
  /**
   * Runs `statement` (a compare-and-set on the row's version that answers the rows it touched) with `event` in one
   * realm transaction; when it touched nothing, says why: the row is gone, or at another version.
   */
  const compareAndSet = (
    trusted: TrustedIssuer.TrustedIssuer,
    statement: Effect.Effect<ReadonlyArray<unknown>, SqlError>,
    event: AuditEvent.AuditEvent
  ) =>
    Effect.gen(function*() {
      yield* realmFirst(trusted.realmId)
      if ((yield* statement).length === 0) {
        const exists = yield* sql`SELECT 1 FROM trusted_issuers WHERE realm_id = ${trusted.realmId} AND id = ${trusted.id}`
        return yield* (exists.length === 0 ? new Conflict.NotFound({ entity: "trusted_issuer" }) : new Conflict.Stale({ entity: "trusted_issuer" }))
      }
      yield* appendEvent(event)
    }).pipe(withRealm(trusted.realmId), on(sql))
  return TrustedIssuers.TrustedIssuers.of({
    insert: (trusted, event) =>
      insertWithEvent(sql, "trusted_issuers", "trusted_issuer", {
        realm_id: trusted.realmId,
        id: trusted.id,
        version: trusted.version,
        issuer: trusted.issuer,
        keys: JSON.stringify(trusted.keys),
        id_jag: trusted.idJag,
        provision_users: trusted.provisionUsers,
        created_at: toDate(trusted.createdAt)
      }, event),
    find: (realmId, issuer) =>
      many(realmId, sql`SELECT * FROM trusted_issuers WHERE realm_id = ${realmId} AND issuer = ${issuer}`).pipe(Effect.map(first)),
    list: (realmId) => many(realmId, sql`SELECT * FROM trusted_issuers WHERE realm_id = ${realmId} ORDER BY issuer`),
    findById: (realmId, id) =>
      // not a uuid: no row has it (and the cast must not fail the query)
      Schema.is(Schema.UUID)(id)
        ? many(realmId, sql`SELECT * FROM trusted_issuers WHERE realm_id = ${realmId} AND id = ${id}`).pipe(Effect.map(first))
        : Effect.succeed(Option.none()),
    page: (realmId, window) =>
      many(
        realmId,
        sql`SELECT * FROM trusted_issuers WHERE realm_id = ${realmId} AND id::text COLLATE "C" > ${window.after ?? ""}
          ORDER BY id::text COLLATE "C" LIMIT ${window.limit + 1}`
      ),
    update: (next, expectedVersion, event) =>
      compareAndSet(
        next,
        sql`UPDATE trusted_issuers SET
            version = ${next.version},
            keys = ${JSON.stringify(next.keys)}::jsonb,
            id_jag = ${next.idJag},
            provision_users = ${next.provisionUsers}
          WHERE realm_id = ${next.realmId} AND id = ${next.id} AND issuer = ${next.issuer} AND version = ${expectedVersion}
          RETURNING 1`,
        event
      ),
    remove: (trusted, expectedVersion, event) =>
      compareAndSet(
        trusted,
        sql`DELETE FROM trusted_issuers
          WHERE realm_id = ${trusted.realmId} AND id = ${trusted.id} AND issuer = ${trusted.issuer} AND version = ${expectedVersion}
          RETURNING 1`,
        event
      )
  })
}))
