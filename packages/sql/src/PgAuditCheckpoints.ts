/** ADR 0042: the audit trail's signed checkpoints on Postgres (migration 00019), realm-scoped like the trail itself. */
import { SqlClient } from "@effect/sql"
import { DateTime, Effect, Layer, Schema } from "effect"
import { AuditCheckpoints } from "@tessera/domain"
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
const decodeRows = Schema.decodeUnknown(Schema.Array(Row))

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
  return AuditCheckpoints.AuditCheckpoints.of({
    newest: (realmId, before, limit) =>
      Effect.map(
        Effect.flatMap(sql`
          SELECT * FROM audit_checkpoints WHERE realm_id = ${realmId} AND seq < ${before} ORDER BY seq DESC LIMIT ${limit}`, decodeRows),
        (rows) => rows.map(toCheckpoint)
      ).pipe(withRealm(realmId), run),
    between: (realmId, after, upTo, limit) =>
      Effect.map(
        Effect.flatMap(sql`
          SELECT * FROM audit_checkpoints WHERE realm_id = ${realmId} AND seq > ${after} AND seq <= ${upTo} ORDER BY seq LIMIT ${limit}`, decodeRows),
        (rows) => rows.map(toCheckpoint)
      ).pipe(withRealm(realmId), run),
    // a second checkpoint of the same position changes nothing: the first stays (the table is insert-only)
    add: (c) =>
      sql`INSERT INTO audit_checkpoints (realm_id, seq, event_id, hash, events, at, mac)
          VALUES (${c.realmId}, ${c.seq}, ${c.eventId}, ${c.hash}, ${c.events}, ${toDate(c.at)}, ${c.mac})
          ON CONFLICT (realm_id, seq) DO NOTHING`.pipe(Effect.asVoid, withRealm(c.realmId), run)
  })
}))
