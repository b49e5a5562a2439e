/**
 * CONTRACT §3 users through the admin API (issue 13, ADR 0031): list with prefix search and cursor pages, read with an
 * ETag, PATCH and DELETE under If-Match, set a password; a person's sessions and grants, listed and ended; what each
 * revoking call does to the person's tokens (refresh, userinfo, introspection) and sign-ins; another realm untouched.
 * Runs on memory, PGlite and PostgreSQL.
 */
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { SqlClient } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import { Clock, DateTime, Effect, Option } from "effect"
import { Audit, Hash, Provisioning, Session, Grants, Sessions, Users } from "@tessera/domain"
import { Sql } from "@tessera/sql"
import * as PgUsers from "@tessera/sql/PgUsers"
import { authorizeAndLogin, authorizePath, codeOf, makeBrowser, onlyForm, pathOf, pkce, setup } from "./support/Browser.js"
import type { Browser, Setup } from "./support/Browser.js"
import type { WireResponse } from "./support/Http.js"
import { createRealm, request, uniqueName } from "./support/Http.js"
import { adminToken, database, make, store, TestLive } from "./support/TestLive.js"
import { expectInvalidToken, introspect, post, userinfo } from "./support/TokenFixtures.js"
import type { Auth } from "./support/TokenFixtures.js"
import * as Fixtures from "./support/TokenFixtures.js"

const jwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"
const deviceGrant = "urn:ietf:params:oauth:grant-type:device_code"

const owner = { authorization: `Bearer ${adminToken}` }
type Method = "GET" | "POST" | "PATCH" | "PUT" | "DELETE"

const call = (method: Method, path: string, json?: unknown, headers: Record<string, string> = {}) =>
  request(method, path, { headers: { ...owner, ...headers }, ...(json !== undefined ? { json } : {}) })
const raw = (method: Method, path: string, body: string) => request(method, path, { headers: owner, body })

const usersOf = (realm: string) => `/admin/realms/${realm}/users`
const userPath = (realm: string, sub: string) => `/admin/realms/${realm}/users/${encodeURIComponent(sub)}`

/** CONTRACT §3: a JSON answer no cache keeps. */
const expectJson = (res: WireResponse, status: number, body: unknown) => {
  expect({ status: res.status, json: res.json }).toEqual({ status, json: body })
  expect(res.headers["content-type"]).toBe("application/json")
  expect(res.headers["cache-control"]).toBe("no-store")
}

const expectError = (res: WireResponse, status: number, error: string, error_description: string) =>
  expectJson(res, status, { error, error_description })

const expectNoContent = (res: WireResponse) => {
  expect({ status: res.status, text: res.text }).toEqual({ status: 204, text: "" })
  expect(res.headers["cache-control"]).toBe("no-store")
}

const unknownUser = ["not_found", "unknown user"] as const
const iso = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
const etag = expect.stringMatching(/^"[A-Za-z0-9_-]{22}"$/)

const createUser = (realm: string, body: Record<string, unknown>) =>
  Effect.gen(function*() {
    const res = yield* call("POST", usersOf(realm), { password: "correct horse battery staple", ...body })
    if (res.status !== 201) return yield* Effect.dieMessage(`user: ${res.status} ${res.text}`)
    return res.json.sub as string
  })

/** The realm's audit events of one type, newest first. */
const auditOf = (realm: string, type: string) =>
  Effect.map(call("GET", `/admin/realms/${realm}/audit?type=${type}`), (res) => res.json.events as Array<Record<string, unknown>>)

// ---------------------------------------------------------------------------------------------------------------
// A person signed in through the authorization code flow, with real tokens
// ---------------------------------------------------------------------------------------------------------------

interface Person extends Setup {
  /** The confidential client the person signed in to (its secret authenticates refresh and introspection). */
  readonly auth: Auth
}

/** A realm, a person, and a confidential client (code + refresh grants, `extra` metadata) as the setup's client. */
const world = (extra: Record<string, unknown> = {}, redirectUris: ReadonlyArray<string> = []) =>
  Effect.gen(function*() {
    const s = yield* setup()
    const client = yield* call("POST", `/admin/realms/${s.realm}/clients`, {
      client_name: "Confidential App",
      redirect_uris: [s.redirectUri, ...redirectUris],
      token_endpoint_auth_method: "client_secret_basic",
      grant_types: ["authorization_code", "refresh_token"],
      ...extra
    })
    if (client.status !== 201) return yield* Effect.dieMessage(`client: ${client.status} ${client.text}`)
    const clientId = client.json.client_id as string
    return { ...s, clientId, auth: { basic: [clientId, client.json.client_secret as string] } } satisfies Person
  })

interface Tokens {
  readonly access_token: string
  readonly refresh_token: string
}

/** Login, consent, code, tokens: the session's browser and the token response. */
const signedIn = (p: Person, browser: Browser = makeBrowser()) =>
  Effect.gen(function*() {
    const { challenge, verifier } = pkce()
    const page = yield* authorizeAndLogin(browser, p, challenge)
    // the consent page the first time; a remembered consent redirects with the code straight away
    const done = page.status === 200 ? yield* browser.submit(onlyForm(page.text), {}, ["decision", "allow"]) : page
    const res = yield* post({ name: p.realm }, "token", p.auth, {
      grant_type: "authorization_code", code: codeOf(done), redirect_uri: p.redirectUri, code_verifier: verifier
    })
    if (res.status !== 200) return yield* Effect.dieMessage(`token: ${res.status} ${res.text}`)
    return { browser, tokens: res.json as Tokens }
  })

/** The tokens work: refresh rotates, userinfo answers, introspection says active. Answers the rotated tokens. */
const expectWorking = (p: Person, tokens: Tokens) =>
  Effect.gen(function*() {
    expect((yield* userinfo({ name: p.realm }, tokens.access_token)).status).toBe(200)
    expect((yield* introspect({ name: p.realm }, p.auth, tokens.access_token)).json.active).toBe(true)
    const refreshed = yield* post({ name: p.realm }, "token", p.auth, { grant_type: "refresh_token", refresh_token: tokens.refresh_token })
    expect(refreshed.status).toBe(200)
    return refreshed.json as Tokens
  })

/** CONTRACT §3, §5: after a revoking call the refresh token fails, userinfo says invalid_token, introspection inactive. */
const expectRevoked = (p: Person, tokens: Tokens) =>
  Effect.gen(function*() {
    const refused = yield* post({ name: p.realm }, "token", p.auth, { grant_type: "refresh_token", refresh_token: tokens.refresh_token })
    expect(refused.status).toBe(400)
    expect(refused.json.error).toBe("invalid_grant")
    expectInvalidToken(p, yield* userinfo({ name: p.realm }, tokens.access_token))
    expectJson(yield* introspect({ name: p.realm }, p.auth, tokens.access_token), 200, { active: false })
    expectJson(yield* introspect({ name: p.realm }, p.auth, tokens.refresh_token), 200, { active: false })
  })

const sessionsOf = (p: Person, sub = p.sub) => call("GET", `${userPath(p.realm, sub)}/sessions`)
const grantsOf = (p: Person, sub = p.sub) => call("GET", `${userPath(p.realm, sub)}/grants`)

/** The browser's next authorization request asks for the password again (its session no longer counts). */
const expectLoginAgain = (p: Person, browser: Browser) =>
  Effect.gen(function*() {
    const page = yield* browser.get(authorizePath(p, pkce().challenge))
    expect(page.status).toBe(200)
    expect(onlyForm(page.text).controls.map(([, a]) => a["name"])).toContain("password")
  })

// ---------------------------------------------------------------------------------------------------------------

layer(TestLive)("CONTRACT §3 users: create, read, list", (it) => {
  it.effect("POST takes roles; GET answers the whole user with an ETag; absent email and name are left out", () =>
    Effect.gen(function*() {
      const { name: realm } = yield* createRealm()
      const created = yield* call("POST", usersOf(realm), {
        username: "Ada", password: "correct horse battery staple", email: "ada@example.com", name: "Ada Lovelace", roles: ["admin", "member"]
      })
      expectJson(created, 201, { sub: expect.any(String), username: "Ada" })
      const sub = created.json.sub as string
      const read = yield* call("GET", userPath(realm, sub))
      expectJson(read, 200, {
        sub, username: "Ada", email: "ada@example.com", name: "Ada Lovelace", roles: ["admin", "member"], disabled: false, created_at: iso
      })
      expect(read.headers["etag"]).toEqual(etag)
      // the same tag while nothing changes
      expect((yield* call("GET", userPath(realm, sub))).headers["etag"]).toBe(read.headers["etag"])

      const plain = yield* createUser(realm, { username: "bob" })
      expectJson(yield* call("GET", userPath(realm, plain)), 200, {
        sub: plain, username: "bob", roles: [], disabled: false, created_at: iso
      })
      expect((yield* auditOf(realm, "user.created")).map((e) => e["subject"])).toEqual([plain, sub])
    }))

  it.effect("bad input on POST: unknown or repeated roles, wrong types, NUL, a short password: 400, nothing created", () =>
    Effect.gen(function*() {
      const { name: realm } = yield* createRealm()
      const base = { username: "carol", password: "correct horse battery staple" }
      const cases: ReadonlyArray<readonly [unknown, string]> = [
        [{ ...base, roles: ["owner"] }, "'roles' must be an array of distinct roles: admin, member"],
        [{ ...base, roles: ["admin", "admin"] }, "'roles' must be an array of distinct roles: admin, member"],
        [{ ...base, roles: "admin" }, "'roles' must be an array of distinct roles: admin, member"],
        [{ ...base, roles: [1] }, "'roles' must be an array of distinct roles: admin, member"],
        [{ ...base, password: "short" }, "'password' must be a string of 8 to 1024 characters"],
        [{ ...base, password: 12345678 }, "'password' must be a string of 8 to 1024 characters"],
        [{ ...base, username: 7 }, "'username' must be 1 to 255 characters without spaces or control characters"],
        [{ ...base, email: "not an email" }, "'email' must be an email address"],
        [{ password: base.password }, "'username' is required"]
      ]
      for (const [body, description] of cases) {
        expectError(yield* call("POST", usersOf(realm), body), 400, "invalid_request", description)
      }
      expectError(
        yield* raw("POST", usersOf(realm), `{"username":"ca\\u0000rol","password":"correct horse battery staple"}`),
        400,
        "invalid_request",
        "the body must not contain NUL characters or unpaired surrogates"
      )
      expectJson(yield* call("GET", usersOf(realm)), 200, { users: [] })
    }))

  it.effect("GET users: ordered by username key, pages by cursor, q is a case-insensitive prefix of username or email", () =>
    Effect.gen(function*() {
      const { name: realm } = yield* createRealm()
      const subs: Record<string, string> = {}
      for (const [username, email] of [["dave", "zed@example.com"], ["Alice", undefined], ["bob", "BOB@corp.example"], ["carol", "alice.c@example.com"], ["alfred", "fred@example.com"]] as const) {
        subs[username] = yield* createUser(realm, { username, ...(email !== undefined ? { email } : {}) })
      }
      const item = (username: string, email?: string) => ({
        sub: subs[username], username, ...(email !== undefined ? { email } : {}), roles: [], disabled: false, created_at: iso
      })
      const all = yield* call("GET", usersOf(realm))
      expectJson(all, 200, {
        users: [item("alfred", "fred@example.com"), item("Alice"), item("bob", "BOB@corp.example"), item("carol", "alice.c@example.com"), item("dave", "zed@example.com")]
      })

      const first = yield* call("GET", `${usersOf(realm)}?limit=2`)
      expectJson(first, 200, { users: [item("alfred", "fred@example.com"), item("Alice")], next_cursor: expect.any(String) })
      const second = yield* call("GET", `${usersOf(realm)}?limit=2&cursor=${first.json.next_cursor}`)
      expectJson(second, 200, { users: [item("bob", "BOB@corp.example"), item("carol", "alice.c@example.com")], next_cursor: expect.any(String) })
      const last = yield* call("GET", `${usersOf(realm)}?limit=2&cursor=${second.json.next_cursor}`)
      expectJson(last, 200, { users: [item("dave", "zed@example.com")] })

      // "al": alfred and Alice by username, carol by email (alice.c@...)
      expectJson(yield* call("GET", `${usersOf(realm)}?q=AL`), 200, {
        users: [item("alfred", "fred@example.com"), item("Alice"), item("carol", "alice.c@example.com")]
      })
      const paged = yield* call("GET", `${usersOf(realm)}?q=al&limit=1`)
      expectJson(paged, 200, { users: [item("alfred", "fred@example.com")], next_cursor: expect.any(String) })
      expectJson(yield* call("GET", `${usersOf(realm)}?q=al&limit=2&cursor=${paged.json.next_cursor}`), 200, {
        users: [item("Alice"), item("carol", "alice.c@example.com")]
      })
      expectJson(yield* call("GET", `${usersOf(realm)}?q=bob%40CORP`), 200, { users: [item("bob", "BOB@corp.example")] })
      expectJson(yield* call("GET", `${usersOf(realm)}?q=z`), 200, { users: [item("dave", "zed@example.com")] })
      // LIKE wildcards are plain text
      expectJson(yield* call("GET", `${usersOf(realm)}?q=%25`), 200, { users: [] })
      expectJson(yield* call("GET", `${usersOf(realm)}?q=_`), 200, { users: [] })
      expectJson(yield* call("GET", `${usersOf(realm)}?q=nobody`), 200, { users: [] })
    }))

  it.effect("GET users: bad limit, cursor or q is 400 invalid_request", () =>
    Effect.gen(function*() {
      const { name: realm } = yield* createRealm()
      expectError(yield* call("GET", `${usersOf(realm)}?limit=0`), 400, "invalid_request", "'limit' must be an integer from 1 to 200")
      expectError(yield* call("GET", `${usersOf(realm)}?limit=201`), 400, "invalid_request", "'limit' must be an integer from 1 to 200")
      expectError(yield* call("GET", `${usersOf(realm)}?cursor=!!`), 400, "invalid_request", "'cursor' must be a cursor from an earlier page")
      expectError(yield* call("GET", `${usersOf(realm)}?cursor=abc`), 400, "invalid_request", "'cursor' must be a cursor from an earlier page")
      expectError(yield* call("GET", `${usersOf(realm)}?q=a&q=b`), 400, "invalid_request", "'q' must not be given twice")
      expectError(yield* call("GET", `${usersOf(realm)}?q=a%00b`), 400, "invalid_request", "'q' must be 1 to 320 characters without control characters")
      expectError(yield* call("GET", `${usersOf(realm)}?q=`), 400, "invalid_request", "'q' must be 1 to 320 characters without control characters")
    }))

  it.effect("unknown sub, another realm's sub, an unknown realm: 404 not_found on every user path", () =>
    Effect.gen(function*() {
      const { name: a } = yield* createRealm()
      const { name: b } = yield* createRealm()
      const theirs = yield* createUser(b, { username: "erin" })
      const ours = yield* createUser(a, { username: "erin" })
      for (const sub of [theirs, "no-such-sub", "a\u0000b", "%"]) {
        const path = userPath(a, sub)
        expectError(yield* call("GET", path), 404, ...unknownUser)
        expectError(yield* call("PATCH", path, { name: "X" }), 404, ...unknownUser)
        expectError(yield* call("DELETE", path), 404, ...unknownUser)
        expectError(yield* call("PUT", `${path}/password`, { password: "another good password" }), 404, ...unknownUser)
        expectError(yield* call("GET", `${path}/sessions`), 404, ...unknownUser)
        expectError(yield* call("DELETE", `${path}/sessions/x`), 404, ...unknownUser)
        expectError(yield* call("GET", `${path}/grants`), 404, ...unknownUser)
        expectError(yield* call("DELETE", `${path}/grants/x`), 404, ...unknownUser)
      }
      expectError(yield* call("GET", userPath("no-such-realm", ours)), 404, "not_found", "unknown realm")
      expectError(yield* call("GET", usersOf("no-such-realm")), 404, "not_found", "unknown realm")
      // nothing happened to either erin
      expectJson(yield* call("GET", userPath(b, theirs)), 200, expect.objectContaining({ sub: theirs, disabled: false }))
      expectJson(yield* call("GET", userPath(a, ours)), 200, expect.objectContaining({ sub: ours, disabled: false }))
    }))

  it.effect("the OpenAPI document describes every user operation", () =>
    Effect.gen(function*() {
      const paths = (yield* request("GET", "/admin/openapi.json")).json.paths as Record<string, Record<string, { operationId: string }>>
      const ids = (path: string) => Object.values(paths[path] ?? {}).map((op) => op.operationId).sort()
      expect(ids("/admin/realms/{realm}/users")).toEqual(["users.createUser", "users.listUsers"])
      expect(ids("/admin/realms/{realm}/users/{sub}")).toEqual(["users.deleteUser", "users.getUser", "users.patchUser"])
      expect(ids("/admin/realms/{realm}/users/{sub}/password")).toEqual(["users.setUserPassword"])
      expect(ids("/admin/realms/{realm}/users/{sub}/sessions/{sid}")).toEqual(["users.endUserSession"])
      expect(ids("/admin/realms/{realm}/users/{sub}/grants/{grant_id}")).toEqual(["users.revokeUserGrant"])
    }))
})

layer(TestLive)("CONTRACT §3 users: PATCH, DELETE and PUT password under If-Match", (it) => {
  it.effect("PATCH changes what is given (null clears), answers the user and a new ETag; user.updated names the fields", () =>
    Effect.gen(function*() {
      const { name: realm } = yield* createRealm()
      const sub = yield* createUser(realm, { username: "frank", email: "frank@example.com", name: "Frank" })
      const before = (yield* call("GET", userPath(realm, sub))).headers["etag"]!
      const patched = yield* call("PATCH", userPath(realm, sub), { email: null, name: "Frank N.", roles: ["admin"] }, { "if-match": before })
      expectJson(patched, 200, { sub, username: "frank", name: "Frank N.", roles: ["admin"], disabled: false, created_at: iso })
      expect(patched.headers["etag"]).toEqual(etag)
      expect(patched.headers["etag"]).not.toBe(before)
      const read = yield* call("GET", userPath(realm, sub))
      expectJson(read, 200, patched.json)
      expect(read.headers["etag"]).toBe(patched.headers["etag"])
      const [event] = yield* auditOf(realm, "user.updated")
      expect(event).toEqual({
        id: expect.any(String), at: iso, realm, type: "user.updated", actor: { type: "owner", id: "owner" }, subject: sub,
        result: "success", reason: "changed: email, name, roles"
      })
      // nothing to change: the same user and tag, no event
      const same = yield* call("PATCH", userPath(realm, sub), { name: "Frank N." })
      expectJson(same, 200, patched.json)
      expect(same.headers["etag"]).toBe(patched.headers["etag"])
      expect(yield* auditOf(realm, "user.updated")).toHaveLength(1)
      // enabling back is an update too
      yield* call("PATCH", userPath(realm, sub), { disabled: true })
      expectJson(yield* call("PATCH", userPath(realm, sub), { disabled: false }), 200, { ...patched.json, disabled: false })
      expect((yield* auditOf(realm, "user.updated"))[0]).toMatchObject({ reason: "changed: disabled" })
      expect((yield* auditOf(realm, "user.disabled"))[0]).toMatchObject({ subject: sub, reason: "changed: disabled" })
    }))

  it.effect("a stale If-Match is 412 and changes nothing; * and the current tag pass", () =>
    Effect.gen(function*() {
      const { name: realm } = yield* createRealm()
      const sub = yield* createUser(realm, { username: "grace" })
      const first = (yield* call("GET", userPath(realm, sub))).headers["etag"]!
      expect((yield* call("PATCH", userPath(realm, sub), { name: "Grace" }, { "if-match": first })).status).toBe(200)
      const stale = ["precondition_failed", "If-Match does not name the current representation"] as const
      expectError(yield* call("PATCH", userPath(realm, sub), { name: "Stale" }, { "if-match": first }), 412, ...stale)
      expectError(yield* call("PUT", `${userPath(realm, sub)}/password`, { password: "another good password" }, { "if-match": first }), 412, ...stale)
      expectError(yield* call("DELETE", userPath(realm, sub), undefined, { "if-match": first }), 412, ...stale)
      expectError(yield* call("PATCH", userPath(realm, sub), { name: "Weak" }, { "if-match": `W/${first}` }), 412, ...stale)
      expectJson(yield* call("GET", userPath(realm, sub)), 200, expect.objectContaining({ name: "Grace" }))
      expect((yield* call("PATCH", userPath(realm, sub), { name: "Star" }, { "if-match": "*" })).status).toBe(200)
    }))

  it.effect("two PATCHes with the same If-Match at once: one 200, one 412", () =>
    Effect.gen(function*() {
      const { name: realm } = yield* createRealm()
      const sub = yield* createUser(realm, { username: "heidi" })
      for (let round = 0; round < 3; round++) {
        const tag = (yield* call("GET", userPath(realm, sub))).headers["etag"]!
        const answers = yield* Effect.all([
          call("PATCH", userPath(realm, sub), { name: `left ${round}` }, { "if-match": tag }),
          call("PATCH", userPath(realm, sub), { name: `right ${round}` }, { "if-match": tag })
        ], { concurrency: 2 })
        expect(answers.map((r) => r.status).sort()).toEqual([200, 412])
        const winner = answers.find((r) => r.status === 200)!
        expectJson(yield* call("GET", userPath(realm, sub)), 200, winner.json)
      }
    }))

  it.effect("bad PATCH and PUT bodies: 400 invalid_request, nothing changed", () =>
    Effect.gen(function*() {
      const { name: realm } = yield* createRealm()
      const sub = yield* createUser(realm, { username: "ivan", email: "ivan@example.com" })
      const before = yield* call("GET", userPath(realm, sub))
      const cases: ReadonlyArray<readonly [unknown, string]> = [
        [{ disabled: "yes" }, "'disabled' must be true or false"],
        [{ disabled: null }, "'disabled' must be true or false"],
        [{ roles: ["root"] }, "'roles' must be an array of distinct roles: admin, member"],
        [{ roles: null }, "'roles' must be an array of distinct roles: admin, member"],
        [{ email: "nope" }, "'email' must be an email address or null"],
        [{ email: 5 }, "'email' must be an email address or null"],
        [{ name: "" }, "'name' must be a string of 1 to 200 characters or null"],
        [{ name: ["x"] }, "'name' must be a string of 1 to 200 characters or null"]
      ]
      for (const [body, description] of cases) {
        expectError(yield* call("PATCH", userPath(realm, sub), body), 400, "invalid_request", description)
      }
      expectError(yield* raw("PATCH", userPath(realm, sub), `{"name":"a\\u0000b"}`), 400, "invalid_request", "the body must not contain NUL characters or unpaired surrogates")
      expectError(yield* raw("PATCH", userPath(realm, sub), `[]`), 400, "invalid_request", "the body must be a JSON object")
      expectError(yield* raw("PATCH", userPath(realm, sub), `{`), 400, "invalid_request", "the body is not valid JSON")
      for (const [body, description] of [
        [{ password: "short" }, "'password' must be a string of 8 to 1024 characters"],
        [{ password: 123456789 }, "'password' must be a string of 8 to 1024 characters"],
        [{}, "'password' is required"]
      ] as const) {
        expectError(yield* call("PUT", `${userPath(realm, sub)}/password`, body), 400, "invalid_request", description)
      }
      expectError(yield* raw("PUT", `${userPath(realm, sub)}/password`, `{"password":"good\\u0000password"}`), 400, "invalid_request", "the body must not contain NUL characters or unpaired surrogates")
      const after = yield* call("GET", userPath(realm, sub))
      expect(after.json).toEqual(before.json)
      expect(after.headers["etag"]).toBe(before.headers["etag"])
    }))

  it.effect("DELETE: 204, the user is gone (404 after), user.deleted; the username is free again with a new sub", () =>
    Effect.gen(function*() {
      const { name: realm } = yield* createRealm()
      const sub = yield* createUser(realm, { username: "Judy" })
      const tag = (yield* call("GET", userPath(realm, sub))).headers["etag"]!
      expectNoContent(yield* call("DELETE", userPath(realm, sub), undefined, { "if-match": tag }))
      expectError(yield* call("GET", userPath(realm, sub)), 404, ...unknownUser)
      expectError(yield* call("DELETE", userPath(realm, sub)), 404, ...unknownUser)
      expect(yield* auditOf(realm, "user.deleted")).toEqual([{
        id: expect.any(String), at: iso, realm, type: "user.deleted", actor: { type: "owner", id: "owner" }, subject: sub, result: "success"
      }])
      const again = yield* createUser(realm, { username: "judy" })
      expect(again).not.toBe(sub)
      expectJson(yield* call("GET", usersOf(realm)), 200, { users: [expect.objectContaining({ sub: again, username: "judy" })] })
    }))
})

layer(TestLive)("CONTRACT §3 users: revocation that takes effect", (it) => {
  it.effect("disabling: sessions end, grants and refresh tokens revoked, login fails (login.failed disabled), the cookie no longer counts", () =>
    Effect.gen(function*() {
      const p = yield* world()
      const { browser, tokens } = yield* signedIn(p)
      const working = yield* expectWorking(p, tokens)
      const sessions = yield* sessionsOf(p)
      expectJson(sessions, 200, { sessions: [{ sid: expect.any(String), created_at: iso, auth_time: iso, clients: [p.clientId] }] })
      const grants = yield* grantsOf(p)
      expectJson(grants, 200, {
        grants: [{ grant_id: expect.any(String), client_id: p.clientId, scopes: ["openid", "profile"], resources: [], created_at: iso }]
      })

      const tag = (yield* call("GET", userPath(p.realm, p.sub))).headers["etag"]!
      const disabled = yield* call("PATCH", userPath(p.realm, p.sub), { disabled: true }, { "if-match": tag })
      expectJson(disabled, 200, expect.objectContaining({ sub: p.sub, disabled: true }))
      yield* expectRevoked(p, working)
      expectJson(yield* sessionsOf(p), 200, { sessions: [] })
      expectJson(yield* grantsOf(p), 200, { grants: [] })
      expect((yield* auditOf(p.realm, "user.disabled"))[0]).toMatchObject({ subject: p.sub, reason: "changed: disabled" })

      // the old browser is asked to sign in again, and the right password no longer signs in
      yield* expectLoginAgain(p, browser)
      const page = yield* authorizeAndLogin(makeBrowser(), p, pkce().challenge)
      expect(page.status).toBe(400)
      expect(page.text).toContain("Wrong username or password.")
      expect(page.setCookies[`tessera_session_${p.realm}`]).toBeUndefined()
      expect((yield* auditOf(p.realm, "login.failed"))[0]).toMatchObject({ subject: p.sub, result: "failure", reason: "disabled" })

      // enabled again: a new sign-in works (the old tokens stay revoked)
      expect((yield* call("PATCH", userPath(p.realm, p.sub), { disabled: false })).status).toBe(200)
      const again = yield* signedIn(p)
      yield* expectWorking(p, again.tokens)
      yield* expectRevoked(p, working)
    }))

  it.effect("disabling between consent and token request: the code is refused; between login and consent: no code", () =>
    Effect.gen(function*() {
      const p = yield* world()
      // signed in, on the consent page, then disabled: allowing gives no code
      const other = makeBrowser()
      const page = yield* authorizeAndLogin(other, p, pkce().challenge)
      expect(page.status).toBe(200)
      expect((yield* call("PATCH", userPath(p.realm, p.sub), { disabled: true })).status).toBe(200)
      const allowed = yield* other.submit(onlyForm(page.text), {}, ["decision", "allow"])
      expect(allowed.headers["location"] ?? "").not.toContain("code=")
      expect(allowed.status).toBeGreaterThanOrEqual(400)

      // a code issued before disabling: its grant is revoked with the others, so the code buys nothing
      expect((yield* call("PATCH", userPath(p.realm, p.sub), { disabled: false })).status).toBe(200)
      const browser = makeBrowser()
      const { challenge, verifier } = pkce()
      const consent = yield* authorizeAndLogin(browser, p, challenge)
      const done = yield* browser.submit(onlyForm(consent.text), {}, ["decision", "allow"])
      expect((yield* call("PATCH", userPath(p.realm, p.sub), { disabled: true })).status).toBe(200)
      const refused = yield* post({ name: p.realm }, "token", p.auth, {
        grant_type: "authorization_code", code: codeOf(done), redirect_uri: p.redirectUri, code_verifier: verifier
      })
      expect(refused.status).toBe(400)
      expect(refused.json.error).toBe("invalid_grant")
      expectJson(yield* grantsOf(p), 200, { grants: [] })
    }))

  it.effect("RFC 7523: a trusted issuer's assertion for a disabled person is refused (invalid_grant)", () =>
    Effect.gen(function*() {
      const w = yield* Fixtures.world
      const idp = yield* Fixtures.trustedIssuer(w)
      const client = yield* Fixtures.registerClient(w, { grant_types: [jwtBearer], redirect_uris: [], response_types: [] })
      const request = Effect.gen(function*() {
        const now = Math.floor((yield* Clock.currentTimeMillis) / 1000)
        const assertion = yield* Fixtures.signJwt(idp.key, { iss: idp.issuer, sub: w.sub, aud: w.issuer, iat: now, exp: now + 60, jti: crypto.randomUUID() })
        return yield* post(w, "token", Fixtures.authOf(client), { grant_type: jwtBearer, assertion, scope: "read" })
      })
      expect((yield* request).status).toBe(200)
      expect((yield* call("PATCH", userPath(w.name, w.sub), { disabled: true })).status).toBe(200)
      const refused = yield* request
      expect(refused.status).toBe(400)
      expect(refused.json.error).toBe("invalid_grant")
    }))

  it.effect("a session that a sign-in made while disabling committed does not count: the browser is asked to sign in", () =>
    Effect.gen(function*() {
      const p = yield* world()
      expect((yield* call("PATCH", userPath(p.realm, p.sub), { disabled: true })).status).toBe(200)
      // the race's outcome, written through the port: a live session of the disabled person, and its cookie
      const realm = yield* Provisioning.findRealm(p.realm)
      const cookie = `raced-${crypto.randomUUID()}`
      const now = yield* DateTime.now
      const event = yield* Audit.make(realm, { type: "login.succeeded", actor: { type: "user", id: p.sub }, subject: p.sub, result: "success" })
      yield* Effect.flatMap(Sessions.Sessions, (sessions) =>
        Effect.flatMap(Hash.sha256(cookie), (cookieHash) =>
          sessions.create(Session.Session.Active({
            realmId: realm.id, sid: crypto.randomUUID(), cookieHash, sub: p.sub, createdAt: now, authTime: now,
            acr: Session.passwordAcr, amr: Session.passwordAmr, expiresAt: DateTime.addDuration(now, Session.lifetime), clientIds: []
          }), event)))
      const browser = makeBrowser()
      browser.jar.set(`tessera_session_${p.realm}`, { value: cookie, path: `/realms/${p.realm}` })
      yield* expectLoginAgain(p, browser)
    }))

  it.effect("RFC 8628: a device approved before disabling gets no tokens; a person disabled on the device consent page approves nothing", () =>
    Effect.gen(function*() {
      const w = yield* Fixtures.world
      const client = yield* Fixtures.registerClient(w, {
        client_name: "Living Room TV", grant_types: [deviceGrant, "refresh_token"], token_endpoint_auth_method: "none"
      })
      const auth = Fixtures.authOf(client)
      const start = Effect.map(post(w, "device_authorization", auth, { scope: "read" }), (res) => res.json as { device_code: string; user_code: string })
      const poll = (deviceCode: string) => post(w, "token", auth, { grant_type: deviceGrant, device_code: deviceCode })
      /** The verification page, the login form, the consent page (§3.3). */
      const toConsent = (browser: Browser, userCode: string) =>
        Effect.gen(function*() {
          const entry = yield* browser.get(`/realms/${w.name}/device`)
          const afterCode = yield* browser.submit(onlyForm(entry.text), { user_code: userCode })
          const login = yield* browser.submit(onlyForm(afterCode.text), { username: w.username, password: "correct horse battery staple" })
          const consent = yield* browser.get(pathOf(login.headers["location"]!))
          expect(consent.status).toBe(200)
          return consent
        })

      // approved, then disabled before the device polls: the approval's grant is revoked with the others
      const first = yield* start
      const browser = makeBrowser()
      const consent = yield* toConsent(browser, first.user_code)
      const approved = yield* browser.submit(onlyForm(consent.text), {}, ["decision", "allow"])
      expect(approved.status).toBe(200)
      expect((yield* auditOf(w.name, "device.approved"))).toHaveLength(1)
      expect((yield* call("PATCH", userPath(w.name, w.sub), { disabled: true })).status).toBe(200)
      expectJson(yield* poll(first.device_code), 400, { error: "invalid_grant" })

      // on the consent page when the disabling commits: allowing approves nothing
      expect((yield* call("PATCH", userPath(w.name, w.sub), { disabled: false })).status).toBe(200)
      const second = yield* start
      const secondBrowser = makeBrowser()
      const page = yield* toConsent(secondBrowser, second.user_code)
      expect((yield* call("PATCH", userPath(w.name, w.sub), { disabled: true })).status).toBe(200)
      expect((yield* secondBrowser.submit(onlyForm(page.text), {}, ["decision", "allow"])).status).toBeGreaterThanOrEqual(400)
      expectJson(yield* poll(second.device_code), 400, { error: "authorization_pending", error_description: "the person has not yet approved the request" })
    }))

  it.effect("deleting: the person's tokens stop working and their sessions and consents go", () =>
    Effect.gen(function*() {
      const p = yield* world()
      const { browser, tokens } = yield* signedIn(p)
      const working = yield* expectWorking(p, tokens)
      expectNoContent(yield* call("DELETE", userPath(p.realm, p.sub)))
      yield* expectRevoked(p, working)
      yield* expectLoginAgain(p, browser)
      expectError(yield* sessionsOf(p), 404, ...unknownUser)
    }))

  it.effect("a new password: 204, user.password_set without the password, tokens and sessions end, the new password signs in", () =>
    Effect.gen(function*() {
      const p = yield* world()
      const { browser, tokens } = yield* signedIn(p)
      const working = yield* expectWorking(p, tokens)
      const tag = (yield* call("GET", userPath(p.realm, p.sub))).headers["etag"]!
      expectNoContent(yield* call("PUT", `${userPath(p.realm, p.sub)}/password`, { password: "a brand new passphrase" }, { "if-match": tag }))
      yield* expectRevoked(p, working)
      yield* expectLoginAgain(p, browser)
      const events = yield* auditOf(p.realm, "user.password_set")
      expect(events).toEqual([{
        id: expect.any(String), at: iso, realm: p.realm, type: "user.password_set", actor: { type: "owner", id: "owner" },
        subject: p.sub, result: "success", reason: "changed: password; sessions ended, grants revoked"
      }])
      expect(JSON.stringify(events)).not.toContain("brand new")
      // the ETag moved; the old password fails, the new one works
      expect((yield* call("GET", userPath(p.realm, p.sub))).headers["etag"]).not.toBe(tag)
      expect((yield* authorizeAndLogin(makeBrowser(), p, pkce().challenge)).status).toBe(400)
      yield* expectWorking(p, (yield* signedIn({ ...p, password: "a brand new passphrase" })).tokens)
    }))

  it.effect("ending a session: 204, session.revoked; its grants go with it; the person's other session stays", () =>
    Effect.gen(function*() {
      const p = yield* world()
      const one = yield* signedIn(p)
      const two = yield* signedIn(p)
      const listed = (yield* sessionsOf(p)).json.sessions as Array<{ sid: string }>
      expect(listed).toHaveLength(2)
      const grants = (yield* grantsOf(p)).json.grants as Array<{ grant_id: string }>
      expect(grants).toHaveLength(2)
      // which session is the first browser's: the one whose end revokes `one`'s tokens
      const [first, second] = listed
      expectNoContent(yield* call("DELETE", `${userPath(p.realm, p.sub)}/sessions/${first!.sid}`))
      expectError(yield* call("DELETE", `${userPath(p.realm, p.sub)}/sessions/${first!.sid}`), 404, "not_found", "unknown session")
      expectJson(yield* sessionsOf(p), 200, { sessions: [{ sid: second!.sid, created_at: iso, auth_time: iso, clients: [p.clientId] }] })
      expect((yield* grantsOf(p)).json.grants).toHaveLength(1)
      const [ended, kept] = (yield* userinfo({ name: p.realm }, one.tokens.access_token)).status === 401 ? [one, two] : [two, one]
      yield* expectRevoked(p, ended.tokens)
      yield* expectWorking(p, kept.tokens)
      yield* expectLoginAgain(p, ended.browser)
      expect((yield* auditOf(p.realm, "session.revoked"))[0]).toEqual({
        id: expect.any(String), at: iso, realm: p.realm, type: "session.revoked", actor: { type: "owner", id: "owner" },
        subject: p.sub, result: "success", reason: "session ended; its grants revoked"
      })
    }))

  it.effect("revoking a grant: 204, grant.revoked; its tokens stop working and the next authorization asks for consent again", () =>
    Effect.gen(function*() {
      const p = yield* world()
      const { browser, tokens } = yield* signedIn(p)
      const working = yield* expectWorking(p, tokens)
      const [grant] = (yield* grantsOf(p)).json.grants as Array<{ grant_id: string }>
      expectNoContent(yield* call("DELETE", `${userPath(p.realm, p.sub)}/grants/${grant!.grant_id}`))
      expectError(yield* call("DELETE", `${userPath(p.realm, p.sub)}/grants/${grant!.grant_id}`), 404, "not_found", "unknown grant")
      yield* expectRevoked(p, working)
      expectJson(yield* grantsOf(p), 200, { grants: [] })
      expect((yield* auditOf(p.realm, "grant.revoked"))[0]).toEqual({
        id: expect.any(String), at: iso, realm: p.realm, type: "grant.revoked", actor: { type: "owner", id: "owner" },
        subject: p.sub, client_id: p.clientId, result: "success", reason: "revoked with its refresh tokens; consent withdrawn"
      })
      // the session lives on, but the consent is withdrawn: the consent page again, not a redirect with a code
      const consent = yield* browser.get(authorizePath(p, pkce().challenge))
      expect(consent.status).toBe(200)
      expect(onlyForm(consent.text).action).toBe(`${p.issuer}/consent`)
    }))

  it.effect("another person's session or grant, or one of another realm: 404, nothing ended", () =>
    Effect.gen(function*() {
      const p = yield* world()
      const q = yield* world()
      const { tokens } = yield* signedIn(p)
      const other = yield* createUser(p.realm, { username: uniqueName("other") })
      const [session] = (yield* sessionsOf(p)).json.sessions as Array<{ sid: string }>
      const [grant] = (yield* grantsOf(p)).json.grants as Array<{ grant_id: string }>
      expectError(yield* call("DELETE", `${userPath(p.realm, other)}/sessions/${session!.sid}`), 404, "not_found", "unknown session")
      expectError(yield* call("DELETE", `${userPath(p.realm, other)}/grants/${grant!.grant_id}`), 404, "not_found", "unknown grant")
      expectError(yield* call("DELETE", `${userPath(q.realm, q.sub)}/sessions/${session!.sid}`), 404, "not_found", "unknown session")
      expectError(yield* call("DELETE", `${userPath(q.realm, q.sub)}/grants/${grant!.grant_id}`), 404, "not_found", "unknown grant")
      expectError(yield* call("DELETE", `${userPath(q.realm, p.sub)}/grants/${grant!.grant_id}`), 404, ...unknownUser)
      expectJson(yield* call("GET", `${userPath(p.realm, other)}/sessions`), 200, { sessions: [] })
      yield* expectWorking(p, tokens)
    }))

  it.effect("sessions and grants page by cursor", () =>
    Effect.gen(function*() {
      const p = yield* world()
      for (let i = 0; i < 3; i++) yield* signedIn(p)
      const all = (yield* sessionsOf(p)).json.sessions as Array<unknown>
      expect(all).toHaveLength(3)
      const first = yield* call("GET", `${userPath(p.realm, p.sub)}/sessions?limit=2`)
      expectJson(first, 200, { sessions: all.slice(0, 2), next_cursor: expect.any(String) })
      expectJson(yield* call("GET", `${userPath(p.realm, p.sub)}/sessions?limit=2&cursor=${first.json.next_cursor}`), 200, { sessions: all.slice(2) })
      const grants = (yield* grantsOf(p)).json.grants as Array<unknown>
      expect(grants).toHaveLength(3)
      const page = yield* call("GET", `${userPath(p.realm, p.sub)}/grants?limit=1`)
      expectJson(page, 200, { grants: grants.slice(0, 1), next_cursor: expect.any(String) })
      expectJson(yield* call("GET", `${userPath(p.realm, p.sub)}/grants?limit=5&cursor=${page.json.next_cursor}`), 200, { grants: grants.slice(1) })
      // a forged cursor (not the server's MAC over this list) is 400 on every store, never a 5xx
      const forged = Buffer.from(JSON.stringify({ after: "not a key" })).toString("base64url")
      const badCursor = { error: "invalid_request", error_description: "'cursor' must be a cursor from an earlier page" }
      expectJson(yield* call("GET", `${userPath(p.realm, p.sub)}/grants?cursor=${forged}`), 400, badCursor)
      expectJson(yield* call("GET", `${userPath(p.realm, p.sub)}/sessions?cursor=${forged}`), 400, badCursor)
    }))

  it.effect("another realm's rows are untouched by disabling and deleting (checked in the store)", () =>
    Effect.gen(function*() {
      const p = yield* world()
      const q = yield* world()
      yield* signedIn(p)
      const theirs = yield* signedIn(q)
      const before = yield* rowsOf(q)
      expect(before.sessions).toHaveLength(1)
      expect(before.grants).toHaveLength(1)
      expect((yield* call("PATCH", userPath(p.realm, p.sub), { disabled: true })).status).toBe(200)
      expectNoContent(yield* call("DELETE", userPath(p.realm, p.sub)))
      expect(yield* rowsOf(q)).toEqual(before)
      yield* expectWorking(q, theirs.tokens)
    }))
})

/**
 * The realm's user, session and grant rows of the person: read as SQL rows on PGlite and PostgreSQL (through the
 * realm's row-level security), through the ports in memory.
 */
const rowsOf = (p: Person) =>
  Effect.gen(function*() {
    const { id } = yield* Provisioning.findRealm(p.realm)
    if (store === "memory") {
      return {
        user: Option.getOrNull(yield* Effect.flatMap(Users.Users, (u) => u.find(id, p.sub))),
        sessions: yield* Effect.flatMap(Sessions.Sessions, (s) => Effect.flatMap(DateTime.now, (now) => s.listLive(id, p.sub, now, { limit: 10 }))),
        grants: yield* Effect.flatMap(Grants.Grants, (g) => g.listLive(id, p.sub, { limit: 10 }))
      }
    }
    const context = yield* database(store)
    return yield* Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      return {
        user: (yield* sql`SELECT sub, username, disabled, version, roles FROM users WHERE realm_id = ${id} AND sub = ${p.sub}`)[0] ?? null,
        sessions: yield* sql`SELECT sid, ended_at FROM sessions WHERE realm_id = ${id} AND sub = ${p.sub} ORDER BY sid`,
        grants: yield* sql`SELECT grant_id, revoked_at FROM grants WHERE realm_id = ${id} AND sub = ${p.sub} ORDER BY grant_id`
      }
    }).pipe(Sql.withRealm(id), Effect.provide(context), Effect.orDie)
  })

// the planner's choice is a property of PostgreSQL (and PGlite), not of the memory store
if (store !== "memory") {
  layer(TestLive)("ADR 0031: the user list is answered by index", (it) => {
    it.effect("EXPLAIN: the page by users_by_username_key; a prefix by index ranges on the username and email keys", () =>
      Effect.gen(function*() {
        const { name } = yield* createRealm()
        const { id } = yield* Provisioning.findRealm(name)
        const context = yield* database(store as "pglite" | "postgres")
        const plans = yield* Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          // without sequential scans: what the indexes can answer
          yield* sql.unsafe("SET LOCAL enable_seqscan = off")
          const explain = (prefix: string | undefined, after?: string) =>
            Effect.map(
              sql<{ readonly "QUERY PLAN": string }>`EXPLAIN ${PgUsers.listStatement(sql, id, prefix, { limit: 50, ...(after !== undefined ? { after } : {}) })}`,
              (rows) => rows.map((row) => row["QUERY PLAN"]).join("\n")
            )
          const page = yield* explain(undefined)
          const next = yield* explain(undefined, "bob")
          // a realm of many people, so that a prefix is selective (rolled back with the transaction)
          yield* sql`INSERT INTO users (realm_id, sub, username, username_key, password_hash, email, email_key, created_at)
            SELECT ${id}, 'bulk-' || n, 'user' || n, 'user' || n, 'x', 'user' || n || '@example.com', 'user' || n || '@example.com', now()
            FROM generate_series(1, 5000) AS n`
          const prefix = yield* explain("Al")
          return yield* Effect.fail({ plans: { page, next, prefix } })
        }).pipe(Sql.withRealm(id), Effect.provide(context), Effect.flip,
          // the transaction ends in a failure carrying the plans, so the people it added are rolled back
          Effect.flatMap((e) => ("plans" in e ? Effect.succeed(e.plans) : Effect.die(e))))
        expect(plans.page).toContain("users_by_username_key")
        expect(plans.next).toContain("users_by_username_key")
        // each prefix range by an index on the key: users_by_username_key, or the unique index where the database's
        // default collation is "C" already (PGlite)
        expect(plans.prefix).toMatch(/Index Scan on users_(by_username_key|realm_id_username_key_key)\b/)
        expect(plans.prefix).toMatch(/Index Scan on users_by_email_key\b/)
        for (const plan of Object.values(plans)) expect(plan).not.toContain("Seq Scan")
      }))
  })
}

// ---------------------------------------------------------------------------------------------------------------
// Front-channel logout from the admin API, to a real HTTP listener (ADR 0031)
// ---------------------------------------------------------------------------------------------------------------

/** A loopback HTTP server that records each request's path and query. */
const listener = Effect.acquireRelease(
  Effect.async<{ readonly port: number; readonly seen: Array<string>; readonly server: Http.Server }>((resume) => {
    const seen: Array<string> = []
    const server = Http.createServer((req, res) => {
      seen.push(req.url ?? "")
      res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>bye</title>")
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ port: (server.address() as AddressInfo).port, seen, server })))
  }),
  ({ server }) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
)

layer(make({ devInsecureCimd: true }, { fetcher: "node" }))("OIDC Front-Channel Logout 1.0 §2-3 from the admin API", (it) => {
  it.scoped("ending a session, disabling: Tessera GETs each client's frontchannel_logout_uri with iss and sid", () =>
    Effect.gen(function*() {
      const { port, seen } = yield* listener
      const p = yield* world(
        { frontchannel_logout_uri: `http://127.0.0.1:${port}/fcl?tenant=1`, frontchannel_logout_session_required: true },
        [`http://127.0.0.1:${port}/cb`]
      )
      yield* signedIn(p)
      const [session] = (yield* sessionsOf(p)).json.sessions as Array<{ sid: string }>
      expectNoContent(yield* call("DELETE", `${userPath(p.realm, p.sub)}/sessions/${session!.sid}`))
      expect(seen).toEqual([`/fcl?tenant=1&${new URLSearchParams({ iss: p.issuer, sid: session!.sid }).toString()}`])

      yield* signedIn(p)
      const [next] = (yield* sessionsOf(p)).json.sessions as Array<{ sid: string }>
      expect((yield* call("PATCH", userPath(p.realm, p.sub), { disabled: true })).status).toBe(200)
      expect(seen).toEqual([
        `/fcl?tenant=1&${new URLSearchParams({ iss: p.issuer, sid: session!.sid }).toString()}`,
        `/fcl?tenant=1&${new URLSearchParams({ iss: p.issuer, sid: next!.sid }).toString()}`
      ])
    }))

  it.scoped("a client whose logout URI does not answer never fails the admin call", () =>
    Effect.gen(function*() {
      const { port, server } = yield* listener
      const p = yield* world({ frontchannel_logout_uri: `http://127.0.0.1:${port}/fcl` }, [`http://127.0.0.1:${port}/cb`])
      yield* signedIn(p)
      yield* Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
      const [session] = (yield* sessionsOf(p)).json.sessions as Array<{ sid: string }>
      expectNoContent(yield* call("DELETE", `${userPath(p.realm, p.sub)}/sessions/${session!.sid}`))
      expectJson(yield* sessionsOf(p), 200, { sessions: [] })
    }))
})
