/**
 * The audit trail on Postgres: append-only rows, one hash chain per realm, writers serialized on the chain head;
 * standalone events are group-committed per realm (ADR 0022).
 */
import { SqlClient } from "@effect/sql"
import { DateTime, Effect, Layer, ParseResult, Schema } from "effect"
import { Audit, AuditChain, Metrics, RealmPin } from "@tessera/domain"
import type { AuditEvent } from "@tessera/domain"
import * as GroupCommit from "./GroupCommit.js"
import { on, realmGoneOnForeignKey, toDate, withRealm } from "./Sql.js"

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
 * The column of each member of the canonical form (`AuditChain.members`), as `links` selects it: JSON text, or "" for
 * NULL. `to_json` escapes a string as `JSON.stringify` does every string PostgreSQL can store (no NUL, no lone
 * surrogate), so the text is the member's canonical JSON as the append made it; `act` is jsonb's text, written
 * canonically here (its keys sorted as JavaScript sorts them).
 */
const memberColumns: Record<(typeof AuditChain.members)[number], string> = {
  act: "coalesce(act::text, '')",
  actorId: "to_json(actor_id)",
  actorType: "to_json(actor_type)",
  clientId: "coalesce(to_json(client_id)::text, '')",
  grantType: "coalesce(to_json(grant_type)::text, '')",
  id: "to_json(id)",
  ip: "coalesce(to_json(ip)::text, '')",
  realm: "to_json(realm)",
  realmId: "to_json(realm_id)",
  reason: "coalesce(to_json(reason)::text, '')",
  resource: "coalesce(to_json(resource)::text, '')",
  result: "to_json(result)",
  scope: "coalesce(to_json(scope)::text, '')",
  subject: "coalesce(to_json(subject)::text, '')",
  type: "to_json(type)",
  userAgent: "coalesce(to_json(user_agent)::text, '')"
}

/**
 * A link as `links` reads it (ADR 0042): one text per row, its fields separated by tabs: `seq`, the event's `id`, `at`
 * as epoch milliseconds (`extract` is exact numeric, so a time off the millisecond keeps its fraction), `prev_hash`,
 * `hash`, then the members in `AuditChain.members`' order. None but the two hashes can hold a raw tab (JSON escapes
 * every control character; seq, a uuid and a number have none), and a hash holding one was edited by hand: its row
 * splits into the wrong number of fields, and its link is broken.
 */
export const linkText = `concat_ws(E'\\t', seq, id, extract(epoch FROM at) * 1000, prev_hash, hash,
  ${AuditChain.members.map((member) => memberColumns[member]).join(", ")})`

/** The canonical JSON of a stored `act`; undefined when it has none (deeper than the writer's stack, say). */
const actOf = (text: string) => {
  try {
    return AuditChain.canonicalJson(JSON.parse(text))
  } catch {
    return undefined
  }
}

/**
 * A row's link: position, event id and hashes read at once (the text up to its fifth tab), the event's canonical form
 * written from the rest of the row's texts when the walk asks for it (no event object, no `Date`), so what that makes
 * dies before the next link's. A row no append could have written has none (CONTRACT §3: verification names it, it is
 * not a store failure): a field too many or too few, a position JavaScript cannot count exactly, a time that is not a
 * whole millisecond a `Date` holds (the chain writes milliseconds; `infinity` is none), an `act` that cannot be written.
 */
class RowLink implements AuditChain.Link {
  readonly seq: number
  readonly id: string
  readonly prevHash: string
  readonly hash: string
  /** Where the row's `at` begins, and where its members do. */
  private readonly atFrom: number
  private readonly membersFrom: number

  constructor(private readonly text: string) {
    const t1 = text.indexOf("\t")
    const t2 = text.indexOf("\t", t1 + 1)
    const t3 = text.indexOf("\t", t2 + 1)
    const t4 = text.indexOf("\t", t3 + 1)
    const t5 = text.indexOf("\t", t4 + 1)
    this.seq = Number(text.slice(0, t1))
    this.id = text.slice(t1 + 1, t2)
    this.atFrom = t2 + 1
    this.prevHash = text.slice(t3 + 1, t4)
    this.hash = text.slice(t4 + 1, t5)
    this.membersFrom = t5 < 0 ? -1 : t5 + 1
  }

  canonical(): string | undefined {
    const millis = Number(this.text.slice(this.atFrom, this.text.indexOf("\t", this.atFrom)))
    if (this.membersFrom < 0 || !Number.isSafeInteger(this.seq) || !Number.isSafeInteger(millis) || Math.abs(millis) > AuditChain.maxMillis) {
      return undefined
    }
    const members = this.text.slice(this.membersFrom).split("\t")
    if (members.length !== AuditChain.members.length) return undefined
    if (members[0] !== "") {
      const act = actOf(members[0]!)
      if (act === undefined) return undefined
      members[0] = act
    }
    return AuditChain.write(members, 0, AuditChain.timeAt(millis))
  }
}

const isTexts = (u: unknown): u is ReadonlyArray<string> => Array.isArray(u) && u.every((t) => typeof t === "string")
const isLinks = (u: unknown): u is ReadonlyArray<RowLink> => Array.isArray(u) && u.every((l) => l instanceof RowLink)

/**
 * A batch of links from their rows' texts, decoded as a batch (a declared check over every link, no Effect per row or
 * per field). Verification only reads: there is no encoding back to rows.
 */
const Links = Schema.transformOrFail(
  Schema.declare(isTexts, { identifier: "AuditLinkTexts" }),
  Schema.declare(isLinks, { identifier: "AuditLinks" }),
  {
    strict: true,
    decode: (texts) => ParseResult.succeed(texts.map((text) => new RowLink(text))),
    encode: (links, _, ast) => ParseResult.fail(new ParseResult.Forbidden(ast, links, "audit links are read, never written back"))
  }
)
const decodeLinks = Schema.decodeUnknown(Links)

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
    const { row, canonical } = appendArguments(event)
    return sql`SELECT audit_append(${row}::jsonb, ${canonical})`
  })

/**
 * `audit_append`'s two arguments for an event: its row as JSON text and its canonical form. For a function that
 * appends the event it commits with (migration 00027), or none (SQL NULL) when there is no event.
 */
export const appendArguments = (event: AuditEvent.AuditEvent | undefined) => {
  if (event === undefined) return { row: null, canonical: null }
  const at = AuditChain.time(event)
  return { row: JSON.stringify(toRow(event, at)), canonical: AuditChain.canonicalAt(event, at) }
}

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
    flush: (realmId: string, events: ReadonlyArray<AuditEvent.AuditEvent>) =>
      // CONTRACT §8 `tessera_audit_commit_batch_size`: the events this commit holds; issue 15: a realm deleted
      // meanwhile fails the batch's foreign key, answered as the realm gone
      appendBatch(events).pipe(realmGoneOnForeignKey(realmId), run, Effect.zipRight(Metrics.auditBatchOf(events.length)))
  })
  // ADR 0042: keyset, on the primary key (realm_id, seq): each batch is an index range scan, whatever `after` is
  const links = (realmId: string, after: number, limit: number) =>
    Effect.gen(function*() {
      const rows = yield* sql`SELECT ${sql.literal(linkText)} FROM audit_events
        WHERE realm_id = ${realmId} AND seq > ${after} ORDER BY seq LIMIT ${limit}`.values
      return yield* decodeLinks(rows.map((row) => row[0]))
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

