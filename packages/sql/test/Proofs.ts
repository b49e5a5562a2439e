/**
 * The store's guarantees proven in SQL (issue 3, "Tests"), the same on PGlite and on PostgreSQL: realm isolation
 * by row-level security as `tessera_app` on every realm-scoped table (the directory and admin tables of migration
 * 00001, the sign-in tables of 00002, the short-lived sign-in state of 00003, the device authorizations of 00005 and
 * the throttles of 00010),
 * atomic compare-and-set and
 * single use, audit events that commit or roll back with their change, an append-only audit table, a hash chain that
 * names an edited row, and sign-in secrets kept only as hashes.
 */
import { expect, layer } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Cause, Clock, Context, DateTime, Deferred, Duration, Effect, Either, Exit, Fiber, Option } from "effect"
import type { Layer } from "effect"
import {
  AccessTokens, Audit, AuditChain, AuditEvent, AuthorizationCode, Clients, DeviceAuthorization, DeviceAuthorizations, Entropy, Hash,
  Interactions, JtiCache, Keys, LoginThrottle, Realms, RefreshFamily, Resources, Session, Codes, Consents, Grants, RefreshTokens, Sessions, StoreError, Tokens, TrustedIssuers,
  UserCodeThrottle, Users
} from "@tessera/domain"
import type { Client, Consent, GrantRecord, Realm } from "@tessera/domain"
import { Sql } from "@tessera/sql"
import * as PgJtiCache from "../src/PgJtiCache.js"
import { generate, oracle, prng, storable } from "../../domain/test/CanonicalOracle.js"
import { newRealm } from "../../domain/test/PortContract.js"

/** Runs SQL as the tables' owner, which `tessera_app` must never be able to do. */
export class Owner extends Context.Tag("@tessera/sql/test/Owner")<Owner, {
  /**
   * One statement in its own transaction pinned to `realmId`: a superuser owner ignores RLS, a plain owner is
   * bound by FORCE ROW LEVEL SECURITY and needs the realm like anyone else.
   */
  readonly run: (realmId: string, text: string, params?: ReadonlyArray<unknown>) => Effect.Effect<ReadonlyArray<Record<string, unknown>>, unknown>
}>() {}

export type Ports =
  | Realms.Realms | Clients.Clients | Users.Users | Resources.Resources | TrustedIssuers.TrustedIssuers | Keys.Keys
  | Audit.Audit | Codes.Codes | Grants.Grants | Sessions.Sessions | Consents.Consents | RefreshTokens.RefreshTokens
  | Interactions.Interactions | LoginThrottle.LoginThrottle | AccessTokens.AccessTokens | JtiCache.JtiCache
  | DeviceAuthorizations.DeviceAuthorizations | UserCodeThrottle.UserCodeThrottle

export interface Backend {
  readonly name: string
  /** Every port, the application's own `SqlClient` (as `tessera_app`) and the owner; built once per block. */
  readonly store: Layer.Layer<Ports | SqlClient.SqlClient | Owner, unknown>
  /** A `SqlClient` over a pool of exactly one connection on the same database (the pooled-connection trap). */
  readonly single: Layer.Layer<SqlClient.SqlClient, unknown>
  /** The session user the connection string logs in as (the role `tessera_app` is taken from). */
  readonly sessionUser: string
}

export const at = DateTime.unsafeMake("2026-11-29T12:00:00Z")

export const event = (realm: Realm.Realm, type: AuditEvent.EventType, extra: Partial<AuditEvent.AuditEvent> = {}): AuditEvent.AuditEvent => ({
  id: crypto.randomUUID(), at, realmId: realm.id, realm: realm.name, type, actor: AuditEvent.owner, result: "success", ...extra
})

export const metadata: Client.Metadata = {
  redirectUris: ["https://app.example/cb"],
  postLogoutRedirectUris: [],
  grantTypes: ["authorization_code"],
  responseTypes: ["code"],
  tokenEndpointAuthMethod: "client_secret_basic",
  frontchannelLogoutSessionRequired: false,
  dpopBoundAccessTokens: false,
  principalType: "app"
}

export const client = (realm: Realm.Realm, clientId: string): Client.Client => ({
  realmId: realm.id, clientId, secretHash: "h", metadata, createdAt: at, version: 1
})

/** The sign-in rows of a populated realm: client c1's grant g1 for user s1, in session sid1, with its code and family f1. */
export const grantOf = (realm: Realm.Realm): GrantRecord.GrantRecord => ({
  realmId: realm.id, grantId: "g1", clientId: "c1", sub: "s1", scopes: ["openid", "read"], resources: ["https://api.example"],
  authTime: at, acr: Session.passwordAcr, amr: Session.passwordAmr, sid: "sid1", nonce: "n1", createdAt: at
})

export const codeOf = (realm: Realm.Realm) =>
  AuthorizationCode.AuthorizationCode.Issued({
    realmId: realm.id, clientId: "c1", grantId: "g1", redirectUri: "https://app.example/cb", redirectUriGiven: true,
    codeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", expiresAt: DateTime.addDuration(at, AuthorizationCode.lifetime)
  })

export const sessionOf = (realm: Realm.Realm, cookieHash: string) => Session.Session.Active({
  realmId: realm.id, sid: "sid1", cookieHash, sub: "s1", createdAt: at, authTime: at, acr: Session.passwordAcr, amr: Session.passwordAmr,
  expiresAt: DateTime.addDuration(at, Session.lifetime), clientIds: []
})

export const consentOf = (realm: Realm.Realm): Consent.Consent => ({
  realmId: realm.id, sub: "s1", clientId: "c1", scopes: ["openid", "read"], resources: ["https://api.example"], grantedAt: at
})

export const familyOf = (realm: Realm.Realm, currentHash: string) =>
  RefreshFamily.RefreshFamily.Active({
    familyId: "f1", realmId: realm.id, clientId: "c1", grantId: "g1", generation: 1, currentHash, createdAt: at, lastUsedAt: at
  })

/** The pending authorization request of a populated realm: client c1 asking for `openid read` at https://api.example. */
export const requestOf: Interactions.Request = {
  clientId: "c1", redirectUri: "https://app.example/cb", redirectUriGiven: true, scopes: ["openid", "read"], resources: ["https://api.example"],
  state: "st1", nonce: "n1", codeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", responseMode: "query", prompt: ["consent"],
  maxAge: 3600, acrValues: [], loginHint: "alice", stepUp: false
}

export const interactionOf = (realm: Realm.Realm, id: string, csrfHash: string) => Interactions.Interaction.Requested({
  realmId: realm.id, id, request: requestOf, csrfHash, createdAt: at, expiresAt: DateTime.addDuration(at, Interactions.lifetime), version: 0
})

/** The device authorization of a populated realm: client c1 asking for `openid read` at https://api.example, pending. */
export const deviceOf = (realm: Realm.Realm, deviceCodeHash: string) =>
  DeviceAuthorization.DeviceAuthorization.Pending({
    realmId: realm.id, deviceCodeHash, userCode: "BCDFGHJK", clientId: "c1", scopes: ["openid", "read"], resources: ["https://api.example"],
    stepUp: false, interval: DeviceAuthorization.initialInterval, createdAt: at, expiresAt: DateTime.addDuration(at, DeviceAuthorization.lifetime),
    version: 1
  })

/** The failed sign-in of a populated realm: it counts against the username ("user:alice") and the address, a row each. */
export const attemptOf = (realm: Realm.Realm): LoginThrottle.Attempt => ({ realmId: realm.id, username: "Alice", ip: "192.0.2.1" })

/**
 * A populated realm, the clear secrets handed out in it (which the store may keep only as their SHA-256), and the
 * keys of its short-lived state: the interaction, the access token's jti (linked to grant g1) and the jti of a client
 * assertion of c1 (remembered), both until `expiresAt`.
 */
export interface Populated {
  readonly realm: Realm.Realm
  readonly code: string
  readonly refreshToken: string
  readonly cookie: string
  /** The interaction's CSRF token, which the forms carry and the interaction keeps as its hash. */
  readonly csrf: string
  readonly interaction: Interactions.Interaction
  /** The device code of the realm's device authorization (kept as its hash, found by its user code). */
  readonly deviceCode: string
  readonly accessJti: string
  readonly assertionJti: string
  /** The JWTs' `exp`, 15 minutes from when `populated` ran (the ports read the live clock against it). */
  readonly expiresAt: DateTime.Utc
}

const secret = Entropy.token(32).pipe(Effect.provide(Entropy.layer))
/** 128 random bits, base64url: an interaction id, an access token's jti. */
const randomId = Entropy.token(16).pipe(Effect.provide(Entropy.layer))

/** An RFC 9068 access token's `exp` issued now: whole seconds, `Tokens.defaultLifetimes.accessToken` away. */
const jwtExpiry = Effect.map(Clock.currentTimeMillis, (ms) =>
  DateTime.unsafeMake(Math.floor(ms / 1000) * 1000 + Duration.toMillis(Tokens.defaultLifetimes.accessToken)))

/** The event types `populated` writes, newest first: 9 events. */
export const populatedTrail = [
  "token.issued", "consent.granted", "consent.granted", "login.succeeded",
  "trusted_issuer.created", "resource.created", "user.created", "client.created", "realm.created"
] as const

/**
 * A realm with a row in every realm-scoped table (three in throttles: username and address, username, address), all
 * written through the ports: 9 audit events (the code's port and the short-lived state's ports take none). The code,
 * refresh token, session cookie and CSRF token are fresh random secrets, handed to the ports hashed.
 */
export const populated = Effect.gen(function*() {
  const realm = yield* newRealm
  yield* Effect.flatMap(Clients.Clients, (clients) => clients.insert(client(realm, "c1"), event(realm, "client.created")))
  yield* Effect.flatMap(Users.Users, (users) =>
    users.insert({ realmId: realm.id, sub: "s1", username: "alice", passwordHash: "$argon2id$x", roles: [], disabled: false, version: 1, createdAt: at }, event(realm, "user.created")))
  yield* Effect.flatMap(Resources.Resources, (resources) =>
    resources.insert({ realmId: realm.id, id: "00000000-0000-4000-8000-000000000001", version: 1, uri: "https://api.example", scopes: ["read"], stepUpScopes: [], createdAt: at }, event(realm, "resource.created")))
  yield* Effect.flatMap(TrustedIssuers.TrustedIssuers, (issuers) =>
    issuers.insert(
      {
        realmId: realm.id,
        id: "00000000-0000-4000-8000-000000000002",
        version: 1,
        issuer: "https://idp.example",
        keys: { _tag: "JwksUri", jwksUri: "https://idp.example/jwks" },
        idJag: false,
        provisionUsers: false,
        createdAt: at
      },
      event(realm, "trusted_issuer.created")
    ))
  const secrets = { code: yield* secret, refreshToken: yield* secret, cookie: yield* secret }
  yield* Effect.flatMap(Sessions.Sessions, (sessions) =>
    Effect.flatMap(Hash.sha256(secrets.cookie), (cookieHash) =>
      sessions.create(sessionOf(realm, cookieHash), event(realm, "login.succeeded", { subject: "s1" }))))
  yield* Effect.flatMap(Consents.Consents, (consents) =>
    consents.save(consentOf(realm), event(realm, "consent.granted", { subject: "s1", clientId: "c1" })))
  yield* Effect.flatMap(Grants.Grants, (grants) =>
    grants.insert(grantOf(realm), event(realm, "consent.granted", { subject: "s1", clientId: "c1", reason: "grant g1" })))
  yield* Effect.flatMap(Codes.Codes, (codes) => Effect.flatMap(Hash.sha256(secrets.code), (hash) => codes.insert(hash, codeOf(realm))))
  yield* Effect.flatMap(RefreshTokens.RefreshTokens, (refreshes) =>
    Effect.flatMap(Hash.sha256(secrets.refreshToken), (hash) =>
      refreshes.create(familyOf(realm, hash), hash, event(realm, "token.issued", { subject: "s1", clientId: "c1" }))))
  const csrf = yield* secret
  const interaction = interactionOf(realm, yield* randomId, yield* Hash.sha256(csrf))
  yield* Effect.flatMap(Interactions.Interactions, (interactions) => interactions.create(interaction))
  yield* Effect.flatMap(LoginThrottle.LoginThrottle, (throttle) => throttle.reserve(attemptOf(realm), at)).pipe(
    Effect.filterOrDieMessage((v) => v._tag === "Allowed", "a first sign-in attempt was throttled")
  )
  const deviceCode = yield* secret
  yield* Effect.flatMap(DeviceAuthorizations.DeviceAuthorizations, (devices) =>
    Effect.flatMap(Hash.sha256(deviceCode), (hash) => devices.insert(deviceOf(realm, hash))))
  const state = { accessJti: yield* randomId, assertionJti: crypto.randomUUID(), expiresAt: yield* jwtExpiry }
  yield* Effect.flatMap(AccessTokens.AccessTokens, (tokens) => tokens.record(realm.id, state.accessJti, "g1", state.expiresAt))
  yield* Effect.flatMap(JtiCache.JtiCache, (jtis) => jtis.remember(realm.id, "c1", state.assertionJti, state.expiresAt)).pipe(
    Effect.filterOrDieMessage((fresh) => fresh, "a fresh jti was refused as a replay")
  )
  return { realm, ...secrets, csrf, interaction, deviceCode, ...state } satisfies Populated
})

/**
 * A populated realm's short-lived state, as its ports read it: the interaction, the access token's grant link, the
 * assertion's jti still remembered (so a replay is refused), and the reserved sign-in attempt still counted (four more
 * reach the burst of five per username and address). Reserves four attempts.
 */
export const expectState = (p: Populated) =>
  Effect.gen(function*() {
    const { realm } = p
    expect(yield* Effect.flatMap(Interactions.Interactions, (i) => i.find(realm.id, p.interaction.id))).toEqual(Option.some(p.interaction))
    const deviceHash = yield* Hash.sha256(p.deviceCode)
    expect(yield* Effect.flatMap(DeviceAuthorizations.DeviceAuthorizations, (d) => d.findByUserCode(realm.id, "BCDFGHJK")))
      .toEqual(Option.some(deviceOf(realm, deviceHash)))
    expect(yield* Effect.flatMap(AccessTokens.AccessTokens, (t) => t.find(realm.id, p.accessJti)))
      .toEqual(Option.some({ grantId: "g1", revoked: false, expiresAt: p.expiresAt }))
    expect(yield* Effect.flatMap(JtiCache.JtiCache, (j) => j.remember(realm.id, "c1", p.assertionJti, p.expiresAt))).toBe(false)
    const throttle = yield* LoginThrottle.LoginThrottle
    for (let i = 0; i < 4; i++) expect(yield* throttle.reserve(attemptOf(realm), at)).toEqual(LoginThrottle.Verdict.Allowed())
    expect(yield* throttle.reserve(attemptOf(realm), at)).toEqual(LoginThrottle.Verdict.Throttled({ retryAfterSeconds: 1 }))
  })

/** `populated`'s realm alone. */
export const populatedRealm = Effect.map(populated, (p) => p.realm)

/** The event types of a realm's trail, newest first. */
export const trail = (realm: Realm.Realm) =>
  Effect.flatMap(Audit.Audit, (audit) => audit.query(realm.id, { limit: 1000 })).pipe(Effect.map((rows) => rows.map((r) => r.event.type)))

export const verify = (realm: Realm.Realm) => Effect.flatMap(Audit.Audit, (audit) => audit.verify(realm.id))

/** The sign-in tables of migration 00002. */
export const signInTables = ["grants", "codes", "sessions", "consents", "refresh_families", "refresh_tokens"] as const

/** The short-lived sign-in state tables of migration 00003. */
export const stateTables = ["interactions", "access_tokens", "seen_jtis"] as const

/** The device authorizations of migration 00005 (RFC 8628). */
export const deviceTables = ["device_authorizations"] as const

/** The throttles of migration 00010 (ADR 0027). */
export const throttleTables = ["throttles"] as const

export const tables = [
  "realms", "clients", "users", "resources", "trusted_issuers", "key_rings", "audit_heads", "audit_events", ...signInTables, ...stateTables,
  ...deviceTables, ...throttleTables
] as const

/** What `visibleRealms` shows pinned to a populated realm: one row per table, its 9 events and its 3 throttle keys. */
const only = (id: string): Record<(typeof tables)[number], ReadonlyArray<string>> => ({
  realms: [id], clients: [id], users: [id], resources: [id], trusted_issuers: [id], key_rings: [id], audit_heads: [id],
  audit_events: [id, id, id, id, id, id, id, id, id],
  grants: [id], codes: [id], sessions: [id], consents: [id], refresh_families: [id], refresh_tokens: [id],
  interactions: [id], access_tokens: [id], seen_jtis: [id],
  device_authorizations: [id], throttles: [id, id, id]
})

/** Which realm each visible row of every table belongs to, as raw `SELECT *` sees it after `setup`. */
const visibleRealms = (setup: Effect.Effect<unknown, SqlError, SqlClient.SqlClient>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql.withTransaction(Effect.zipRight(
      setup,
      Effect.forEach(tables, (table) =>
        Effect.map(
          sql.unsafe<Record<string, unknown>>(`SELECT * FROM ${table}`),
          (rows) => [table, rows.map((row) => row[table === "realms" ? "id" : "realm_id"])] as const
        ))
    ))).pipe(Effect.map(Object.fromEntries))

const pinTo = (realmId: string) => Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT set_config('app.realm_id', ${realmId}, true)`)

/** The SQLSTATE and message of a statement that must fail (a success fails the test with what it returned). */
export const sqlFailure = <A, R>(effect: Effect.Effect<A, SqlError, R>) =>
  Effect.flatMap(Effect.exit(effect), (exit) =>
    Exit.match(exit, {
      onSuccess: (value) => Effect.dieMessage(`expected a SQL error, got ${JSON.stringify(value)}`),
      onFailure: (cause) =>
        Option.match(Cause.failureOption(cause), {
          onNone: () => Effect.failCause(cause),
          onSome: (error) => {
            const pg = error.cause as { readonly code?: string; readonly message?: string }
            return Effect.succeed({ code: pg.code, message: pg.message })
          }
        })
    }))

/** Runs raw SQL as the application, in a transaction pinned to `realmId`. */
const asApp = (realmId: string, text: string, params: ReadonlyArray<unknown> = []) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe<Record<string, unknown>>(text, params).pipe(Sql.withRealm(realmId)))

const rlsViolation = (table: string) => ({ code: "42501", message: `new row violates row-level security policy for table "${table}"` })
const notOwner = (table: string, kind: "table" | "relation" = "table") => ({ code: "42501", message: `must be owner of ${kind} ${table}` })
const denied = (table: string) => ({ code: "42501", message: `permission denied for table ${table}` })

/** A row of realm `b` for each realm-scoped table (`realms`: a new realm row, which the policy ties to its own id). */
const foreignRows = (b: string): ReadonlyArray<readonly [string, string, ReadonlyArray<unknown>]> => [
  ["realms", "INSERT INTO realms (id, name, dynamic_registration, created_at) VALUES ($1, $2, false, now())", [b, `x-${b}`]],
  ["clients", "INSERT INTO clients (realm_id, client_id, metadata, created_at) VALUES ($1, 'evil', '{}', now())", [b]],
  ["users", "INSERT INTO users (realm_id, sub, username, username_key, password_hash, created_at) VALUES ($1, 'evil', 'evil', 'evil', 'x', now())", [b]],
  ["resources", "INSERT INTO resources (realm_id, uri, scopes, step_up_scopes, created_at) VALUES ($1, 'https://evil', '{}', '{}', now())", [b]],
  ["trusted_issuers", "INSERT INTO trusted_issuers (realm_id, issuer, keys, created_at) VALUES ($1, 'https://evil', '{}', now())", [b]],
  ["key_rings", "INSERT INTO key_rings (realm_id, version, keys) VALUES ($1, 99, '[]')", [b]],
  ["audit_heads", "INSERT INTO audit_heads (realm_id, seq, hash) VALUES ($1, 99, 'x')", [b]],
  [
    "audit_events",
    `INSERT INTO audit_events (realm_id, seq, id, at, realm, type, actor_type, actor_id, result, prev_hash, hash)
     VALUES ($1, 99, gen_random_uuid(), now(), 'x', 'login.succeeded', 'owner', 'x', 'success', 'x', 'x')`,
    [b]
  ],
  [
    "grants",
    `INSERT INTO grants (realm_id, grant_id, client_id, sub, scopes, resources, auth_time, acr, amr, created_at)
     VALUES ($1, 'evil', 'c1', 's1', '{}', '{}', now(), 'x', '{}', now())`,
    [b]
  ],
  [
    "codes",
    `INSERT INTO codes (realm_id, code_hash, client_id, grant_id, redirect_uri, code_challenge, expires_at)
     VALUES ($1, 'evil', 'c1', 'g1', 'https://evil', 'x', now())`,
    [b]
  ],
  [
    "sessions",
    `INSERT INTO sessions (realm_id, sid, cookie_hash, sub, auth_time, acr, amr, expires_at, client_ids)
     VALUES ($1, 'evil', 'evil', 's1', now(), 'x', '{}', now(), '{}')`,
    [b]
  ],
  ["consents", "INSERT INTO consents (realm_id, sub, client_id, scopes, resources, granted_at) VALUES ($1, 'evil', 'c1', '{}', '{}', now())", [b]],
  [
    "refresh_families",
    `INSERT INTO refresh_families (realm_id, family_id, client_id, grant_id, generation, current_hash, created_at, last_used_at)
     VALUES ($1, 'evil', 'c1', 'g1', 1, 'evil', now(), now())`,
    [b]
  ],
  ["refresh_tokens", "INSERT INTO refresh_tokens (realm_id, token_hash, family_id, generation) VALUES ($1, 'evil', 'f1', 1)", [b]],
  [
    "interactions",
    `INSERT INTO interactions (realm_id, id, request, csrf_hash, state, sid, created_at, expires_at)
     VALUES ($1, 'evil', '{}', 'evil', 'authenticated', 'sid1', now(), now() + interval '10 minutes')`,
    [b]
  ],
  ["access_tokens", "INSERT INTO access_tokens (realm_id, jti, grant_id, revoked, expires_at) VALUES ($1, 'evil', 'g1', true, now())", [b]],
  ["seen_jtis", "INSERT INTO seen_jtis (realm_id, issuer, jti, expires_at) VALUES ($1, 'c1', 'evil', now() + interval '1 hour')", [b]],
  [
    "device_authorizations",
    `INSERT INTO device_authorizations (realm_id, device_code_hash, user_code, client_id, scopes, resources, step_up, status,
       interval_seconds, version, created_at, expires_at)
     VALUES ($1, 'evil', 'ZZZZZZZZ', 'c1', '{}', '{}', false, 'pending', 5, 1, now(), now() + interval '10 minutes')`,
    [b]
  ],
  ["throttles", "INSERT INTO throttles (realm_id, key, failures, last_at, expires_at) VALUES ($1, 'user:alice', 99, now(), now() + interval '1 day')", [b]]
]

/** A port's failure, as `describe` tells it (a success or a defect fails the test). */
const failureOf = <A, E, R, D>(effect: Effect.Effect<A, E, R>, describe: (error: E) => D) =>
  Effect.flatMap(Effect.exit(effect), (exit) =>
    Exit.match(exit, {
      onSuccess: (value) => Effect.dieMessage(`expected a failure, got ${JSON.stringify(value)}`),
      onFailure: (cause) =>
        Option.match(Cause.failureOption(cause), { onNone: () => Effect.failCause(cause), onSome: (error) => Effect.succeed(describe(error)) })
    }))

/** A port's failure: its tag and the message of the SQL error under it. */
const storeFailure = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  failureOf(effect, (error) => {
    const { _tag, cause: sqlError } = error as { readonly _tag?: string; readonly cause?: { readonly cause?: { readonly message?: string } } }
    return { _tag, message: sqlError?.cause?.message }
  })

/** A port's failure: its tag, and the tag and table of its cause. */
const rowFailure = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  failureOf(effect, (error) => {
    const { _tag, cause: under } = error as { readonly _tag?: string; readonly cause?: { readonly _tag?: string; readonly table?: string } }
    return { _tag, cause: under?._tag, table: under?.table }
  })

const duplicate = (constraint: string) => ({ _tag: "StoreError", message: `duplicate key value violates unique constraint "${constraint}"` })

export const suite = (backend: Backend) =>
  layer(backend.store, { excludeTestServices: true })(`${backend.name}: isolation, atomicity and the audit chain in SQL`, (it) => {
    it.effect("the application's connection is tessera_app: not a superuser, no BYPASSRLS, owns nothing; every table forces RLS", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        // even when the connection string names a superuser, the session has taken the application role
        expect(yield* sql`SELECT current_user, session_user`).toEqual([{ current_user: "tessera_app", session_user: backend.sessionUser }])
        expect(yield* sql`SELECT rolsuper, rolbypassrls, rolinherit FROM pg_roles WHERE rolname = current_user`).toEqual([
          { rolsuper: false, rolbypassrls: false, rolinherit: false }
        ])
        expect(yield* sql`SELECT relname FROM pg_class WHERE relowner = 'tessera_app'::regrole`).toEqual([])
        const rls = yield* sql<{ relname: string; relrowsecurity: boolean; relforcerowsecurity: boolean }>`
          SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class
          WHERE relname IN ${sql.in(tables)} AND relnamespace = 'public'::regnamespace ORDER BY relname`
        expect(rls).toEqual([...tables].sort().map((relname) => ({ relname, relrowsecurity: true, relforcerowsecurity: true })))
      }))

    it.effect("with realm A set, raw SELECT * on every table shows A's rows and no row of B; with no realm, nothing", () =>
      Effect.gen(function*() {
        const a = yield* populatedRealm
        const b = yield* populatedRealm
        expect(yield* visibleRealms(pinTo(a.id))).toEqual(only(a.id))
        expect(yield* visibleRealms(pinTo(b.id))).toEqual(only(b.id))
        const nothing = Object.fromEntries(tables.map((table) => [table, []]))
        // no realm set: in a transaction, outside one, an empty setting and an unknown realm all see nothing
        expect(yield* visibleRealms(Effect.void)).toEqual(nothing)
        expect(yield* Effect.flatMap(SqlClient.SqlClient, (sql) => Effect.forEach(tables, (t) => sql.unsafe(`SELECT * FROM ${t}`))))
          .toEqual(tables.map(() => []))
        expect(yield* visibleRealms(pinTo(""))).toEqual(nothing)
        expect(yield* visibleRealms(pinTo(crypto.randomUUID()))).toEqual(nothing)
        // directory mode opens the realm directory (names to ids) and nothing realm-scoped
        const directory = yield* visibleRealms(Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT set_config('app.directory', 'on', true)`))
        expect(directory["realms"]).toEqual(expect.arrayContaining([a.id, b.id]))
        expect({ ...directory, realms: [] }).toEqual(nothing)
      }))

    it.effect("pinned to realm A, writing a row of realm B fails with an RLS violation, and B's rows cannot be changed", () =>
      Effect.gen(function*() {
        const a = (yield* populated).realm
        const populatedB = yield* populated
        const b = populatedB.realm
        for (const [table, text, params] of foreignRows(b.id)) {
          expect(yield* sqlFailure(asApp(a.id, text, params))).toEqual(rlsViolation(table))
        }
        // moving A's row into B is a write of a B row too
        for (const table of ["clients", ...signInTables, ...stateTables, ...deviceTables, ...throttleTables]) {
          expect(yield* sqlFailure(asApp(a.id, `UPDATE ${table} SET realm_id = $1 WHERE realm_id = $2`, [b.id, a.id]))).toEqual(rlsViolation(table))
        }
        // B's rows are invisible to A's UPDATE and DELETE: nothing is touched
        expect(yield* asApp(a.id, "UPDATE clients SET secret_hash = 'stolen' WHERE realm_id = $1 RETURNING client_id", [b.id])).toEqual([])
        expect(yield* asApp(a.id, "DELETE FROM users WHERE realm_id = $1 RETURNING sub", [b.id])).toEqual([])
        const steal: ReadonlyArray<string> = [
          "UPDATE grants SET revoked_at = now() WHERE realm_id = $1 RETURNING grant_id",
          "UPDATE codes SET redeemed = true WHERE realm_id = $1 RETURNING code_hash",
          "UPDATE sessions SET expires_at = expires_at + interval '1 year' WHERE realm_id = $1 RETURNING sid",
          "UPDATE consents SET scopes = '{admin}' WHERE realm_id = $1 RETURNING sub",
          "UPDATE refresh_families SET current_hash = 'stolen' WHERE realm_id = $1 RETURNING family_id",
          "UPDATE refresh_tokens SET generation = 99 WHERE realm_id = $1 RETURNING token_hash",
          "UPDATE interactions SET sid = 'stolen' WHERE realm_id = $1 RETURNING id",
          "UPDATE access_tokens SET grant_id = NULL WHERE realm_id = $1 RETURNING jti",
          "UPDATE seen_jtis SET expires_at = now() - interval '1 day' WHERE realm_id = $1 RETURNING jti",
          "UPDATE device_authorizations SET status = 'denied', sub = 'mallory' WHERE realm_id = $1 RETURNING device_code_hash",
          "UPDATE throttles SET failures = 0 WHERE realm_id = $1 RETURNING key"
        ]
        for (const text of steal) expect(yield* asApp(a.id, text, [b.id])).toEqual([])
        for (const table of [...signInTables, ...stateTables, ...deviceTables, ...throttleTables]) {
          expect(yield* asApp(a.id, `DELETE FROM ${table} WHERE realm_id = $1 RETURNING realm_id`, [b.id])).toEqual([])
        }
        // a DELETE with no WHERE at all reaches A's rows alone (its three throttle keys, one row of every other table)
        for (const table of ["key_rings", ...signInTables, ...stateTables, ...deviceTables, ...throttleTables] as const) {
          expect(yield* asApp(a.id, `DELETE FROM ${table} RETURNING realm_id`)).toEqual(only(a.id)[table].map((realm_id) => ({ realm_id })))
        }
        // every row of B is still there, unchanged as its ports read it
        expect(yield* visibleRealms(pinTo(b.id))).toEqual(only(b.id))
        const clients = yield* Clients.Clients
        expect(Option.getOrThrow(yield* clients.find(b.id, "c1")).secretHash).toBe("h")
        expect(Option.isSome(yield* Effect.flatMap(Users.Users, (users) => users.find(b.id, "s1")))).toBe(true)
        expect(Option.isSome(yield* Effect.flatMap(Keys.Keys, (keys) => keys.ring(b.id)))).toBe(true)
        const [codeHash, tokenHash, cookieHash] = yield* Effect.all([populatedB.code, populatedB.refreshToken, populatedB.cookie].map(Hash.sha256))
        expect(yield* Effect.flatMap(Grants.Grants, (grants) => grants.find(b.id, "g1"))).toEqual(Option.some(grantOf(b)))
        expect(yield* Effect.flatMap(Sessions.Sessions, (sessions) => sessions.findByCookie(b.id, cookieHash!)))
          .toEqual(Option.some(sessionOf(b, cookieHash!)))
        expect(yield* Effect.flatMap(Consents.Consents, (consents) => consents.find(b.id, "s1", "c1"))).toEqual(Option.some(consentOf(b)))
        expect(yield* Effect.flatMap(RefreshTokens.RefreshTokens, (refreshes) => refreshes.find(b.id, tokenHash!)))
          .toEqual(Option.some({ family: familyOf(b, tokenHash!), generation: 1, grant: Option.some(grantOf(b)) }))
        // still Issued: A's UPDATE never redeemed it (this consume is the first)
        expect(yield* Effect.flatMap(Codes.Codes, (codes) => codes.consume(b.id, codeHash!))).toEqual(Option.some({ code: codeOf(b), grant: Option.some(grantOf(b)) }))
        // the interaction, the token's grant link, the remembered jti and the counted failure, none of them touched by A
        yield* expectState(populatedB)
        expect(yield* trail(b)).toEqual([...populatedTrail])
        expect(yield* verify(b)).toEqual({ ok: true, events: 9 })
      }))

    it.effect("tessera_app cannot switch row-level security off, weaken it, or drop a policy", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        for (const table of tables) {
          expect(yield* sqlFailure(sql.unsafe(`ALTER TABLE ${table} DISABLE ROW LEVEL SECURITY`))).toEqual(notOwner(table))
          expect(yield* sqlFailure(sql.unsafe(`ALTER TABLE ${table} NO FORCE ROW LEVEL SECURITY`))).toEqual(notOwner(table))
          expect(yield* sqlFailure(sql.unsafe(`DROP POLICY ${table}_realm ON ${table}`))).toEqual(notOwner(table, "relation"))
          expect(yield* sqlFailure(sql.unsafe(`CREATE POLICY open ON ${table} USING (true)`))).toEqual(notOwner(table))
        }
        const [rls] = yield* sql`SELECT bool_and(relrowsecurity AND relforcerowsecurity) AS on FROM pg_class
          WHERE relname IN ${sql.in(tables)} AND relnamespace = 'public'::regnamespace`
        expect(rls).toEqual({ on: true })
      }))

    it.layer(backend.single)((it) => {
      it.effect("pooled-connection trap: after a realm transaction, a bare query on the same connection sees nothing", () =>
        Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          const a = yield* populatedRealm
          const inside = yield* Effect.flatMap(
            sql<{ pid: number; clients: string }>`SELECT pg_backend_pid() AS pid, (SELECT count(*) FROM clients) AS clients`,
            ([row]) => Effect.succeed(row!)
          ).pipe(Sql.withRealm(a.id))
          expect(inside.clients).toBe("1")
          const [after] = yield* sql<{ pid: number; realm: string | null }>`
            SELECT pg_backend_pid() AS pid, current_setting('app.realm_id', true) AS realm`
          // the same connection, which now carries '' (not NULL) for the setting: the policy's NULLIF keeps it empty
          expect(after).toEqual({ pid: inside.pid, realm: "" })
          expect(yield* Effect.forEach(tables, (t) => sql.unsafe(`SELECT * FROM ${t}`))).toEqual(tables.map(() => []))
        }))
    })

    // The authorization code store (a later issue) reuses this test for "50 concurrent consumes of one code".
    it.effect("compare-and-set: 50 concurrent key ring replacements at version 1, exactly one wins and records one event", () =>
      Effect.gen(function*() {
        const keys = yield* Keys.Keys
        const realm = yield* newRealm
        const ring = Option.getOrThrow(yield* keys.ring(realm.id))
        const next = { version: 2, keys: ring.keys.slice(1) }
        const exits = yield* Effect.forEach(
          Array.from({ length: 50 }, (_, i) => i),
          (i) => Effect.exit(keys.replace(realm.id, 1, next, Option.some(event(realm, "key.rotated", { reason: `attempt ${i}` })))),
          { concurrency: "unbounded" }
        )
        const winners = exits.flatMap((exit, i) => (Exit.isSuccess(exit) ? [i] : []))
        expect(winners).toHaveLength(1)
        const losers = exits.filter(Exit.isFailure).map((exit) => Option.getOrThrow(Cause.failureOption(exit.cause))._tag)
        expect(losers).toEqual(Array.from({ length: 49 }, () => "KeyRingChanged"))
        expect(Option.getOrThrow(yield* keys.ring(realm.id))).toEqual(next)
        const rotated = yield* Effect.flatMap(Audit.Audit, (audit) => audit.query(realm.id, { limit: 100, type: "key.rotated" }))
        expect(rotated.map((r) => r.event.reason)).toEqual([`attempt ${winners[0]}`])
        expect(yield* trail(realm)).toEqual(["key.rotated", "realm.created"])
        expect(yield* verify(realm)).toEqual({ ok: true, events: 2 })
      }))

    it.effect("RFC 6749 §4.1.2 single use: 20 concurrent code issues of one interaction, exactly one applies; nothing else is touched", () =>
      Effect.gen(function*() {
        const interactions = yield* Interactions.Interactions
        const { realm, interaction } = yield* populated
        const signedIn = Either.getOrThrow(Interactions.authenticate(interaction, "sid1", at))
        yield* interactions.apply(signedIn)
        const issued = Either.getOrThrow(Interactions.issueCode(signedIn, at))
        const results = yield* Effect.all(
          Array.from({ length: 20 }, () => Effect.either(interactions.apply(issued))),
          { concurrency: "unbounded" }
        )
        expect(results.filter(Either.isRight)).toHaveLength(1)
        expect(results.filter(Either.isLeft)).toHaveLength(19)
        expect(yield* interactions.find(realm.id, interaction.id)).toEqual(Option.some(issued))
        expect(yield* Effect.flip(interactions.apply(issued))).toEqual(new Interactions.InteractionChanged())
        expect(yield* visibleRealms(pinTo(realm.id))).toEqual(only(realm.id))
        expect(yield* trail(realm)).toEqual([...populatedTrail])
      }))

    it.effect("replay: 20 concurrent remembers of one jti, exactly one is true and one row is kept; of an expired one, again exactly one", () =>
      Effect.gen(function*() {
        const jtis = yield* JtiCache.JtiCache
        const realm = yield* newRealm
        const expiresAt = yield* jwtExpiry
        const jti = crypto.randomUUID()
        const race = (until: DateTime.Utc) =>
          Effect.all(Array.from({ length: 20 }, () => jtis.remember(realm.id, "c1", jti, until)), { concurrency: "unbounded" })
        const seen = asApp(realm.id, "SELECT issuer, jti, expires_at FROM seen_jtis")
        expect((yield* race(expiresAt)).filter(Boolean)).toHaveLength(1)
        expect(yield* seen).toEqual([{ issuer: "c1", jti, expires_at: new Date(DateTime.toEpochMillis(expiresAt)) }])
        expect(yield* jtis.remember(realm.id, "c1", jti, expiresAt)).toBe(false)
        // an entry past its expiry is replaced by one of the racers, once: the row is locked, the rest see it live
        yield* asApp(realm.id, "UPDATE seen_jtis SET expires_at = now() - interval '1 second' WHERE jti = $1 RETURNING jti", [jti])
        const later = DateTime.addDuration(expiresAt, Duration.minutes(1))
        expect((yield* race(later)).filter(Boolean)).toHaveLength(1)
        expect(yield* seen).toEqual([{ issuer: "c1", jti, expires_at: new Date(DateTime.toEpochMillis(later)) }])
        expect(yield* trail(realm)).toEqual(["realm.created"])
      }))

    it.effect("replay (RFC 9449 §11.1): every DPoP proof leaves a row, and remembering drops expired ones: the table stays the live window", () =>
      Effect.gen(function*() {
        const jtis = yield* JtiCache.JtiCache
        const realm = yield* newRealm
        const issuer = JtiCache.dpopIssuer("https://as.example/realms/r/token")
        const count = Effect.map(asApp(realm.id, "SELECT count(*)::int AS n FROM seen_jtis"), (rows) => rows[0]!["n"])
        const now = yield* DateTime.now
        // 40 proofs whose window has closed
        for (let i = 0; i < 40; i++) {
          yield* asApp(realm.id, "INSERT INTO seen_jtis (realm_id, issuer, jti, expires_at) VALUES ($1, $2, $3, now() - interval '1 minute') RETURNING jti", [
            realm.id, issuer, `old-${i}`
          ])
        }
        expect(yield* count).toBe(40)
        // each new proof drops up to 16 expired rows: three proofs later only the three live ones are left
        for (let i = 0; i < 3; i++) expect(yield* jtis.remember(realm.id, issuer, `new-${i}`, DateTime.add(now, { minutes: 1 }))).toBe(true)
        expect(yield* count).toBe(3)
        // a purged jti was expired anyway: it is accepted again, and a live one still is not
        expect(yield* jtis.remember(realm.id, issuer, "old-0", DateTime.add(now, { minutes: 1 }))).toBe(true)
        expect(yield* jtis.remember(realm.id, issuer, "new-0", DateTime.add(now, { minutes: 1 }))).toBe(false)
      }))

    it.effect("replay (ADR 0056): one batch's statement answers each use: of one jti's uses exactly one is new, one remembered before is a replay, one forgotten is new again", () =>
      Effect.gen(function*() {
        const realm = yield* newRealm
        const now = yield* Clock.currentTimeMillis
        const live = now + 60_000
        const seen = asApp(realm.id, "SELECT issuer, jti, expires_at FROM seen_jtis ORDER BY issuer, jti")
        const use = (jti: string, expiresAt = live, issuer = "c1") => ({ issuer, jti, expiresAt, now })
        expect(yield* PgJtiCache.rememberAll(realm.id, [use("a"), use("b"), use("a"), use("c"), use("b"), use("a"), use("a", live, "c2")]))
          .toEqual([true, true, false, true, false, false, true])
        // a batch meets the table: a and c remembered by the first, d new, d again a replay within the batch
        expect(yield* PgJtiCache.rememberAll(realm.id, [use("d"), use("a"), use("d"), use("c")])).toEqual([true, false, false, false])
        // uses past their expiry are forgotten at once, so each is new; the live one after them is remembered
        expect(yield* PgJtiCache.rememberAll(realm.id, [use("e", now - 1000), use("e", now - 1000), use("e"), use("e")]))
          .toEqual([true, true, true, false])
        const row = (jti: string, issuer = "c1") => ({ issuer, jti, expires_at: new Date(live) })
        expect(yield* seen).toEqual([row("a"), row("b"), row("c"), row("d"), row("e"), row("a", "c2")])
      }))

    it.effect("replay (ADR 0056): a batch whose statement fails fails each of its callers with the store's error, once: 20 concurrent uses in a deleted realm are each RealmGone, nothing written", () =>
      Effect.gen(function*() {
        const jtis = yield* JtiCache.JtiCache
        const realm = yield* newRealm
        const expiresAt = yield* jwtExpiry
        yield* Effect.flatMap(Realms.Realms, (realms) =>
          realms.delete(realm, realm.version, () => event(realm, "realm.deleted", { realmId: Audit.ownerTrail, subject: realm.id })))
        const exits = yield* Effect.all(
          Array.from({ length: 20 }, (_, i) => Effect.exit(jtis.remember(realm.id, "c1", `gone-${i % 5}`, expiresAt))),
          { concurrency: "unbounded" }
        )
        expect(exits.map((exit) =>
          Exit.isFailure(exit) && Option.match(Cause.failureOption(exit.cause), {
            onNone: () => "not a failure",
            onSome: (e) => e._tag === "StoreError" && StoreError.isRealmGone(e) ? "RealmGone" : e._tag
          })
        )).toEqual(Array.from({ length: 20 }, () => "RealmGone"))
        expect(yield* asApp(realm.id, "SELECT count(*)::int AS n FROM seen_jtis")).toEqual([{ n: 0 }])
      }))

    it.effect("replay (ADR 0056, ADR 0047): a jti the database cannot hold (U+0000, a lone surrogate, longer than maxLength) fails its own caller alone; the uses beside it are answered", () =>
      Effect.gen(function*() {
        const jtis = yield* JtiCache.JtiCache
        const realm = yield* newRealm
        const expiresAt = yield* jwtExpiry
        const uses = ["fine-1", "nul\u0000jti", "fine-2", "lone-\ud800", "x".repeat(JtiCache.maxLength + 1), "fine-3"]
        const exits = yield* Effect.all(uses.map((jti) => Effect.exit(jtis.remember(realm.id, "c1", jti, expiresAt))), { concurrency: "unbounded" })
        expect(exits.map((exit) =>
          Exit.match(exit, {
            onSuccess: (fresh) => fresh,
            onFailure: (cause) => Option.getOrUndefined(Option.map(Cause.failureOption(cause), (e) => `${e._tag}: ${(e.cause as { _tag?: string })._tag}`))
          })
        )).toEqual([true, "StoreError: JtiRefused", true, "StoreError: JtiRefused", "StoreError: JtiRefused", true])
        // the issuer is held to the same: a lone surrogate or U+0000 in it is refused, never stored
        const issuer = yield* Effect.flip(jtis.remember(realm.id, "c\u0000", "fine-4", expiresAt))
        expect((issuer.cause as { _tag?: string })._tag).toBe("JtiRefused")
        expect((yield* asApp(realm.id, "SELECT jti FROM seen_jtis ORDER BY jti")).map((r) => r["jti"])).toEqual(["fine-1", "fine-2", "fine-3"])
      }))

    it.effect("replay (ADR 0056): an issuer and jti too long for the key's index entry (a 2 000-byte trusted issuer URL, 255 three-byte characters) fail their own caller alone, not their batch-mates (PostgreSQL: index row size exceeds btree maximum 2704)", () =>
      Effect.gen(function*() {
        const jtis = yield* JtiCache.JtiCache
        const realm = yield* newRealm
        const expiresAt = yield* jwtExpiry
        // random characters: a repeated one would be compressed inside the index entry and fit
        const noise = (n: number) => Buffer.from(crypto.getRandomValues(new Uint8Array(n))).toString("base64url").slice(0, n)
        const longIssuer = `https://issuer.example/${noise(1_980)}`
        const uses: Array<readonly [string, string]> = [
          ["c1", "fine-0"], ["c1", "fine-1"], [longIssuer, "\u20ac".repeat(JtiCache.maxLength)], ["c1", "fine-2"],
          [noise(4_000), "x"], ["c1", "fine-3"], [longIssuer, "short"]
        ]
        const exits = yield* Effect.all(uses.map(([iss, jti]) => Effect.exit(jtis.remember(realm.id, iss, jti, expiresAt))), { concurrency: "unbounded" })
        expect(exits.map((exit) =>
          Exit.match(exit, {
            onSuccess: (fresh) => fresh,
            onFailure: (cause) => Option.getOrUndefined(Option.map(Cause.failureOption(cause), (e) => `${e._tag}: ${(e.cause as { _tag?: string })._tag}`))
          })
        )).toEqual([true, true, "StoreError: JtiRefused", true, "StoreError: JtiRefused", true, true])
        expect((yield* asApp(realm.id, "SELECT jti FROM seen_jtis ORDER BY jti")).map((r) => r["jti"])).toEqual(["fine-0", "fine-1", "fine-2", "fine-3", "short"])
      }))

    it.effect("replay (RFC 9449 §11.1, ADR 0056): the sweep holds in batches: 40 expired rows, 3 concurrent proofs later only the 3 live ones are left", () =>
      Effect.gen(function*() {
        const jtis = yield* JtiCache.JtiCache
        const realm = yield* newRealm
        const issuer = JtiCache.dpopIssuer("https://as.example/realms/r/token")
        const count = Effect.map(asApp(realm.id, "SELECT count(*)::int AS n FROM seen_jtis"), (rows) => rows[0]!["n"])
        for (let i = 0; i < 40; i++) {
          yield* asApp(realm.id, "INSERT INTO seen_jtis (realm_id, issuer, jti, expires_at) VALUES ($1, $2, $3, now() - interval '1 minute') RETURNING jti", [
            realm.id, issuer, `old-${i}`
          ])
        }
        const until = DateTime.add(yield* DateTime.now, { minutes: 1 })
        // however the three are batched, each use drops up to 16: 48 at least
        expect(yield* Effect.all([0, 1, 2].map((i) => jtis.remember(realm.id, issuer, `new-${i}`, until)), { concurrency: "unbounded" }))
          .toEqual([true, true, true])
        expect(yield* count).toBe(3)
      }))

    it.effect("atomic audit: an event the transaction cannot write (another realm's) takes the client row down with it", () =>
      Effect.gen(function*() {
        const clients = yield* Clients.Clients
        const a = yield* newRealm
        const b = yield* newRealm
        // the client row is inserted first, then the event for realm B violates RLS inside A's transaction
        const exit = yield* Effect.exit(clients.insert(client(a, "orphan"), event(b, "client.created", { clientId: "orphan" })))
        const error = Exit.isFailure(exit) ? Option.getOrNull(Cause.failureOption(exit.cause)) : null
        expect(error?._tag).toBe("StoreError")
        expect((((error as { cause?: { cause?: unknown } })?.cause)?.cause as { message?: string })?.message)
          .toBe(rlsViolation("audit_events").message)
        expect(Option.isNone(yield* clients.find(a.id, "orphan"))).toBe(true)
        expect(yield* clients.list(a.id)).toEqual([])
        expect(yield* trail(a)).toEqual(["realm.created"])
        expect(yield* trail(b)).toEqual(["realm.created"])
        expect(yield* verify(a)).toEqual({ ok: true, events: 1 })
        expect(yield* verify(b)).toEqual({ ok: true, events: 1 })
      }))

    it.effect("atomic audit: a failure, a defect or an interruption after the change and before commit leaves neither", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const clients = yield* Clients.Clients
        const realm = yield* newRealm
        const change = (clientId: string) =>
          Effect.gen(function*() {
            yield* clients.insert(client(realm, clientId), event(realm, "client.created", { clientId }))
            // the change and its event are really there, inside the transaction
            expect(Option.isSome(yield* clients.find(realm.id, clientId))).toBe(true)
            expect(yield* trail(realm)).toEqual(["client.created", "realm.created"])
          })
        expect(yield* Effect.exit(sql.withTransaction(change("failed").pipe(Effect.zipRight(Effect.fail("injected" as const))))))
          .toEqual(Exit.fail("injected"))
        const died = yield* Effect.exit(sql.withTransaction(change("died").pipe(Effect.zipRight(Effect.dieMessage("boom")))))
        expect(Exit.isFailure(died) && Cause.isDie(died.cause)).toBe(true)
        const changed = yield* Deferred.make<void>()
        const fiber = yield* Effect.fork(
          sql.withTransaction(change("interrupted").pipe(Effect.zipRight(Deferred.succeed(changed, undefined)), Effect.zipRight(Effect.never)))
        )
        yield* Deferred.await(changed)
        yield* Fiber.interrupt(fiber)
        expect(yield* clients.list(realm.id)).toEqual([])
        expect(yield* trail(realm)).toEqual(["realm.created"])
        expect(yield* verify(realm)).toEqual({ ok: true, events: 1 })
        // and the realm still takes writes: nothing was left locked or half-done
        yield* clients.insert(client(realm, "after"), event(realm, "client.created"))
        expect(yield* verify(realm)).toEqual({ ok: true, events: 2 })
      }))

    it.effect("atomic audit: a refused duplicate (client, user, realm name, session, cookie, grant, code, refresh family or token, interaction, replayed jti, device or user code) leaves no event, no chain and no row", () =>
      Effect.gen(function*() {
        const clients = yield* Clients.Clients
        const users = yield* Users.Users
        const realms = yield* Realms.Realms
        const { realm, code, refreshToken, cookie, interaction, deviceCode, accessJti, assertionJti, expiresAt } = yield* populated
        expect(yield* Effect.exit(clients.insert(client(realm, "c1"), event(realm, "client.created")))).toEqual(
          Exit.fail(expect.objectContaining({ _tag: "AlreadyExists", entity: "client" }))
        )
        const alice = { realmId: realm.id, sub: "s2", username: "ALICE", passwordHash: "$argon2id$x", roles: [], disabled: false, version: 1, createdAt: at } as const
        expect(yield* Effect.exit(users.insert(alice, event(realm, "user.created")))).toEqual(
          Exit.fail(expect.objectContaining({ _tag: "AlreadyExists", entity: "user" }))
        )
        const twin = { ...realm, id: crypto.randomUUID() }
        const ring = Option.getOrThrow(yield* Effect.flatMap(Keys.Keys, (keys) => keys.ring(realm.id)))
        expect(yield* Effect.exit(realms.create(twin, ring, event(twin, "realm.created")))).toEqual(
          Exit.fail(expect.objectContaining({ _tag: "AlreadyExists", entity: "realm" }))
        )
        // the sign-in stores map no duplicate to a domain error: the unique constraint refuses it, as a StoreError
        const [codeHash, tokenHash, cookieHash] = yield* Effect.all([code, refreshToken, cookie].map(Hash.sha256))
        const sessions = yield* Sessions.Sessions
        const login = event(realm, "login.succeeded", { subject: "s1" })
        expect(yield* storeFailure(sessions.create(sessionOf(realm, "another cookie"), login))).toEqual(duplicate("sessions_pkey"))
        expect(yield* storeFailure(sessions.create({ ...sessionOf(realm, cookieHash!), sid: "sid2" }, login)))
          .toEqual(duplicate("sessions_realm_id_cookie_hash_key"))
        expect(yield* storeFailure(Effect.flatMap(Grants.Grants, (grants) => grants.insert(grantOf(realm), event(realm, "consent.granted")))))
          .toEqual(duplicate("grants_pkey"))
        expect(yield* storeFailure(Effect.flatMap(Codes.Codes, (codes) => codes.insert(codeHash!, codeOf(realm))))).toEqual(duplicate("codes_pkey"))
        const refreshes = yield* RefreshTokens.RefreshTokens
        expect(yield* storeFailure(refreshes.create(familyOf(realm, "another token"), "another token", event(realm, "token.issued"))))
          .toEqual(duplicate("refresh_families_pkey"))
        // a new family whose token hash is taken: the family row written first goes down with the token row
        const taken = { ...familyOf(realm, tokenHash!), familyId: "f2" }
        expect(yield* storeFailure(refreshes.create(taken, tokenHash!, event(realm, "token.issued")))).toEqual(duplicate("refresh_tokens_pkey"))
        // an interaction id taken (even with another CSRF hash) is a StoreError too, and the first one is left as it was
        const interactions = yield* Interactions.Interactions
        expect(yield* storeFailure(interactions.create({ ...interaction, csrfHash: "another csrf hash" }))).toEqual(duplicate("interactions_pkey"))
        expect(yield* interactions.find(realm.id, interaction.id)).toEqual(Option.some(interaction))
        // a device code taken is a StoreError; a user code taken is the port's UserCodeTaken (the caller draws another)
        const devices = yield* DeviceAuthorizations.DeviceAuthorizations
        const deviceHash = yield* Hash.sha256(deviceCode)
        expect(yield* storeFailure(devices.insert({ ...deviceOf(realm, deviceHash), userCode: "CDFGHJKL" })))
          .toEqual(duplicate("device_authorizations_pkey"))
        expect(yield* Effect.exit(devices.insert(deviceOf(realm, "another device code hash")))).toEqual(
          Exit.fail(expect.objectContaining({ _tag: "UserCodeTaken" }))
        )
        expect(yield* devices.findByUserCode(realm.id, "CDFGHJKL")).toEqual(Option.none())
        // a replayed jti is refused without a row; the same access token recorded again stays one row
        expect(yield* Effect.flatMap(JtiCache.JtiCache, (jtis) => jtis.remember(realm.id, "c1", assertionJti, expiresAt))).toBe(false)
        yield* Effect.flatMap(AccessTokens.AccessTokens, (tokens) => tokens.record(realm.id, accessJti, "g1", expiresAt))
        expect(yield* visibleRealms(pinTo(realm.id))).toEqual(only(realm.id))
        expect(yield* trail(realm)).toEqual([...populatedTrail])
        expect(yield* asApp(realm.id, "SELECT seq FROM audit_heads")).toEqual([{ seq: "9" }])
        expect(yield* trail(twin)).toEqual([])
        expect(yield* visibleRealms(pinTo(twin.id))).toEqual(Object.fromEntries(tables.map((table) => [table, []])))
        expect(yield* verify(realm)).toEqual({ ok: true, events: 9 })
      }))

    it.effect("append-only: UPDATE, DELETE and TRUNCATE on the audit trail are denied to tessera_app, even in its realm", () =>
      Effect.gen(function*() {
        const realm = yield* populatedRealm
        expect(yield* sqlFailure(asApp(realm.id, "UPDATE audit_events SET subject = 'x' WHERE realm_id = $1", [realm.id])))
          .toEqual(denied("audit_events"))
        expect(yield* sqlFailure(asApp(realm.id, "DELETE FROM audit_events WHERE realm_id = $1", [realm.id]))).toEqual(denied("audit_events"))
        expect(yield* sqlFailure(asApp(realm.id, "TRUNCATE audit_events"))).toEqual(denied("audit_events"))
        expect(yield* sqlFailure(asApp(realm.id, "DELETE FROM audit_heads WHERE realm_id = $1", [realm.id]))).toEqual(denied("audit_heads"))
        expect(yield* verify(realm)).toEqual({ ok: true, events: 9 })
      }))

    it.effect("hash chain: an event edited by the owner is named by verify; an untouched realm still verifies", () =>
      Effect.gen(function*() {
        const owner = yield* Owner
        const audit = yield* Audit.Audit
        const a = yield* populatedRealm
        const b = yield* populatedRealm
        const stored = yield* audit.query(a.id, { limit: 10, type: "user.created" })
        const edited = stored[0]!.event
        expect(yield* owner.run(a.id, "SELECT current_user")).not.toEqual([{ current_user: "tessera_app" }])
        expect(yield* owner.run(a.id, "UPDATE audit_events SET subject = 'mallory' WHERE realm_id = $1 AND id = $2 RETURNING id", [a.id, edited.id]))
          .toEqual([{ id: edited.id }])
        expect(yield* verify(a)).toEqual({ ok: false, firstBroken: edited.id })
        expect(yield* verify(b)).toEqual({ ok: true, events: 9 })
      }))

    it.effect("hash chain: an owner who recomputes the edited event's hash, or deletes an event, breaks the next one", () =>
      Effect.gen(function*() {
        const owner = yield* Owner
        const audit = yield* Audit.Audit
        const a = yield* populatedRealm
        const b = yield* populatedRealm
        const bySeq = (realm: Realm.Realm) =>
          Effect.map(audit.query(realm.id, { limit: 100 }), (rows) => (seq: number) => rows.find((r) => r.seq === seq)!.event)
        // seq 3 of 9 is rewritten with a hash consistent with its new content: its successor no longer points at it
        const inA = yield* bySeq(a)
        const [{ prev_hash }] = (yield* owner.run(a.id, "SELECT prev_hash FROM audit_events WHERE realm_id = $1 AND seq = 3", [a.id])) as [
          { prev_hash: string }
        ]
        const hash = yield* AuditChain.link(prev_hash, { ...inA(3), subject: "mallory" })
        expect(yield* owner.run(a.id, "UPDATE audit_events SET subject = 'mallory', hash = $2 WHERE realm_id = $1 AND seq = 3 RETURNING seq", [a.id, hash]))
          .toEqual([{ seq: "3" }])
        expect(yield* verify(a)).toEqual({ ok: false, firstBroken: inA(4).id })
        // an event deleted from the middle: its successor is named
        const inB = yield* bySeq(b)
        expect(yield* owner.run(b.id, "DELETE FROM audit_events WHERE realm_id = $1 AND seq = 3 RETURNING seq", [b.id])).toEqual([{ seq: "3" }])
        expect(yield* verify(b)).toEqual({ ok: false, firstBroken: inB(4).id })
      }))

    it.effect("ADR 0054: a row no state can be read from is a StoreError, never a state: an interaction's request of another shape, a key of no known state", () =>
      Effect.gen(function*() {
        const owner = yield* Owner
        const { realm, interaction } = yield* populated
        const interactions = yield* Interactions.Interactions
        const keys = yield* Keys.Keys
        yield* owner.run(realm.id, `UPDATE interactions SET request = request || '{"responseMode":"fragment"}' WHERE realm_id = $1 AND id = $2`, [realm.id, interaction.id])
        expect(yield* rowFailure(interactions.find(realm.id, interaction.id))).toEqual({ _tag: "StoreError", cause: "RowRejected", table: "interactions" })
        yield* owner.run(realm.id, `UPDATE key_rings SET keys = jsonb_set(keys, '{0,status}', '"deleted"') WHERE realm_id = $1`, [realm.id])
        expect(yield* rowFailure(keys.ring(realm.id))).toEqual({ _tag: "StoreError", cause: "RowRejected", table: "key_rings" })
        // undone, both read back
        yield* owner.run(realm.id, `UPDATE interactions SET request = request || '{"responseMode":"query"}' WHERE realm_id = $1 AND id = $2`, [realm.id, interaction.id])
        yield* owner.run(realm.id, `UPDATE key_rings SET keys = jsonb_set(keys, '{0,status}', '"active"') WHERE realm_id = $1`, [realm.id])
        expect(yield* interactions.find(realm.id, interaction.id)).toEqual(Option.some(interaction))
        expect(Option.isSome(yield* keys.ring(realm.id))).toBe(true)
      }))

    it.effect("hash chain: an owner's edit of any column the link covers is named by verify; undone, the trail verifies again (ADR 0007, 0042)", () =>
      Effect.gen(function*() {
        const owner = yield* Owner
        const realm = yield* populatedRealm
        const seq = 5
        const [original] = yield* owner.run(realm.id, "SELECT to_jsonb(e) AS row FROM audit_events e WHERE realm_id = $1 AND seq = $2", [realm.id, seq])
        const nullable = ["subject", "client_id", "grant_type", "resource", "scope", "reason", "ip", "user_agent"]
        // each edit changes one column of one event, as SQL; a nullable column is both changed and emptied, or filled
        const edits: ReadonlyArray<readonly [string, string]> = [
          ["id", "gen_random_uuid()"],
          ["at", "at + interval '1 millisecond'"],
          ["realm", "realm || 'x'"],
          ["type", "CASE type WHEN 'token.revoked' THEN 'token.issued' ELSE 'token.revoked' END"],
          ["actor_type", "CASE actor_type WHEN 'user' THEN 'client' ELSE 'user' END"],
          ["actor_id", "actor_id || 'x'"],
          ["result", "CASE result WHEN 'success' THEN 'failure' ELSE 'success' END"],
          ["act", `CASE WHEN act IS NULL THEN '{"sub":"mallory"}'::jsonb ELSE NULL END`],
          ["act", `'{"sub":"mallory","act":{"sub":"agent"}}'::jsonb`],
          ...nullable.flatMap((column) => [
            [column, `coalesce(${column} || 'x', 'x')`] as const,
            [column, `CASE WHEN ${column} IS NULL THEN 'x' ELSE NULL END`] as const
          ])
        ]
        for (const [column, value] of edits) {
          const [edited] = yield* owner.run(realm.id, `UPDATE audit_events SET ${column} = ${value} WHERE realm_id = $1 AND seq = $2 RETURNING id::text`, [realm.id, seq])
          expect(yield* verify(realm), `${column} = ${value}`).toEqual({ ok: false, firstBroken: edited!["id"] })
          yield* owner.run(realm.id, `UPDATE audit_events e SET ${column} = r.${column} FROM jsonb_populate_record(NULL::audit_events, $3::jsonb) r
            WHERE e.realm_id = $1 AND e.seq = $2`, [realm.id, seq, JSON.stringify(original!["row"])])
          expect(yield* verify(realm), `${column} restored`).toEqual({ ok: true, events: 9 })
        }
      }))

    it.effect("ADR 0007, ADR 0042: every link read back from its row has the canonical bytes its event had at append (420 varied events: every actor type, unicode, every control character, large details, nested act), and verifies", () =>
      Effect.gen(function*() {
        const audit = yield* Audit.Audit
        const users = yield* Users.Users
        const realm = yield* newRealm
        const random = prng(42)
        const value = generate(random, storable, true)
        const pick = <A>(list: ReadonlyArray<A>): A => list[Math.floor(random() * list.length)]!
        const text = () => (random() < 0.5 ? pick(storable) : pick(storable) + pick(storable))
        const maybe = <A>(a: () => A) => (random() < 0.6 ? a() : undefined)
        const actorTypes: ReadonlyArray<AuditEvent.ActorType> = ["user", "client", "agent", "owner", "tenant_admin"]
        const types: ReadonlyArray<AuditEvent.EventType> = ["token.exchanged", "login.failed", "user.updated", "realm.created", "id_jag.issued"]
        // the first and last instants of four-digit years, both sides of 1970, a leap day; then any millisecond of 1900-2100
        const edges = ["0001-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z", "1969-12-31T23:59:59.999Z", "1970-01-01T00:00:00.000Z", "2024-02-29T23:59:59.999Z"]
        const instant = (i: number) => i < edges.length ? Date.parse(edges[i]!) : Date.UTC(1900, 0, 1) + Math.floor(random() * 6_311_433_600_000)
        const large = (i: number) => i % 50 === 7
        const eventAt = (i: number) => ({
          id: crypto.randomUUID(),
          at: DateTime.unsafeMake(instant(i)),
          realmId: realm.id,
          realm: i % 3 === 0 ? text() : realm.name,
          type: pick(types),
          actor: { type: actorTypes[i % actorTypes.length]!, id: large(i) ? text().repeat(500) : text() },
          subject: maybe(text),
          clientId: maybe(text),
          grantType: maybe(text),
          resource: maybe(text),
          scope: maybe(text),
          // RFC 8693 §4.1: a delegation chain, or any JSON value but a bare null (the jsonb column's NULL is no `act`, and
          // no event has `act: null`); for a large event, 300 members
          act: large(i)
            ? Object.fromEntries(Array.from({ length: 300 }, (_, k) => [`${text()}${k}`, { sub: text(), act: value(1) }]))
            : maybe(() => (random() < 0.5 ? { sub: text(), act: { sub: text(), act: value(2) } } : value(0) ?? { sub: null })),
          result: random() < 0.5 ? "success" : "failure",
          // a large event's reason and user agent near the request body's 64 KiB
          reason: large(i) ? storable.join("|").repeat(120) : maybe(text),
          ip: maybe(text),
          userAgent: large(i) ? text().repeat(1000) : maybe(text)
        }) as AuditEvent.AuditEvent
        const events = Array.from({ length: 420 }, (_, i) => eventAt(i))
        // the group-committed standalone append (audit_append_batch) and the append with a change (audit_append)
        for (const e of events.slice(0, 400)) yield* audit.append(e)
        for (const [k, e] of events.slice(400).entries()) {
          yield* users.insert({ realmId: realm.id, sub: `s${k}`, username: `u${k}`, passwordHash: "$argon2id$x", roles: [], disabled: false, version: 1, createdAt: at }, e)
        }
        const links = yield* audit.links(realm.id, 0, 1000)
        expect(links.length).toBe(421)
        expect(links.slice(1).map((l) => [l.id, l.canonical()])).toEqual(events.map((e) => [e.id, oracle(e)]))
        // the append wrote the same text (the hash the database computed is over it)
        expect(events.map((e) => AuditChain.canonical(e))).toEqual(events.map(oracle))
        const hashes = yield* Effect.forEach(links, (l) => Hash.sha256(AuditChain.linked(l.prevHash, l.canonical()!)))
        expect(hashes).toEqual(links.map((l) => l.hash))
        expect(yield* verify(realm)).toEqual({ ok: true, events: 421 })
      }))

    it.effect("hash chain: an owner's edit that no event could have (an unknown actor type or result, a time off the millisecond or past any Date, an act too deep to write, a tab in a hash) is named by verify, never a store error (CONTRACT §3 audit/verify, issue 15)", () =>
      Effect.gen(function*() {
        const owner = yield* Owner
        const realm = yield* populatedRealm
        const seq = 5
        const [original] = yield* owner.run(realm.id, "SELECT to_jsonb(e) AS row FROM audit_events e WHERE realm_id = $1 AND seq = $2", [realm.id, seq])
        const edits: ReadonlyArray<readonly [string, string]> = [
          ["actor_type", "'robot'"],
          ["result", "'maybe'"],
          ["at", "'infinity'"],
          ["at", "'-infinity'"],
          ["at", "at + interval '1 microsecond'"],
          ["at", "'294000-01-01T00:00:00Z'"],
          ["at", "'4000-01-01T00:00:00Z BC'"],
          // deeper than a recursive writer's stack: PostgreSQL stores up to about 14 000 levels (PGlite's smaller stack
          // refuses more than about 5 000 itself, which JavaScript writes)
          ...(backend.name === "PostgreSQL" ? [["act", "(repeat('[', 12000) || repeat(']', 12000))::jsonb"] as const] : []),
          ["hash", "hash || E'\\t'"],
          ["hash", "E'\\n' || hash"],
          ["prev_hash", "prev_hash || E'\\t\\t'"]
        ]
        for (const [column, value] of edits) {
          const [edited] = yield* owner.run(realm.id, `UPDATE audit_events SET ${column} = ${value} WHERE realm_id = $1 AND seq = $2 RETURNING id::text`, [realm.id, seq])
          expect(yield* Effect.either(verify(realm)), `${column} = ${value}`).toEqual(Either.right({ ok: false, firstBroken: edited!["id"] }))
          yield* owner.run(realm.id, `UPDATE audit_events e SET ${column} = r.${column} FROM jsonb_populate_record(NULL::audit_events, $3::jsonb) r
            WHERE e.realm_id = $1 AND e.seq = $2`, [realm.id, seq, JSON.stringify(original!["row"])])
          expect(yield* verify(realm), `${column} restored`).toEqual({ ok: true, events: 9 })
        }
        // the last event renumbered past any position JavaScript counts exactly
        const [last] = yield* owner.run(realm.id, "UPDATE audit_events SET seq = 4611686018427387904 WHERE realm_id = $1 AND seq = 9 RETURNING id::text", [realm.id])
        expect(yield* Effect.either(verify(realm))).toEqual(Either.right({ ok: false, firstBroken: last!["id"] }))
      }))

    it.effect("rows decode through their schemas (issue 18): an owner's edit that breaks a jsonb column, or a role no schema knows, is a StoreError naming the table, never a defect", () =>
      Effect.gen(function*() {
        const owner = yield* Owner
        const realm = yield* populatedRealm
        const clients = yield* Clients.Clients
        const issuers = yield* TrustedIssuers.TrustedIssuers
        const resources = yield* Resources.Resources
        const users = yield* Users.Users
        const breaks: ReadonlyArray<readonly [string, string]> = [
          ["clients", `UPDATE clients SET metadata = metadata || '{"redirectUris": 5}' WHERE realm_id = $1`],
          ["trusted_issuers", `UPDATE trusted_issuers SET keys = '{"_tag": "Jwks"}' WHERE realm_id = $1`],
          ["resources", `UPDATE resources SET scope_descriptions = '{"read": 5}' WHERE realm_id = $1`],
          ["users", "UPDATE users SET roles = '{root}' WHERE realm_id = $1"]
        ]
        for (const [table, statement] of breaks) yield* owner.run(realm.id, statement, [realm.id])
        const rejected = (table: string) => ({ _tag: "StoreError", cause: "RowRejected", table })
        expect(yield* rowFailure(clients.find(realm.id, "c1"))).toEqual(rejected("clients"))
        expect(yield* rowFailure(clients.list(realm.id))).toEqual(rejected("clients"))
        expect(yield* rowFailure(clients.page(realm.id, { limit: 10 }))).toEqual(rejected("clients"))
        expect(yield* rowFailure(issuers.find(realm.id, "https://idp.example"))).toEqual(rejected("trusted_issuers"))
        expect(yield* rowFailure(issuers.list(realm.id))).toEqual(rejected("trusted_issuers"))
        expect(yield* rowFailure(resources.find(realm.id, "https://api.example"))).toEqual(rejected("resources"))
        expect(yield* rowFailure(resources.list(realm.id))).toEqual(rejected("resources"))
        expect(yield* rowFailure(users.find(realm.id, "s1"))).toEqual(rejected("users"))
        expect(yield* rowFailure(users.findByUsername(realm.id, "alice"))).toEqual(rejected("users"))
        // another realm's rows are untouched and still read
        const other = yield* populatedRealm
        expect(Option.map(yield* clients.find(other.id, "c1"), (c) => c.metadata)).toEqual(Option.some(metadata))
      }))

    it.effect("secrets at rest: a code is stored only by its hash, a refresh token, a session cookie, an interaction's CSRF token and a device code likewise: no column holds one in clear", () =>
      Effect.gen(function*() {
        const owner = yield* Owner
        const { realm, code, refreshToken, cookie, csrf, interaction, deviceCode, accessJti, assertionJti, expiresAt: jwtExp } = yield* populated
        const [codeHash, tokenHash, cookieHash, csrfHash] = yield* Effect.all([code, refreshToken, cookie, csrf].map(Hash.sha256))
        // every row of the realm in every table, as the owner reads it from the tables themselves
        const stored = yield* Effect.forEach(tables, (table) =>
          Effect.map(
            owner.run(realm.id, `SELECT * FROM ${table} WHERE ${table === "realms" ? "id" : "realm_id"} = $1`, [realm.id]),
            (rows) => [table, rows] as const
          ))
        const rowsOf = (table: string) => stored.find(([t]) => t === table)![1]
        /** Every `table.column` whose value, as text, contains `needle`. */
        const holding = (needle: string) =>
          stored.flatMap(([table, rows]) =>
            rows.flatMap((row) => Object.entries(row).filter(([, value]) => String(JSON.stringify(value)).includes(needle)).map(([column]) => `${table}.${column}`)))
        expect(stored.map(([table, rows]) => [table, rows.length])).toEqual(tables.map((table) => [table, only(realm.id)[table].length]))
        // the exact rows: each secret's column is its base64url SHA-256
        const expiresAt = new Date(DateTime.toEpochMillis(DateTime.addDuration(at, AuthorizationCode.lifetime)))
        expect(rowsOf("codes")).toEqual([{
          realm_id: realm.id, code_hash: codeHash, client_id: "c1", grant_id: "g1", redirect_uri: "https://app.example/cb",
          redirect_uri_given: true, code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", dpop_jkt: null, expires_at: expiresAt,
          redeemed: false
        }])
        expect(rowsOf("refresh_tokens")).toEqual([{ realm_id: realm.id, token_hash: tokenHash, family_id: "f1", generation: 1 }])
        expect(rowsOf("refresh_families")).toEqual([{
          realm_id: realm.id, family_id: "f1", client_id: "c1", grant_id: "g1", generation: 1, current_hash: tokenHash,
          created_at: new Date(DateTime.toEpochMillis(at)), last_used_at: new Date(DateTime.toEpochMillis(at)), revoked_reason: null,
          dpop_jkt: null
        }])
        expect(rowsOf("sessions")).toEqual([{
          realm_id: realm.id, sid: "sid1", cookie_hash: cookieHash, sub: "s1", created_at: new Date(DateTime.toEpochMillis(at)),
          auth_time: new Date(DateTime.toEpochMillis(at)),
          acr: Session.passwordAcr, amr: ["pwd"], expires_at: new Date(DateTime.toEpochMillis(DateTime.addDuration(at, Session.lifetime))),
          client_ids: [], ended_at: null
        }])
        expect(rowsOf("interactions")).toEqual([{
          realm_id: realm.id, id: interaction.id, request: requestOf, csrf_hash: csrfHash, state: "requested", sid: null, version: 0,
          created_at: new Date(DateTime.toEpochMillis(at)),
          expires_at: new Date(DateTime.toEpochMillis(DateTime.addDuration(at, Interactions.lifetime)))
        }])
        expect(interaction.csrfHash).toBe(csrfHash)
        // the short-lived state holds no secret, but its rows are exactly what the ports were given
        const throttles = [...rowsOf("throttles")].sort((x, y) => String(x["key"]).localeCompare(String(y["key"])))
        const reserved = { realm_id: realm.id, failures: 1, last_at: new Date(DateTime.toEpochMillis(at)), expires_at: new Date(DateTime.toEpochMillis(at) + 24 * 3600_000) }
        expect(throttles).toEqual([
          { ...reserved, key: "ip:192.0.2.1" },
          { ...reserved, key: "user-ip:alice 192.0.2.1" },
          { ...reserved, key: "user:alice" }
        ])
        const exp = new Date(DateTime.toEpochMillis(jwtExp))
        expect(rowsOf("access_tokens")).toEqual([{ realm_id: realm.id, jti: accessJti, grant_id: "g1", revoked: false, expires_at: exp }])
        expect(rowsOf("seen_jtis")).toEqual([{ realm_id: realm.id, issuer: "c1", jti: assertionJti, expires_at: exp }])
        // grepping every value of the realm: the clear secrets nowhere, their hashes exactly where the rows above put them
        expect(holding(code)).toEqual([])
        expect(holding(refreshToken)).toEqual([])
        expect(holding(cookie)).toEqual([])
        expect(holding(csrf)).toEqual([])
        expect(holding(codeHash!)).toEqual(["codes.code_hash"])
        expect(holding(tokenHash!)).toEqual(["refresh_families.current_hash", "refresh_tokens.token_hash"])
        expect(holding(cookieHash!)).toEqual(["sessions.cookie_hash"])
        expect(holding(csrfHash!)).toEqual(["interactions.csrf_hash"])
        // RFC 8628: the device code likewise, beside the user code a person types (which the verification page looks up)
        const deviceHash = yield* Hash.sha256(deviceCode)
        expect(rowsOf("device_authorizations")).toEqual([{
          realm_id: realm.id, device_code_hash: deviceHash, user_code: "BCDFGHJK", client_id: "c1", scopes: ["openid", "read"],
          resources: ["https://api.example"], step_up: false, status: "pending", interval_seconds: 5, last_polled_at: null, sub: null,
          grant_id: null, version: 1, created_at: new Date(DateTime.toEpochMillis(at)),
          expires_at: new Date(DateTime.toEpochMillis(DateTime.addDuration(at, DeviceAuthorization.lifetime)))
        }])
        expect(holding(deviceCode)).toEqual([])
        expect(holding(deviceHash)).toEqual(["device_authorizations.device_code_hash"])
        // and the ports look them up by the hash alone: the clear value finds nothing
        const sessions = yield* Sessions.Sessions
        expect(yield* sessions.findByCookie(realm.id, cookie)).toEqual(Option.none())
        expect(yield* sessions.findByCookie(realm.id, cookieHash!)).toEqual(Option.some(sessionOf(realm, cookieHash!)))
        const refreshes = yield* RefreshTokens.RefreshTokens
        expect(yield* refreshes.find(realm.id, refreshToken)).toEqual(Option.none())
        expect(yield* refreshes.find(realm.id, tokenHash!)).toEqual(Option.some({ family: familyOf(realm, tokenHash!), generation: 1, grant: Option.some(grantOf(realm)) }))
        const codes = yield* Codes.Codes
        expect(yield* codes.consume(realm.id, code)).toEqual(Option.none())
        expect(yield* codes.consume(realm.id, codeHash!)).toEqual(Option.some({ code: codeOf(realm), grant: Option.some(grantOf(realm)) }))
        const devices = yield* DeviceAuthorizations.DeviceAuthorizations
        expect(yield* devices.find(realm.id, deviceCode)).toEqual(Option.none())
        expect(yield* devices.find(realm.id, deviceHash)).toEqual(Option.some(deviceOf(realm, deviceHash)))
        // the interaction hands back the hash alone: the forms' token is checked against it, never read from the store
        expect(yield* Effect.flatMap(Interactions.Interactions, (i) => i.find(realm.id, interaction.id)))
          .toEqual(Option.some(interactionOf(realm, interaction.id, csrfHash!)))
      }))

    it.effect("hash chain: 20 concurrent appends to one realm serialize into one gapless chain of 21 events", () =>
      Effect.gen(function*() {
        const audit = yield* Audit.Audit
        const realm = yield* newRealm
        const events = Array.from({ length: 20 }, (_, i) => event(realm, "login.succeeded", { subject: `s${i}` }))
        yield* Effect.forEach(events, (e) => audit.append(e), { concurrency: "unbounded", discard: true })
        expect(yield* verify(realm)).toEqual({ ok: true, events: 21 })
        const stored = yield* audit.query(realm.id, { limit: 100 })
        expect(stored.map((r) => r.seq)).toEqual(Array.from({ length: 21 }, (_, i) => 21 - i))
        expect(stored.slice(0, 20).map((r) => r.event.id).sort()).toEqual(events.map((e) => e.id).sort())
        expect(yield* asApp(realm.id, "SELECT seq FROM audit_heads")).toEqual([{ seq: "21" }])
      }))

    // issue 15 (ADR 0030): a write after its realm's deletion fails the foreign key to the realm row (23503), which is
    // the realm gone (the edge's unknown realm), not an outage; any other foreign key failure stays what it was
    it.effect("issue 15: a foreign key failure is RealmGone only when the realm row is gone; nothing is written, other ones stay 23503", () =>
      Effect.gen(function*() {
        const realm = yield* newRealm
        const sqlStateOf = (e: StoreError.StoreError) => ((e.cause as SqlError).cause as { readonly code?: string }).code
        // identity_links -> users (realm_id, sub): the realm is there, the user is not
        const other = yield* Effect.flip(asApp(realm.id,
          "INSERT INTO identity_links (realm_id, issuer, subject, sub, created_at) VALUES ($1, 'https://idp.example', 'x', 'nobody', now())",
          [realm.id]).pipe(Sql.orStoreError))
        expect([StoreError.isRealmGone(other), sqlStateOf(other)]).toEqual([false, "23503"])
        const realms = yield* Realms.Realms
        yield* realms.delete(realm, realm.version, () => event(realm, "realm.deleted", { realmId: Audit.ownerTrail, subject: realm.id }))
        const users = yield* Users.Users
        const user = yield* Effect.flip(users.insert(
          { realmId: realm.id, sub: "s1", username: "alice", passwordHash: "$argon2id$x", roles: [], disabled: false, version: 1, createdAt: at },
          event(realm, "user.created")))
        expect(user._tag === "StoreError" && StoreError.isRealmGone(user)).toBe(true)
        // a standalone event, group-committed (ADR 0022)
        const appended = yield* Effect.flip(Effect.flatMap(Audit.Audit, (audit) => audit.append(event(realm, "token.issued"))))
        expect(StoreError.isRealmGone(appended)).toBe(true)
        expect(yield* asApp(realm.id, "SELECT (SELECT count(*) FROM users)::int AS users, (SELECT count(*) FROM audit_events)::int AS events"))
          .toEqual([{ users: 0, events: 0 }])
      }))
  })
