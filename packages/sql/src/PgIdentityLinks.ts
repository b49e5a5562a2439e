/** Identity links on Postgres (ADR 0047, migration 00020): realm-scoped rows, made with the user they provision. */
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Schema } from "effect"
import { Conflict, IdentityLink, IdentityLinks } from "@tessera/domain"
import { appendEvent } from "./PgAudit.js"
import { entityRow, Timestamp } from "./PgRows.js"
import * as RealmTable from "./RealmTable.js"
import { rowOf } from "./PgUsers.js"
import { on, withRealm } from "./Sql.js"

/** An `identity_links` row as the entity (issue 18). */
const LinkRow = entityRow(
  { realm_id: Schema.String, issuer: Schema.String, subject: Schema.String, sub: Schema.String, created_at: Timestamp },
  IdentityLink.IdentityLink
)

const ByPerson = Schema.Struct({ realmId: Schema.String, issuer: Schema.String, subject: Schema.String })
const ByUser = Schema.Struct({ realmId: Schema.String, sub: Schema.String })

export const layer = Layer.effect(IdentityLinks.IdentityLinks, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const run = on(sql)
  const links = RealmTable.rows(sql, "identity_links", LinkRow)
  const byPerson = links.findOne(ByPerson, ({ realmId, issuer, subject }) =>
    sql`SELECT * FROM identity_links WHERE realm_id = ${realmId} AND issuer = ${issuer} AND subject = ${subject}`)
  const byUser = links.findAll(ByUser, ({ realmId, sub }) =>
    sql`SELECT * FROM identity_links WHERE realm_id = ${realmId} AND sub = ${sub} ORDER BY issuer COLLATE "C", subject COLLATE "C"`)
  return IdentityLinks.IdentityLinks.of({
    find: (realmId, issuer, subject) => byPerson({ realmId, issuer, subject }),
    ofUser: (realmId, sub) => byUser({ realmId, sub }),
    provision: (user, link, events) =>
      Effect.gen(function*() {
        // the user first (the link's foreign key needs it); a taken username or a racing first use of the same
        // person (the link's primary key) refuses the whole transaction
        const inserted = yield* sql`INSERT INTO users ${sql.insert(rowOf(user))} ON CONFLICT DO NOTHING RETURNING realm_id`
        if (inserted.length === 0) return yield* new Conflict.AlreadyExists({ entity: "user" })
        const linked = yield* sql`INSERT INTO identity_links ${sql.insert(Schema.encodeSync(LinkRow)(link))}
          ON CONFLICT DO NOTHING RETURNING realm_id`
        if (linked.length === 0) return yield* new Conflict.AlreadyExists({ entity: "identity_link" })
        for (const event of events) yield* appendEvent(event)
      }).pipe(withRealm(link.realmId), run)
  })
}))
