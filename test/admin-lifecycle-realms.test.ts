/**
 * CONTRACT §3 realms, the whole lifecycle (issue 13, ADR 0030): list, read, change and delete, with ETags and
 * If-Match, the owner trail, and a deletion that leaves no row of the realm in any table (checked in the database on
 * PGlite and PostgreSQL, in the memory store's state on memory) and every other realm as it was.
 */
import { expect, layer } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Chunk, Effect, HashMap, Option } from "effect"
import { MemoryDb, Provisioning } from "@tessera/domain"
import * as Sql from "@tessera/sql"
import type { WireResponse } from "./support/Http.js"
import { admin, bornEvents, createRealm, get, request, uniqueName } from "./support/Http.js"
import { adminToken, publicUrl, sqlOf, store, TestLive } from "./support/TestLive.js"
import * as B from "./support/Browser.js"
import * as T from "./support/TokenFixtures.js"
import { queuedBehindTrailHead } from "./support/TrailHead.js"

const owner = { authorization: `Bearer ${adminToken}` }

/** CONTRACT §3: a JSON answer that no cache keeps. */
const expectJson = (res: WireResponse, status: number) => {
  expect(res.status).toBe(status)
  expect(res.headers["content-type"]).toBe("application/json")
  expect(res.headers["cache-control"]).toBe("no-store")
}

const expectError = (res: WireResponse, status: number, error: string, error_description: string) => {
  expectJson(res, status)
  expect(res.json).toEqual({ error, error_description })
}

/** RFC 9110 §8.8.3: a strong entity tag. */
const etagPattern = /^"[A-Za-z0-9_-]{22}"$/

const staleIfMatch = { error: "precondition_failed", error_description: "If-Match does not name the current representation" }
const unknownRealm = { error: "not_found", error_description: "unknown realm" }
const badConfirm = { error: "invalid_request", error_description: "'confirm' must be given once, equal to the realm's name" }

const patch = (name: string, json: unknown, headers: Record<string, string> = {}) =>
  request("PATCH", `/admin/realms/${name}`, { headers: { ...owner, ...headers }, json })
const del = (path: string, headers: Record<string, string> = {}) => request("DELETE", path, { headers: { ...owner, ...headers } })
const deleteRealm = (name: string, headers: Record<string, string> = {}) =>
  del(`/admin/realms/${name}?confirm=${name}`, headers)

const auditTypes = (name: string) =>
  Effect.map(admin.get(`/admin/realms/${name}/audit`), (res) => (res.json.events as Array<{ type: string }>).map((e) => e.type))

const idOf = (name: string) => Effect.map(Provisioning.findRealm(name), (realm) => realm.id)

/** Realm names that sort before `uniqueName`'s (`r-...`), so the first pages of the list hold them. */
const early = () => uniqueName("0")

// ---------------------------------------------------------------------------------------------------------------
// Every row of a realm, wherever it is: every table with a `realm_id` column (plus the realm's own row) in the
// database, every entry of the memory store's state keyed by the realm.

/** Runs `effect` on this file's database in a transaction pinned to `realmId` (RLS), as the application role. */
const inRealm = (realmId: string) => <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient>) =>
  Effect.flatMap(sqlOf(store as "pglite" | "postgres"), (sql) =>
    effect.pipe(Sql.Sql.withRealm(realmId), Effect.provideService(SqlClient.SqlClient, sql)))

/** Every base table of the schema with a `realm_id` column, from information_schema (not from the code under test). */
const realmTables = Effect.gen(function*() {
  const sql = yield* sqlOf(store as "pglite" | "postgres")
  const rows = yield* sql<{ table_name: string }>`
    SELECT c.table_name FROM information_schema.columns c
      JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
     WHERE c.table_schema = 'public' AND c.column_name = 'realm_id' AND t.table_type = 'BASE TABLE'
     ORDER BY c.table_name`
  return rows.map((row) => row.table_name)
}).pipe(Effect.orDie)

/** How many rows of the realm each table holds (`realms` is its own row), as the application role sees them. */
const sqlRows = (realmId: string) =>
  Effect.gen(function*() {
    const sql = yield* sqlOf(store as "pglite" | "postgres")
    const counts: Record<string, number> = {}
    for (const table of yield* realmTables) {
      const [row] = yield* sql.unsafe<{ n: number }>(`SELECT count(*)::int AS n FROM "${table}"`).pipe(inRealm(realmId))
      counts[table] = row!.n
    }
    const [own] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM realms WHERE id = ${realmId}`.pipe(inRealm(realmId))
    counts["realms"] = own!.n
    return counts
  }).pipe(Effect.orDie)

/** The memory store's entries of the realm, per table (an audit trail counts its events). */
const memoryRows = (realmId: string) =>
  Effect.flatMap(Effect.serviceOption(MemoryDb.MemoryDb), (db) =>
    MemoryDb.read(Option.getOrThrow(db), (state) => {
      const counts: Record<string, number> = {}
      for (const [table, rows] of Object.entries(state) as Array<[string, HashMap.HashMap<string, unknown>]>) {
        let n = 0
        for (const [key, value] of rows) {
          if (key === realmId || key.startsWith(`${realmId}\u0000`) || value === realmId) n += Chunk.isChunk(value) ? Chunk.size(value) : 1
        }
        counts[table] = n
      }
      return counts
    }))

const rowsOf = (realmId: string) => (store === "memory" ? memoryRows(realmId) : sqlRows(realmId))

/** Every table's count is zero. */
const expectNothingOf = (counts: Record<string, number>) =>
  expect(Object.entries(counts).filter(([, n]) => n !== 0)).toEqual([])

/** On memory: no entry of any table names the realm, in its key or anywhere in its value (the owner trail aside). */
const expectNoMentionInMemory = (realmId: string) =>
  Effect.gen(function*() {
    const db = yield* Effect.serviceOption(MemoryDb.MemoryDb)
    if (Option.isNone(db)) return
    const mentions = yield* MemoryDb.read(db.value, (state) => {
      const found: Array<string> = []
      for (const [table, rows] of Object.entries(state) as Array<[string, HashMap.HashMap<string, unknown>]>) {
        for (const [key, value] of rows) {
          if (table === "audit" && key === "00000000-0000-0000-0000-000000000000") continue
          if (key.includes(realmId) || JSON.stringify(value, (_, v) => (Chunk.isChunk(v) ? Chunk.toReadonlyArray(v) : v)).includes(realmId)) {
            found.push(`${table}:${key}`)
          }
        }
      }
      return found
    })
    expect(mentions).toEqual([])
  })

/**
 * A realm with something in most tables: users, clients, resources, a trusted issuer, grants, tokens, a pending code,
 * and a person signed in through the pages (session, consent, interactions) after one failed password (throttles).
 */
const populated = Effect.gen(function*() {
  const w = yield* T.world
  const app = yield* admin.post(`/admin/realms/${w.name}/clients`, {
    redirect_uris: ["https://app.example.com/callback"], token_endpoint_auth_method: "none", grant_types: ["authorization_code"]
  })
  const s: B.Setup = {
    realm: w.name, issuer: w.issuer, clientId: app.json.client_id, redirectUri: "https://app.example.com/callback",
    username: w.username, password: "correct horse battery staple", sub: w.sub, resource: w.resource
  }
  const browser = B.makeBrowser()
  const failed = yield* browser.get(B.authorizePath(s, B.pkce().challenge))
  yield* browser.submit(B.onlyForm(failed.text), { username: s.username, password: "wrong password" })
  expect((yield* B.signIn(browser, s, B.pkce().challenge)).status).toBe(302)
  expect((yield* browser.get(B.authorizePath(s, B.pkce().challenge, { prompt: "consent" }))).status).toBe(200)
  const client = yield* T.registerClient(w)
  const auth = T.authOf(client)
  const code = yield* T.issueCode(w, { clientId: client.client_id, scopes: ["openid", "read", "offline_access"], resources: [w.resource] })
  const tokens = yield* T.exchange(w, auth, code)
  expect(tokens.status).toBe(200)
  yield* T.issueCode(w, { clientId: client.client_id, scopes: ["read"], resources: [w.resource] })
  const issuer = yield* admin.post(`/admin/realms/${w.name}/trusted-issuers`, {
    issuer: `https://idp.example/${w.name}`,
    jwks: { keys: [{ kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0" }] }
  })
  expect(issuer.status).toBe(201)
  expect((yield* admin.post(`/admin/realms/${w.name}/keys/rotate`)).status).toBe(200)
  return { w, client, auth, refreshToken: tokens.json.refresh_token as string, accessToken: tokens.json.access_token as string }
})

layer(TestLive)("CONTRACT §3 GET /admin/realms/R and GET /admin/realms", (it) => {
  it.effect("§3: a realm's settings with a strong ETag; display_name only once set", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const res = yield* admin.get(`/admin/realms/${realm.name}`)
      expectJson(res, 200)
      expect(res.json).toEqual({ name: realm.name, issuer: `${publicUrl}/realms/${realm.name}`, dynamic_registration: false })
      expect(res.headers["etag"]).toMatch(etagPattern)
      const changed = yield* admin.patch(`/admin/realms/${realm.name}`, { display_name: "Acme", dynamic_registration: true })
      const again = yield* admin.get(`/admin/realms/${realm.name}`)
      expectJson(again, 200)
      expect(again.json).toEqual({ name: realm.name, issuer: realm.issuer, display_name: "Acme", dynamic_registration: true })
      expect(again.headers["etag"]).toMatch(etagPattern)
      expect(again.headers["etag"]).not.toBe(res.headers["etag"])
      expect(again.headers["etag"]).toBe(changed.headers["etag"])
    }))

  it.effect("§3: an unknown or malformed realm is 404 not_found", () =>
    Effect.gen(function*() {
      for (const name of [uniqueName(), "Not-A-Realm", "~owner", "-x", "a".repeat(64)]) {
        const res = yield* admin.get(`/admin/realms/${encodeURIComponent(name)}`)
        expectJson(res, 404)
        expect(res.json).toEqual(unknownRealm)
        expect(res.headers["etag"]).toBeUndefined()
      }
    }))

  it.effect("§3: the list pages in name order with limit and cursor; next_cursor is absent on the last page", () =>
    Effect.gen(function*() {
      const names: Array<string> = []
      for (let i = 0; i < 5; i++) names.push((yield* createRealm(early())).name)
      yield* admin.patch(`/admin/realms/${names[2]}`, { display_name: "Third" })
      const seen: Array<{ name: string }> = []
      let cursor: string | undefined
      let pages = 0
      while (true) {
        const res: WireResponse = yield* admin.get(`/admin/realms?limit=2${cursor !== undefined ? `&cursor=${cursor}` : ""}`)
        expectJson(res, 200)
        pages++
        expect(res.json.realms.length).toBeLessThanOrEqual(2)
        expect(Object.keys(res.json).sort()).toEqual(res.json.next_cursor === undefined ? ["realms"] : ["next_cursor", "realms"])
        seen.push(...res.json.realms)
        if (res.json.next_cursor === undefined || names.every((n) => seen.some((r) => r.name === n))) break
        expect(res.json.realms.length).toBe(2)
        cursor = res.json.next_cursor
      }
      expect(pages).toBeGreaterThanOrEqual(3)
      const order = seen.map((r) => r.name)
      expect(order).toEqual([...order].sort())
      expect(new Set(order).size).toBe(order.length)
      for (const [i, name] of names.entries()) {
        expect(seen.find((r) => r.name === name)).toEqual({
          name, issuer: `${publicUrl}/realms/${name}`, ...(i === 2 ? { display_name: "Third" } : {}), dynamic_registration: false
        })
      }
      // the whole list, walked to its end: the owner trail's anchor is no realm and never listed
      let all: Array<{ name: string }> = []
      cursor = undefined
      while (true) {
        const res: WireResponse = yield* admin.get(`/admin/realms?limit=200${cursor !== undefined ? `&cursor=${cursor}` : ""}`)
        all = all.concat(res.json.realms)
        if (res.json.next_cursor === undefined) break
        cursor = res.json.next_cursor
      }
      expect(all.every((r) => /^[a-z0-9][a-z0-9-]{0,62}$/.test(r.name))).toBe(true)
      expect(all.map((r) => r.name)).toEqual(expect.arrayContaining(names))
      for (const name of names) expect((yield* deleteRealm(name)).status).toBe(204)
    }))

  it.effect("§3: the default page is 50; limit 1 and 200 are the bounds", () =>
    Effect.gen(function*() {
      yield* createRealm(early())
      yield* createRealm(early())
      const one = yield* admin.get("/admin/realms?limit=1")
      expectJson(one, 200)
      expect(one.json.realms.length).toBe(1)
      expect(typeof one.json.next_cursor).toBe("string")
      const byDefault = yield* admin.get("/admin/realms")
      expect(byDefault.json.realms.length).toBeLessThanOrEqual(50)
      expectJson(yield* admin.get("/admin/realms?limit=200"), 200)
    }))

  it.effect("§3: a bad limit or cursor, or a parameter given twice, is 400 invalid_request", () =>
    Effect.gen(function*() {
      const limit = "'limit' must be an integer from 1 to 200"
      for (const query of ["limit=0", "limit=201", "limit=-1", "limit=1.5", "limit=x", "limit=", "limit=%00"]) {
        expectError(yield* admin.get(`/admin/realms?${query}`), 400, "invalid_request", limit)
      }
      const cursor = "'cursor' must be a cursor from an earlier page"
      for (const query of ["cursor=", "cursor=!!", "cursor=%00", "cursor=bm90LWpzb24"]) {
        expectError(yield* admin.get(`/admin/realms?${query}`), 400, "invalid_request", cursor)
      }
      expectError(yield* admin.get("/admin/realms?limit=1&limit=2"), 400, "invalid_request", "'limit' must not be given twice")
      // unknown parameters are ignored
      expectJson(yield* admin.get("/admin/realms?limit=1&colour=blue"), 200)
    }))
})

layer(TestLive)("CONTRACT §3 PATCH /admin/realms/R: If-Match, versions, the event naming the fields", (it) => {
  it.effect("RFC 9110 §13.1.1: a stale If-Match is 412 and changes nothing; the current one, or *, applies", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const first = (yield* admin.get(`/admin/realms/${realm.name}`)).headers["etag"]!
      const changed = yield* patch(realm.name, { display_name: "One" }, { "if-match": first })
      expectJson(changed, 200)
      expect(changed.json).toEqual({ name: realm.name, issuer: realm.issuer, display_name: "One", dynamic_registration: false })
      const second = changed.headers["etag"]!
      expect(second).toMatch(etagPattern)
      expect(second).not.toBe(first)
      const stale = yield* patch(realm.name, { display_name: "Two" }, { "if-match": first })
      expectError(stale, 412, staleIfMatch.error, staleIfMatch.error_description)
      expectError(yield* patch(realm.name, { display_name: "Two" }, { "if-match": `W/${second}` }), 412, staleIfMatch.error, staleIfMatch.error_description)
      expect((yield* admin.get(`/admin/realms/${realm.name}`)).json.display_name).toBe("One")
      expectJson(yield* patch(realm.name, { display_name: "Two" }, { "if-match": `"nope", ${second}` }), 200)
      expectJson(yield* patch(realm.name, { display_name: "Three" }, { "if-match": "*" }), 200)
      expect(yield* auditTypes(realm.name)).toEqual(["realm.updated", "realm.updated", "realm.updated", ...bornEvents])
    }))

  it.effect("§3: two PATCHes with the same If-Match: one 200, one 412", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const tag = (yield* admin.get(`/admin/realms/${realm.name}`)).headers["etag"]!
      const results = yield* Effect.all([
        patch(realm.name, { display_name: "Left" }, { "if-match": tag }),
        patch(realm.name, { display_name: "Right" }, { "if-match": tag })
      ], { concurrency: 2 })
      expect(results.map((r) => r.status).sort()).toEqual([200, 412])
      const winner = results.find((r) => r.status === 200)!
      const loser = results.find((r) => r.status === 412)!
      expect(loser.json.error).toBe("precondition_failed")
      const now = yield* admin.get(`/admin/realms/${realm.name}`)
      expect(now.json.display_name).toBe(winner.json.display_name)
      expect(now.headers["etag"]).toBe(winner.headers["etag"])
      expect(yield* auditTypes(realm.name)).toEqual(["realm.updated", ...bornEvents])
    }))

  it.effect("CONTRACT §7: realm.updated names the fields changed; a patch that changes nothing writes nothing", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const before = (yield* admin.get(`/admin/realms/${realm.name}`)).headers["etag"]
      const same = yield* patch(realm.name, { dynamic_registration: false })
      expectJson(same, 200)
      expect(same.headers["etag"]).toBe(before)
      yield* patch(realm.name, { display_name: "A", dynamic_registration: true })
      yield* patch(realm.name, { display_name: "A", dynamic_registration: false })
      const events = (yield* admin.get(`/admin/realms/${realm.name}/audit`)).json.events
      expect(events.map((e: { type: string; reason?: string }) => [e.type, e.reason])).toEqual([
        ["realm.updated", "changed: dynamic_registration"],
        ["realm.updated", "changed: display_name, dynamic_registration"],
        ["client.created", "built in"],
        ["resource.created", "built in"],
        ["realm.created", undefined]
      ])
    }))

  it.effect("§3: bad bodies are 400 invalid_request and change nothing; unknown fields are ignored", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const tag = (yield* admin.get(`/admin/realms/${realm.name}`)).headers["etag"]
      const cases: Array<readonly [unknown, string]> = [
        [{ display_name: "a\u0000b" }, "the body must not contain NUL characters or unpaired surrogates"],
        [{ display_name: "\ud800" }, "the body must not contain NUL characters or unpaired surrogates"],
        [{ display_name: 7 }, "'display_name' must be a string of 1 to 200 characters"],
        [{ display_name: null }, "'display_name' must be a string of 1 to 200 characters"],
        [{ display_name: ["x"] }, "'display_name' must be a string of 1 to 200 characters"],
        [{ display_name: "" }, "'display_name' must be a string of 1 to 200 characters"],
        [{ dynamic_registration: "true" }, "'dynamic_registration' must be a boolean"],
        [{ dynamic_registration: 1 }, "'dynamic_registration' must be a boolean"],
        [{ dynamic_registration: null }, "'dynamic_registration' must be a boolean"],
        [[], "the body must be a JSON object"],
        ["x", "the body must be a JSON object"]
      ]
      for (const [body, description] of cases) {
        expectError(yield* patch(realm.name, body), 400, "invalid_request", description)
      }
      expectError(
        yield* request("PATCH", `/admin/realms/${realm.name}`, { headers: owner, body: "{\"display_name\":" }),
        400,
        "invalid_request",
        "the body is not valid JSON"
      )
      expectError(
        yield* request("PATCH", `/admin/realms/${realm.name}`, { headers: owner, body: "display_name=x", contentType: "application/x-www-form-urlencoded" }),
        400,
        "invalid_request",
        "the body must be application/json"
      )
      expect((yield* admin.get(`/admin/realms/${realm.name}`)).headers["etag"]).toBe(tag)
      expect(yield* auditTypes(realm.name)).toEqual([...bornEvents])
      // a bad body is refused before If-Match is looked at
      expectError(yield* patch(realm.name, { dynamic_registration: "no" }, { "if-match": "\"stale\"" }), 400, "invalid_request", "'dynamic_registration' must be a boolean")
      const ignored = yield* patch(realm.name, { name: "renamed", issuer: "https://evil.example", version: 99, display_name: "Kept" })
      expectJson(ignored, 200)
      expect(ignored.json).toEqual({ name: realm.name, issuer: realm.issuer, display_name: "Kept", dynamic_registration: false })
    }))

  // issue 15: a realm PATCH held the realm row FOR UPDATE, which every audit event's foreign key check (KEY SHARE) waits
  // for, and then waited for the trail head; a change that held the trail head and then inserted its event closed the
  // cycle (on PostgreSQL: a deadlock needs two connections)
  if (store === "postgres") it.effect("§3: a user PATCH and a realm PATCH queued behind the realm's trail head: both 200 (was 503 on a deadlock, 40P01)", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const created = yield* admin.post(`/admin/realms/${realm.name}/users`, { username: "ada", password: "correct horse battery" })
      expect(created.status).toBe(201)
      const user = `/admin/realms/${realm.name}/users/${created.json.sub}`
      const [userPatched, realmPatched] = yield* queuedBehindTrailHead(yield* idOf(realm.name), [
        admin.patch(user, { name: "Ada Lovelace" }),
        patch(realm.name, { display_name: "Acme" })
      ])
      expect([userPatched!.status, userPatched!.json]).toEqual([200, (yield* admin.get(user)).json])
      expect(userPatched!.json.name).toBe("Ada Lovelace")
      expect([realmPatched!.status, realmPatched!.json]).toEqual([
        200, { name: realm.name, issuer: realm.issuer, display_name: "Acme", dynamic_registration: false }
      ])
      expect(yield* auditTypes(realm.name)).toEqual(["realm.updated", "user.updated", "user.created", ...bornEvents])
    }), { timeout: 120_000 })
})

layer(TestLive)("CONTRACT §3 DELETE /admin/realms/R?confirm=R", (it) => {
  it.effect("§3: without confirm=R (missing, another name, twice, empty, NUL) it is 400 and nothing is deleted", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const id = yield* idOf(realm.name)
      const before = yield* rowsOf(id)
      const other = yield* createRealm()
      for (const query of ["", "?confirm=", `?confirm=${other.name}`, `?confirm=${realm.name}&confirm=${realm.name}`,
        `?confirm=${realm.name}%00`, `?confirm=${realm.name.toUpperCase()}`, `?Confirm=${realm.name}`, `?confirm=${realm.name}x`]) {
        const res = yield* del(`/admin/realms/${realm.name}${query}`)
        expectJson(res, 400)
        expect(res.json).toEqual(badConfirm)
      }
      expect(yield* rowsOf(id)).toEqual(before)
      expectJson(yield* admin.get(`/admin/realms/${realm.name}`), 200)
      expectJson(yield* admin.get(`/admin/realms/${other.name}`), 200)
      expect(yield* auditTypes(realm.name)).toEqual([...bornEvents])
    }))

  it.effect("§3: 204 with no body; the realm, its issuer and its trail are 404 at once; realm.deleted is in the owner trail", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const id = yield* idOf(realm.name)
      // read through this node's cache first: deletion must forget it
      expect((yield* get(`/realms/${realm.name}/.well-known/openid-configuration`)).status).toBe(200)
      const res = yield* deleteRealm(realm.name)
      expect(res.status).toBe(204)
      expect(res.text).toBe("")
      expect(res.headers["cache-control"]).toBe("no-store")
      const discovery = yield* get(`/realms/${realm.name}/.well-known/openid-configuration`)
      expect(discovery.status).toBe(404)
      expect(discovery.json).toEqual({ error: "invalid_request", error_description: "unknown realm" })
      expect((yield* get(`/.well-known/oauth-authorization-server/realms/${realm.name}`)).status).toBe(404)
      expect((yield* get(`/realms/${realm.name}/jwks`)).status).toBe(404)
      for (const path of ["", "/audit", "/audit/verify", "/keys"]) {
        const gone = yield* admin.get(`/admin/realms/${realm.name}${path}`)
        expectJson(gone, 404)
        expect(gone.json).toEqual(unknownRealm)
      }
      expectError(yield* deleteRealm(realm.name), 404, "not_found", "unknown realm")
      expectError(yield* patch(realm.name, { display_name: "x" }), 404, "not_found", "unknown realm")
      const trail = yield* admin.get(`/admin/audit?subject=${id}`)
      expectJson(trail, 200)
      const base = { id: expect.any(String), at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/), realm: realm.name, actor: { type: "owner", id: "owner" }, subject: id, result: "success" }
      expect(trail.json).toEqual({
        events: [
          { ...base, type: "realm.deleted", reason: expect.stringMatching(new RegExp(`^deleted realm ${realm.name} \\(${id}\\); rows deleted: .*\\b(audit|audit_events) 3\\b`)) },
          { ...base, type: "realm.created" }
        ]
      })
      const verify = yield* admin.get("/admin/audit/verify")
      expectJson(verify, 200)
      expect(verify.json).toEqual({ ok: true, events: expect.any(Number) })
    }))

  it.effect("§3: every row of a populated realm goes, in every table; the other realm keeps every row", () =>
    Effect.gen(function*() {
      const { w, auth, refreshToken, accessToken } = yield* populated
      const other = yield* populated
      const rowsBefore = yield* rowsOf(w.realmId)
      const otherBefore = yield* rowsOf(other.w.realmId)
      // the test is not vacuous: the realm had rows in the tables that matter
      const nonEmpty = Object.entries(rowsBefore).filter(([, n]) => n > 0).map(([t]) => t)
      expect(nonEmpty).toEqual(expect.arrayContaining(
        store === "memory"
          ? ["realms", "users", "clients", "resources", "trustedIssuers", "keyRings", "audit", "grants", "codes", "refreshFamilies",
            "refreshTokens", "sessions", "sessionCookies", "consents", "interactions", "loginFailures"]
          : ["realms", "users", "clients", "resources", "trusted_issuers", "key_rings", "audit_events", "audit_heads", "grants", "codes",
            "refresh_families", "refresh_tokens", "access_tokens", "sessions", "consents", "interactions", "throttles"]
      ))
      if (store !== "memory") {
        // every realm-scoped table of migrations 00001-00012 is found by the catalog query the check relies on
        expect(yield* realmTables).toEqual(expect.arrayContaining([
          "access_tokens", "audit_events", "audit_heads", "clients", "codes", "consents", "device_authorizations", "grants",
          "interactions", "key_rings", "refresh_families", "refresh_tokens", "resources", "seen_jtis", "sessions", "throttles",
          "trusted_issuers", "users"
        ]))
      }
      const res = yield* deleteRealm(w.name)
      expect(res.status).toBe(204)
      expectNothingOf(yield* rowsOf(w.realmId))
      yield* expectNoMentionInMemory(w.realmId)
      expect(yield* rowsOf(other.w.realmId)).toEqual(otherBefore)
      // the deleted realm's tokens are refused: its issuer is gone
      expect((yield* T.refresh(w, auth, refreshToken)).status).toBe(404)
      expect((yield* T.userinfo(w, accessToken)).status).toBe(404)
      // the other realm works as before
      const otherTrail = yield* admin.get(`/admin/realms/${other.w.name}/audit/verify`)
      expect(otherTrail.json).toEqual({ ok: true, events: expect.any(Number) })
      expect((yield* T.refresh(other.w, other.auth, other.refreshToken)).status).toBe(200)
      const deleted = (yield* admin.get(`/admin/audit?type=realm.deleted&subject=${w.realmId}`)).json.events
      expect(deleted).toHaveLength(1)
      expect(deleted[0].reason).toMatch(/\busers 1\b/)
      expect(deleted[0].reason).toMatch(/\bclients 3\b/)
      expect(deleted[0].reason).toMatch(/\bresources 3\b/)
    }))

  it.effect("§3: a new realm of the same name starts empty, and the old ETag does not match it", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const oldId = yield* idOf(realm.name)
      const oldTag = (yield* admin.get(`/admin/realms/${realm.name}`)).headers["etag"]!
      yield* admin.post(`/admin/realms/${realm.name}/users`, { username: "ada", password: "correct horse battery staple" })
      expect((yield* deleteRealm(realm.name)).status).toBe(204)
      const again = yield* admin.post("/admin/realms", { name: realm.name })
      expectJson(again, 201)
      expect(again.json).toEqual({ name: realm.name, issuer: realm.issuer })
      const newId = yield* idOf(realm.name)
      expect(newId).not.toBe(oldId)
      const fresh = yield* admin.get(`/admin/realms/${realm.name}`)
      expect(fresh.headers["etag"]).not.toBe(oldTag)
      expect(fresh.json).toEqual({ name: realm.name, issuer: realm.issuer, dynamic_registration: false })
      expectError(yield* patch(realm.name, { display_name: "x" }, { "if-match": oldTag }), 412, staleIfMatch.error, staleIfMatch.error_description)
      expectError(yield* deleteRealm(realm.name, { "if-match": oldTag }), 412, staleIfMatch.error, staleIfMatch.error_description)
      expect(yield* auditTypes(realm.name)).toEqual([...bornEvents])
      expect((yield* admin.post(`/admin/realms/${realm.name}/users`, { username: "ada", password: "correct horse battery staple" })).status).toBe(201)
      const created = (yield* admin.get(`/admin/audit?type=realm.created&subject=${newId}`)).json.events
      expect(created).toHaveLength(1)
    }))

  it.effect("RFC 9110 §13.1.1: DELETE honours If-Match (stale: 412, nothing deleted; current: 204)", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const id = yield* idOf(realm.name)
      const first = (yield* admin.get(`/admin/realms/${realm.name}`)).headers["etag"]!
      yield* admin.patch(`/admin/realms/${realm.name}`, { display_name: "Moved on" })
      const before = yield* rowsOf(id)
      expectError(yield* deleteRealm(realm.name, { "if-match": first }), 412, staleIfMatch.error, staleIfMatch.error_description)
      expect(yield* rowsOf(id)).toEqual(before)
      const current = (yield* admin.get(`/admin/realms/${realm.name}`)).headers["etag"]!
      expect((yield* deleteRealm(realm.name, { "if-match": current })).status).toBe(204)
      expectNothingOf(yield* rowsOf(id))
    }))

  it.effect("§3: a PATCH and a DELETE from one reading: at most one wins, and the realm is whole or gone", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const id = yield* idOf(realm.name)
      const tag = (yield* admin.get(`/admin/realms/${realm.name}`)).headers["etag"]!
      const [patched, deleted] = yield* Effect.all([
        patch(realm.name, { display_name: "Racing" }, { "if-match": tag }),
        deleteRealm(realm.name, { "if-match": tag })
      ], { concurrency: 2 })
      const rows = yield* rowsOf(id)
      if (deleted.status === 204) {
        expect([404, 412]).toContain(patched.status)
        expectNothingOf(rows)
      } else {
        expect(patched.status).toBe(200)
        expect(deleted.status).toBe(412)
        expect(rows["realms"]).toBe(1)
      }
    }))

  // the database's own grants (migration 00001) and realm_delete's checks (00012): there is no database on memory
  if (store !== "memory") it.effect("append-only audit: the application role may not delete or change audit rows itself", () =>
    Effect.gen(function*() {
      if (store === "memory") return
      const realm = yield* createRealm()
      const id = yield* idOf(realm.name)
      const sql = yield* sqlOf(store)
      for (const statement of ["DELETE FROM audit_events", "UPDATE audit_events SET reason = 'x'", "DELETE FROM audit_heads", "DELETE FROM realms"]) {
        const outcome = yield* Effect.either(sql.unsafe(statement).pipe(inRealm(id)))
        expect({ statement, refused: outcome._tag === "Left" }).toEqual({ statement, refused: true })
      }
      // realm_delete only deletes the realm its transaction is pinned to, and never the owner trail
      const other = yield* createRealm()
      const otherId = yield* idOf(other.name)
      expect((yield* Effect.either(sql`SELECT realm_delete(${otherId})`.pipe(inRealm(id))))._tag).toBe("Left")
      const ownerTrail = "00000000-0000-0000-0000-000000000000"
      expect((yield* Effect.either(sql`SELECT realm_delete(${ownerTrail})`.pipe(inRealm(ownerTrail))))._tag).toBe("Left")
      // each trail still holds exactly what the realm was born with (ADR 0035: realm.created and its two built-ins)
      const types = (events: ReadonlyArray<{ readonly type: string }>) => events.map((e) => e.type)
      expect(types((yield* admin.get(`/admin/realms/${other.name}/audit`)).json.events)).toEqual(bornEvents)
      expect(types((yield* admin.get(`/admin/realms/${realm.name}/audit`)).json.events)).toEqual(bornEvents)
    }))

  // issue 15 follow-up: a deletion holds the realm row FOR UPDATE and then deletes every row of the realm (the trail
  // head among them); a write that held its own row or the trail head and only then asked for the realm row's KEY
  // SHARE (its event's foreign key) closed a cycle with it: a deadlock, SQLSTATE 40P01, answered 503. Each write is
  // queued behind the realm's trail head first, then the deletion, so the cycle formed on every run (PostgreSQL: a
  // deadlock needs two connections).
  const queuedWithDeletion = (order: "write first" | "deletion first") =>
  (realmId: string, name: string, write: ReturnType<typeof deleteRealm>) =>
    Effect.gen(function*() {
      const calls = order === "write first" ? [write, deleteRealm(name)] : [deleteRealm(name), write]
      const answers = yield* queuedBehindTrailHead(realmId, calls)
      const [written, deleted] = order === "write first" ? answers : [answers[1], answers[0]]
      expect([deleted!.status, deleted!.text]).toEqual([204, ""])
      expectError(yield* admin.get(`/admin/realms/${name}`), 404, "not_found", "unknown realm")
      return written!
    })
  const writeThenDeletion = queuedWithDeletion("write first")

  if (store === "postgres") it.effect("§3: a user PATCH, then the realm's deletion, queued behind its trail head: 200, then 204 (was 503 on a deadlock, 40P01)", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const created = yield* admin.post(`/admin/realms/${realm.name}/users`, { username: "ada", password: "correct horse battery" })
      expect(created.status).toBe(201)
      const user = `/admin/realms/${realm.name}/users/${created.json.sub}`
      const before = (yield* admin.get(user)).json
      const patched = yield* writeThenDeletion(yield* idOf(realm.name), realm.name, admin.patch(user, { name: "Ada Lovelace" }))
      expect([patched.status, patched.json]).toEqual([200, { ...before, name: "Ada Lovelace" }])
    }), { timeout: 120_000 })

  if (store === "postgres") it.effect("§3: a client PATCH, then the realm's deletion, queued behind its trail head: 200, then 204 (was 503 on a deadlock, 40P01)", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const created = yield* admin.post(`/admin/realms/${realm.name}/clients`, {
        redirect_uris: ["https://app.example.com/callback"], token_endpoint_auth_method: "none", grant_types: ["authorization_code"]
      })
      expect(created.status).toBe(201)
      const client = `/admin/realms/${realm.name}/clients/${created.json.client_id}`
      const before = (yield* admin.get(client)).json
      const patched = yield* writeThenDeletion(yield* idOf(realm.name), realm.name, admin.patch(client, { client_name: "Acme app" }))
      expect([patched.status, patched.json]).toEqual([200, { ...before, client_name: "Acme app" }])
    }), { timeout: 120_000 })

  if (store === "postgres") it.effect("RFC 6749 §4.4: a client_credentials token (its event group-committed), then the realm's deletion, queued behind its trail head: 200, then 204 (was 503 on a deadlock, 40P01)", () =>
    Effect.gen(function*() {
      const w = yield* T.world
      const client = yield* T.registerClient(w, { grant_types: ["client_credentials"] })
      const issued = yield* writeThenDeletion(w.realmId, w.name,
        T.post(w, "token", T.authOf(client), { grant_type: "client_credentials", scope: "read" }))
      T.expectTokenResponse(issued, {
        access_token: expect.any(String), token_type: "Bearer", expires_in: T.accessTokenLifetime, scope: "read"
      })
    }), { timeout: 120_000 })

  // issue 15 leftovers: the other order. The deletion takes the realm row FOR UPDATE first and waits behind the trail
  // head; the write comes after it, found the realm (and its row) before the deletion commits, and is released with it.
  // A user or client UPDATE/DELETE that locked its own row before asking for the realm row (its event's KEY SHARE)
  // closed a cycle with the deletion, which then reached that row (realm_delete deletes `users`/`clients` after
  // `audit_heads`): a deadlock, 40P01, answered 503. An insert arriving after the deletion failed its foreign key to
  // the realm (23503), also 503. Either way the realm is gone when the write is answered: CONTRACT §3's 404.
  const deletionThenWrite = queuedWithDeletion("deletion first")

  /** A realm with one user and one client, and their admin paths. */
  const realmWithUserAndClient = Effect.gen(function*() {
    const realm = yield* createRealm()
    const user = yield* admin.post(`/admin/realms/${realm.name}/users`, { username: "ada", password: "correct horse battery" })
    expect(user.status).toBe(201)
    const client = yield* admin.post(`/admin/realms/${realm.name}/clients`, {
      redirect_uris: ["https://app.example.com/callback"], token_endpoint_auth_method: "none", grant_types: ["authorization_code"]
    })
    expect(client.status).toBe(201)
    const resource = yield* admin.post(`/admin/realms/${realm.name}/resources`, { uri: "https://api.example/races", scopes: ["read"] })
    expect(resource.status).toBe(201)
    const trusted = yield* admin.post(`/admin/realms/${realm.name}/trusted-issuers`, {
      issuer: "https://idp.example",
      jwks: { keys: [{ kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0" }] }
    })
    expect(trusted.status).toBe(201)
    return {
      name: realm.name,
      id: yield* idOf(realm.name),
      user: `/admin/realms/${realm.name}/users/${user.json.sub}`,
      client: `/admin/realms/${realm.name}/clients/${client.json.client_id}`,
      resource: `/admin/realms/${realm.name}/resources/${resource.json.id}`,
      trusted: `/admin/realms/${realm.name}/trusted-issuers/${trusted.json.id}`
    }
  })

  const writesAfterDeletion: ReadonlyArray<readonly [string, (r: Effect.Effect.Success<typeof realmWithUserAndClient>) => ReturnType<typeof deleteRealm>]> = [
    ["a user PATCH (was 503 on a deadlock, 40P01)", (r) => admin.patch(r.user, { name: "Ada Lovelace" })],
    ["a user DELETE (was 503 on a deadlock, 40P01)", (r) => del(r.user)],
    ["a client PATCH (was 503 on a deadlock, 40P01)", (r) => admin.patch(r.client, { client_name: "Acme app" })],
    ["a client DELETE (was 503 on a deadlock, 40P01)", (r) => del(r.client)],
    ["a resource PATCH (was 503 on a deadlock, 40P01)", (r) => admin.patch(r.resource, { display_name: "Races" })],
    ["a resource DELETE (was 503 on a deadlock, 40P01)", (r) => del(r.resource)],
    ["a trusted issuer PATCH (was 503 on a deadlock, 40P01)", (r) => admin.patch(r.trusted, { id_jag: true })],
    ["a trusted issuer DELETE (was 503 on a deadlock, 40P01)", (r) => del(r.trusted)],
    ["a user POST (was 503 on the foreign key, 23503)", (r) =>
      admin.post(`/admin/realms/${r.name}/users`, { username: "grace", password: "correct horse battery" })],
    ["a client POST (was 503 on the foreign key, 23503)", (r) =>
      admin.post(`/admin/realms/${r.name}/clients`, {
        redirect_uris: ["https://app.example.com/callback"], token_endpoint_auth_method: "none", grant_types: ["authorization_code"]
      })]
  ]

  for (const [what, write] of writesAfterDeletion) {
    if (store === "postgres") it.effect(`§3: the realm's deletion, then ${what}, queued behind its trail head: 204, then 404 unknown realm`, () =>
      Effect.gen(function*() {
        const r = yield* realmWithUserAndClient
        expectError(yield* deletionThenWrite(r.id, r.name, write(r)), 404, "not_found", "unknown realm")
      }), { timeout: 120_000 })
  }

  if (store === "postgres") it.effect("CONTRACT §2: the realm's deletion, then a client_credentials token, queued behind its trail head: 204, then 404 unknown realm (was 503 on the foreign key, 23503)", () =>
    Effect.gen(function*() {
      const w = yield* T.world
      const client = yield* T.registerClient(w, { grant_types: ["client_credentials"] })
      const issued = yield* deletionThenWrite(w.realmId, w.name,
        T.post(w, "token", T.authOf(client), { grant_type: "client_credentials", scope: "read" }))
      expectError(issued, 404, "invalid_request", "unknown realm")
    }), { timeout: 120_000 })
})

layer(TestLive)("CONTRACT §3 GET /admin/audit: the owner trail", (it) => {
  it.effect("§3: realm creation is there; filters, pages and cursors work as on a realm's trail", () =>
    Effect.gen(function*() {
      const a = yield* createRealm()
      const b = yield* createRealm()
      const ids = [yield* idOf(a.name), yield* idOf(b.name)]
      const res = yield* admin.get(`/admin/audit?type=realm.created&subject=${ids[0]}`)
      expectJson(res, 200)
      expect(res.json).toEqual({
        events: [{
          id: expect.any(String),
          at: expect.any(String),
          realm: a.name,
          type: "realm.created",
          actor: { type: "owner", id: "owner" },
          subject: ids[0],
          result: "success"
        }]
      })
      const first = yield* admin.get("/admin/audit?limit=1")
      expectJson(first, 200)
      expect(first.json.events).toHaveLength(1)
      expect(typeof first.json.next_cursor).toBe("string")
      const second = yield* admin.get(`/admin/audit?limit=1&cursor=${first.json.next_cursor}`)
      expect(second.json.events).toHaveLength(1)
      expect(second.json.events[0].id).not.toBe(first.json.events[0].id)
      // the realm's own trail keeps its realm.created too
      expect(yield* auditTypes(a.name)).toEqual([...bornEvents])
    }))

  it.effect("§3: bad queries are 400 invalid_request", () =>
    Effect.gen(function*() {
      // CONTRACT §3 lists: limit 1-200, as on every list
      for (const limit of ["0", "201", "1000", "05", "1e2"]) {
        expectError(yield* admin.get(`/admin/audit?limit=${limit}`), 400, "invalid_request", "'limit' must be an integer from 1 to 200")
      }
      expectError(yield* admin.get("/admin/audit?type=a&type=b"), 400, "invalid_request", "'type' must not be given twice")
      expectError(yield* admin.get("/admin/audit?cursor=!!"), 400, "invalid_request", "'cursor' must be a cursor from an earlier page")
      expectError(yield* admin.get("/admin/audit?subject=%00"), 400, "invalid_request", "'subject' must be 1 to 1024 characters without control characters")
      expectError(yield* admin.get("/admin/audit?since=yesterday"), 400, "invalid_request", "'since' must be an RFC 3339 date-time")
    }))
})

layer(TestLive)("CONTRACT §3: the realm calls are the owner's", (it) => {
  it.effect("RFC 6750 §3.1: no token or another token is 401 invalid_token, and nothing changes", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const id = yield* idOf(realm.name)
      const before = yield* rowsOf(id)
      for (const headers of [{}, { authorization: `Bearer ${adminToken}x` }, { authorization: "Bearer other" }, { authorization: `Basic ${adminToken}` }]) {
        const calls = [
          request("GET", "/admin/realms", { headers }),
          request("GET", `/admin/realms/${realm.name}`, { headers }),
          request("PATCH", `/admin/realms/${realm.name}`, { headers, json: { display_name: "x" } }),
          request("DELETE", `/admin/realms/${realm.name}?confirm=${realm.name}`, { headers }),
          request("GET", "/admin/audit", { headers }),
          request("GET", "/admin/audit/verify", { headers })
        ]
        for (const call of calls) {
          const res = yield* call
          expectJson(res, 401)
          expect(res.json).toEqual({ error: "invalid_token", error_description: "the admin API needs the owner's token or a tenant admin's access token" })
          expect(res.headers["www-authenticate"]).toBe(`Bearer realm="tessera-admin", error="invalid_token"`)
        }
      }
      expect(yield* rowsOf(id)).toEqual(before)
    }))

  it.effect("§3: the OpenAPI document lists the realm and owner-trail operations with their answers", () =>
    Effect.gen(function*() {
      const doc = (yield* get("/admin/openapi.json")).json
      const paths = doc.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>
      expect(Object.keys(paths["/admin/realms"]!).sort()).toEqual(["get", "post"])
      expect(Object.keys(paths["/admin/realms/{realm}"]!).filter((m) => m !== "parameters").sort()).toEqual(["delete", "get", "patch"])
      expect(Object.keys(paths["/admin/realms/{realm}"]!["delete"]!.responses).sort()).toEqual(["204", "400", "401", "404", "412"])
      expect(Object.keys(paths["/admin/realms/{realm}"]!["patch"]!.responses).sort()).toEqual(["200", "400", "401", "404", "412"])
      expect(Object.keys(paths["/admin/realms"]!["get"]!.responses)).toContain("200")
      expect(Object.keys(paths["/admin/audit"]!)).toEqual(["get"])
      expect(Object.keys(paths["/admin/audit/verify"]!)).toEqual(["get"])
      const params = (op: { parameters?: Array<{ name: string; in: string }> }) => (op.parameters ?? []).map((p) => `${p.in}:${p.name}`).sort()
      expect(params(paths["/admin/realms/{realm}"]!["delete"] as never)).toEqual(["path:realm", "query:confirm"])
      expect(params(paths["/admin/realms"]!["get"] as never)).toEqual(["query:cursor", "query:limit"])
    }))
})
