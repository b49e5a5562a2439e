/**
 * The audit trail on Postgres: append-only rows, one hash chain per realm, writers serialized on the chain head;
 * standalone events are group-committed per realm (ADR 0022).
 */
import { SqlClient } from "@effect/sql"
import { DateTime, Effect, Layer, ParseResult, Schema } from "effect"
import { Audit, AuditChain, Metrics, RealmPin } from "@tessera/domain"
import type { AuditEvent } from "@tessera/domain"
import * as GroupCommit from "./GroupCommit.js"
import { on, toDate, withRealm } from "./Sql.js"

const Row = Schema.Struct({
  realm_id: Schema.String,
  seq: Schema.NumberFromString,
  id: Schema.String,
  at: Schema.DateFromSelf,
  realm: Schema.String,
  type: Schema.String,
  actor_type: Schema.Literal("user", "client", "agent", "owner", "tenant_admin"),
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

/**
 * A row as the domain's event: absent fields stay absent. Assigned one by one, in the order of their names, so that
 * `AuditChain.canonical` finds its members already sorted (verification reads millions, ADR 0042).
 */
const toEvent = (row: typeof Row.Type): AuditEvent.AuditEvent => {
  const event: { -readonly [K in keyof AuditEvent.AuditEvent]?: AuditEvent.AuditEvent[K] } = {}
  if (row.act !== null) event.act = row.act
  event.actor = { id: row.actor_id, type: row.actor_type }
  event.at = DateTime.unsafeMake(row.at)
  if (row.client_id !== null) event.clientId = row.client_id
  if (row.grant_type !== null) event.grantType = row.grant_type
  event.id = row.id
  if (row.ip !== null) event.ip = row.ip
  event.realm = row.realm
  event.realmId = row.realm_id
  if (row.reason !== null) event.reason = row.reason
  if (row.resource !== null) event.resource = row.resource
  event.result = row.result
  if (row.scope !== null) event.scope = row.scope
  if (row.subject !== null) event.subject = row.subject
  event.type = row.type as AuditEvent.EventType
  if (row.user_agent !== null) event.userAgent = row.user_agent
  return event as AuditEvent.AuditEvent
}

/**
 * A link as `links` reads it (ADR 0042): every column the link's hash covers, but `realm_id` (the query's own
 * `realm_id = $1`), in one JSON array per row, so the driver hands over one text per row instead of parsing nineteen
 * columns, and the row is decoded by the handful of checks below rather than a property at a time. `at` is whole epoch
 * milliseconds rounded down, the instant the driver's `Date` of the `timestamptz` is (the chain writes milliseconds).
 */
type LinkRow = readonly [
  seq: number, id: string, at: number, realm: string, type: string, actorType: AuditEvent.ActorType, actorId: string,
  subject: string | null, clientId: string | null, grantType: string | null, resource: string | null, scope: string | null,
  act: unknown, result: "success" | "failure", reason: string | null, ip: string | null, userAgent: string | null,
  prevHash: string, hash: string
]

const linkColumns = `json_build_array(seq, id, floor(extract(epoch FROM at) * 1000)::bigint, realm, type, actor_type,
  actor_id, subject, client_id, grant_type, resource, scope, act, result, reason, ip, user_agent, prev_hash, hash)::text`

const actorTypes: ReadonlySet<unknown> = new Set<AuditEvent.ActorType>(["user", "client", "agent", "owner", "tenant_admin"])
const isText = (u: unknown) => typeof u === "string"
const isTextOrNull = (u: unknown) => u === null || typeof u === "string"

/** What `Row` checks of the same columns (`act` any JSON), as plain tests on one array. */
const isLinkRow = (u: unknown): u is LinkRow =>
  Array.isArray(u) && u.length === 19 && Number.isSafeInteger(u[0]) && isText(u[1]) && Number.isSafeInteger(u[2]) &&
  isText(u[3]) && isText(u[4]) && actorTypes.has(u[5]) && isText(u[6]) && isTextOrNull(u[7]) && isTextOrNull(u[8]) &&
  isTextOrNull(u[9]) && isTextOrNull(u[10]) && isTextOrNull(u[11]) && (u[13] === "success" || u[13] === "failure") &&
  isTextOrNull(u[14]) && isTextOrNull(u[15]) && isTextOrNull(u[16]) && isText(u[17]) && isText(u[18])

const isTexts = (u: unknown): u is ReadonlyArray<string> => Array.isArray(u) && u.every(isText)
const isLinkRows = (u: unknown): u is ReadonlyArray<LinkRow> => Array.isArray(u) && u.every(isLinkRow)

/**
 * A batch of link rows from their JSON texts, decoded as a batch (a declared check over every row, no Effect per row
 * or per field: `Schema.Array(Schema.parseJson(...))` alone cost more per link than all of the rest of verification).
 */
const LinkRows = Schema.transformOrFail(
  Schema.declare(isTexts, { identifier: "AuditLinkTexts" }),
  Schema.declare(isLinkRows, { identifier: "AuditLinkRows" }),
  {
    // not strict: what the texts parse to is unknown until the target's check has seen every row
    strict: false,
    decode: (texts, _, ast) => {
      const rows = new Array<unknown>(texts.length)
      try {
        for (let i = 0; i < texts.length; i++) rows[i] = JSON.parse(texts[i]!)
      } catch (e) {
        return ParseResult.fail(new ParseResult.Type(ast, texts, e instanceof Error ? e.message : "not JSON"))
      }
      return ParseResult.succeed(rows)
    },
    encode: (rows) => ParseResult.succeed(rows.map((row) => JSON.stringify(row)))
  }
)
const decodeLinkRows = Schema.decodeUnknown(LinkRows)

/** A link row as the domain's event, its members assigned in the order of their names (as `toEvent`). */
const linkEvent = (realmId: string, row: LinkRow): AuditEvent.AuditEvent => {
  const event: { -readonly [K in keyof AuditEvent.AuditEvent]?: AuditEvent.AuditEvent[K] } = {}
  if (row[12] !== null) event.act = row[12]
  event.actor = { id: row[6], type: row[5] }
  event.at = DateTime.unsafeMake(row[2])
  if (row[8] !== null) event.clientId = row[8]
  if (row[9] !== null) event.grantType = row[9]
  event.id = row[1]
  if (row[15] !== null) event.ip = row[15]
  event.realm = row[3]
  event.realmId = realmId
  if (row[14] !== null) event.reason = row[14]
  if (row[10] !== null) event.resource = row[10]
  event.result = row[13]
  if (row[11] !== null) event.scope = row[11]
  if (row[7] !== null) event.subject = row[7]
  event.type = row[4] as AuditEvent.EventType
  if (row[16] !== null) event.userAgent = row[16]
  return event as AuditEvent.AuditEvent
}

/**
 * The event as an `audit_events` row without its link (`seq`, `prev_hash`, `hash`), which the database adds; `at` is
 * `AuditChain.time(event)`. An absent field stays undefined, so JSON.stringify leaves it out: `jsonb_populate_record`
 * over `NULL::audit_events` makes a missing column NULL, as it makes a JSON null.
 */
const toRow = (event: AuditEvent.AuditEvent, at: string) => ({
  realm_id: event.realmId,
  id: event.id,
  at,
  realm: event.realm,
  type: event.type,
  actor_type: event.actor.type,
  actor_id: event.actor.id,
  subject: event.subject,
  client_id: event.clientId,
  grant_type: event.grantType,
  resource: event.resource,
  scope: event.scope,
  act: event.act,
  result: event.result,
  reason: event.reason,
  ip: event.ip,
  user_agent: event.userAgent
})

/**
 * Appends an event in the caller's realm transaction: it commits or rolls back with the change it records. One
 * statement (`audit_append`, migration 00007): the realm's chain head is locked FOR UPDATE, so concurrent writers
 * of one realm take turns; the link's hash is computed by the database from `canonical`.
 */
export const appendEvent = (event: AuditEvent.AuditEvent) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => {
    const at = AuditChain.time(event)
    return sql`SELECT audit_append(${JSON.stringify(toRow(event, at))}::jsonb, ${AuditChain.canonicalAt(event, at)})`
  })

/**
 * Appends standalone events of one realm, in order, in one statement and so one transaction (`audit_append_batch`,
 * migration 00008): the head is locked once and moved once; the function pins the transaction to the realm.
 */
export const appendBatch = (events: ReadonlyArray<AuditEvent.AuditEvent>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => {
    const rows = new Array<ReturnType<typeof toRow>>(events.length)
    const canonicals = new Array<string>(events.length)
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!
      const at = AuditChain.time(event)
      rows[i] = toRow(event, at)
      canonicals[i] = AuditChain.canonicalAt(event, at)
    }
    return sql`SELECT audit_append_batch(${JSON.stringify(rows)}::jsonb, ${JSON.stringify(canonicals)}::jsonb)`
  })

/** At most this many standalone events are committed together (ADR 0022). */
export const maxBatch = 500


export const layer = Layer.scoped(Audit.Audit, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const run = on(sql)
  // ADR 0022: per realm, standalone events arriving while a flush is in flight go together in the next one
  const group = yield* GroupCommit.make({
    maxBatch,
    flush: (_realmId: string, events: ReadonlyArray<AuditEvent.AuditEvent>) =>
      // CONTRACT §8 `tessera_audit_commit_batch_size`: the events this commit holds
      appendBatch(events).pipe(run, Effect.zipRight(Metrics.auditBatchOf(events.length)))
  })
  // ADR 0042: keyset, on the primary key (realm_id, seq): each batch is an index range scan, whatever `after` is
  const links = (realmId: string, after: number, limit: number) =>
    Effect.gen(function*() {
      const rows = yield* sql`SELECT ${sql.literal(linkColumns)} FROM audit_events
        WHERE realm_id = ${realmId} AND seq > ${after} ORDER BY seq LIMIT ${limit}`.values
      const decoded = yield* decodeLinkRows(rows.map((row) => row[0]))
      return decoded.map((row): AuditChain.StoredLink => ({ seq: row[0], event: linkEvent(realmId, row), prevHash: row[17], hash: row[18] }))
    }).pipe(withRealm(realmId), run)
  // ADR 0045: every event timed after `until + max_lag` is newer than every event at or before `until`, so the first
  // such event (one row of the index on (realm_id, at)) bounds the primary key's range from above; and every event
  // timed before `since - max_lag` is older than every event at or after `since`, which bounds it from below. The
  // answer stays ordered by `seq` and the cursor stays `seq`, and the scan stops after `limit` rows. The bound's time
  // is computed in its own subquery: under row-level security only a leakproof comparison with a value (not the
  // `timestamptz - interval` arithmetic, nor a `coalesce` of a subquery's answer) may be an index condition.
  const before = (realmId: string, until: Date) => sql`(SELECT coalesce((
    SELECT b.seq FROM audit_events b WHERE b.realm_id = ${realmId}
      AND b.at > (SELECT ${until}::timestamptz + max_lag FROM audit_heads WHERE realm_id = ${realmId})
    ORDER BY b.at LIMIT 1), 9223372036854775807))`
  const after = (realmId: string, since: Date) => sql`(SELECT coalesce((
    SELECT b.seq FROM audit_events b WHERE b.realm_id = ${realmId}
      AND b.at < (SELECT ${since}::timestamptz - max_lag FROM audit_heads WHERE realm_id = ${realmId})
    ORDER BY b.at DESC LIMIT 1), 0))`
  return Audit.Audit.of({
    // answered only after the COMMIT of the statement that holds the event (ADR 0022)
    // issue 14: a fiber pinned to another realm appends nothing (the flush runs in the layer's own fibers)
    append: (event) => Effect.zipRight(RealmPin.check(event.realmId), group.submit(event.realmId, event)),
    offer: (event, done) => group.offer(event.realmId, event, done),
    query: (realmId, filter) =>
      Effect.gen(function*() {
        const clauses = [
          sql`realm_id = ${realmId}`,
          ...(filter.before !== undefined ? [sql`seq < ${filter.before}`] : []),
          ...(filter.type !== undefined ? [sql`type = ${filter.type}`] : []),
          ...(filter.subject !== undefined ? [sql`subject = ${filter.subject}`] : []),
          ...(filter.actor !== undefined ? [sql`actor_id = ${filter.actor}`] : []),
          ...(filter.clientId !== undefined ? [sql`client_id = ${filter.clientId}`] : []),
          ...(filter.since !== undefined ? [sql`at >= ${toDate(filter.since)}`, sql`seq > ${after(realmId, toDate(filter.since))}`] : []),
          ...(filter.until !== undefined ? [sql`at <= ${toDate(filter.until)}`, sql`seq < ${before(realmId, toDate(filter.until))}`] : [])
        ]
        const rows = yield* decodeRows(
          yield* sql`SELECT * FROM audit_events WHERE ${sql.and(clauses)} ORDER BY seq DESC LIMIT ${filter.limit}`
        )
        return rows.map((row) => ({ seq: row.seq, event: toEvent(row) }))
      }).pipe(withRealm(realmId), run),
    links,
    // ADR 0042: the chain streamed by key in bounded batches, each its own short transaction (no snapshot held for
    // the whole walk, no row kept past its batch)
    verify: (realmId) => AuditChain.verifyAll((after, limit) => links(realmId, after, limit), Audit.verifyBatch)
  })
}))

