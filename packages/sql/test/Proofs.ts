/**
 * The store's guarantees proven in SQL (issue 3, "Tests"), the same on PGlite and on PostgreSQL: realm isolation
 * by row-level security as `tessera_app`, atomic compare-and-set, audit events that commit or roll back with their
 * change, an append-only audit table and a hash chain that names an edited row.
 */
import { expect, layer } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Cause, Context, DateTime, Deferred, Effect, Exit, Fiber, Option } from "effect"
import type { Layer } from "effect"
import {
  Audit, AuditChain, AuditEvent, Clients, Keys, Realms, Resources, TrustedIssuers, Users
} from "@tessera/domain"
import type { Client, Realm } from "@tessera/domain"
import { Sql } from "@tessera/sql"
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
  | Audit.Audit

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
  realmId: realm.id, clientId, secretHash: "h", metadata, createdAt: at
})

/** A realm with one row in every realm-scoped table, all written through the ports: 5 audit events. */
export const populatedRealm = Effect.gen(function*() {
  const realm = yield* newRealm
  yield* Effect.flatMap(Clients.Clients, (clients) => clients.insert(client(realm, "c1"), event(realm, "client.created")))
  yield* Effect.flatMap(Users.Users, (users) =>
    users.insert({ realmId: realm.id, sub: "s1", username: "alice", passwordHash: "$argon2id$x", createdAt: at }, event(realm, "user.created")))
  yield* Effect.flatMap(Resources.Resources, (resources) =>
    resources.insert({ realmId: realm.id, uri: "https://api.example", scopes: ["read"], stepUpScopes: [], createdAt: at }, event(realm, "resource.created")))
  yield* Effect.flatMap(TrustedIssuers.TrustedIssuers, (issuers) =>
    issuers.insert(
      { realmId: realm.id, issuer: "https://idp.example", keys: { _tag: "JwksUri", jwksUri: "https://idp.example/jwks" }, createdAt: at },
      event(realm, "trusted_issuer.created")
    ))
  return realm
})

/** The event types of a realm's trail, newest first. */
export const trail = (realm: Realm.Realm) =>
  Effect.flatMap(Audit.Audit, (audit) => audit.query(realm.id, { limit: 1000 })).pipe(Effect.map((rows) => rows.map((r) => r.event.type)))

export const verify = (realm: Realm.Realm) => Effect.flatMap(Audit.Audit, (audit) => audit.verify(realm.id))

export const tables = ["realms", "clients", "users", "resources", "trusted_issuers", "key_rings", "audit_heads", "audit_events"] as const

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
  ]
]

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
        const only = (id: string) => ({
          realms: [id], clients: [id], users: [id], resources: [id], trusted_issuers: [id], key_rings: [id], audit_heads: [id],
          audit_events: [id, id, id, id, id]
        })
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
        const a = yield* populatedRealm
        const b = yield* populatedRealm
        for (const [table, text, params] of foreignRows(b.id)) {
          expect(yield* sqlFailure(asApp(a.id, text, params))).toEqual(rlsViolation(table))
        }
        // moving A's row into B is a write of a B row too
        expect(yield* sqlFailure(asApp(a.id, "UPDATE clients SET realm_id = $1 WHERE realm_id = $2", [b.id, a.id]))).toEqual(rlsViolation("clients"))
        // B's rows are invisible to A's UPDATE and DELETE: nothing is touched
        expect(yield* asApp(a.id, "UPDATE clients SET secret_hash = 'stolen' WHERE realm_id = $1 RETURNING client_id", [b.id])).toEqual([])
        expect(yield* asApp(a.id, "DELETE FROM users WHERE realm_id = $1 RETURNING sub", [b.id])).toEqual([])
        // a DELETE with no WHERE at all reaches A's row alone
        expect(yield* asApp(a.id, "DELETE FROM key_rings RETURNING realm_id")).toEqual([{ realm_id: a.id }])
        const clients = yield* Clients.Clients
        expect(Option.getOrThrow(yield* clients.find(b.id, "c1")).secretHash).toBe("h")
        expect(Option.isSome(yield* Effect.flatMap(Users.Users, (users) => users.find(b.id, "s1")))).toBe(true)
        expect(Option.isSome(yield* Effect.flatMap(Keys.Keys, (keys) => keys.ring(b.id)))).toBe(true)
        expect(yield* trail(b)).toEqual(["trusted_issuer.created", "resource.created", "user.created", "client.created", "realm.created"])
        expect(yield* verify(b)).toEqual({ ok: true, events: 5 })
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

    it.effect("atomic audit: a refused duplicate (client, user, realm name) leaves no event and no chain", () =>
      Effect.gen(function*() {
        const clients = yield* Clients.Clients
        const users = yield* Users.Users
        const realms = yield* Realms.Realms
        const realm = yield* populatedRealm
        expect(yield* Effect.exit(clients.insert(client(realm, "c1"), event(realm, "client.created")))).toEqual(
          Exit.fail(expect.objectContaining({ _tag: "AlreadyExists", entity: "client" }))
        )
        const alice = { realmId: realm.id, sub: "s2", username: "ALICE", passwordHash: "$argon2id$x", createdAt: at }
        expect(yield* Effect.exit(users.insert(alice, event(realm, "user.created")))).toEqual(
          Exit.fail(expect.objectContaining({ _tag: "AlreadyExists", entity: "user" }))
        )
        const twin = { ...realm, id: crypto.randomUUID() }
        const ring = Option.getOrThrow(yield* Effect.flatMap(Keys.Keys, (keys) => keys.ring(realm.id)))
        expect(yield* Effect.exit(realms.create(twin, ring, event(twin, "realm.created")))).toEqual(
          Exit.fail(expect.objectContaining({ _tag: "AlreadyExists", entity: "realm" }))
        )
        expect(yield* trail(realm)).toEqual(["trusted_issuer.created", "resource.created", "user.created", "client.created", "realm.created"])
        expect(yield* asApp(realm.id, "SELECT seq FROM audit_heads")).toEqual([{ seq: "5" }])
        expect(yield* trail(twin)).toEqual([])
        expect(yield* visibleRealms(pinTo(twin.id))).toEqual(Object.fromEntries(tables.map((table) => [table, []])))
        expect(yield* verify(realm)).toEqual({ ok: true, events: 5 })
      }))

    it.effect("append-only: UPDATE, DELETE and TRUNCATE on the audit trail are denied to tessera_app, even in its realm", () =>
      Effect.gen(function*() {
        const realm = yield* populatedRealm
        expect(yield* sqlFailure(asApp(realm.id, "UPDATE audit_events SET subject = 'x' WHERE realm_id = $1", [realm.id])))
          .toEqual(denied("audit_events"))
        expect(yield* sqlFailure(asApp(realm.id, "DELETE FROM audit_events WHERE realm_id = $1", [realm.id]))).toEqual(denied("audit_events"))
        expect(yield* sqlFailure(asApp(realm.id, "TRUNCATE audit_events"))).toEqual(denied("audit_events"))
        expect(yield* sqlFailure(asApp(realm.id, "DELETE FROM audit_heads WHERE realm_id = $1", [realm.id]))).toEqual(denied("audit_heads"))
        expect(yield* verify(realm)).toEqual({ ok: true, events: 5 })
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
        expect(yield* verify(b)).toEqual({ ok: true, events: 5 })
      }))

    it.effect("hash chain: an owner who recomputes the edited event's hash, or deletes an event, breaks the next one", () =>
      Effect.gen(function*() {
        const owner = yield* Owner
        const audit = yield* Audit.Audit
        const a = yield* populatedRealm
        const b = yield* populatedRealm
        const bySeq = (realm: Realm.Realm) =>
          Effect.map(audit.query(realm.id, { limit: 10 }), (rows) => (seq: number) => rows.find((r) => r.seq === seq)!.event)
        // seq 3 of 5 is rewritten with a hash consistent with its new content: its successor no longer points at it
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
  })
