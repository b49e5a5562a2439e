/** The sign-in stores on Postgres: single-use codes under row locks, refresh rotation by compare-and-set. */
import { SqlClient } from "@effect/sql"
import { DateTime, Effect, Layer, Option, Schema } from "effect"
import {
  AccessTokens, AuthorizationCode, Conflict, RefreshFamily, Session, Codes, Consents, Grants, Page, RefreshTokens, Sessions
} from "@tessera/domain"
import type { AuditEvent, Consent, GrantRecord } from "@tessera/domain"
import { appendArguments, appendEvent } from "./PgAudit.js"
import * as PgRows from "./PgRows.js"
import * as RealmTable from "./RealmTable.js"
import { inRealm, on, toDate, withRealm } from "./Sql.js"

const { Strings } = PgRows
const utc = (date: Date) => DateTime.unsafeMake(date)
const maybeEvent = (event: AuditEvent.AuditEvent | undefined) => (event === undefined ? Effect.void : appendEvent(event))

/**
 * A `timestamptz` column as the driver answers it (a Date), or as `to_jsonb` writes it inside the jsonb the functions
 * of migration 00027 answer (ISO text): the code and grant row schemas below are declared once over either.
 */
type Timestamp = typeof Schema.DateFromSelf | typeof Schema.Date
const fromJson = Schema.Date

const codeRow = <T extends Timestamp>(timestamp: T) => Schema.Struct({
  realm_id: Schema.String,
  client_id: Schema.String,
  grant_id: Schema.String,
  redirect_uri: Schema.String,
  redirect_uri_given: Schema.Boolean,
  code_challenge: Schema.String,
  dpop_jkt: Schema.NullOr(Schema.String),
  expires_at: timestamp,
  redeemed: Schema.Boolean
})
const CodeRow = codeRow(Schema.DateFromSelf)
const toCode = (row: typeof CodeRow.Type): AuthorizationCode.AuthorizationCode =>
  row.redeemed
    ? AuthorizationCode.AuthorizationCode.Redeemed({ realmId: row.realm_id, clientId: row.client_id, grantId: row.grant_id })
    : AuthorizationCode.AuthorizationCode.Issued({
      realmId: row.realm_id,
      clientId: row.client_id,
      grantId: row.grant_id,
      redirectUri: row.redirect_uri,
      redirectUriGiven: row.redirect_uri_given,
      codeChallenge: row.code_challenge,
      ...(row.dpop_jkt !== null ? { dpopJkt: row.dpop_jkt } : {}),
      expiresAt: utc(row.expires_at)
    })

/** A realm's row by the SHA-256 of a code or token. */
const HashKey = Schema.Struct({ realmId: Schema.String, hash: Schema.String })

export const layerCodes = Layer.effect(Codes.Codes, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const run = on(sql)
  // what `code_consume` answers: the code as it was before, and its grant (null when it is gone); null for no code
  const ConsumedJson = Schema.Struct({ code: codeRow(fromJson), grant: Schema.NullOr(grantRow(fromJson)) })
  const consumeCode = PgRows.single("codes", {
    Request: HashKey,
    Result: Schema.Struct({ consumed: Schema.NullOr(ConsumedJson) }),
    execute: ({ hash, realmId }) => sql`SELECT code_consume(${realmId}, ${hash}) AS consumed`
  })
  return Codes.Codes.of({
    insert: (hash, code) => {
      if (code._tag !== "Issued") return Effect.dieMessage("only an issued code is inserted")
      return sql`INSERT INTO codes ${sql.insert({
        realm_id: code.realmId,
        code_hash: hash,
        client_id: code.clientId,
        grant_id: code.grantId,
        redirect_uri: code.redirectUri,
        redirect_uri_given: code.redirectUriGiven,
        code_challenge: code.codeChallenge,
        dpop_jkt: code.dpopJkt ?? null,
        expires_at: toDate(code.expiresAt)
      })}`.pipe(Effect.asVoid, withRealm(code.realmId), run)
    },
    // STYLE §9: consumed under a row lock, then updated, in one transaction: `code_consume` (migration 00027), which
    // reads the code's grant in the same statement
    consume: (realmId, hash) =>
      consumeCode({ realmId, hash }).pipe(
        Effect.map(({ consumed }) =>
          Option.map(Option.fromNullable(consumed), ({ code, grant }): Codes.Consumed => ({
            code: toCode(code),
            grant: Option.map(Option.fromNullable(grant), toGrant)
          }))),
        inRealm(realmId),
        run
      )
  })
}))

function grantRow<T extends Timestamp>(timestamp: T) {
  return Schema.Struct({
    realm_id: Schema.String,
    grant_id: Schema.String,
    client_id: Schema.String,
    sub: Schema.String,
    scopes: Strings,
    resources: Strings,
    auth_time: timestamp,
    acr: Schema.String,
    amr: Strings,
    sid: Schema.NullOr(Schema.String),
    nonce: Schema.NullOr(Schema.String),
    created_at: timestamp,
    revoked_at: Schema.NullOr(timestamp)
  })
}
const GrantRow = grantRow(Schema.DateFromSelf)
const toGrant = (row: typeof GrantRow.Type): GrantRecord.GrantRecord => ({
  realmId: row.realm_id,
  grantId: row.grant_id,
  clientId: row.client_id,
  sub: row.sub,
  scopes: row.scopes,
  resources: row.resources,
  authTime: utc(row.auth_time),
  acr: row.acr,
  amr: row.amr,
  ...(row.sid !== null ? { sid: row.sid } : {}),
  ...(row.nonce !== null ? { nonce: row.nonce } : {}),
  createdAt: utc(row.created_at),
  ...(row.revoked_at !== null ? { revokedAt: utc(row.revoked_at) } : {})
})

/**
 * Inside a realm transaction: revokes every live grant that matches and their refresh families (their access tokens go
 * inactive through `access_tokens`' grant links); answers how many. For a port that cuts a person or client off in the
 * transaction of its own change.
 */
export const revokeGrantsWhere = (sql: SqlClient.SqlClient, realmId: string, match: Grants.GrantMatch, at: DateTime.Utc) =>
  Effect.gen(function*() {
    const revoked = yield* sql<{ readonly grant_id: string }>`UPDATE grants SET revoked_at = ${toDate(at)}
      WHERE realm_id = ${realmId} AND revoked_at IS NULL
        AND (${match.sub ?? null}::text IS NULL OR sub = ${match.sub ?? null})
        AND (${match.clientId ?? null}::text IS NULL OR client_id = ${match.clientId ?? null})
      RETURNING grant_id`
    if (revoked.length === 0) return 0
    yield* sql`UPDATE refresh_families SET revoked_reason = 'grant revoked'
      WHERE realm_id = ${realmId} AND grant_id IN ${sql.in(revoked.map((r) => r.grant_id))} AND revoked_reason IS NULL`
    return revoked.length
  })

/**
 * Inside a realm transaction: revokes every live grant that names the resource `uri` and their refresh families (a
 * deleted resource, ADR 0033); answers how many.
 */
export const revokeGrantsNaming = (sql: SqlClient.SqlClient, realmId: string, uri: string, at: DateTime.Utc) =>
  Effect.gen(function*() {
    const revoked = yield* sql<{ readonly grant_id: string }>`UPDATE grants SET revoked_at = ${toDate(at)}
      WHERE realm_id = ${realmId} AND revoked_at IS NULL AND ${uri} = ANY (resources)
      RETURNING grant_id`
    if (revoked.length === 0) return 0
    yield* sql`UPDATE refresh_families SET revoked_reason = 'grant revoked'
      WHERE realm_id = ${realmId} AND grant_id IN ${sql.in(revoked.map((r) => r.grant_id))} AND revoked_reason IS NULL`
    return revoked.length
  })

/** Inside a realm transaction: the resource `uri` leaves every remembered consent of the realm (ADR 0033). */
export const forgetResourceConsents = (sql: SqlClient.SqlClient, realmId: string, uri: string) =>
  sql`UPDATE consents SET resources = array_remove(resources, ${uri}) WHERE realm_id = ${realmId} AND ${uri} = ANY (resources)`

/** Inside a realm transaction: ends every live session of `sub`, and answers them as they were (front-channel logout). */
export const endSessionsOf = (realmId: string, sub: string, at: DateTime.Utc) =>
  Effect.map(endedSessions({ realmId, sub, at: toDate(at) }), (rows) => rows.map(toSession))

const GrantKey = Schema.Struct({ realmId: Schema.String, grantId: Schema.String })
const Withdrawal = Schema.Struct({ realmId: Schema.String, grantId: Schema.String, sub: Schema.String, at: Schema.DateFromSelf })

/** A person's live rows after a position (`Page.parseSortKey`: created_at, then the id), the request of a page. */
const LiveOf = Schema.Struct({
  realmId: Schema.String,
  sub: Schema.String,
  limit: Schema.Number,
  after: Schema.optionalWith(Schema.Tuple(Schema.DateFromSelf, Schema.String), { exact: true })
})

/** A page's request from the port's window; none when its cursor names no position (only a forged one does). */
const liveOf = (realmId: string, sub: string, window: Page.Window): Option.Option<typeof LiveOf.Type> =>
  window.after === undefined
    ? Option.some({ realmId, sub, limit: window.limit })
    : Option.map(Page.parseSortKey(window.after), ([at, id]) => ({ realmId, sub, limit: window.limit, after: [toDate(at), id] as const }))

/** A person's next page of live rows in (created_at, id) order: its `*_by_sub` index answers it. */
const pageAfter = (sql: SqlClient.SqlClient, id: "grant_id" | "sid", { after, limit }: typeof LiveOf.Type) =>
  sql`${after !== undefined ? sql`AND (created_at, ${sql(id)} COLLATE "C") > (${after[0]}::timestamptz, ${after[1]}::text)` : sql``}
    ORDER BY created_at, ${sql(id)} COLLATE "C" LIMIT ${limit + 1}`

export const layerGrants = Layer.effect(Grants.Grants, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const run = on(sql)
  const grants = RealmTable.rows(sql, "grants", GrantRow)
  const byId = grants.findOne(GrantKey, ({ grantId, realmId }) =>
    sql`SELECT * FROM grants WHERE realm_id = ${realmId} AND grant_id = ${grantId}`)
  // grants_by_sub answers the window in order
  const live = grants.findAll(LiveOf, (request) =>
    sql`SELECT * FROM grants WHERE realm_id = ${request.realmId} AND sub = ${request.sub} AND revoked_at IS NULL
      ${pageAfter(sql, "grant_id", request)}`)
  const withdrawn = PgRows.findOne("grants", {
    Request: Withdrawal,
    Result: GrantRow,
    execute: ({ at, grantId, realmId, sub }) => sql`UPDATE grants SET revoked_at = ${at}
      WHERE realm_id = ${realmId} AND grant_id = ${grantId} AND sub = ${sub} AND revoked_at IS NULL RETURNING *`
  })
  return Grants.Grants.of({
    insert: (grant, event) =>
      Effect.gen(function*() {
        yield* sql`INSERT INTO grants ${sql.insert({
          realm_id: grant.realmId,
          grant_id: grant.grantId,
          client_id: grant.clientId,
          sub: grant.sub,
          scopes: grant.scopes as Array<string>,
          resources: grant.resources as Array<string>,
          auth_time: toDate(grant.authTime),
          acr: grant.acr,
          amr: grant.amr as Array<string>,
          sid: grant.sid ?? null,
          nonce: grant.nonce ?? null,
          created_at: toDate(grant.createdAt),
          revoked_at: grant.revokedAt === undefined ? null : toDate(grant.revokedAt)
        })}`
        yield* maybeEvent(event)
      }).pipe(withRealm(grant.realmId), run),
    // issue 17: one statement, `grant_tokens_start` (migration 00027), commits the whole set with its event
    firstTokens: ({ access, realmId, refresh, session }, event) => {
      const audit = appendArguments(event)
      return sql`SELECT grant_tokens_start(${realmId}, ${JSON.stringify(accessRow(realmId, access))}::jsonb,
          ${refresh === undefined ? null : JSON.stringify(familyRow(refresh.family))}::jsonb, ${refresh?.tokenHash ?? null},
          ${session?.sid ?? null}, ${session?.clientId ?? null}, ${audit.row}::jsonb, ${audit.canonical})`.pipe(
        Effect.asVoid,
        inRealm(realmId),
        run
      )
    },
    find: (realmId, grantId) => byId({ realmId, grantId }).pipe(Effect.map(Option.map(toGrant))),
    revoke: (realmId, grantId, at, event) =>
      Effect.gen(function*() {
        const revoked = yield* sql`UPDATE grants SET revoked_at = ${toDate(at)}
          WHERE realm_id = ${realmId} AND grant_id = ${grantId} AND revoked_at IS NULL RETURNING grant_id`
        if (revoked.length === 0) return
        yield* sql`UPDATE refresh_families SET revoked_reason = 'grant revoked'
          WHERE realm_id = ${realmId} AND grant_id = ${grantId} AND revoked_reason IS NULL`
        yield* maybeEvent(event)
      }).pipe(withRealm(realmId), run),
    revokeWhere: (realmId, match, at, event) =>
      Effect.gen(function*() {
        const revoked = yield* revokeGrantsWhere(sql, realmId, match, at)
        yield* maybeEvent(event)
        return revoked
      }).pipe(withRealm(realmId), run),
    listLive: (realmId, sub, window) =>
      Option.match(liveOf(realmId, sub, window), {
        // a cursor that names no position (only a forged one does) is past every row
        onNone: () => Effect.succeed([]),
        onSome: (request) => live(request).pipe(Effect.map((rows) => rows.map(toGrant)))
      }),
    withdraw: (realmId, sub, grantId, at, event) =>
      Effect.gen(function*() {
        const found = yield* withdrawn({ realmId, grantId, sub, at: toDate(at) })
        if (Option.isNone(found)) return yield* new Conflict.NotFound({ entity: "grant" })
        const row = found.value
        yield* sql`UPDATE refresh_families SET revoked_reason = 'grant revoked'
          WHERE realm_id = ${realmId} AND grant_id = ${grantId} AND revoked_reason IS NULL`
        // ADR 0031: the next authorization of this client asks the person again
        yield* sql`DELETE FROM consents WHERE realm_id = ${realmId} AND sub = ${sub} AND client_id = ${row.client_id}`
        yield* appendEvent(event)
        return toGrant({ ...row, revoked_at: null })
      }).pipe(withRealm(realmId), run)
  })
}))

const SessionRow = Schema.Struct({
  realm_id: Schema.String,
  sid: Schema.String,
  cookie_hash: Schema.String,
  sub: Schema.String,
  created_at: Schema.DateFromSelf,
  auth_time: Schema.DateFromSelf,
  acr: Schema.String,
  amr: Strings,
  expires_at: Schema.DateFromSelf,
  client_ids: Strings,
  ended_at: Schema.NullOr(Schema.DateFromSelf)
})
/** A row's state: `ended_at` set is Ended (RP-Initiated Logout 1.0 §2), else Active (ADR 0054). */
const toSession = (row: typeof SessionRow.Type): Session.Session => {
  const common = {
    realmId: row.realm_id,
    sid: row.sid,
    cookieHash: row.cookie_hash,
    sub: row.sub,
    createdAt: utc(row.created_at),
    authTime: utc(row.auth_time),
    acr: row.acr,
    amr: row.amr,
    expiresAt: utc(row.expires_at),
    clientIds: row.client_ids
  }
  return row.ended_at === null ? Session.Session.Active(common) : Session.Session.Ended({ ...common, endedAt: utc(row.ended_at) })
}

/** The live session `revoke` ended, as it was before (the row it returns is the ended one). */
const asActive = (session: Session.Session): Session.Active => Session.Session.Active({ ...session })

const SessionKey = Schema.Struct({ realmId: Schema.String, key: Schema.String })
/** A person's sessions ended at `at`. */
const SessionsOf = Schema.Struct({ realmId: Schema.String, sub: Schema.String, at: Schema.DateFromSelf })
const LiveSessionsOf = Schema.Struct({ ...LiveOf.fields, now: Schema.DateFromSelf })
const Revocation = Schema.Struct({ realmId: Schema.String, sub: Schema.String, sid: Schema.String, at: Schema.DateFromSelf })

const endedSessions = PgRows.findAll("sessions", {
  Request: SessionsOf,
  Result: SessionRow,
  execute: ({ at, realmId, sub }) =>
    Effect.flatMap(SqlClient.SqlClient, (sql) =>
      sql`UPDATE sessions SET ended_at = ${at} WHERE realm_id = ${realmId} AND sub = ${sub} AND ended_at IS NULL RETURNING *`)
})

export const layerSessions = Layer.effect(Sessions.Sessions, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const run = on(sql)
  const sessions = RealmTable.rows(sql, "sessions", SessionRow)
  const byCookie = sessions.findOne(SessionKey, ({ key, realmId }) =>
    sql`SELECT * FROM sessions WHERE realm_id = ${realmId} AND cookie_hash = ${key}`)
  const bySid = sessions.findOne(SessionKey, ({ key, realmId }) => sql`SELECT * FROM sessions WHERE realm_id = ${realmId} AND sid = ${key}`)
  // sessions_by_sub answers the window in order
  const live = sessions.findAll(LiveSessionsOf, (request) =>
    sql`SELECT * FROM sessions WHERE realm_id = ${request.realmId} AND sub = ${request.sub} AND ended_at IS NULL
      AND expires_at > ${request.now} ${pageAfter(sql, "sid", request)}`)
  const revokedSession = PgRows.findOne("sessions", {
    Request: Revocation,
    Result: SessionRow,
    execute: ({ at, realmId, sid, sub }) => sql`UPDATE sessions SET ended_at = ${at}
      WHERE realm_id = ${realmId} AND sid = ${sid} AND sub = ${sub} AND ended_at IS NULL AND expires_at > ${at}
      RETURNING *`
  })
  return Sessions.Sessions.of({
    create: (session, event) =>
      Effect.gen(function*() {
        yield* sql`INSERT INTO sessions ${sql.insert({
          realm_id: session.realmId,
          sid: session.sid,
          cookie_hash: session.cookieHash,
          sub: session.sub,
          created_at: toDate(session.createdAt),
          auth_time: toDate(session.authTime),
          acr: session.acr,
          amr: [...session.amr],
          expires_at: toDate(session.expiresAt),
          client_ids: [...session.clientIds],
          ended_at: null
        })}`
        yield* appendEvent(event)
      }).pipe(withRealm(session.realmId), run),
    findByCookie: (realmId, cookieHash) => Effect.map(byCookie({ realmId, key: cookieHash }), Option.map(toSession)),
    find: (realmId, sid) => Effect.map(bySid({ realmId, key: sid }), Option.map(toSession)),
    addClient: (realmId, sid, clientId) =>
      sql`UPDATE sessions SET client_ids = array_append(client_ids, ${clientId}::text)
          WHERE realm_id = ${realmId} AND sid = ${sid} AND NOT (${clientId}::text = ANY (client_ids))`.pipe(
        Effect.asVoid,
        withRealm(realmId),
        run
      ),
    // Session.end as compare-and-set: only the statement that finds the row Active ends it and writes the event, so
    // a replayed or concurrent logout (or an unknown sid) changes nothing and audits nothing
    end: (realmId, sid, at, event) =>
      Effect.gen(function*() {
        const ended = yield* sql`UPDATE sessions SET ended_at = ${toDate(at)}
          WHERE realm_id = ${realmId} AND sid = ${sid} AND ended_at IS NULL RETURNING sid`
        if (ended.length === 0) return false
        yield* maybeEvent(event)
        return true
      }).pipe(withRealm(realmId), run),
    listLive: (realmId, sub, now, window) =>
      Option.match(liveOf(realmId, sub, window), {
        // a cursor that names no position (only a forged one does) is past every row
        onNone: () => Effect.succeed([]),
        onSome: (request) => Effect.map(live({ ...request, now: toDate(now) }), (rows) => rows.map(toSession))
      }),
    revoke: (realmId, sub, sid, at, event) =>
      Effect.gen(function*() {
        const found = yield* revokedSession({ realmId, sub, sid, at: toDate(at) })
        if (Option.isNone(found)) return yield* new Conflict.NotFound({ entity: "session" })
        const row = found.value
        // ADR 0031: the grants made in the session go with it
        const revoked = yield* sql<{ readonly grant_id: string }>`UPDATE grants SET revoked_at = ${toDate(at)}
          WHERE realm_id = ${realmId} AND sub = ${sub} AND sid = ${sid} AND revoked_at IS NULL RETURNING grant_id`
        if (revoked.length > 0) {
          yield* sql`UPDATE refresh_families SET revoked_reason = 'session revoked'
            WHERE realm_id = ${realmId} AND grant_id IN ${sql.in(revoked.map((r) => r.grant_id))} AND revoked_reason IS NULL`
        }
        yield* appendEvent(event)
        return asActive(toSession(row))
      }).pipe(withRealm(realmId), run)
  })
}))

const ConsentRow = Schema.Struct({
  realm_id: Schema.String,
  sub: Schema.String,
  client_id: Schema.String,
  scopes: Strings,
  resources: Strings,
  granted_at: Schema.DateFromSelf
})

const ConsentKey = Schema.Struct({ realmId: Schema.String, sub: Schema.String, clientId: Schema.String })
const ClientKey = Schema.Struct({ realmId: Schema.String, clientId: Schema.String })
const Approved = Schema.Struct({ approved: Schema.Boolean })

export const layerConsents = Layer.effect(Consents.Consents, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const run = on(sql)
  const byKey = RealmTable.rows(sql, "consents", ConsentRow).findOne(ConsentKey, ({ clientId, realmId, sub }) =>
    sql`SELECT * FROM consents WHERE realm_id = ${realmId} AND sub = ${sub} AND client_id = ${clientId}`)
  // RFC 9700 §4.11.2: one row of the consents_client index answers it
  const approved = PgRows.single("consents", {
    Request: ClientKey,
    Result: Approved,
    execute: ({ clientId, realmId }) =>
      sql`SELECT EXISTS (SELECT 1 FROM consents WHERE realm_id = ${realmId} AND client_id = ${clientId}) AS approved`
  })
  return Consents.Consents.of({
    find: (realmId, sub, clientId) =>
      byKey({ realmId, sub, clientId }).pipe(
        Effect.map((found) =>
          Option.map(found, (row): Consent.Consent => ({
            realmId: row.realm_id,
            sub: row.sub,
            clientId: row.client_id,
            scopes: row.scopes,
            resources: row.resources,
            grantedAt: utc(row.granted_at)
          }))
        )
      ),
    approved: (realmId, clientId) =>
      approved({ realmId, clientId }).pipe(Effect.map((row) => row.approved), withRealm(realmId), run),
    save: (consent, event) =>
      Effect.gen(function*() {
        const row = {
          realm_id: consent.realmId,
          sub: consent.sub,
          client_id: consent.clientId,
          scopes: consent.scopes as Array<string>,
          resources: consent.resources as Array<string>,
          granted_at: toDate(consent.grantedAt)
        }
        yield* sql`INSERT INTO consents ${sql.insert(row)} ON CONFLICT (realm_id, sub, client_id)
          DO UPDATE SET scopes = EXCLUDED.scopes, resources = EXCLUDED.resources, granted_at = EXCLUDED.granted_at`
        yield* appendEvent(event)
      }).pipe(withRealm(consent.realmId), run)
  })
}))

/** A refresh token's family as `refresh_find` (migration 00027) answers it, with the generation presented and the grant. */
const PresentedJson = Schema.Struct({
  realm_id: Schema.String,
  family_id: Schema.String,
  client_id: Schema.String,
  grant_id: Schema.String,
  generation: Schema.Number,
  current_hash: Schema.String,
  created_at: fromJson,
  last_used_at: fromJson,
  revoked_reason: Schema.NullOr(Schema.String),
  dpop_jkt: Schema.NullOr(Schema.String),
  presented_generation: Schema.Number,
  grant: Schema.NullOr(grantRow(fromJson))
})
const toFamily = (row: typeof PresentedJson.Type): RefreshFamily.RefreshFamily =>
  row.revoked_reason !== null
    ? RefreshFamily.RefreshFamily.Revoked({
      familyId: row.family_id,
      realmId: row.realm_id,
      clientId: row.client_id,
      grantId: row.grant_id,
      reason: row.revoked_reason
    })
    : RefreshFamily.RefreshFamily.Active({
      familyId: row.family_id,
      realmId: row.realm_id,
      clientId: row.client_id,
      grantId: row.grant_id,
      generation: row.generation,
      currentHash: row.current_hash,
      createdAt: utc(row.created_at),
      lastUsedAt: utc(row.last_used_at),
      ...(row.dpop_jkt !== null ? { dpopJkt: row.dpop_jkt } : {})
    })

/** A family as its row is written (`INSERT INTO refresh_families`, `grant_tokens_start`). */
function familyRow(family: Extract<RefreshFamily.RefreshFamily, { _tag: "Active" }>) {
  return {
    realm_id: family.realmId,
    family_id: family.familyId,
    client_id: family.clientId,
    grant_id: family.grantId,
    generation: family.generation,
    current_hash: family.currentHash,
    created_at: toDate(family.createdAt),
    last_used_at: toDate(family.lastUsedAt),
    dpop_jkt: family.dpopJkt ?? null
  }
}

/** An access token's link to its grant as its `access_tokens` row is written (as `AccessTokens.record` writes it). */
function accessRow(realmId: string, access: AccessTokens.Link) {
  return { realm_id: realmId, jti: access.jti, grant_id: access.grantId, revoked: false, expires_at: toDate(access.expiresAt) }
}

export const layerRefreshTokens = Layer.effect(RefreshTokens.RefreshTokens, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const run = on(sql)
  const presented = PgRows.single("refresh_families", {
    Request: HashKey,
    Result: Schema.Struct({ presented: Schema.NullOr(PresentedJson) }),
    execute: ({ hash, realmId }) => sql`SELECT refresh_find(${realmId}, ${hash}) AS presented`
  })
  return RefreshTokens.RefreshTokens.of({
    create: (family, tokenHash, event) =>
      Effect.gen(function*() {
        yield* sql`INSERT INTO refresh_families ${sql.insert(familyRow(family))}`
        yield* sql`INSERT INTO refresh_tokens ${sql.insert({
          realm_id: family.realmId,
          token_hash: tokenHash,
          family_id: family.familyId,
          generation: family.generation
        })}`
        yield* maybeEvent(event)
      }).pipe(withRealm(family.realmId), run),
    // issue 17: the family, the generation presented and the grant in one statement (`refresh_find`, migration 00027)
    find: (realmId, tokenHash) =>
      presented({ realmId, hash: tokenHash }).pipe(
        Effect.map(({ presented }) =>
          Option.map(Option.fromNullable(presented), (row): RefreshTokens.PresentedRefresh => ({
            family: toFamily(row),
            generation: row.presented_generation,
            grant: Option.map(Option.fromNullable(row.grant), toGrant)
          }))),
        inRealm(realmId),
        run
      ),
    // OAuth 2.1 §4.3.1: compare-and-set on the generation, and only when it wins the new token, the access token's
    // link and the event, in one statement (`refresh_rotate`, migration 00027)
    rotate: (next, expectedGeneration, event, access) => {
      const audit = appendArguments(event)
      return sql<{ readonly rotated: boolean }>`SELECT refresh_rotate(${next.realmId}, ${JSON.stringify(familyRow(next))}::jsonb,
          ${expectedGeneration}, ${access === undefined ? null : JSON.stringify(accessRow(next.realmId, access))}::jsonb,
          ${audit.row}::jsonb, ${audit.canonical}) AS rotated`.pipe(
        Effect.flatMap((rows) => rows[0]?.rotated === true ? Effect.void : Effect.fail(new RefreshTokens.RefreshChanged())),
        inRealm(next.realmId),
        run
      )
    },
    revokeFamily: (realmId, familyId, reason, event) =>
      Effect.gen(function*() {
        yield* sql`UPDATE refresh_families SET revoked_reason = ${reason}
          WHERE realm_id = ${realmId} AND family_id = ${familyId} AND revoked_reason IS NULL`
        yield* maybeEvent(event)
      }).pipe(withRealm(realmId), run)
  })
}))

/** Every sign-in store on the `SqlClient` in context. */
export const layer = Layer.mergeAll(layerCodes, layerGrants, layerSessions, layerConsents, layerRefreshTokens)
