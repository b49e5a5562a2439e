/**
 * CONTRACT §3 resources after creation (issue 13, ADR 0033): ids, list, read, PATCH and DELETE with ETag/If-Match,
 * their events (CONTRACT §7), realm isolation checked in the database, what a deletion does to clients, grants and
 * consents, and the consent page naming resources and scopes as their administrator described them.
 */
import { expect, layer } from "@effect/vitest"
import { Effect, Option } from "effect"
import { Provisioning, Resources } from "@tessera/domain"
import { SqlClient } from "@effect/sql"
import { Sql } from "@tessera/sql"
import { authorizeAndLogin, makeBrowser, pkce, setup as browserSetup } from "./support/Browser.js"
import type { WireResponse } from "./support/Http.js"
import { admin, createRealm, get, request } from "./support/Http.js"
import { adminToken, publicUrl, sqlClient, store, TestLive } from "./support/TestLive.js"
import {
  authOf, exchange, introspect, issueCode, refresh, registerClient, world
} from "./support/TokenFixtures.js"

const owner = { authorization: `Bearer ${adminToken}` }

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const etag = /^"[A-Za-z0-9_-]{22}"$/
const iso = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

const path = (realm: string, id?: string) => `/admin/realms/${realm}/resources${id !== undefined ? `/${id}` : ""}`

/** CONTRACT §3: a JSON answer no cache keeps. */
const expectJson = (res: WireResponse, status: number, body: unknown) => {
  expect({ status: res.status, type: res.headers["content-type"], cache: res.headers["cache-control"], body: res.json }).toEqual({
    status,
    type: "application/json",
    cache: "no-store",
    body
  })
}

const expectError = (res: WireResponse, status: number, error: string, error_description: string) =>
  expectJson(res, status, { error, error_description })

const patch = (p: string, json: unknown, ifMatch?: string) =>
  request("PATCH", p, { headers: { ...owner, ...(ifMatch !== undefined ? { "if-match": ifMatch } : {}) }, json })

const patchRaw = (p: string, body: string) => request("PATCH", p, { headers: owner, body })

const del = (p: string, ifMatch?: string) =>
  request("DELETE", p, { headers: { ...owner, ...(ifMatch !== undefined ? { "if-match": ifMatch } : {}) } })

/** Registers a resource; answers its body and ETag. */
const create = (realm: string, body: Record<string, unknown>) =>
  Effect.gen(function*() {
    const res = yield* admin.post(path(realm), body)
    if (res.status !== 201) return yield* Effect.dieMessage(`resource: ${res.status} ${res.text}`)
    return { item: res.json as Item, etag: res.headers["etag"]! }
  })

interface Item {
  readonly id: string
  readonly uri: string
  readonly scopes: ReadonlyArray<string>
  readonly step_up_scopes: ReadonlyArray<string>
  readonly display_name?: string
  readonly scope_descriptions: Record<string, string>
  readonly created_at: string
}

/** The realm's audit trail, newest first: type, resource and reason. */
const trail = (realm: string) =>
  Effect.map(admin.get(`/admin/realms/${realm}/audit`), (res) =>
    (res.json.events as Array<{ type: string; resource?: string; reason?: string }>).map(({ reason, resource, type }) => ({
      type,
      ...(resource !== undefined ? { resource } : {}),
      ...(reason !== undefined ? { reason } : {})
    })))

/** The row as the database holds it, read in `realmId`'s RLS scope (SQL stores only). */
const row = (realmId: string, id: string) =>
  Effect.gen(function*() {
    const sql = yield* sqlClient()
    if (Option.isNone(sql)) return Option.none()
    const rows = yield* sql.value`SELECT id::text, version, uri, scopes, step_up_scopes, display_name, scope_descriptions
      FROM resources WHERE id::text = ${id}`.pipe(Sql.withRealm(realmId), Effect.provideService(SqlClient.SqlClient, sql.value), Effect.orDie)
    return Option.fromNullable(rows[0])
  })

/** A realm's first events (ADR 0035): its creation and its built-ins. */
const born = (realm: string) => [
  { type: "client.created", reason: "built in" },
  { type: "resource.created", resource: `${publicUrl}/admin/realms/${realm}`, reason: "built in" },
  { type: "realm.created" }
]

/** The realm's built-in admin resource as listed (ADR 0035). */
const builtIn = (realm: string) => ({
  id: expect.stringMatching(uuid),
  uri: `${publicUrl}/admin/realms/${realm}`,
  scopes: ["tessera:admin"],
  step_up_scopes: [],
  display_name: `Tessera admin API of realm ${realm}`,
  scope_descriptions: { "tessera:admin": `Administer realm ${realm}: its users, clients, resources, invitations, keys and audit trail` },
  created_at: expect.stringMatching(iso)
})

/** The realm's id (the stores' key). */
const realmId = (name: string) => Effect.map(Provisioning.findRealm(name), (realm) => realm.id)

layer(TestLive)("CONTRACT §3 resources: create, read, list", (it) => {
  it.effect("§3: POST answers 201 with the id, every field and an ETag; GET answers the same", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const res = yield* admin.post(path(realm.name), {
        uri: "https://pay.example/mcp",
        scopes: ["mcp:tools", "payments:send"],
        step_up_scopes: ["payments:send"],
        display_name: "Payments",
        scope_descriptions: { "mcp:tools": "Use the payment tools", "payments:send": "Send money" }
      })
      const expected = {
        id: expect.stringMatching(uuid),
        uri: "https://pay.example/mcp",
        scopes: ["mcp:tools", "payments:send"],
        step_up_scopes: ["payments:send"],
        display_name: "Payments",
        scope_descriptions: { "mcp:tools": "Use the payment tools", "payments:send": "Send money" },
        created_at: expect.stringMatching(iso)
      }
      expectJson(res, 201, expected)
      expect(res.headers["etag"]).toMatch(etag)
      const read = yield* admin.get(path(realm.name, res.json.id))
      expectJson(read, 200, res.json)
      expect(read.headers["etag"]).toBe(res.headers["etag"])
      expect(yield* trail(realm.name)).toEqual([
        { type: "resource.created", resource: "https://pay.example/mcp" },
        ...born(realm.name)
      ])
    }))

  it.effect("§3: lists paginate by limit and cursor; next_cursor is absent on the last page", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      // ADR 0035: the realm's built-in admin resource is listed with the others
      const created: Array<Item> = [...(yield* admin.get(path(realm.name))).json.resources]
      for (let i = 0; i < 5; i++) created.push((yield* create(realm.name, { uri: `https://api${i}.example/`, scopes: ["read"] })).item)
      const all = [...created].sort((a, b) => (a.id < b.id ? -1 : 1))
      const first = yield* admin.get(`${path(realm.name)}?limit=2`)
      expectJson(first, 200, { resources: all.slice(0, 2), next_cursor: expect.any(String) })
      const second = yield* admin.get(`${path(realm.name)}?limit=2&cursor=${first.json.next_cursor}`)
      expectJson(second, 200, { resources: all.slice(2, 4), next_cursor: expect.any(String) })
      const third = yield* admin.get(`${path(realm.name)}?limit=2&cursor=${second.json.next_cursor}`)
      expectJson(third, 200, { resources: all.slice(4) })
      expectJson(yield* admin.get(path(realm.name)), 200, { resources: all })
      // a realm of its own: nothing of the other realm
      const other = yield* createRealm()
      expectJson(yield* admin.get(path(other.name)), 200, { resources: [builtIn(other.name)] })
    }))

  it.effect("§3: a bad limit, a forged cursor or a repeated parameter is 400 invalid_request", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      expectError(yield* admin.get(`${path(realm.name)}?limit=0`), 400, "invalid_request", "'limit' must be an integer from 1 to 200")
      expectError(yield* admin.get(`${path(realm.name)}?limit=x`), 400, "invalid_request", "'limit' must be an integer from 1 to 200")
      expectError(yield* admin.get(`${path(realm.name)}?cursor=abc`), 400, "invalid_request", "'cursor' must be a cursor from an earlier page")
      expectError(yield* admin.get(`${path(realm.name)}?limit=1&limit=2`), 400, "invalid_request", "'limit' must not be given twice")
    }))

  it.effect("§3: an unknown id, a non-uuid id and another realm's id are 404 not_found on GET, PATCH and DELETE", () =>
    Effect.gen(function*() {
      const mine = yield* createRealm()
      const theirs = yield* createRealm()
      const { etag: theirTag, item } = yield* create(theirs.name, { uri: "https://theirs.example/", scopes: ["read"], display_name: "Theirs" })
      for (const id of [item.id, crypto.randomUUID(), "not-a-uuid", "%00"]) {
        expectError(yield* admin.get(path(mine.name, id)), 404, "not_found", "unknown resource")
        expectError(yield* patch(path(mine.name, id), { display_name: "Mine now" }, theirTag), 404, "not_found", "unknown resource")
        expectError(yield* del(path(mine.name, id), theirTag), 404, "not_found", "unknown resource")
      }
      // their resource is untouched: in the admin API, in the database (read in their realm), and in their trail
      const read = yield* admin.get(path(theirs.name, item.id))
      expectJson(read, 200, item)
      expect(read.headers["etag"]).toBe(theirTag)
      expect(yield* trail(mine.name)).toEqual([...born(mine.name)])
      expect(yield* trail(theirs.name)).toEqual([{ type: "resource.created", resource: "https://theirs.example/" }, ...born(theirs.name)])
      const stored = yield* row(yield* realmId(theirs.name), item.id)
      // on a SQL store the row is read in the database itself
      expect(Option.isSome(stored)).toBe(store !== "memory")
      if (Option.isSome(stored)) {
        expect(stored.value).toEqual({
          id: item.id, version: 1, uri: "https://theirs.example/", scopes: ["read"], step_up_scopes: [], display_name: "Theirs", scope_descriptions: {}
        })
        // RLS: the same query in my realm's scope sees no row
        expect(yield* row(yield* realmId(mine.name), item.id)).toEqual(Option.none())
      }
    }))

  it.effect("§3: GET /admin/openapi.json describes every resource operation", () =>
    Effect.gen(function*() {
      const doc = (yield* get("/admin/openapi.json")).json as { paths: Record<string, Record<string, unknown>> }
      expect(Object.keys(doc.paths["/admin/realms/{realm}/resources"]!).sort()).toEqual(["get", "post"])
      expect(Object.keys(doc.paths["/admin/realms/{realm}/resources/{id}"]!).sort()).toEqual(["delete", "get", "patch"])
    }))
})


layer(TestLive)("CONTRACT §3 PATCH /admin/realms/R/resources/{id}", (it) => {
  const payments = {
    uri: "https://pay.example/mcp",
    scopes: ["mcp:tools", "payments:send"],
    step_up_scopes: ["payments:send"],
    display_name: "Payments",
    scope_descriptions: { "mcp:tools": "Use the payment tools" }
  }

  it.effect("§3: a change answers 200 with the whole resource and a new ETag; its event names the fields changed", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const { etag: before, item } = yield* create(realm.name, payments)
      const res = yield* patch(path(realm.name, item.id), {
        scopes: ["mcp:tools", "payments:send", "payments:read"],
        display_name: "Payments (EU)",
        scope_descriptions: { "payments:read": "See your payments" }
      }, before)
      const changed = {
        ...item,
        scopes: ["mcp:tools", "payments:send", "payments:read"],
        display_name: "Payments (EU)",
        scope_descriptions: { "payments:read": "See your payments" }
      }
      expectJson(res, 200, changed)
      expect(res.headers["etag"]).toMatch(etag)
      expect(res.headers["etag"]).not.toBe(before)
      const read = yield* admin.get(path(realm.name, item.id))
      expectJson(read, 200, changed)
      expect(read.headers["etag"]).toBe(res.headers["etag"])
      expect((yield* trail(realm.name))[0]).toEqual({
        type: "resource.updated", resource: payments.uri, reason: "changed: scopes, display_name, scope_descriptions"
      })
      // the old tag is stale now (RFC 9110 §13.1.1): 412, nothing written
      expectError(
        yield* patch(path(realm.name, item.id), { display_name: "Stale" }, before),
        412, "precondition_failed", "If-Match does not name the current representation"
      )
      expectError(yield* del(path(realm.name, item.id), before), 412, "precondition_failed", "If-Match does not name the current representation")
      expectJson(yield* admin.get(path(realm.name, item.id)), 200, changed)
    }))

  it.effect("§3: null clears display_name and scope_descriptions; If-Match * and no If-Match apply to the current one", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const { item } = yield* create(realm.name, payments)
      const { display_name: _, ...plain } = item
      expectJson(yield* patch(path(realm.name, item.id), { display_name: null, scope_descriptions: null }, "*"), 200, { ...plain, scope_descriptions: {} })
      expectJson(yield* patch(path(realm.name, item.id), { step_up_scopes: [] }), 200, { ...plain, step_up_scopes: [], scope_descriptions: {} })
      expect((yield* trail(realm.name)).slice(0, 2)).toEqual([
        { type: "resource.updated", resource: payments.uri, reason: "changed: step_up_scopes" },
        { type: "resource.updated", resource: payments.uri, reason: "changed: display_name, scope_descriptions" }
      ])
    }))

  it.effect("§3: a change that changes nothing (the same uri included) writes nothing and keeps the ETag", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const { etag: tag, item } = yield* create(realm.name, payments)
      const res = yield* patch(path(realm.name, item.id), { uri: payments.uri, display_name: "Payments", scopes: payments.scopes }, tag)
      expectJson(res, 200, item)
      expect(res.headers["etag"]).toBe(tag)
      expect(yield* trail(realm.name)).toEqual([{ type: "resource.created", resource: payments.uri }, ...born(realm.name)])
    }))

  it.effect("ADR 0033: the uri is the resource's identity: another uri is 400 and nothing changes", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const { etag: tag, item } = yield* create(realm.name, payments)
      expectError(
        yield* patch(path(realm.name, item.id), { uri: "https://other.example/mcp", display_name: "Other" }, tag),
        400, "invalid_request", "'uri' cannot be changed: register a new resource and delete this one"
      )
      expectJson(yield* admin.get(path(realm.name, item.id)), 200, item)
    }))

  it.effect("§3: two PATCHes with the same If-Match: one 200, one 412, one event", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const { etag: tag, item } = yield* create(realm.name, payments)
      const [a, b] = yield* Effect.all([
        patch(path(realm.name, item.id), { display_name: "A" }, tag),
        patch(path(realm.name, item.id), { display_name: "B" }, tag)
      ], { concurrency: 2 })
      expect([a.status, b.status].sort()).toEqual([200, 412])
      const winner = a.status === 200 ? a : b
      const loser = a.status === 200 ? b : a
      expectError(loser, 412, "precondition_failed", expect.stringMatching(/^(If-Match does not name the current representation|the resource changed since it was read)$/) as never)
      expectJson(yield* admin.get(path(realm.name, item.id)), 200, winner.json)
      expect((yield* trail(realm.name)).filter((e) => e.type === "resource.updated")).toHaveLength(1)
      // the same race on DELETE: one 204, one 412 (or 404 once the row is gone)
      const current = (yield* admin.get(path(realm.name, item.id))).headers["etag"]!
      const [c, d] = yield* Effect.all([del(path(realm.name, item.id), current), del(path(realm.name, item.id), current)], { concurrency: 2 })
      expect([c.status, d.status].sort()).toEqual(expect.arrayContaining([204]))
      expect([c.status, d.status].filter((s) => s === 204)).toHaveLength(1)
      expect((yield* trail(realm.name)).filter((e) => e.type === "resource.deleted")).toHaveLength(1)
    }))

  const refusals: ReadonlyArray<readonly [string, unknown, string]> = [
    ["a NUL in display_name", { display_name: "Pay\u0000ments" }, "the body must not contain NUL characters or unpaired surrogates"],
    ["a control character in display_name", { display_name: "Pay\nments" }, "'display_name' must be a string of 1 to 200 characters without control characters"],
    ["an empty display_name", { display_name: "" }, "'display_name' must be a string of 1 to 200 characters without control characters"],
    ["a display_name of 201 characters", { display_name: "x".repeat(201) }, "'display_name' must be a string of 1 to 200 characters without control characters"],
    ["a number as display_name", { display_name: 5 }, "'display_name' must be a string of 1 to 200 characters without control characters"],
    ["scopes as a string", { scopes: "read" }, "'scopes' must be a non-empty array of distinct scope tokens (RFC 6749 §3.3)"],
    ["empty scopes", { scopes: [] }, "'scopes' must be a non-empty array of distinct scope tokens (RFC 6749 §3.3)"],
    ["a number among step_up_scopes", { step_up_scopes: [1] }, "'step_up_scopes' must be an array of distinct scope tokens (RFC 6749 §3.3)"],
    ["step_up_scopes that are not a subset of scopes", { step_up_scopes: ["admin"] }, "'step_up_scopes' must be a subset of 'scopes'"],
    [
      "scopes that leave a step-up scope behind",
      { scopes: ["mcp:tools"] },
      "'step_up_scopes' must be a subset of 'scopes'"
    ],
    [
      "scopes that leave a described scope behind",
      { scopes: ["payments:send"] },
      "'scope_descriptions' must describe only scopes of 'scopes'"
    ],
    ["a description of an unknown scope", { scope_descriptions: { admin: "Everything" } }, "'scope_descriptions' must describe only scopes of 'scopes'"],
    ["a description keyed __proto__", { scope_descriptions: JSON.parse(`{"__proto__": "x"}`) }, "'scope_descriptions' must be an object of scope descriptions, each a string of 1 to 300 characters without control characters"],
    [
      "scope_descriptions as an array",
      { scope_descriptions: ["Use the tools"] },
      "'scope_descriptions' must be an object of scope descriptions, each a string of 1 to 300 characters without control characters"
    ],
    [
      "a number as a description",
      { scope_descriptions: { "mcp:tools": 5 } },
      "'scope_descriptions' must be an object of scope descriptions, each a string of 1 to 300 characters without control characters"
    ],
    [
      "a description of 301 characters",
      { scope_descriptions: { "mcp:tools": "x".repeat(301) } },
      "'scope_descriptions' must be an object of scope descriptions, each a string of 1 to 300 characters without control characters"
    ],
    ["a relative uri", { uri: "/mcp" }, "'uri' must be an absolute URI without a fragment"],
    ["a number as uri", { uri: 5 }, "'uri' must be an absolute URI without a fragment"]
  ]
  for (const [what, body, description] of refusals) {
    it.effect(`§2: ${what} is 400 invalid_request and changes nothing`, () =>
      Effect.gen(function*() {
        const realm = yield* createRealm()
        const { etag: tag, item } = yield* create(realm.name, payments)
        expectError(yield* patch(path(realm.name, item.id), body, tag), 400, "invalid_request", description)
        const read = yield* admin.get(path(realm.name, item.id))
        expectJson(read, 200, item)
        expect(read.headers["etag"]).toBe(tag)
        expect(yield* trail(realm.name)).toEqual([{ type: "resource.created", resource: payments.uri }, ...born(realm.name)])
      }))
  }

  it.effect("§2: a body that is not a JSON object is 400 invalid_request", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const { item } = yield* create(realm.name, payments)
      expectError(yield* patchRaw(path(realm.name, item.id), "[]"), 400, "invalid_request", "the body must be a JSON object")
      expectError(yield* patchRaw(path(realm.name, item.id), "{"), 400, "invalid_request", "the body is not valid JSON")
      expectError(yield* patchRaw(path(realm.name, item.id), `{"display_name": "\\ud800"}`), 400, "invalid_request", "the body must not contain NUL characters or unpaired surrogates")
      expectJson(yield* admin.get(path(realm.name, item.id)), 200, item)
    }))

  const createRefusals: ReadonlyArray<readonly [string, unknown, string]> = [
    ["a description of an unknown scope", { uri: "https://a.example/", scopes: ["read"], scope_descriptions: { write: "Write" } }, "'scope_descriptions' must describe only scopes of 'scopes'"],
    ["a number as display_name", { uri: "https://a.example/", scopes: ["read"], display_name: 1 }, "'display_name' must be a string of 1 to 200 characters without control characters"],
    ["a NUL in a description", { uri: "https://a.example/", scopes: ["read"], scope_descriptions: { read: "R\u0000" } }, "the body must not contain NUL characters or unpaired surrogates"],
    ["a tab in a description", { uri: "https://a.example/", scopes: ["read"], scope_descriptions: { read: "R\tead" } }, "'scope_descriptions' must be an object of scope descriptions, each a string of 1 to 300 characters without control characters"]
  ]
  for (const [what, body, description] of createRefusals) {
    it.effect(`§2: POST with ${what} is 400 invalid_request and writes nothing`, () =>
      Effect.gen(function*() {
        const realm = yield* createRealm()
        expectError(yield* admin.post(path(realm.name), body), 400, "invalid_request", description)
        expectJson(yield* admin.get(path(realm.name)), 200, { resources: [builtIn(realm.name)] })
        expect(yield* trail(realm.name)).toEqual([...born(realm.name)])
      }))
  }

  it.effect("ReadCache: a change is seen by the token path at once (a client's resources are checked against it)", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const { etag: tag, item } = yield* create(realm.name, payments)
      // the token path's lookup by uri, cached: warm it, change the resource, read it again
      const id = yield* realmId(realm.name)
      const before = yield* Effect.flatMap(Resources.Resources, (r) => r.find(id, payments.uri))
      expect(Option.map(before, (r) => r.displayName)).toEqual(Option.some("Payments"))
      yield* patch(path(realm.name, item.id), { display_name: "Renamed" }, tag)
      const after = yield* Effect.flatMap(Resources.Resources, (r) => r.find(id, payments.uri))
      expect(Option.map(after, (r) => [r.displayName, r.version])).toEqual(Option.some(["Renamed", 2]))
      const listed = yield* Effect.flatMap(Resources.Resources, (r) => r.list(id))
      expect(listed.filter((r) => r.uri === payments.uri).map((r) => r.displayName)).toEqual(["Renamed"])
    }))
})

layer(TestLive)("CONTRACT §3 DELETE /admin/realms/R/resources/{id} (ADR 0033)", (it) => {
  it.effect("§3: 204; the resource is gone from GET, the list and the token path's lookup; resource.deleted is in the trail", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const { etag: tag, item } = yield* create(realm.name, { uri: "https://gone.example/", scopes: ["read"] })
      const id = yield* realmId(realm.name)
      // warm the token path's cache first
      expect(Option.isSome(yield* Effect.flatMap(Resources.Resources, (r) => r.find(id, item.uri)))).toBe(true)
      const res = yield* del(path(realm.name, item.id), tag)
      expect({ status: res.status, cache: res.headers["cache-control"], text: res.text }).toEqual({ status: 204, cache: "no-store", text: "" })
      expectError(yield* admin.get(path(realm.name, item.id)), 404, "not_found", "unknown resource")
      expectError(yield* del(path(realm.name, item.id)), 404, "not_found", "unknown resource")
      expectJson(yield* admin.get(path(realm.name)), 200, { resources: [builtIn(realm.name)] })
      expect(yield* Effect.flatMap(Resources.Resources, (r) => r.find(id, item.uri))).toEqual(Option.none())
      // a client can no longer list it
      const client = yield* admin.post(`/admin/realms/${realm.name}/clients`, {
        redirect_uris: ["https://app.example/cb"], resources: [item.uri]
      })
      expectError(client, 400, "invalid_client_metadata", `resource '${item.uri}' is not registered in this realm`)
      expect((yield* trail(realm.name))[0]).toEqual({ type: "resource.deleted", resource: item.uri })
      expect(yield* row(id, item.id)).toEqual(Option.none())
    }))

  it.effect("ADR 0033: while a client lists it in `resources`, DELETE is 409 conflict naming the client, and nothing changes", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* registerClient(w)
      const listed = ((yield* admin.get(path(w.name))).json.resources as Array<Item>).find((r) => r.uri === w.resource)!
      const read = yield* admin.get(path(w.name, listed.id))
      expectError(
        yield* del(path(w.name, listed.id), read.headers["etag"]),
        409, "conflict", `clients list this resource in 'resources' (${client.client_id}); remove it from them first`
      )
      const after = yield* admin.get(path(w.name, listed.id))
      expectJson(after, 200, listed)
      expect(after.headers["etag"]).toBe(read.headers["etag"])
      expect((yield* trail(w.name)).some((e) => e.type === "resource.deleted")).toBe(false)
    }))

  it.effect("ADR 0033: deleting revokes the grants naming it (refresh fails, introspection inactive) and keeps the others", () =>
    Effect.gen(function*() {
      const w = yield* world
      // a client registered without `resources` (every resource of the realm) does not hold the deletion up
      const client = yield* registerClient(w, { resources: undefined })
      const auth = authOf(client)
      const onDeleted = yield* issueCode(w, { clientId: client.client_id, scopes: ["read"], resources: [w.resource] })
      const onOther = yield* issueCode(w, { clientId: client.client_id, scopes: ["admin"], resources: [w.otherResource] })
      const deletedTokens = (yield* exchange(w, auth, onDeleted, { resource: w.resource })).json
      const otherTokens = (yield* exchange(w, auth, onOther, { resource: w.otherResource })).json
      expect(deletedTokens.refresh_token).toEqual(expect.any(String))
      expect(otherTokens.refresh_token).toEqual(expect.any(String))

      const target = ((yield* admin.get(path(w.name))).json.resources as Array<Item>).find((r) => r.uri === w.resource)!
      expect((yield* del(path(w.name, target.id))).status).toBe(204)

      const refused = yield* refresh(w, auth, deletedTokens.refresh_token, { resource: w.resource })
      expect({ status: refused.status, error: refused.json.error }).toEqual({ status: 400, error: "invalid_grant" })
      expect((yield* introspect(w, auth, deletedTokens.access_token)).json).toEqual({ active: false })
      // the grant that names only the other resource still works
      expect((yield* refresh(w, auth, otherTokens.refresh_token, { resource: w.otherResource })).status).toBe(200)
      expect((yield* introspect(w, auth, otherTokens.access_token)).json.active).toBe(true)
      expect((yield* trail(w.name)).find((e) => e.type === "resource.deleted")).toEqual({
        type: "resource.deleted", resource: w.resource, reason: "revoked 1 grant(s) naming it"
      })
    }))
})

layer(TestLive)("CONTRACT §3 and §4: the consent page names resources and scopes as their administrator described them", (it) => {
  const hostile = "<script>alert(1)</script>"
  const resources = [{
    uri: "https://pay.example/mcp",
    scopes: ["mcp:tools", "payments:send"],
    step_up_scopes: ["payments:send"],
    display_name: `Payments ${hostile}`,
    scope_descriptions: { "mcp:tools": `Use the <b>payment</b> tools "${hostile}"` }
  }]

  /** Authorize with `resource` and scope `openid mcp:tools`, sign in: the consent page. */
  const consentPage = (s: Effect.Effect.Success<ReturnType<typeof browserSetup>>, browser = makeBrowser()) =>
    Effect.gen(function*() {
      const { challenge } = pkce()
      const page = yield* authorizeAndLogin(browser, s, challenge, { scope: "openid mcp:tools", resource: s.resource })
      return { page, browser }
    })

  it.effect("the display name and the descriptions, escaped; OIDC scopes in plain words; bare strings without a description", () =>
    Effect.gen(function*() {
      const s = yield* browserSetup({ resources })
      const { page } = yield* consentPage(s)
      expect(page.status).toBe(200)
      expect(page.headers["content-type"]).toBe("text/html; charset=utf-8")
      const scopes = /<ul class="list" id="scopes">([\s\S]*?)<\/ul>/.exec(page.text)![1]
      const listed = /<ul class="list" id="resources">([\s\S]*?)<\/ul>/.exec(page.text)![1]
      expect(scopes).toBe(
        "<li><code>openid</code><span>Confirm who you are</span></li>" +
          "<li><code>mcp:tools</code><span>Use the &lt;b&gt;payment&lt;/b&gt; tools &quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;</span></li>"
      )
      expect(listed).toBe(
        "<li><strong>Payments &lt;script&gt;alert(1)&lt;/script&gt;</strong><span><code>https://pay.example/mcp</code></span></li>"
      )
      // nothing the administrator wrote is markup
      expect(page.text).not.toContain("<script")
      expect(page.text).not.toContain("<b>")
    }))

  it.effect("a change of name or descriptions shows on the next consent page; without them, the bare strings", () =>
    Effect.gen(function*() {
      const s = yield* browserSetup({ resources })
      const listed = ((yield* admin.get(path(s.realm))).json.resources as Array<Item>).find((r) => !r.scopes.includes("tessera:admin"))!
      expectJson(
        yield* patch(path(s.realm, listed.id), { display_name: null, scope_descriptions: null }),
        200,
        { ...listed, display_name: undefined, scope_descriptions: {} }
      )
      const { page } = yield* consentPage(s)
      expect(/<ul class="list" id="scopes">([\s\S]*?)<\/ul>/.exec(page.text)![1]).toBe(
        "<li><code>openid</code><span>Confirm who you are</span></li><li><code>mcp:tools</code></li>"
      )
      expect(/<ul class="list" id="resources">([\s\S]*?)<\/ul>/.exec(page.text)![1]).toBe("<li><code>https://pay.example/mcp</code></li>")
    }))

  it.effect("ADR 0033: a resource deleted and registered again under the same URI asks for consent again", () =>
    Effect.gen(function*() {
      const s = yield* browserSetup({ resources })
      const { browser, page } = yield* consentPage(s)
      const { onlyForm } = yield* Effect.promise(() => import("./support/Browser.js"))
      const allowed = yield* browser.submit(onlyForm(page.text), {}, ["decision", "allow"])
      expect(allowed.status).toBe(302)
      // remembered: the next request goes straight back to the client
      const { challenge } = pkce()
      const again = yield* browser.get(`/realms/${s.realm}/authorize?${new URLSearchParams({
        response_type: "code", client_id: s.clientId, redirect_uri: s.redirectUri, scope: "openid mcp:tools",
        state: "s", code_challenge: challenge, code_challenge_method: "S256", resource: s.resource
      }).toString()}`)
      expect(again.status).toBe(302)
      const listed = ((yield* admin.get(path(s.realm))).json.resources as Array<Item>).find((r) => !r.scopes.includes("tessera:admin"))!
      expect((yield* del(path(s.realm, listed.id))).status).toBe(204)
      yield* create(s.realm, resources[0]!)
      const renewed = yield* browser.get(`/realms/${s.realm}/authorize?${new URLSearchParams({
        response_type: "code", client_id: s.clientId, redirect_uri: s.redirectUri, scope: "openid mcp:tools",
        state: "s", code_challenge: challenge, code_challenge_method: "S256", resource: s.resource
      }).toString()}`)
      expect(renewed.status).toBe(200)
      expect(renewed.text).toContain(`name="decision" value="allow"`)
    }))
})
