/** Short-lived sign-in state on Postgres: interactions (a state machine, ADR 0054) and access-token status (used jtis: PgJtiCache; throttles: PgThrottles). */
import { SqlClient } from "@effect/sql"
import { DateTime, Effect, Layer, Option, Schema } from "effect"
import { AccessTokens, Interactions } from "@tessera/domain"
import { appendEvent } from "./PgAudit.js"
import * as PgRows from "./PgRows.js"
import * as RealmTable from "./RealmTable.js"
import { on, toDate, withRealm } from "./Sql.js"

const utc = (date: Date) => DateTime.unsafeMake(date)

/** An interaction's state as its row names it (migration 00024). */
const stateNames = {
  Requested: "requested",
  Authenticated: "authenticated",
  Consented: "consented",
  CodeIssued: "code_issued",
  Denied: "denied"
} as const satisfies Record<Interactions.Interaction["_tag"], typeof InteractionRow.Type["state"]>

const interactionColumns = {
  realm_id: Schema.String,
  id: Schema.String,
  request: Interactions.Request,
  csrf_hash: Schema.String,
  version: Schema.Number,
  created_at: Schema.DateFromSelf,
  expires_at: Schema.DateFromSelf
}

/**
 * A row of `interactions` (ADR 0054): the request decoded from its jsonb through `Interactions.Request`; Requested has
 * no session, every later state has one (as the table's CHECK says), so any other row does not decode.
 */
const InteractionRow = Schema.Union(
  Schema.Struct({ ...interactionColumns, state: Schema.Literal("requested"), sid: Schema.Null }),
  Schema.Struct({ ...interactionColumns, state: Schema.Literal("authenticated", "consented", "code_issued", "denied"), sid: Schema.String })
)

const toInteraction = (row: typeof InteractionRow.Type): Interactions.Interaction => {
  const common = {
    realmId: row.realm_id,
    id: row.id,
    request: row.request,
    csrfHash: row.csrf_hash,
    createdAt: utc(row.created_at),
    expiresAt: utc(row.expires_at),
    version: row.version
  }
  const { Interaction } = Interactions
  if (row.state === "requested") return Interaction.Requested(common)
  const signedIn = { ...common, sid: row.sid }
  switch (row.state) {
    case "authenticated":
      return Interaction.Authenticated(signedIn)
    case "consented":
      return Interaction.Consented(signedIn)
    case "code_issued":
      return Interaction.CodeIssued(signedIn)
    case "denied":
      return Interaction.Denied(signedIn)
  }
}

const InteractionKey = Schema.Struct({ realmId: Schema.String, id: Schema.String })

export const layerInteractions = Layer.effect(Interactions.Interactions, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const run = on(sql)
  const findRow = RealmTable.rows(sql, "interactions", InteractionRow).findOne(InteractionKey, ({ id, realmId }) =>
    sql`SELECT * FROM interactions WHERE realm_id = ${realmId} AND id = ${id}`)
  return Interactions.Interactions.of({
    create: (interaction) =>
      Effect.gen(function*() {
        // at most a batch of the oldest expired ones, found by the interactions_expiry index (ADR 0026); SKIP LOCKED:
        // concurrent creates sweep different rows instead of waiting for each other. ARRAY(...) runs the batch once
        // (an initplan): as `id IN (...)` the planner may rescan the LIMIT per row and delete every expired row.
        yield* sql`DELETE FROM interactions WHERE realm_id = ${interaction.realmId}
          AND expires_at <= ${toDate(interaction.createdAt)} AND id = ANY(ARRAY(
          SELECT id FROM interactions WHERE realm_id = ${interaction.realmId} AND expires_at <= ${toDate(interaction.createdAt)}
          ORDER BY expires_at LIMIT ${Interactions.sweepBatch} FOR UPDATE SKIP LOCKED))`
        yield* sql`INSERT INTO interactions ${sql.insert({
          realm_id: interaction.realmId,
          id: interaction.id,
          request: JSON.stringify(Schema.encodeSync(Interactions.Request)(interaction.request)),
          csrf_hash: interaction.csrfHash,
          state: stateNames[interaction._tag],
          sid: interaction._tag === "Authenticated" ? interaction.sid : null,
          version: interaction.version,
          created_at: toDate(interaction.createdAt),
          expires_at: toDate(interaction.expiresAt)
        })}`
      }).pipe(withRealm(interaction.realmId), run),
    find: (realmId, id) => Effect.map(findRow({ realmId, id }), Option.map(toInteraction)),
    // compare-and-set in one statement: of two racing transitions from one version, one updates the row
    apply: (next) =>
      Effect.gen(function*() {
        const updated = yield* sql`UPDATE interactions
          SET state = ${stateNames[next._tag]}, sid = ${next._tag === "Requested" ? null : next.sid}, version = ${next.version}
          WHERE realm_id = ${next.realmId} AND id = ${next.id} AND version = ${next.version - 1} RETURNING id`
        if (updated.length === 0) return yield* new Interactions.InteractionChanged()
      }).pipe(withRealm(next.realmId), run)
  })
}))

const AccessTokenRow = Schema.Struct({
  grant_id: Schema.NullOr(Schema.String),
  revoked: Schema.Boolean,
  expires_at: Schema.DateFromSelf
})

const ActiveRow = Schema.Struct({ active: Schema.Boolean })

const TokenKey = Schema.Struct({ realmId: Schema.String, jti: Schema.String, now: Schema.DateFromSelf })

/** A presented token's question (`AccessTokens.active`): its realm, what it names, and the node's time. */
const Presented = Schema.Struct({
  realmId: Schema.String,
  jti: Schema.String,
  clientId: Schema.String,
  sub: Schema.String,
  issuedAt: Schema.Number,
  now: Schema.DateFromSelf
})

export const layerAccessTokens = Layer.effect(AccessTokens.AccessTokens, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const run = on(sql)
  const tokens = RealmTable.rows(sql, "access_tokens", AccessTokenRow)
  const live = tokens.findOne(TokenKey, ({ jti, now, realmId }) =>
    sql`SELECT grant_id, revoked, expires_at FROM access_tokens WHERE realm_id = ${realmId} AND jti = ${jti} AND expires_at > ${now}`)
  // one statement (ADR 0034). A token linked to a grant of its own client and person is decided by the record and
  // the grant, as before (userinfo's tokens: one join of two primary-key probes): deleting the client, disabling or
  // deleting the person and revoking the delegation all revoke that grant in their own write. Any other token (no
  // record, or no grant: client credentials, JWT-bearer, exchanges of may_act or trusted issuers' tokens) also needs
  // its client still registered, its person still a user and not disabled, and no revocation of the client's
  // delegation from the person at or after its iat: three more primary-key probes, run only for it (CASE)
  const active = PgRows.single("access_tokens", {
    Request: Presented,
    Result: ActiveRow,
    execute: (token) => {
      const { realmId } = token
      const issuedAt = new Date(token.issuedAt * 1000)
      const client = AccessTokens.isDocumentClient(token.clientId)
        ? sql`true`
        : sql`EXISTS (SELECT 1 FROM clients c WHERE c.realm_id = ${realmId} AND c.client_id = ${token.clientId})`
      const person = AccessTokens.isPerson(token)
        ? sql`EXISTS (SELECT 1 FROM users u WHERE u.realm_id = ${realmId} AND u.sub = ${token.sub} AND NOT u.disabled
            AND (u.tokens_not_before IS NULL OR u.tokens_not_before < ${issuedAt}))`
        : sql`true`
      return sql`SELECT CASE WHEN g.client_id = ${token.clientId} AND g.sub = ${token.sub}
            THEN NOT a.revoked AND g.revoked_at IS NULL
            ELSE COALESCE(NOT a.revoked AND (a.grant_id IS NULL OR (g.grant_id IS NOT NULL AND g.revoked_at IS NULL)), true)
              AND ${client} AND ${person}
              AND NOT EXISTS (SELECT 1 FROM delegations d WHERE d.realm_id = ${realmId} AND d.client_id = ${token.clientId}
                AND d.sub = ${token.sub} AND d.not_before >= ${issuedAt})
          END AS active
          FROM (SELECT 1) AS presented
          LEFT JOIN access_tokens a ON a.realm_id = ${realmId} AND a.jti = ${token.jti} AND a.expires_at > ${token.now}
          LEFT JOIN grants g ON g.realm_id = a.realm_id AND g.grant_id = a.grant_id`
    }
  })
  return AccessTokens.AccessTokens.of({
    record: (realmId, jti, grantId, expiresAt) =>
      sql`INSERT INTO access_tokens ${sql.insert({ realm_id: realmId, jti, grant_id: grantId, revoked: false, expires_at: toDate(expiresAt) })}
          ON CONFLICT (realm_id, jti) DO UPDATE SET grant_id = EXCLUDED.grant_id`.pipe(Effect.asVoid, withRealm(realmId), run),
    revoke: (realmId, jti, expiresAt, event) =>
      Effect.gen(function*() {
        yield* sql`INSERT INTO access_tokens ${sql.insert({ realm_id: realmId, jti, grant_id: null, revoked: true, expires_at: toDate(expiresAt) })}
          ON CONFLICT (realm_id, jti) DO UPDATE SET revoked = true`
        if (event !== undefined) yield* appendEvent(event)
      }).pipe(withRealm(realmId), run),
    find: (realmId, jti) =>
      Effect.flatMap(DateTime.now, (now) =>
        Effect.map(live({ realmId, jti, now: toDate(now) }), Option.map((row): AccessTokens.Status => ({
          ...(row.grant_id !== null ? { grantId: row.grant_id } : {}),
          revoked: row.revoked,
          expiresAt: utc(row.expires_at)
        })))),
    active: (realmId, token) =>
      Effect.flatMap(DateTime.now, (now) =>
        Effect.map(
          active({ realmId, jti: token.jti, clientId: token.clientId, sub: token.sub, issuedAt: token.issuedAt, now: toDate(now) }),
          (row) => row.active
        )).pipe(withRealm(realmId), run)
  })
}))

/** Every short-lived sign-in store on the `SqlClient` in context. */
export const layer = Layer.mergeAll(
  layerInteractions,
  layerAccessTokens
)

