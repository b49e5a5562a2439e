/** Identity links on Postgres (ADR 0047, migration 00020): realm-scoped rows, made with the user they provision. */
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Option, Schema } from "effect"
import { Conflict, IdentityLinks } from "@tessera/domain"
import type { IdentityLink } from "@tessera/domain"
import { appendEvent } from "./PgAudit.js"
import { at, first, select } from "./PgRows.js"
import { rowOf } from "./PgUsers.js"
import { on, toDate, withRealm } from "./Sql.js"

const LinkRow = Schema.Struct({
  realm_id: Schema.String,
  issuer: Schema.String,
  subject: Schema.String,
  sub: Schema.String,
  created_at: Schema.DateFromSelf
})
const toLink = (row: typeof LinkRow.Type): IdentityLink.IdentityLink => ({
  realmId: row.realm_id,
  issuer: row.issuer,
  subject: row.subject,
  sub: row.sub,
  createdAt: at(row.created_at)
})

export const layer = Layer.effect(IdentityLinks.IdentityLinks, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  return IdentityLinks.IdentityLinks.of({
    find: (realmId, issuer, subject) =>
      select(sql, realmId, LinkRow, sql`SELECT * FROM identity_links WHERE realm_id = ${realmId} AND issuer = ${issuer} AND subject = ${subject}`)
        .pipe(Effect.map((rows) => Option.map(first(rows), toLink))),
    ofUser: (realmId, sub) =>
      select(sql, realmId, LinkRow, sql`SELECT * FROM identity_links WHERE realm_id = ${realmId} AND sub = ${sub}
        ORDER BY issuer COLLATE "C", subject COLLATE "C"`).pipe(Effect.map((rows) => rows.map(toLink))),
    provision: (user, link, events) =>
      Effect.gen(function*() {
        // the user first (the link's foreign key needs it); a taken username or a racing first use of the same
        // person (the link's primary key) refuses the whole transaction
        const inserted = yield* sql`INSERT INTO users ${sql.insert(rowOf(user))} ON CONFLICT DO NOTHING RETURNING realm_id`
        if (inserted.length === 0) return yield* new Conflict.AlreadyExists({ entity: "user" })
        const linked = yield* sql`INSERT INTO identity_links ${
          sql.insert({ realm_id: link.realmId, issuer: link.issuer, subject: link.subject, sub: link.sub, created_at: toDate(link.createdAt) })
        } ON CONFLICT DO NOTHING RETURNING realm_id`
        if (linked.length === 0) return yield* new Conflict.AlreadyExists({ entity: "identity_link" })
        for (const event of events) yield* appendEvent(event)
      }).pipe(withRealm(link.realmId), on(sql))
  })
}))
