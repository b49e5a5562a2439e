/**
 * CONTRACT §3 trusted issuers after creation (issue 13, ADR 0033): ids, the ID-JAG flags, list, read, PATCH and DELETE
 * with ETag/If-Match, their events (CONTRACT §7), realm isolation checked in the database, and a deleted or re-keyed
 * issuer's assertions refused at the RFC 7523 grant (cached `jwks_uri` keys included).
 */
import { SqlClient } from "@effect/sql"
import { expect } from "@effect/vitest"
import { Clock, Effect, Option } from "effect"
import { Provisioning } from "@tessera/domain"
import { Sql } from "@tessera/sql"
import type { WireResponse } from "./support/Http.js"
import { admin, createRealm, get, request } from "./support/Http.js"
import { adminToken, store } from "./support/TestLive.js"
import * as TestLive from "./support/TestLive.js"
import {
  authOf, clientKey, post, registerClient, remoteIssuer, signJwt, trustedIssuer, world
} from "./support/TokenFixtures.js"
import type { ClientKey, RegisteredClient, World } from "./support/TokenFixtures.js"

const it = TestLive.file()

const owner = { authorization: `Bearer ${adminToken}` }

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const etag = /^"[A-Za-z0-9_-]{22}"$/
const iso = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

const ecPublicJwk = {
  kty: "EC",
  crv: "P-256",
  x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
  y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
}

const path = (realm: string, id?: string) => `/admin/realms/${realm}/trusted-issuers${id !== undefined ? `/${id}` : ""}`

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

const del = (p: string, ifMatch?: string) =>
  request("DELETE", p, { headers: { ...owner, ...(ifMatch !== undefined ? { "if-match": ifMatch } : {}) } })

interface Item {
  readonly id: string
  readonly issuer: string
  readonly jwks?: unknown
  readonly jwks_uri?: string
  readonly id_jag: boolean
  readonly provision_users: boolean
  readonly created_at: string
}

/** Registers a trusted issuer; answers its body and ETag. */
const create = (realm: string, body: Record<string, unknown>) =>
  Effect.gen(function*() {
    const res = yield* admin.post(path(realm), body)
    if (res.status !== 201) return yield* Effect.dieMessage(`trusted issuer: ${res.status} ${res.text}`)
    return { item: res.json as Item, etag: res.headers["etag"]! }
  })

/** The realm's audit trail, newest first: type, subject and reason. */
const trail = (realm: string) =>
  Effect.map(admin.get(`/admin/realms/${realm}/audit`), (res) =>
    (res.json.events as Array<{ type: string; subject?: string; reason?: string }>).map(({ reason, subject, type }) => ({
      type,
      ...(subject !== undefined ? { subject } : {}),
      ...(reason !== undefined ? { reason } : {})
    })))

/** A realm's first events (ADR 0035): its creation and its built-ins. */
const born = [{ type: "client.created", reason: "built in" }, { type: "resource.created", reason: "built in" }, { type: "realm.created" }]

const realmId = (name: string) => Effect.map(Provisioning.findRealm(name), (realm) => realm.id)

/** The row as the database holds it, read in `realmId`'s RLS scope (SQL stores only). */
const row = (inRealm: string, id: string) =>
  Effect.gen(function*() {
    const sql = yield* TestLive.maybeSqlOn()
    if (Option.isNone(sql)) return Option.none()
    const rows = yield* sql.value`SELECT id::text, version, issuer, keys, id_jag, provision_users FROM trusted_issuers WHERE id::text = ${id}`.pipe(
      Sql.withRealm(inRealm),
      Effect.provideService(SqlClient.SqlClient, sql.value),
      Effect.orDie
    )
    return Option.fromNullable(rows[0])
  })

const jwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"

/** RFC 7523 §3: an assertion from `issuer` signed with `key`, for the realm. */
const assertionOf = (w: World, issuer: string, key: ClientKey) =>
  Effect.gen(function*() {
    const now = Math.floor((yield* Clock.currentTimeMillis) / 1000)
    return yield* signJwt(key, { iss: issuer, sub: w.sub, aud: w.issuer, iat: now, exp: now + 60, jti: crypto.randomUUID() })
  })

/** RFC 7523 §2.1: the grant with `assertion`; answers the status and error code. */
const jwtBearerGrant = (w: World, client: RegisteredClient, assertion: string) =>
  Effect.map(
    post(w, "token", authOf(client), [["grant_type", jwtBearer], ["assertion", assertion], ["scope", "read"]]),
    (res) => ({ status: res.status, error: res.json.error as string | undefined })
  )

const granted = { status: 200, error: undefined }
const refused = { status: 400, error: "invalid_grant" }

const bearerClient = (w: World) => registerClient(w, { grant_types: [jwtBearer], redirect_uris: [], response_types: [] })

it.layer(TestLive.World)("CONTRACT §3 trusted issuers: create, read, list", (it) => {
  it.effect("§3: POST answers 201 with the id, the keys, the ID-JAG flags and an ETag; GET answers the same", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const res = yield* admin.post(path(realm.name), {
        issuer: "https://idp.example",
        jwks: { keys: [ecPublicJwk] },
        id_jag: true,
        provision_users: true
      })
      expectJson(res, 201, {
        id: expect.stringMatching(uuid),
        issuer: "https://idp.example",
        jwks: { keys: [ecPublicJwk] },
        id_jag: true,
        provision_users: true,
        created_at: expect.stringMatching(iso)
      })
      expect(res.headers["etag"]).toMatch(etag)
      const read = yield* admin.get(path(realm.name, res.json.id))
      expectJson(read, 200, res.json)
      expect(read.headers["etag"]).toBe(res.headers["etag"])
      expect(yield* trail(realm.name)).toEqual([{ type: "trusted_issuer.created", subject: "https://idp.example" }, ...born])
    }))

  it.effect("§3: lists paginate by limit and cursor; next_cursor is absent on the last page", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const created: Array<Item> = []
      for (let i = 0; i < 3; i++) {
        created.push((yield* create(realm.name, { issuer: `https://idp${i}.example`, jwks_uri: `https://idp${i}.example/jwks` })).item)
      }
      const all = [...created].sort((a, b) => (a.id < b.id ? -1 : 1))
      const first = yield* admin.get(`${path(realm.name)}?limit=2`)
      expectJson(first, 200, { trusted_issuers: all.slice(0, 2), next_cursor: expect.any(String) })
      expectJson(yield* admin.get(`${path(realm.name)}?limit=2&cursor=${first.json.next_cursor}`), 200, { trusted_issuers: all.slice(2) })
      expectJson(yield* admin.get(path(realm.name)), 200, { trusted_issuers: all })
      expectError(yield* admin.get(`${path(realm.name)}?limit=201`), 400, "invalid_request", "'limit' must be an integer from 1 to 200")
      expectJson(yield* admin.get(path((yield* createRealm()).name)), 200, { trusted_issuers: [] })
    }))

  for (
    const [what, body, description] of [
      ["id_jag as a string", { id_jag: "yes" }, "'id_jag' must be a boolean"],
      ["provision_users as a number", { provision_users: 1 }, "'provision_users' must be a boolean"],
      ["a NUL in the issuer", { issuer: "https://idp.example/\u0000" }, "the body must not contain NUL characters or unpaired surrogates"]
    ] as const
  ) {
    it.effect(`§2: POST with ${what} is 400 invalid_request and writes nothing`, () =>
      Effect.gen(function*() {
        const realm = yield* createRealm()
        expectError(
          yield* admin.post(path(realm.name), { issuer: "https://idp.example", jwks_uri: "https://idp.example/jwks", ...body }),
          400, "invalid_request", description
        )
        expectJson(yield* admin.get(path(realm.name)), 200, { trusted_issuers: [] })
        expect(yield* trail(realm.name)).toEqual([...born])
      }))
  }

  it.effect("§3: an unknown id, a non-uuid id and another realm's id are 404 not_found on GET, PATCH and DELETE", () =>
    Effect.gen(function*() {
      const mine = yield* createRealm()
      const theirs = yield* createRealm()
      const { etag: theirTag, item } = yield* create(theirs.name, { issuer: "https://idp.example", jwks_uri: "https://idp.example/jwks" })
      for (const id of [item.id, crypto.randomUUID(), "not-a-uuid"]) {
        expectError(yield* admin.get(path(mine.name, id)), 404, "not_found", "unknown trusted issuer")
        expectError(yield* patch(path(mine.name, id), { id_jag: true }, theirTag), 404, "not_found", "unknown trusted issuer")
        expectError(yield* del(path(mine.name, id), theirTag), 404, "not_found", "unknown trusted issuer")
      }
      const read = yield* admin.get(path(theirs.name, item.id))
      expectJson(read, 200, item)
      expect(read.headers["etag"]).toBe(theirTag)
      expect(yield* trail(mine.name)).toEqual([...born])
      const stored = yield* row(yield* realmId(theirs.name), item.id)
      // on a SQL store the row is read in the database itself
      expect(Option.isSome(stored)).toBe(store !== "memory")
      if (Option.isSome(stored)) {
        expect(stored.value).toEqual({
          id: item.id, version: 1, issuer: "https://idp.example", keys: { _tag: "JwksUri", jwksUri: "https://idp.example/jwks" },
          id_jag: false, provision_users: false
        })
        // RLS: the same query in my realm's scope sees no row
        expect(yield* row(yield* realmId(mine.name), item.id)).toEqual(Option.none())
      }
    }))

  it.effect("§3: GET /admin/openapi.json describes every trusted-issuer operation", () =>
    Effect.gen(function*() {
      const doc = (yield* get("/admin/openapi.json")).json as { paths: Record<string, Record<string, unknown>> }
      expect(Object.keys(doc.paths["/admin/realms/{realm}/trusted-issuers"]!).sort()).toEqual(["get", "post"])
      expect(Object.keys(doc.paths["/admin/realms/{realm}/trusted-issuers/{id}"]!).sort()).toEqual(["delete", "get", "patch"])
    }))
})

it.layer(TestLive.World)("CONTRACT §3 PATCH /admin/realms/R/trusted-issuers/{id}", (it) => {
  const inline = { issuer: "https://idp.example", jwks: { keys: [ecPublicJwk] } }

  it.effect("§3: new keys and flags answer 200 with the whole issuer and a new ETag; the event names the fields", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const { etag: before, item } = yield* create(realm.name, inline)
      const res = yield* patch(path(realm.name, item.id), { jwks_uri: "https://idp.example/jwks", id_jag: true }, before)
      const { jwks: _, ...rest } = item
      const changed = { ...rest, jwks_uri: "https://idp.example/jwks", id_jag: true }
      expectJson(res, 200, changed)
      expect(res.headers["etag"]).toMatch(etag)
      expect(res.headers["etag"]).not.toBe(before)
      expectJson(yield* admin.get(path(realm.name, item.id)), 200, changed)
      const again = yield* patch(path(realm.name, item.id), { provision_users: true }, res.headers["etag"])
      expectJson(again, 200, { ...changed, provision_users: true })
      expect((yield* trail(realm.name)).slice(0, 2)).toEqual([
        { type: "trusted_issuer.updated", subject: inline.issuer, reason: "changed: provision_users" },
        { type: "trusted_issuer.updated", subject: inline.issuer, reason: "changed: jwks, jwks_uri, id_jag" }
      ])
      expectError(yield* patch(path(realm.name, item.id), { id_jag: false }, before), 412, "precondition_failed", "If-Match does not name the current representation")
      expectError(yield* del(path(realm.name, item.id), before), 412, "precondition_failed", "If-Match does not name the current representation")
      expectJson(yield* admin.get(path(realm.name, item.id)), 200, { ...changed, provision_users: true })
    }))

  it.effect("§3: a change that changes nothing (the same issuer included) writes nothing and keeps the ETag", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const { etag: tag, item } = yield* create(realm.name, inline)
      const res = yield* patch(path(realm.name, item.id), { issuer: inline.issuer, jwks: inline.jwks, id_jag: false }, tag)
      expectJson(res, 200, item)
      expect(res.headers["etag"]).toBe(tag)
      expect(yield* trail(realm.name)).toEqual([{ type: "trusted_issuer.created", subject: inline.issuer }, ...born])
    }))

  it.effect("§3: two PATCHes with the same If-Match: one 200, one 412, one event", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const { etag: tag, item } = yield* create(realm.name, inline)
      const [a, b] = yield* Effect.all([
        patch(path(realm.name, item.id), { id_jag: true }, tag),
        patch(path(realm.name, item.id), { provision_users: true }, tag)
      ], { concurrency: 2 })
      expect([a.status, b.status].sort()).toEqual([200, 412])
      const winner = a.status === 200 ? a : b
      expect((a.status === 200 ? b : a).json.error).toBe("precondition_failed")
      expectJson(yield* admin.get(path(realm.name, item.id)), 200, winner.json)
      expect((yield* trail(realm.name)).filter((e) => e.type === "trusted_issuer.updated")).toHaveLength(1)
    }))

  const refusals: ReadonlyArray<readonly [string, unknown, string]> = [
    ["both jwks and jwks_uri", { jwks: { keys: [ecPublicJwk] }, jwks_uri: "https://idp.example/jwks" }, "only one of 'jwks' and 'jwks_uri' may be given"],
    ["a jwks with a private key", { jwks: { keys: [{ ...ecPublicJwk, d: "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI" }] } }, "'jwks' keys[0] must be a public key (no private members)"],
    ["a jwks that is no JWK Set", { jwks: [ecPublicJwk] }, "'jwks' must be a JWK Set: an object with a 'keys' array"],
    ["an empty JWK Set", { jwks: { keys: [] } }, "'jwks' must hold at least one key"],
    ["a non-https jwks_uri", { jwks_uri: "http://idp.example/jwks" }, "'jwks_uri' must be an https URL"],
    ["a number as jwks_uri", { jwks_uri: 5 }, "'jwks_uri' must be an https URL"],
    ["a NUL in jwks_uri", { jwks_uri: "https://idp.example/\u0000" }, "the body must not contain NUL characters or unpaired surrogates"],
    ["id_jag as a string", { id_jag: "true" }, "'id_jag' must be a boolean"],
    ["provision_users as null", { provision_users: null }, "'provision_users' must be a boolean"],
    ["another issuer", { issuer: "https://other.example" }, "'issuer' cannot be changed: register a new trusted issuer and delete this one"],
    ["an issuer that is no https URL", { issuer: "idp" }, "'issuer' must be an https URL without query or fragment"]
  ]
  for (const [what, body, description] of refusals) {
    it.effect(`§2: ${what} is 400 invalid_request and changes nothing`, () =>
      Effect.gen(function*() {
        const realm = yield* createRealm()
        const { etag: tag, item } = yield* create(realm.name, inline)
        expectError(yield* patch(path(realm.name, item.id), body, tag), 400, "invalid_request", description)
        const read = yield* admin.get(path(realm.name, item.id))
        expectJson(read, 200, item)
        expect(read.headers["etag"]).toBe(tag)
        expect(yield* trail(realm.name)).toEqual([{ type: "trusted_issuer.created", subject: inline.issuer }, ...born])
      }))
  }

  it.effect("§2: a body that is not a JSON object is 400 invalid_request", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const { item } = yield* create(realm.name, inline)
      expectError(yield* request("PATCH", path(realm.name, item.id), { headers: owner, body: "null" }), 400, "invalid_request", "the body must be a JSON object")
      expectError(
        yield* request("PATCH", path(realm.name, item.id), { headers: owner, body: "{}", contentType: "text/plain" }),
        400, "invalid_request", "the body must be application/json"
      )
      expectJson(yield* admin.get(path(realm.name, item.id)), 200, item)
    }))
})

it.layer(TestLive.World)("ADR 0033: a deleted or re-keyed trusted issuer's assertions are refused (RFC 7523 §3)", (it) => {
  /** The world's trusted issuer as the admin API lists it. */
  const listed = (w: World, issuer: string) =>
    Effect.gen(function*() {
      const item = ((yield* admin.get(path(w.name))).json.trusted_issuers as Array<Item>).find((t) => t.issuer === issuer)!
      return { item, etag: (yield* admin.get(path(w.name, item.id))).headers["etag"]! }
    })

  it.effect("DELETE answers 204; the issuer's assertions are invalid_grant from then on; trusted_issuer.deleted is in the trail", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* bearerClient(w)
      const idp = yield* trustedIssuer(w)
      expect(yield* jwtBearerGrant(w, client, yield* assertionOf(w, idp.issuer, idp.key))).toEqual(granted)
      const { etag: tag, item } = yield* listed(w, idp.issuer)
      const res = yield* del(path(w.name, item.id), tag)
      expect({ status: res.status, cache: res.headers["cache-control"], text: res.text }).toEqual({ status: 204, cache: "no-store", text: "" })
      expect(yield* jwtBearerGrant(w, client, yield* assertionOf(w, idp.issuer, idp.key))).toEqual(refused)
      expectError(yield* admin.get(path(w.name, item.id)), 404, "not_found", "unknown trusted issuer")
      expect((yield* trail(w.name)).find((e) => e.type === "trusted_issuer.deleted")).toEqual({ type: "trusted_issuer.deleted", subject: idp.issuer })
      expect(yield* row(w.realmId, item.id)).toEqual(Option.none())
    }))

  it.effect("a jwks_uri issuer deleted and registered again at the same URL: keys cached before are not trusted", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* bearerClient(w)
      const idp = yield* remoteIssuer(w)
      // the old key is fetched and cached (max-age 3600)
      expect(yield* jwtBearerGrant(w, client, yield* assertionOf(w, idp.issuer, idp.key))).toEqual(granted)
      const { etag: tag, item } = yield* listed(w, idp.issuer)
      expect((yield* del(path(w.name, item.id), tag)).status).toBe(204)
      expect(yield* jwtBearerGrant(w, client, yield* assertionOf(w, idp.issuer, idp.key))).toEqual(refused)
      // the issuer's key was compromised: it publishes a new one, and the owner registers it again
      const fresh = yield* clientKey
      yield* idp.publish([fresh])
      yield* create(w.name, { issuer: idp.issuer, jwks_uri: idp.jwksUri })
      expect(yield* jwtBearerGrant(w, client, yield* assertionOf(w, idp.issuer, idp.key))).toEqual(refused)
      expect(yield* jwtBearerGrant(w, client, yield* assertionOf(w, idp.issuer, fresh))).toEqual(granted)
    }))

  it.effect("PATCH to other keys: assertions signed with the old key are refused at once, the new key's accepted", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* bearerClient(w)
      const idp = yield* remoteIssuer(w)
      expect(yield* jwtBearerGrant(w, client, yield* assertionOf(w, idp.issuer, idp.key))).toEqual(granted)
      const { etag: tag, item } = yield* listed(w, idp.issuer)
      const next = yield* clientKey
      expect((yield* patch(path(w.name, item.id), { jwks: { keys: [next.publicJwk] } }, tag)).status).toBe(200)
      expect(yield* jwtBearerGrant(w, client, yield* assertionOf(w, idp.issuer, idp.key))).toEqual(refused)
      expect(yield* jwtBearerGrant(w, client, yield* assertionOf(w, idp.issuer, next))).toEqual(granted)
    }))
})
