/** The audit trail on Postgres: append-only rows, one hash chain per realm, writers serialized on the chain head. */
import { SqlClient } from "@effect/sql"
import { Chunk, DateTime, Effect, Layer, Schema } from "effect"
import { Audit, AuditChain } from "@tessera/domain"
import type { AuditEvent } from "@tessera/domain"
import { on, toDate, withRealm } from "./Sql.js"

const Row = Schema.Struct({
  realm_id: Schema.String,
  seq: Schema.NumberFromString,
  id: Schema.String,
  at: Schema.DateFromSelf,
  realm: Schema.String,
  type: Schema.String,
  actor_type: Schema.Literal("user", "client", "agent", "owner"),
  actor_id: Schema.String,
  subject: Schema.NullOr(Schema.String),
  client_id: Schema.NullOr(Schema.String),
  grant_type: Schema.NullOr(Schema.String),
  resource: Schema.NullOr(Schema.String),
  scope: Schema.NullOr(Schema.String),
  act: Schema.NullOr(Schema.Unknown),
  result: Schema.Literal("success", "failure"),
  reason: Schema.NullOr(Schema.String),
  ip: Schema.NullOr(Schema.String),
  user_agent: Schema.NullOr(Schema.String),
  prev_hash: Schema.String,
  hash: Schema.String
})
const decodeRows = Schema.decodeUnknown(Schema.Array(Row))

const optional = <K extends string, V>(key: K, value: V | null) =>
  (value === null ? {} : { [key]: value }) as { [P in K]?: V }

const toEvent = (row: typeof Row.Type): AuditEvent.AuditEvent => ({
  id: row.id,
  at: DateTime.unsafeMake(row.at),
  realmId: row.realm_id,
  realm: row.realm,
  type: row.type as AuditEvent.EventType,
  actor: { type: row.actor_type, id: row.actor_id },
  ...optional("subject", row.subject),
  ...optional("clientId", row.client_id),
  ...optional("grantType", row.grant_type),
  ...optional("resource", row.resource),
  ...optional("scope", row.scope),
  ...optional("act", row.act),
  result: row.result,
  ...optional("reason", row.reason),
  ...optional("ip", row.ip),
  ...optional("userAgent", row.user_agent)
})

/**
 * Appends an event inside the caller's realm transaction: the chain head is locked FOR UPDATE, so concurrent
 * writers of one realm take turns, and the event commits or rolls back with the change it records.
 */
export const appendEvent = (event: AuditEvent.AuditEvent) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [head] = yield* sql<{ seq: string; hash: string }>`
      SELECT seq, hash FROM audit_heads WHERE realm_id = ${event.realmId} FOR UPDATE`
    const seq = head === undefined ? 1 : Number(head.seq) + 1
    const prevHash = head?.hash ?? AuditChain.genesis
    const hash = yield* AuditChain.link(prevHash, event)
    yield* sql`INSERT INTO audit_events ${sql.insert({
      realm_id: event.realmId,
      seq,
      id: event.id,
      at: toDate(event.at),
      realm: event.realm,
      type: event.type,
      actor_type: event.actor.type,
      actor_id: event.actor.id,
      subject: event.subject ?? null,
      client_id: event.clientId ?? null,
      grant_type: event.grantType ?? null,
      resource: event.resource ?? null,
      scope: event.scope ?? null,
      act: event.act === undefined ? null : JSON.stringify(event.act),
      result: event.result,
      reason: event.reason ?? null,
      ip: event.ip ?? null,
      user_agent: event.userAgent ?? null,
      prev_hash: prevHash,
      hash
    })}`
    yield* head === undefined
      ? sql`INSERT INTO audit_heads ${sql.insert({ realm_id: event.realmId, seq, hash })}`
      : sql`UPDATE audit_heads SET seq = ${seq}, hash = ${hash} WHERE realm_id = ${event.realmId}`
  })

/** How many rows `verify` reads at a time. */
const verifyBatch = 1000

export const layer = Layer.effect(Audit.Audit, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const run = on(sql)
  return Audit.Audit.of({
    append: (event) => appendEvent(event).pipe(withRealm(event.realmId), run),
    query: (realmId, filter) =>
      Effect.gen(function*() {
        const clauses = [
          sql`realm_id = ${realmId}`,
          ...(filter.before !== undefined ? [sql`seq < ${filter.before}`] : []),
          ...(filter.type !== undefined ? [sql`type = ${filter.type}`] : []),
          ...(filter.subject !== undefined ? [sql`subject = ${filter.subject}`] : []),
          ...(filter.actor !== undefined ? [sql`actor_id = ${filter.actor}`] : []),
          ...(filter.clientId !== undefined ? [sql`client_id = ${filter.clientId}`] : []),
          ...(filter.since !== undefined ? [sql`at >= ${toDate(filter.since)}`] : []),
          ...(filter.until !== undefined ? [sql`at <= ${toDate(filter.until)}`] : [])
        ]
        const rows = yield* decodeRows(
          yield* sql`SELECT * FROM audit_events WHERE ${sql.and(clauses)} ORDER BY seq DESC LIMIT ${filter.limit}`
        )
        return rows.map((row) => ({ seq: row.seq, event: toEvent(row) }))
      }).pipe(withRealm(realmId), run),
    verify: (realmId) =>
      Effect.gen(function*() {
        // the chain is walked in batches, oldest first, carrying the last hash across batches
        let after = 0
        let links = Chunk.empty<AuditChain.Link>()
        while (true) {
          const rows = yield* decodeRows(yield* sql`
            SELECT * FROM audit_events WHERE realm_id = ${realmId} AND seq > ${after} ORDER BY seq LIMIT ${verifyBatch}`)
          links = Chunk.appendAll(links, Chunk.fromIterable(rows.map((row) => ({ event: toEvent(row), prevHash: row.prev_hash, hash: row.hash }))))
          const last = rows[rows.length - 1]
          if (last === undefined || rows.length < verifyBatch) break
          after = last.seq
        }
        return yield* AuditChain.verify(links)
      }).pipe(withRealm(realmId), run)
  })
}))

