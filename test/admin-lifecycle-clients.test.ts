/**
 * CONTRACT §3 clients after registration (ADR 0032): list, read, update, delete and secret rotation through the admin
 * API, on memory, PGlite and PostgreSQL: whole answers, If-Match, validation as at registration, what a deletion
 * revokes, the overlap window of a rotated secret, and another realm's rows left alone.
 */
import { expect } from "@effect/vitest"
import { DateTime, Duration, Effect, Option, TestClock } from "effect"
import { Audit, Clients, Consents, Grants } from "@tessera/domain"
import { admin, request } from "./support/Http.js"
import type { WireResponse } from "./support/Http.js"
import * as TestLive from "./support/TestLive.js"
import {
  authOf, exchange, expectInvalidToken, introspect, issueCode, nowSeconds, post, redirectUri, refresh, registerClient, userinfo, world
} from "./support/TokenFixtures.js"
import type { Auth, RegisteredClient, World } from "./support/TokenFixtures.js"

const it = TestLive.file()

const owner = { authorization: `Bearer ${TestLive.adminToken}` }
const clientsOf = (w: Pick<World, "name">) => `/admin/realms/${w.name}/clients`
const itemPath = (w: Pick<World, "name">, id: string) => `${clientsOf(w)}/${encodeURIComponent(id)}`

const patch = (path: string, json: unknown, ifMatch?: string) =>
  request("PATCH", path, { headers: { ...owner, ...(ifMatch !== undefined ? { "if-match": ifMatch } : {}) }, json })
const del = (path: string, ifMatch?: string) =>
  request("DELETE", path, { headers: { ...owner, ...(ifMatch !== undefined ? { "if-match": ifMatch } : {}) } })
const rotate = (w: Pick<World, "name">, id: string, json: unknown = {}, ifMatch?: string) =>
  request("POST", `${itemPath(w, id)}/secret`, { headers: { ...owner, ...(ifMatch !== undefined ? { "if-match": ifMatch } : {}) }, json })

const etagPattern = /^"[A-Za-z0-9_-]{22}"$/

/** CONTRACT §3: a JSON answer, never cached, with its whole body. */
const expectJson = (res: WireResponse, status: number, body: unknown) => {
  expect({ status: res.status, type: res.headers["content-type"], cache: res.headers["cache-control"], body: res.json })
    .toEqual({ status, type: "application/json", cache: "no-store", body })
}

const expectError = (res: WireResponse, status: number, error: string, description: string) =>
  expectJson(res, status, { error, error_description: description })

/** The client as registration answered it, without its secret: what GET answers. */
const itemOf = (registered: Record<string, unknown>) => {
  const { client_secret: _secret, client_secret_expires_at: _expires, ...item } = registered
  return item
}

/** A client credentials request for the world's resource. */
const clientToken = (w: World, auth: Auth) =>
  post(w, "token", auth, { grant_type: "client_credentials", resource: w.resource, scope: "read" })

/** RFC 6749 §5.2 / ADR 0028: the one answer to any failed client authentication. */
const expectInvalidClient = (w: World, res: WireResponse) => {
  expect(res.status).toBe(401)
  expect(res.headers["www-authenticate"]).toBe(`Basic realm="${w.issuer}"`)
  expect(res.json).toEqual({ error: "invalid_client", error_description: "client authentication failed" })
}

const machine = (w: World, metadata: Record<string, unknown> = {}) =>
  registerClient(w, { grant_types: ["client_credentials"], redirect_uris: [], response_types: [], ...metadata })

/** The realm's events of `type`, newest first. */
const events = (w: Pick<World, "name">, type: string) =>
  Effect.map(admin.get(`/admin/realms/${w.name}/audit?type=${type}`), (res) => res.json.events as Array<Record<string, unknown>>)

const eventShape = (w: Pick<World, "name">, type: string, clientId: string, reason: string) => ({
  id: expect.any(String), at: expect.any(String), realm: w.name, type, actor: { type: "owner", id: "owner" },
  client_id: clientId, result: "success", reason
})

const basicAndPost = ["client_secret_basic", "client_secret_post"] as const

it.layer(TestLive.World)("CONTRACT §3 clients: list, read, update, delete, rotate the secret", (it) => {
  it.effect("§3: GET a client answers its registration without any secret, with an ETag; an unknown id is 404", () =>
    Effect.gen(function*() {
      const w = yield* world
      const created = yield* admin.post(clientsOf(w), {
        redirect_uris: [redirectUri], grant_types: ["authorization_code", "refresh_token"], client_name: "Notes", resources: [w.resource]
      })
      expect(created.status).toBe(201)
      const id = created.json.client_id as string
      const res = yield* admin.get(itemPath(w, id))
      expectJson(res, 200, {
        client_id: id, client_id_issued_at: created.json.client_id_issued_at, redirect_uris: [redirectUri],
        post_logout_redirect_uris: [], grant_types: ["authorization_code", "refresh_token"], response_types: ["code"],
        token_endpoint_auth_method: "client_secret_basic", client_name: "Notes", frontchannel_logout_session_required: false,
        dpop_bound_access_tokens: false, principal_type: "app", resources: [w.resource]
      })
      expect(res.json).toEqual(itemOf(created.json))
      expect(res.headers["etag"]).toMatch(etagPattern)
      // the same representation, the same tag
      expect((yield* admin.get(itemPath(w, id))).headers["etag"]).toBe(res.headers["etag"])
      for (const unknown of ["nope", "https://app.example/client.json", "a\u0000b", id.slice(1)]) {
        expectError(yield* admin.get(itemPath(w, unknown)), 404, "not_found", "unknown client")
      }
      expectError(yield* admin.get(itemPath({ name: "no-such-realm" }, id)), 404, "not_found", "unknown realm")
      const anonymous = yield* request("GET", itemPath(w, id))
      expect(anonymous.status).toBe(401)
    }))

  it.effect("§3: the list pages through every client of the realm in client_id order, dynamically registered ones too", () =>
    Effect.gen(function*() {
      const w = yield* world
      const registered = yield* Effect.all([
        registerClient(w), machine(w, { client_name: "batch" }), registerClient(w, { token_endpoint_auth_method: "none" })
      ])
      // RFC 7591 §3: a client that registered itself is a row of the realm as well
      yield* admin.patch(`/admin/realms/${w.name}`, { dynamic_registration: true })
      const selfRegistered = yield* request("POST", `/realms/${w.name}/register`, {
        json: { redirect_uris: ["https://self.example/cb"], application_type: "web" }
      })
      expect(selfRegistered.status).toBe(201)
      // ADR 0035: the realm's built-in tessera-cli is a row like the others
      const ids = [...registered.map((c) => c.client_id), selfRegistered.json.client_id as string, "tessera-cli"].sort()
      const items = yield* Effect.forEach(ids, (id) => Effect.map(admin.get(itemPath(w, id)), (res) => res.json))
      const first = yield* admin.get(`${clientsOf(w)}?limit=3`)
      expectJson(first, 200, { clients: items.slice(0, 3), next_cursor: expect.stringMatching(/^[A-Za-z0-9_-]+$/) })
      const second = yield* admin.get(`${clientsOf(w)}?limit=3&cursor=${first.json.next_cursor}`)
      expectJson(second, 200, { clients: items.slice(3) })
      expectJson(yield* admin.get(clientsOf(w)), 200, { clients: items })
      // another realm's list holds none of them
      const other = yield* world
      expect((yield* admin.get(clientsOf(other))).json.clients.map((c: { client_id: string }) => c.client_id)).toEqual(["tessera-cli"])
      expectError(yield* admin.get(`${clientsOf(w)}?limit=0`), 400, "invalid_request", "'limit' must be an integer from 1 to 200")
      expectError(yield* admin.get(`${clientsOf(w)}?cursor=bad!`), 400, "invalid_request", "'cursor' must be a cursor from an earlier page")
      expectError(yield* admin.get(`${clientsOf(w)}?limit=1&limit=2`), 400, "invalid_request", "'limit' must not be given twice")
    }))

  it.effect("§3: PATCH merges the fields given into the metadata, answers the new item and ETag, and audits the fields changed", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* registerClient(w, { client_name: "Old", scope: "read" })
      const before = yield* admin.get(itemPath(w, client.client_id))
      const res = yield* patch(itemPath(w, client.client_id), {
        client_name: "New", redirect_uris: [redirectUri, "https://app.example/cb2"], scope: null, client_id: "ignored"
      }, before.headers["etag"])
      const expected = {
        ...before.json, client_name: "New", redirect_uris: [redirectUri, "https://app.example/cb2"]
      }
      delete expected.scope
      expectJson(res, 200, expected)
      expect(res.headers["etag"]).toMatch(etagPattern)
      expect(res.headers["etag"]).not.toBe(before.headers["etag"])
      const read = yield* admin.get(itemPath(w, client.client_id))
      expect(read.json).toEqual(expected)
      expect(read.headers["etag"]).toBe(res.headers["etag"])
      expect(yield* events(w, "client.updated")).toEqual([
        eventShape(w, "client.updated", client.client_id, "changed: redirect_uris, scope, client_name")
      ])
      // the secret is unchanged by an update
      expect((yield* clientToken(w, authOf(client))).status).toBe(400) // not registered for client credentials: unauthorized_client, not invalid_client
      // switching between the two secret methods keeps the secret
      const switched = yield* patch(itemPath(w, client.client_id), { token_endpoint_auth_method: "client_secret_post" })
      expect(switched.status).toBe(200)
      const refused = yield* post(w, "token", { basic: [client.client_id, client.client_secret!] }, { grant_type: "client_credentials" })
      expectInvalidClient(w, refused)
      // a PATCH that changes nothing writes nothing
      const same = yield* patch(itemPath(w, client.client_id), { client_name: "New" })
      expectJson(same, 200, { ...expected, token_endpoint_auth_method: "client_secret_post" })
      expect(same.headers["etag"]).toBe(switched.headers["etag"])
      expect((yield* events(w, "client.updated")).length).toBe(2)
    }))

  it.effect("§3: PATCH is validated as registration is (RFC 7591 §3.2.2), and a refused PATCH writes nothing", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* registerClient(w)
      const path = itemPath(w, client.client_id)
      const before = yield* admin.get(path)
      const cases: ReadonlyArray<readonly [unknown, string, string]> = [
        [{ redirect_uris: ["http://evil.example/cb"] }, "invalid_redirect_uri", "redirect_uris[0] may use http only for a loopback host"],
        [{ redirect_uris: ["https://app.example/cb#frag"] }, "invalid_redirect_uri", "redirect_uris[0] must not contain a fragment"],
        [{ redirect_uris: [] }, "invalid_redirect_uri", "'redirect_uris' is required for the authorization_code grant"],
        [{ grant_types: ["implicit"] }, "invalid_client_metadata", "the 'implicit' grant is not supported"],
        [{ grant_types: ["password"] }, "invalid_client_metadata", "the 'password' grant is not supported"],
        [{ response_types: ["token"] }, "invalid_client_metadata", "the response type 'token' is not supported; only 'code' is"],
        [{ resources: ["https://unknown.example/api"] }, "invalid_client_metadata", "resource 'https://unknown.example/api' is not registered in this realm"],
        [{ token_endpoint_auth_method: "none" }, "invalid_client_metadata",
          "'token_endpoint_auth_method' cannot change between secret-based methods and the others; register a new client"],
        [{ client_secret: "chosen" }, "invalid_client_metadata", "'client_secret' cannot be set; POST .../secret rotates the secret"],
        [{ client_name: 7 }, "invalid_client_metadata", "'client_name' must be a non-empty string"]
      ]
      for (const [body, error, description] of cases) {
        const res = yield* patch(path, body)
        expectError(res, 400, error, description)
      }
      // CONTRACT §2: text no store can hold, and bodies that are no JSON object
      expectError(yield* patch(path, { client_name: "a\u0000b" }), 400, "invalid_request", "the body must not contain NUL characters or unpaired surrogates")
      expectError(yield* request("PATCH", path, { headers: owner, body: "[1]" }), 400, "invalid_request", "the body must be a JSON object")
      expectError(yield* request("PATCH", path, { headers: owner, body: "{" }), 400, "invalid_request", "the body is not valid JSON")
      expectError(
        yield* request("PATCH", path, { headers: owner, body: "{}", contentType: "text/plain" }),
        400,
        "invalid_request",
        "the body must be application/json"
      )
      const after = yield* admin.get(path)
      expect(after.json).toEqual(before.json)
      expect(after.headers["etag"]).toBe(before.headers["etag"])
      expect(yield* events(w, "client.updated")).toEqual([])
      // a public client cannot become confidential either (its secret would have to be issued)
      const spa = yield* registerClient(w, { token_endpoint_auth_method: "none" })
      expectError(
        yield* patch(itemPath(w, spa.client_id), { token_endpoint_auth_method: "client_secret_basic" }),
        400,
        "invalid_client_metadata",
        "'token_endpoint_auth_method' cannot change between secret-based methods and the others; register a new client"
      )
    }))

  it.effect("RFC 9110 §13.1.1: a stale If-Match is 412 and changes nothing; of two PATCHes with the same If-Match one wins", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* registerClient(w)
      const path = itemPath(w, client.client_id)
      const tag = (yield* admin.get(path)).headers["etag"]!
      const [a, b] = yield* Effect.all([
        patch(path, { client_name: "A" }, tag), patch(path, { client_name: "B" }, tag)
      ], { concurrency: 2 })
      expect([a.status, b.status].sort()).toEqual([200, 412])
      const [won, lost] = a.status === 200 ? [a, b] : [b, a]
      expectError(lost, 412, "precondition_failed", lost.json.error_description)
      expect(["If-Match does not name the current representation", "the client changed since it was read"])
        .toContain(lost.json.error_description)
      const now = yield* admin.get(path)
      expect(now.json.client_name).toBe(won.json.client_name)
      expect(yield* events(w, "client.updated")).toHaveLength(1)
      // the old tag stays stale for PATCH, DELETE and rotation; a list of tags and `*` match the current one
      expectError(yield* patch(path, { client_name: "C" }, tag), 412, "precondition_failed", "If-Match does not name the current representation")
      expectError(yield* del(path, tag), 412, "precondition_failed", "If-Match does not name the current representation")
      expectError(yield* rotate(w, client.client_id, {}, tag), 412, "precondition_failed", "If-Match does not name the current representation")
      expect((yield* patch(path, { client_name: "D" }, `${tag}, ${now.headers["etag"]}`)).status).toBe(200)
      expect((yield* patch(path, { client_name: "E" }, "*")).status).toBe(200)
      expect((yield* admin.get(path)).json.client_name).toBe("E")
    }))

  it.effect("§3: DELETE is 204; the client's grants, refresh tokens and consents go with it; its credentials fail as any other", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* registerClient(w)
      const server = yield* machine(w, { resources: [w.resource] })
      // a person's grant: an access token and a refresh token
      const code = yield* issueCode(w, { clientId: client.client_id, scopes: ["read"], resources: [w.resource] })
      const tokens = (yield* exchange(w, authOf(client), code)).json as { access_token: string; refresh_token: string }
      expect(tokens.refresh_token).toEqual(expect.any(String))
      const realm = { id: w.realmId, name: w.name }
      yield* Effect.flatMap(Consents.Consents, (consents) =>
        Effect.flatMap(Audit.make(realm, { type: "consent.granted", actor: { type: "user", id: w.sub }, clientId: client.client_id, result: "success" }),
          (event) => consents.save({ realmId: w.realmId, sub: w.sub, clientId: client.client_id, scopes: ["read"], resources: [w.resource], grantedAt: event.at }, event)))
      expect((yield* introspect(w, authOf(server), tokens.access_token)).json.active).toBe(true)
      // an OpenID grant: its access token is for userinfo (CONTRACT §5)
      const signIn = yield* issueCode(w, { clientId: client.client_id, scopes: ["openid"], nonce: "n" })
      const forUserinfo = (yield* exchange(w, authOf(client), signIn)).json.access_token as string
      expect((yield* userinfo(w, forUserinfo)).status).toBe(200)

      const path = itemPath(w, client.client_id)
      const res = yield* del(path, (yield* admin.get(path)).headers["etag"])
      expect({ status: res.status, text: res.text, cache: res.headers["cache-control"] }).toEqual({ status: 204, text: "", cache: "no-store" })
      expectError(yield* admin.get(path), 404, "not_found", "unknown client")
      expectError(yield* del(path), 404, "not_found", "unknown client")
      expect((yield* admin.get(clientsOf(w))).json.clients.map((c: { client_id: string }) => c.client_id).sort()).toEqual([server.client_id, "tessera-cli"].sort())
      expect(yield* events(w, "client.deleted")).toEqual([
        eventShape(w, "client.deleted", client.client_id, "its grants, refresh tokens and consents revoked")
      ])

      // ADR 0028: its old credentials are refused as an unknown client's, at every endpoint
      expectInvalidClient(w, yield* refresh(w, authOf(client), tokens.refresh_token))
      expectInvalidClient(w, yield* introspect(w, authOf(client), tokens.access_token))
      // the grant is revoked in the store: its access token introspects inactive, its refresh token is dead
      expect((yield* introspect(w, authOf(server), tokens.access_token)).json).toEqual({ active: false })
      expectInvalidToken(w, yield* userinfo(w, forUserinfo))
      const grant = yield* Effect.flatMap(Grants.Grants, (grants) => grants.find(w.realmId, code.grantId))
      expect(Option.getOrThrow(grant).revokedAt).toEqual(expect.anything())
      expect(Option.isNone(yield* Effect.flatMap(Consents.Consents, (consents) => consents.find(w.realmId, w.sub, client.client_id)))).toBe(true)
      expect(yield* Effect.flatMap(Consents.Consents, (consents) => consents.approved(w.realmId, client.client_id))).toBe(false)
      expect(Option.isNone(yield* Effect.flatMap(Clients.Clients, (clients) => clients.find(w.realmId, client.client_id)))).toBe(true)
    }))

  it.effect("§3: a deleted client's client credentials stop at once, with its values in the ReadCache too (the cache forgets it), and its tokens introspect inactive", () =>
    Effect.gen(function*() {
      const w = yield* world
      const server = yield* machine(w, { resources: [w.resource] })
      for (const method of basicAndPost) {
        const client = yield* machine(w, { token_endpoint_auth_method: method })
        // twice: the second is answered from the cache (ADR 0015)
        const issued: Array<string> = []
        for (let i = 0; i < 2; i++) {
          const res = yield* clientToken(w, authOf(client))
          expect(res.status).toBe(200)
          issued.push(res.json.access_token)
        }
        for (const token of issued) expect((yield* introspect(w, authOf(server), token)).json.active).toBe(true)
        expect((yield* del(itemPath(w, client.client_id))).status).toBe(204)
        expectInvalidClient(w, yield* clientToken(w, authOf(client)))
        // CONTRACT §5: its tokens, issued without a grant, introspect inactive once their client is gone
        for (const token of issued) expect((yield* introspect(w, authOf(server), token)).json).toEqual({ active: false })
      }
      // a public client: naming itself is no longer enough
      const spa = yield* registerClient(w, { token_endpoint_auth_method: "none" })
      const code = yield* issueCode(w, { clientId: spa.client_id, scopes: ["read"], resources: [w.resource] })
      const tokens = (yield* exchange(w, authOf(spa), code)).json as { refresh_token: string }
      expect((yield* del(itemPath(w, spa.client_id))).status).toBe(204)
      expectInvalidClient(w, yield* refresh(w, authOf(spa), tokens.refresh_token))
    }))

  it.effect("RLS: a realm's client calls never touch another realm's client of the same id, its grants or consents", () =>
    Effect.gen(function*() {
      const a = yield* world
      const b = yield* world
      const client = yield* registerClient(a)
      // realm b has a client with the very same id (written through the port: ids are random), with a grant
      const inA = Option.getOrThrow(yield* Effect.flatMap(Clients.Clients, (clients) => clients.find(a.realmId, client.client_id)))
      const twin = { ...inA, realmId: b.realmId, metadata: { ...inA.metadata, resources: [b.resource] } }
      yield* Effect.flatMap(Clients.Clients, (clients) =>
        Effect.flatMap(Audit.make({ id: b.realmId, name: b.name }, { type: "client.created", actor: { type: "owner", id: "owner" }, clientId: twin.clientId, result: "success" }),
          (event) => clients.insert(twin, event)))
      const code = yield* issueCode(b, { clientId: client.client_id, scopes: ["read"], resources: [b.resource] })
      const tokens = (yield* exchange(b, authOf(client), code)).json as { refresh_token: string }
      const bBefore = yield* admin.get(itemPath(b, client.client_id))

      // another realm's id in the path: 404, whatever the call
      const stranger = yield* registerClient(b)
      expectError(yield* admin.get(itemPath(a, stranger.client_id)), 404, "not_found", "unknown client")
      expectError(yield* patch(itemPath(a, stranger.client_id), { client_name: "x" }), 404, "not_found", "unknown client")
      expectError(yield* del(itemPath(a, stranger.client_id)), 404, "not_found", "unknown client")
      expectError(yield* rotate(a, stranger.client_id), 404, "not_found", "unknown client")

      // realm a changes, rotates and deletes its client
      expect((yield* patch(itemPath(a, client.client_id), { client_name: "only in a" })).status).toBe(200)
      expect((yield* rotate(a, client.client_id)).status).toBe(200)
      expect((yield* del(itemPath(a, client.client_id))).status).toBe(204)

      // realm b's twin is as it was: its row, its secret, its grant and its refresh token
      const bAfter = yield* admin.get(itemPath(b, client.client_id))
      expect({ body: bAfter.json, etag: bAfter.headers["etag"] }).toEqual({ body: bBefore.json, etag: bBefore.headers["etag"] })
      const row = Option.getOrThrow(yield* Effect.flatMap(Clients.Clients, (clients) => clients.find(b.realmId, client.client_id)))
      expect(row).toEqual(twin)
      const grant = Option.getOrThrow(yield* Effect.flatMap(Grants.Grants, (grants) => grants.find(b.realmId, code.grantId)))
      expect(grant.revokedAt).toBeUndefined()
      expect((yield* refresh(b, authOf(client), tokens.refresh_token)).status).toBe(200)
      expect((yield* admin.get(clientsOf(b))).json.clients).toHaveLength(3)
    }))

  it.effect("§3: rotating without previous_valid_for: the new secret works at once and the old one no longer (basic and post)", () =>
    Effect.gen(function*() {
      const w = yield* world
      for (const method of basicAndPost) {
        const client = yield* machine(w, { token_endpoint_auth_method: method })
        expect((yield* clientToken(w, authOf(client))).status).toBe(200)
        const before = yield* admin.get(itemPath(w, client.client_id))
        const res = yield* rotate(w, client.client_id, {}, before.headers["etag"])
        expectJson(res, 200, { client_secret: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) })
        const rotated: RegisteredClient = { ...client, client_secret: res.json.client_secret }
        expectInvalidClient(w, yield* clientToken(w, authOf(client)))
        expect((yield* clientToken(w, authOf(rotated))).status).toBe(200)
        // the item never shows a secret; its tag changed
        const after = yield* admin.get(itemPath(w, client.client_id))
        expect(after.json).toEqual(before.json)
        expect(after.headers["etag"]).not.toBe(before.headers["etag"])
        // previous_valid_for 0 is the default spelled out
        const again = yield* rotate(w, client.client_id, { previous_valid_for: 0 })
        expectJson(again, 200, { client_secret: expect.any(String) })
        expectInvalidClient(w, yield* clientToken(w, authOf(rotated)))
      }
      const rotatedEvents = yield* events(w, "client.secret_rotated")
      expect(rotatedEvents).toHaveLength(4)
      expect(rotatedEvents[0]).toEqual(eventShape(w, "client.secret_rotated", rotatedEvents[0]!["client_id"] as string, "previous secret revoked"))
      // CONTRACT §7: never a secret in the trail
      const trail = JSON.stringify((yield* admin.get(`/admin/realms/${w.name}/audit?limit=200`)).json)
      expect(trail).not.toMatch(/[A-Za-z0-9_-]{43}/)
    }))

  it.effect("§3: rotation is only for secret-based clients, and its body is checked", () =>
    Effect.gen(function*() {
      const w = yield* world
      const spa = yield* registerClient(w, { token_endpoint_auth_method: "none" })
      const description =
        "the client does not authenticate with a secret ('token_endpoint_auth_method' is neither client_secret_basic nor client_secret_post)"
      expectError(yield* rotate(w, spa.client_id), 400, "invalid_request", description)
      const client = yield* machine(w)
      const bad = "'previous_valid_for' must be an integer number of seconds from 0 to 604800"
      for (const body of [{ previous_valid_for: -1 }, { previous_valid_for: 604801 }, { previous_valid_for: 1.5 }, { previous_valid_for: "60" }]) {
        expectError(yield* rotate(w, client.client_id, body), 400, "invalid_request", bad)
      }
      expectError(yield* rotate(w, client.client_id, { x: "a\u0000b" }), 400, "invalid_request", "the body must not contain NUL characters or unpaired surrogates")
      expectError(yield* rotate(w, client.client_id, [1]), 400, "invalid_request", "the body must be a JSON object")
      expect(yield* events(w, "client.secret_rotated")).toEqual([])
      expect((yield* clientToken(w, authOf(client))).status).toBe(200)
    }))

  it.effect("§3: of two racing rotations exactly one secret works afterwards", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* machine(w)
      const tag = (yield* admin.get(itemPath(w, client.client_id))).headers["etag"]
      // with the same If-Match: one 200, one 412
      const tagged = yield* Effect.all([rotate(w, client.client_id, {}, tag), rotate(w, client.client_id, {}, tag)], { concurrency: 2 })
      expect(tagged.map((r) => r.status).sort()).toEqual([200, 412])
      // without: whatever each answers, only one of the secrets handed out works
      const racing = yield* Effect.all([rotate(w, client.client_id), rotate(w, client.client_id)], { concurrency: 2 })
      const secrets = [...tagged, ...racing].filter((r) => r.status === 200).map((r) => r.json.client_secret as string)
      const working = yield* Effect.filter(secrets, (secret) =>
        Effect.map(clientToken(w, authOf({ ...client, client_secret: secret })), (res) => res.status === 200))
      expect(working).toHaveLength(1)
    }))

  it.effect("ADR 0028: a deleted client's credentials are answered as an unknown client's, byte for byte", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* machine(w)
      const token = (yield* clientToken(w, authOf(client))).json.access_token as string
      expect((yield* del(itemPath(w, client.client_id))).status).toBe(204)
      const unknown = yield* post(w, "revoke", { basic: ["unknown-client", "x"] }, { token })
      const deleted = yield* post(w, "revoke", authOf(client), { token })
      expect({ status: deleted.status, body: deleted.text, challenge: deleted.headers["www-authenticate"] })
        .toEqual({ status: unknown.status, body: unknown.text, challenge: unknown.headers["www-authenticate"] })
    }))
})

/** A world of its own per test, for time travel (STYLE §8). */
const timeTravel = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(effect, TestLive.world())

it.layer(TestLive.World)("CONTRACT §3 secret rotation with an overlap window", (it) => {
  for (const method of basicAndPost) {
    it.effect(`§3: the old secret works until previous_secret_expires_at and not after (${method})`, () =>
      timeTravel(Effect.gen(function*() {
        const w = yield* world
        const client = yield* machine(w, { token_endpoint_auth_method: method })
        const now = yield* nowSeconds
        const res = yield* rotate(w, client.client_id, { previous_valid_for: 3600 })
        expectJson(res, 200, { client_secret: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), previous_secret_expires_at: now + 3600 })
        const rotated: RegisteredClient = { ...client, client_secret: res.json.client_secret }
        // both work during the overlap, each again (the second from the ReadCache)
        for (let i = 0; i < 2; i++) {
          expect((yield* clientToken(w, authOf(client))).status).toBe(200)
          expect((yield* clientToken(w, authOf(rotated))).status).toBe(200)
        }
        // the item says until when the previous secret works, never the secret
        expect((yield* admin.get(itemPath(w, client.client_id))).json.previous_secret_expires_at).toBe(now + 3600)
        expect(yield* events(w, "client.secret_rotated")).toEqual([
          eventShape(w, "client.secret_rotated", client.client_id, "previous secret valid for 3600 s")
        ])
        yield* TestClock.adjust(Duration.seconds(3599))
        expect((yield* clientToken(w, authOf(client))).status).toBe(200)
        yield* TestClock.adjust(Duration.seconds(1))
        for (let i = 0; i < 2; i++) {
          expectInvalidClient(w, yield* clientToken(w, authOf(client)))
          expect((yield* clientToken(w, authOf(rotated))).status).toBe(200)
        }
      })))
  }

  it.effect("§3: a second rotation ends the first one's overlap at once: only one previous secret is kept", () =>
    timeTravel(Effect.gen(function*() {
      const w = yield* world
      const client = yield* machine(w)
      const first = yield* rotate(w, client.client_id, { previous_valid_for: 604800 })
      const second = yield* rotate(w, client.client_id, { previous_valid_for: 60 })
      const now = DateTime.toEpochMillis(yield* DateTime.now) / 1000
      expect(second.json.previous_secret_expires_at).toBe(Math.floor(now) + 60)
      expectInvalidClient(w, yield* clientToken(w, authOf(client)))
      expect((yield* clientToken(w, authOf({ ...client, client_secret: first.json.client_secret }))).status).toBe(200)
      expect((yield* clientToken(w, authOf({ ...client, client_secret: second.json.client_secret }))).status).toBe(200)
      yield* TestClock.adjust(Duration.seconds(60))
      expectInvalidClient(w, yield* clientToken(w, authOf({ ...client, client_secret: first.json.client_secret })))
      // a rotation without overlap clears the window (the item no longer names it)
      yield* rotate(w, client.client_id)
      expect((yield* admin.get(itemPath(w, client.client_id))).json.previous_secret_expires_at).toBeUndefined()
    })))
})
