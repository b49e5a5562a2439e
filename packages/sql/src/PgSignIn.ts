/** The sign-in stores on Postgres: single-use codes under row locks, refresh rotation by compare-and-set. */
import { SqlClient } from "@effect/sql"
import { DateTime, Effect, Layer, Option, Schema } from "effect"
import { AuthorizationCode, Conflict, RefreshFamily, Session, Codes, Consents, Grants, Page, RefreshTokens, Sessions } from "@tessera/domain"
import type { AuditEvent, Consent, GrantRecord } from "@tessera/domain"
import type { SqlError } from "@effect/sql/SqlError"
import { appendEvent } from "./PgAudit.js"
import * as PgRows from "./PgRows.js"
import { on, toDate, withRealm } from "./Sql.js"

const Strings = Schema.Array(Schema.String)
const utc = (date: Date) => DateTime.unsafeMake(date)
const maybeEvent = (event: AuditEvent.AuditEvent | undefined) => (event === undefined ? Effect.void : appendEvent(event))
const decode = <A, I>(schema: Schema.Schema<A, I>) => Schema.decodeUnknown(Schema.Array(schema))

const CodeRow = Schema.Struct({
  realm_id: Schema.String,
  client_id: Schema.String,
  grant_id: Schema.String,
  redirect_uri: Schema.String,
  redirect_uri_given: Schema.Boolean,
  code_challenge: Schema.String,
  dpop_jkt: Schema.NullOr(Schema.String),
  expires_at: Schema.DateFromSelf,
  redeemed: Schema.Boolean
})
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

export const layerCodes = Layer.effect(Codes.Codes, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const run = on(sql)
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
    // STYLE §9: consumed under a row lock, then updated, in one transaction
    consume: (realmId, hash) =>
      Effect.gen(function*() {
        const rows = yield* Effect.flatMap(
          sql`SELECT realm_id, client_id, grant_id, redirect_uri, redirect_uri_given, code_challenge, dpop_jkt, expires_at, redeemed
              FROM codes WHERE realm_id = ${realmId} AND code_hash = ${hash} FOR UPDATE`,
          decode(CodeRow)
        )
        const row = rows[0]
        if (row === undefined) return Option.none()
        if (!row.redeemed) yield* sql`UPDATE codes SET redeemed = true WHERE realm_id = ${realmId} AND code_hash = ${hash}`
        return Option.some(toCode(row))
      }).pipe(withRealm(realmId), run)
  })
}))

const GrantRow = Schema.Struct({
  realm_id: Schema.String,
  grant_id: Schema.String,
  client_id: Schema.String,
  sub: Schema.String,
  scopes: Strings,
  resources: Strings,
  auth_time: Schema.DateFromSelf,
  acr: Schema.String,
  amr: Strings,
  sid: Schema.NullOr(Schema.String),
  nonce: Schema.NullOr(Schema.String),
  created_at: Schema.DateFromSelf,
  revoked_at: Schema.NullOr(Schema.DateFromSelf)
})
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
export const endSessionsOf = (sql: SqlClient.SqlClient, realmId: string, sub: string, at: DateTime.Utc) =>
  Effect.flatMap(
    sql`UPDATE sessions SET ended_at = ${toDate(at)} WHERE realm_id = ${realmId} AND sub = ${sub} AND ended_at IS NULL RETURNING *`,
    decode(SessionRow)
  ).pipe(Effect.map((rows) => rows.map(toSession)))

export const layerGrants = Layer.effect(Grants.Grants, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const run = on(sql)
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
    find: (realmId, grantId) =>
      Effect.flatMap(sql`SELECT * FROM grants WHERE realm_id = ${realmId} AND grant_id = ${grantId}`, decode(GrantRow)).pipe(
        Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), toGrant)),
        withRealm(realmId),
        run
      ),
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
    // grants_by_sub answers the window in order
    listLive: (realmId, sub, window) => {
      const after = window.after === undefined ? Option.none() : Page.parseSortKey(window.after)
      // a cursor that names no position (only a forged one does) is past every row
      if (window.after !== undefined && Option.isNone(after)) return Effect.succeed([])
      return Effect.flatMap(
        sql`SELECT * FROM grants WHERE realm_id = ${realmId} AND sub = ${sub} AND revoked_at IS NULL
          ${Option.isSome(after) ? sql`AND (created_at, grant_id COLLATE "C") > (${toDate(after.value[0])}::timestamptz, ${after.value[1]}::text)` : sql``}
          ORDER BY created_at, grant_id COLLATE "C" LIMIT ${window.limit + 1}`,
        decode(GrantRow)
      ).pipe(Effect.map((rows) => rows.map(toGrant)), withRealm(realmId), run)
    },
    withdraw: (realmId, sub, grantId, at, event) =>
      Effect.gen(function*() {
        const rows = yield* Effect.flatMap(
          sql`UPDATE grants SET revoked_at = ${toDate(at)}
            WHERE realm_id = ${realmId} AND grant_id = ${grantId} AND sub = ${sub} AND revoked_at IS NULL RETURNING *`,
          decode(GrantRow)
        )
        const row = rows[0]
        if (row === undefined) return yield* new Conflict.NotFound({ entity: "grant" })
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

export const layerSessions = Layer.effect(Sessions.Sessions, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const run = on(sql)
  const byCookie = PgRows.findOne("sessions", {
    Request: SessionKey,
    Result: SessionRow,
    execute: ({ key, realmId }) => sql`SELECT * FROM sessions WHERE realm_id = ${realmId} AND cookie_hash = ${key}`
  })
  const bySid = PgRows.findOne("sessions", {
    Request: SessionKey,
    Result: SessionRow,
    execute: ({ key, realmId }) => sql`SELECT * FROM sessions WHERE realm_id = ${realmId} AND sid = ${key}`
  })
  const one = (realmId: string, found: Effect.Effect<Option.Option<typeof SessionRow.Type>, PgRows.RowRejected | SqlError>) =>
    found.pipe(Effect.map(Option.map(toSession)), withRealm(realmId), run)
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
    findByCookie: (realmId, cookieHash) => one(realmId, byCookie({ realmId, key: cookieHash })),
    find: (realmId, sid) => one(realmId, bySid({ realmId, key: sid })),
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
    // sessions_by_sub answers the window in order
    listLive: (realmId, sub, now, window) => {
      const after = window.after === undefined ? Option.none() : Page.parseSortKey(window.after)
      // a cursor that names no position (only a forged one does) is past every row
      if (window.after !== undefined && Option.isNone(after)) return Effect.succeed([])
      return Effect.flatMap(
        sql`SELECT * FROM sessions WHERE realm_id = ${realmId} AND sub = ${sub} AND ended_at IS NULL AND expires_at > ${toDate(now)}
          ${Option.isSome(after) ? sql`AND (created_at, sid COLLATE "C") > (${toDate(after.value[0])}::timestamptz, ${after.value[1]}::text)` : sql``}
          ORDER BY created_at, sid COLLATE "C" LIMIT ${window.limit + 1}`,
        decode(SessionRow)
      ).pipe(Effect.map((rows) => rows.map(toSession)), withRealm(realmId), run)
    },
    revoke: (realmId, sub, sid, at, event) =>
      Effect.gen(function*() {
        const rows = yield* Effect.flatMap(
          sql`UPDATE sessions SET ended_at = ${toDate(at)}
            WHERE realm_id = ${realmId} AND sid = ${sid} AND sub = ${sub} AND ended_at IS NULL AND expires_at > ${toDate(at)}
            RETURNING *`,
          decode(SessionRow)
        )
        const row = rows[0]
        if (row === undefined) return yield* new Conflict.NotFound({ entity: "session" })
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

export const layerConsents = Layer.effect(Consents.Consents, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const run = on(sql)
  return Consents.Consents.of({
    find: (realmId, sub, clientId) =>
      Effect.flatMap(
        sql`SELECT * FROM consents WHERE realm_id = ${realmId} AND sub = ${sub} AND client_id = ${clientId}`,
        decode(ConsentRow)
      ).pipe(
        Effect.map((rows) =>
          Option.map(Option.fromNullable(rows[0]), (row): Consent.Consent => ({
            realmId: row.realm_id,
            sub: row.sub,
            clientId: row.client_id,
            scopes: row.scopes,
            resources: row.resources,
            grantedAt: utc(row.granted_at)
          }))
        ),
        withRealm(realmId),
        run
      ),
    // RFC 9700 §4.11.2: one row of the consents_client index answers it
    approved: (realmId, clientId) =>
      Effect.flatMap(
        sql`SELECT EXISTS (SELECT 1 FROM consents WHERE realm_id = ${realmId} AND client_id = ${clientId}) AS approved`,
        decode(Schema.Struct({ approved: Schema.Boolean }))
      ).pipe(
        Effect.map((rows) => rows[0]?.approved === true),
        withRealm(realmId),
        run
      ),
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

const FamilyRow = Schema.Struct({
  realm_id: Schema.String,
  family_id: Schema.String,
  client_id: Schema.String,
  grant_id: Schema.String,
  generation: Schema.Number,
  current_hash: Schema.String,
  created_at: Schema.DateFromSelf,
  last_used_at: Schema.DateFromSelf,
  revoked_reason: Schema.NullOr(Schema.String),
  dpop_jkt: Schema.NullOr(Schema.String),
  presented_generation: Schema.Number
})
const toFamily = (row: typeof FamilyRow.Type): RefreshFamily.RefreshFamily =>
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

export const layerRefreshTokens = Layer.effect(RefreshTokens.RefreshTokens, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const run = on(sql)
  return RefreshTokens.RefreshTokens.of({
    create: (family, tokenHash, event) =>
      Effect.gen(function*() {
        yield* sql`INSERT INTO refresh_families ${sql.insert({
          realm_id: family.realmId,
          family_id: family.familyId,
          client_id: family.clientId,
          grant_id: family.grantId,
          generation: family.generation,
          current_hash: family.currentHash,
          created_at: toDate(family.createdAt),
          last_used_at: toDate(family.lastUsedAt),
          dpop_jkt: family.dpopJkt ?? null
        })}`
        yield* sql`INSERT INTO refresh_tokens ${sql.insert({
          realm_id: family.realmId,
          token_hash: tokenHash,
          family_id: family.familyId,
          generation: family.generation
        })}`
        yield* maybeEvent(event)
      }).pipe(withRealm(family.realmId), run),
    find: (realmId, tokenHash) =>
      Effect.flatMap(
        sql`SELECT f.*, t.generation AS presented_generation FROM refresh_tokens t
            JOIN refresh_families f ON f.realm_id = t.realm_id AND f.family_id = t.family_id
            WHERE t.realm_id = ${realmId} AND t.token_hash = ${tokenHash}`,
        decode(FamilyRow)
      ).pipe(
        Effect.map((rows) =>
          Option.map(Option.fromNullable(rows[0]), (row) => ({ family: toFamily(row), generation: row.presented_generation }))
        ),
        withRealm(realmId),
        run
      ),
    rotate: (next, expectedGeneration, event) =>
      Effect.gen(function*() {
        const updated = yield* sql`UPDATE refresh_families
          SET generation = ${next.generation}, current_hash = ${next.currentHash}, last_used_at = ${toDate(next.lastUsedAt)},
            dpop_jkt = ${next.dpopJkt ?? null}
          WHERE realm_id = ${next.realmId} AND family_id = ${next.familyId}
            AND generation = ${expectedGeneration} AND revoked_reason IS NULL
          RETURNING family_id`
        if (updated.length === 0) return yield* new RefreshTokens.RefreshChanged()
        yield* sql`INSERT INTO refresh_tokens ${sql.insert({
          realm_id: next.realmId,
          token_hash: next.currentHash,
          family_id: next.familyId,
          generation: next.generation
        })}`
        yield* maybeEvent(event)
      }).pipe(withRealm(next.realmId), run),
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
