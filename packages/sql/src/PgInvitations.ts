/**
 * Invitations on Postgres (CONTRACT §3, §4; ADR 0037): realm-scoped rows read through a schema; each transition an
 * UPDATE that applies only over the version it was computed from, in one transaction with its events and, on
 * acceptance, the new user (a taken username rolls all of it back).
 */
import { SqlClient } from "@effect/sql"
import { Effect, Layer, ParseResult, Schema } from "effect"
import { Conflict, Invitation, Invitations, RealmPin, User } from "@tessera/domain"
import type { AuditEvent } from "@tessera/domain"
import { appendEvent } from "./PgAudit.js"
import { PageOf, present, Timestamp } from "./PgRows.js"
import * as RealmTable from "./RealmTable.js"
import { rowOf as userRowOf } from "./PgUsers.js"
import { on, toDate, withRealm } from "./Sql.js"

const Columns = Schema.Struct({
  realm_id: Schema.String,
  id: Schema.String,
  secret_hash: Schema.String,
  role: User.Role,
  email: Schema.NullOr(Schema.String),
  state: Schema.Literal("pending", "accepted", "revoked"),
  sub: Schema.NullOr(Schema.String),
  accepted_at: Schema.NullOr(Timestamp),
  revoked_at: Schema.NullOr(Timestamp),
  expires_at: Timestamp,
  created_at: Timestamp,
  created_by_type: Schema.Literal("user", "client", "agent", "owner", "tenant_admin"),
  created_by_id: Schema.String,
  version: Schema.Number
})
const columns = "realm_id, id, secret_hash, role, email, state, sub, accepted_at, revoked_at, expires_at, created_at, " +
  "created_by_type, created_by_id, version"

/**
 * An `invitations` row as the entity (issue 18): the state column picks the variant; the table's CHECKs hold
 * sub/accepted_at to 'accepted' and revoked_at to 'revoked', and a row that breaks them does not decode.
 */
const InvitationRow = Schema.transformOrFail(Columns, Invitation.schema, {
  strict: true,
  decode: (row, _, ast) => {
    const common = {
      realmId: row.realm_id,
      id: row.id,
      secretHash: row.secret_hash,
      role: row.role,
      ...present("email", row.email),
      expiresAt: row.expires_at,
      createdAt: row.created_at,
      createdBy: { type: row.created_by_type, id: row.created_by_id },
      version: row.version
    }
    if (row.state === "pending") return ParseResult.succeed(Invitation.Invitation.Pending(common))
    if (row.state === "accepted" && row.sub !== null && row.accepted_at !== null) {
      return ParseResult.succeed(Invitation.Invitation.Accepted({ ...common, sub: row.sub, acceptedAt: row.accepted_at }))
    }
    if (row.state === "revoked" && row.revoked_at !== null) {
      return ParseResult.succeed(Invitation.Invitation.Revoked({ ...common, revokedAt: row.revoked_at }))
    }
    return ParseResult.fail(new ParseResult.Type(ast, row, `an invitation ${row.state} without its columns`))
  },
  encode: (invitation) =>
    ParseResult.succeed({
      realm_id: invitation.realmId,
      id: invitation.id,
      secret_hash: invitation.secretHash,
      role: invitation.role,
      email: invitation.email ?? null,
      ...Invitation.Invitation.$match(invitation, {
        Pending: () => ({ state: "pending" as const, sub: null, accepted_at: null, revoked_at: null }),
        Accepted: (i) => ({ state: "accepted" as const, sub: i.sub, accepted_at: i.acceptedAt, revoked_at: null }),
        Revoked: (i) => ({ state: "revoked" as const, sub: null, accepted_at: null, revoked_at: i.revokedAt })
      }),
      expires_at: invitation.expiresAt,
      created_at: invitation.createdAt,
      created_by_type: invitation.createdBy.type,
      created_by_id: invitation.createdBy.id,
      version: invitation.version
    })
})

const ById = Schema.Struct({ realmId: Schema.String, id: Schema.String })
const BySecret = Schema.Struct({ realmId: Schema.String, secretHash: Schema.String })

/** The row an invitation is written as (its state's columns included), with the timestamps as Dates. */
const rowOf = Schema.encodeSync(InvitationRow)

/**
 * Appends an event inside the current realm transaction, to the trail it names: an owner-trail event pins the
 * transaction to the owner trail for it (as PgRealms does), then back to the realm.
 */
const appendTo = (sql: SqlClient.SqlClient, realmId: string, event: AuditEvent.AuditEvent) =>
  event.realmId === realmId
    ? appendEvent(event)
    // issue 14: a pinned fiber (a tenant admin's call) never switches to another trail, the owner's included
    : RealmPin.check(event.realmId).pipe(
      Effect.zipRight(sql`SELECT set_config('app.realm_id', ${event.realmId}, true)`),
      Effect.zipRight(appendEvent(event)),
      Effect.zipRight(sql`SELECT set_config('app.realm_id', ${realmId}, true)`)
    )

export const layer = Layer.effect(Invitations.Invitations, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const run = on(sql)
  const invitations = RealmTable.make(sql, { table: "invitations", entity: "invitation", Row: InvitationRow })
  const byId = invitations.findOne(ById, ({ realmId, id }) =>
    sql`SELECT ${sql.unsafe(columns)} FROM invitations WHERE realm_id = ${realmId} AND id = ${id}`)
  // looked up by the secret's SHA-256 through its unique index (ADR 0037), as codes and refresh tokens are
  const bySecret = invitations.findOne(BySecret, ({ realmId, secretHash }) =>
    sql`SELECT ${sql.unsafe(columns)} FROM invitations WHERE realm_id = ${realmId} AND secret_hash = ${secretHash}`)
  const page = invitations.findAll(PageOf, ({ realmId, limit, after }) =>
    sql`SELECT ${sql.unsafe(columns)} FROM invitations WHERE realm_id = ${realmId}
      ${after !== undefined ? sql`AND sort_key COLLATE "C" > ${after}` : sql``}
      ORDER BY sort_key COLLATE "C" LIMIT ${limit + 1}`)

  return Invitations.Invitations.of({
    insert: (invitation, event) =>
      Effect.gen(function*() {
        yield* sql`INSERT INTO invitations ${sql.insert({ ...rowOf(invitation), sort_key: Invitation.sortKey(invitation) })}`
        yield* appendTo(sql, invitation.realmId, event)
      }).pipe(withRealm(invitation.realmId), run),
    find: (realmId, id) => byId({ realmId, id }),
    findBySecret: (realmId, secretHash) => bySecret({ realmId, secretHash }),
    list: (realmId, window) => page({ realmId, ...window }),
    transition: (next, expectedVersion, events, user) =>
      Effect.gen(function*() {
        const state = rowOf(next)
        // CONTRACT §4: acceptance only over a pending invitation whose time is not up, whatever the version says
        const stillOpen = next._tag === "Accepted"
          ? sql`AND state = 'pending' AND expires_at > ${toDate(next.acceptedAt)}`
          : sql``
        const updated = yield* sql`UPDATE invitations SET state = ${state.state}, sub = ${state.sub},
            accepted_at = ${state.accepted_at}, revoked_at = ${state.revoked_at}, version = ${next.version}
          WHERE realm_id = ${next.realmId} AND id = ${next.id} AND version = ${expectedVersion} ${stillOpen}
          RETURNING id`
        if (updated.length === 0) return yield* invitations.missed({ realm_id: next.realmId, id: next.id })
        if (user !== undefined) {
          // usernames are unique per realm (users' UNIQUE (realm_id, username_key)): a taken one undoes the update
          const inserted = yield* sql`INSERT INTO users ${sql.insert(userRowOf(user))} ON CONFLICT DO NOTHING RETURNING sub`
          if (inserted.length === 0) return yield* new Conflict.AlreadyExists({ entity: "user" })
        }
        for (const event of events) yield* appendTo(sql, next.realmId, event)
      }).pipe(withRealm(next.realmId), run)
  })
}))
