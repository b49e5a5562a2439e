/** Trusted issuers on Postgres: realm-scoped rows written with their audit event; changes by compare-and-set on `version`. */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Layer, Option, Schema } from "effect"
import { Conflict, TrustedIssuer, TrustedIssuers } from "@tessera/domain"
import type { AuditEvent } from "@tessera/domain"
import { appendEvent } from "./PgAudit.js"
import { findAll, findOne, InRealm, insertWithEvent, PageOf, Timestamp } from "./PgRows.js"
import { on, realmFirst, withRealm } from "./Sql.js"

/** A `trusted_issuers` row as the entity (issue 18): `keys` (jsonb) decodes through `TrustedIssuer.Keys`. */
const TrustedIssuerRow = Schema.transform(
  Schema.Struct({
    realm_id: Schema.String,
    id: Schema.String,
    version: Schema.Number,
    issuer: Schema.String,
    keys: TrustedIssuer.Keys,
    id_jag: Schema.Boolean,
    provision_users: Schema.Boolean,
    created_at: Timestamp
  }),
  TrustedIssuer.TrustedIssuer,
  {
    strict: true,
    decode: (row) => ({
      realmId: row.realm_id,
      id: row.id,
      version: row.version,
      issuer: row.issuer,
      keys: row.keys,
      idJag: row.id_jag,
      provisionUsers: row.provision_users,
      createdAt: row.created_at
    }),
    encode: (trusted) => ({
      realm_id: trusted.realmId,
      id: trusted.id,
      version: trusted.version,
      issuer: trusted.issuer,
      keys: trusted.keys,
      id_jag: trusted.idJag,
      provision_users: trusted.provisionUsers,
      created_at: trusted.createdAt
    })
  }
)

const ByIssuer = Schema.Struct({ realmId: Schema.String, issuer: Schema.String })
const ById = Schema.Struct({ realmId: Schema.String, id: Schema.UUID })

export const layerTrustedIssuers = Layer.effect(TrustedIssuers.TrustedIssuers, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const run = on(sql)
  const byIssuer = findOne("trusted_issuers", {
    Request: ByIssuer,
    Result: TrustedIssuerRow,
    execute: ({ realmId, issuer }) => sql`SELECT * FROM trusted_issuers WHERE realm_id = ${realmId} AND issuer = ${issuer}`
  })
  const byId = findOne("trusted_issuers", {
    Request: ById,
    Result: TrustedIssuerRow,
    execute: ({ realmId, id }) => sql`SELECT * FROM trusted_issuers WHERE realm_id = ${realmId} AND id = ${id}`
  })
  const list = findAll("trusted_issuers", {
    Request: InRealm,
    Result: TrustedIssuerRow,
    execute: ({ realmId }) => sql`SELECT * FROM trusted_issuers WHERE realm_id = ${realmId} ORDER BY issuer`
  })
  const page = findAll("trusted_issuers", {
    Request: PageOf,
    Result: TrustedIssuerRow,
    execute: ({ realmId, limit, after }) => sql`SELECT * FROM trusted_issuers WHERE realm_id = ${realmId} AND id::text COLLATE "C" > ${after ?? ""}
      ORDER BY id::text COLLATE "C" LIMIT ${limit + 1}`
  })
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
    insert: (trusted, event) => {
      const row = Schema.encodeSync(TrustedIssuerRow)(trusted)
      return insertWithEvent(sql, "trusted_issuers", "trusted_issuer", { ...row, keys: JSON.stringify(row.keys) }, event)
    },
    find: (realmId, issuer) => byIssuer({ realmId, issuer }).pipe(withRealm(realmId), run),
    list: (realmId) => list({ realmId }).pipe(withRealm(realmId), run),
    findById: (realmId, id) =>
      // not a uuid: no row has it (and the cast must not fail the query)
      Schema.is(Schema.UUID)(id) ? byId({ realmId, id }).pipe(withRealm(realmId), run) : Effect.succeed(Option.none()),
    page: (realmId, window) => page({ realmId, ...window }).pipe(withRealm(realmId), run),
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
