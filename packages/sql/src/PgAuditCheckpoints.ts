/** ADR 0042: the audit trail's signed checkpoints on Postgres (migration 00019), realm-scoped like the trail itself. */
import { SqlClient } from "@effect/sql"
import { DateTime, Effect, Layer, Schema } from "effect"
import { AuditCheckpoints } from "@tessera/domain"
import * as RealmTable from "./RealmTable.js"
import { on, toDate, withRealm } from "./Sql.js"

const Row = Schema.Struct({
  realm_id: Schema.String,
  seq: Schema.NumberFromString,
  event_id: Schema.String,
  hash: Schema.String,
  events: Schema.NumberFromString,
  at: Schema.DateFromSelf,
  mac: Schema.String
})
const Before = Schema.Struct({ realmId: Schema.String, before: Schema.Number, limit: Schema.Number })
const Between = Schema.Struct({ realmId: Schema.String, after: Schema.Number, upTo: Schema.Number, limit: Schema.Number })

const toCheckpoint = (row: typeof Row.Type): AuditCheckpoints.Checkpoint => ({
  realmId: row.realm_id,
  seq: row.seq,
  eventId: row.event_id,
  hash: row.hash,
  events: row.events,
  at: DateTime.unsafeMake(row.at),
  mac: row.mac
})

export const layer = Layer.effect(AuditCheckpoints.AuditCheckpoints, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const run = on(sql)
  const checkpoints = RealmTable.rows(sql, "audit_checkpoints", Row)
  const newest = checkpoints.findAll(Before, ({ before, limit, realmId }) =>
    sql`SELECT * FROM audit_checkpoints WHERE realm_id = ${realmId} AND seq < ${before} ORDER BY seq DESC LIMIT ${limit}`)
  const between = checkpoints.findAll(Between, ({ after, limit, realmId, upTo }) =>
    sql`SELECT * FROM audit_checkpoints WHERE realm_id = ${realmId} AND seq > ${after} AND seq <= ${upTo} ORDER BY seq LIMIT ${limit}`)
  return AuditCheckpoints.AuditCheckpoints.of({
    newest: (realmId, before, limit) => Effect.map(newest({ realmId, before, limit }), (rows) => rows.map(toCheckpoint)),
    between: (realmId, after, upTo, limit) => Effect.map(between({ realmId, after, upTo, limit }), (rows) => rows.map(toCheckpoint)),
    // a second checkpoint of the same position changes nothing: the first stays (the table is insert-only)
    add: (c) =>
      sql`INSERT INTO audit_checkpoints (realm_id, seq, event_id, hash, events, at, mac)
          VALUES (${c.realmId}, ${c.seq}, ${c.eventId}, ${c.hash}, ${c.events}, ${toDate(c.at)}, ${c.mac})
          ON CONFLICT (realm_id, seq) DO NOTHING`.pipe(Effect.asVoid, withRealm(c.realmId), run)
  })
}))
