/**
 * CONTRACT §3 invitations (create, list, revoke), §4 the invitation page, §7 their events (issue 14, ADR 0037): whole
 * answers of every call, bad input refused with nothing written, list paging, revocation under If-Match, expiry by
 * the clock, the secret nowhere but the URL (not in lists, events or the store), owner trail vs realm trail, mail
 * through a fake Mailer that records or fails, and acceptance: once, by exactly one of many racing browsers.
 * Runs on memory, PGlite and PostgreSQL.
 */
import { expect } from "@effect/vitest"
import { Effect, HashMap, Layer, Option, Ref, TestClock } from "effect"
import { Audit, Hash, InvitationAdmin, Mailer, MemoryDb, Provisioning, Users } from "@tessera/domain"
import type { Realm } from "@tessera/domain"
import { SqlClient } from "@effect/sql"
import { Sql } from "@tessera/sql"
import { authorizeAndLogin, makeBrowser, onlyForm, pkce, setup } from "./support/Browser.js"
import type { Browser, Response as PageResponse } from "./support/Browser.js"
import type { WireResponse } from "./support/Http.js"
import { authOf, post as postEndpoint, registerClient, world } from "./support/TokenFixtures.js"
import { createRealm, request } from "./support/Http.js"
import { adminToken, publicUrl } from "./support/TestLive.js"
import * as TestLive from "./support/TestLive.js"

const it = TestLive.file()

const owner = { authorization: `Bearer ${adminToken}` }
type Method = "GET" | "POST" | "DELETE"

const call = (method: Method, path: string, json?: unknown, headers: Record<string, string> = {}) =>
  request(method, path, { headers: { ...owner, ...headers }, ...(json !== undefined ? { json } : {}) })
const raw = (method: Method, path: string, body: string) => request(method, path, { headers: owner, body })

const invitationsOf = (realm: string) => `/admin/realms/${realm}/invitations`

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

const uuid = expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
const iso = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
const etag = expect.stringMatching(/^"[A-Za-z0-9_-]{22}"$/)
/** ADR 0037: `{issuer}/invitations/<43 base64url characters>`. */
const urlOf = (realm: string) => expect.stringMatching(new RegExp(`^${publicUrl}/realms/${realm}/invitations/[A-Za-z0-9_-]{43}$`))
const secretOf = (url: string) => url.slice(url.lastIndexOf("/") + 1)
/** The page's path on the test server (the URL names the public origin). */
const pathOf = (url: string) => url.slice(publicUrl.length)

const invite = (realm: string, body: Record<string, unknown> = { role: "member" }) =>
  Effect.gen(function*() {
    const res = yield* call("POST", invitationsOf(realm), body)
    if (res.status !== 201) return yield* Effect.dieMessage(`invitation: ${res.status} ${res.text}`)
    return res.json as { id: string; url: string; role: string; email?: string; expires_at: string }
  })

/**
 * The list's order (ADR 0037): oldest first, then by id. Under the TestClock every invitation of a test is made at the
 * same instant, so the order is by id.
 */
const inListOrder = <T extends { readonly id: string }>(items: ReadonlyArray<T>) =>
  [...items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))

const listOf = (realm: string, query = "") => call("GET", `${invitationsOf(realm)}${query}`)

const findRealm = (name: string) => Provisioning.findRealm(name).pipe(Effect.orDie)

/** Events of a trail (a realm's, or the owner's with `realm` undefined), newest first, filtered by the query. */
const eventsOf = (realm: string | undefined, query: string) =>
  Effect.map(
    call("GET", `${realm === undefined ? "/admin/audit" : `/admin/realms/${realm}/audit`}?${query}`),
    (res) => res.json.events as Array<Record<string, unknown>>
  )

const ownerEvent = { id: uuid, at: iso, actor: { type: "owner", id: "owner" }, result: "success" }

// ---------------------------------------------------------------------------------------------------------------
// A fake Mailer (memory): records what it is asked to send, or fails
// ---------------------------------------------------------------------------------------------------------------

const fakeMailer = (sent: Ref.Ref<ReadonlyArray<Mailer.Message>>, behaviour: "record" | "fail" | "unconfigured") =>
  Layer.succeed(Mailer.Mailer, Mailer.Mailer.of({
    configured: behaviour !== "unconfigured",
    send: (message) =>
      Effect.zipRight(
        Ref.update(sent, (all) => [...all, message]),
        behaviour === "fail" ? Effect.fail(new Mailer.MailFailed({ reason: "550 mailbox unavailable" })) : Effect.void
      )
  }))

/** A fresh world whose Mailer records into `sent` (and fails, or is not configured, as asked). */
const withMailer = <A, E>(
  behaviour: "record" | "fail" | "unconfigured",
  body: (sent: Ref.Ref<ReadonlyArray<Mailer.Message>>) => Effect.Effect<A, E, Layer.Layer.Success<typeof TestLive.World>>
) =>
  Effect.gen(function*() {
    const sent = yield* Ref.make<ReadonlyArray<Mailer.Message>>([])
    return yield* body(sent).pipe(Effect.provide(TestLive.world({}, { mailer: fakeMailer(sent, behaviour) })))
  })

// ---------------------------------------------------------------------------------------------------------------
// The secret at rest
// ---------------------------------------------------------------------------------------------------------------

/** Everything the store holds about the realm's invitations, as text: the secret must not be in it, its hash must. */
const storedInvitations = (realm: Realm.Realm) =>
  Effect.gen(function*() {
    const sql = yield* TestLive.maybeSqlOn()
    if (Option.isSome(sql)) {
      const rows = yield* sql.value.unsafe(`SELECT * FROM invitations WHERE realm_id = $1`, [realm.id]).pipe(
        Sql.withRealm(realm.id),
        Effect.provideService(SqlClient.SqlClient, sql.value),
        Effect.orDie
      )
      return JSON.stringify(rows)
    }
    const db = yield* Effect.serviceOption(MemoryDb.MemoryDb)
    if (Option.isNone(db)) return yield* Effect.dieMessage("no store to look into")
    return yield* MemoryDb.read(db.value, (state) =>
      JSON.stringify(Array.from(HashMap.values(state.invitations)).filter((i) => i.realmId === realm.id)))
  })

/** The whole audit trail of a realm and of the owner, as text. */
const allEvents = (realm: Realm.Realm) =>
  Effect.gen(function*() {
    const audit = yield* Audit.Audit
    const events = [
      ...(yield* audit.query(realm.id, { limit: 10_000 })),
      ...(yield* audit.query(Audit.ownerTrail, { limit: 10_000 }))
    ]
    return JSON.stringify(events)
  }).pipe(Effect.orDie)

// ---------------------------------------------------------------------------------------------------------------
// The admin API
// ---------------------------------------------------------------------------------------------------------------

it.layer(TestLive.World)("CONTRACT §3 POST /admin/realms/R/invitations", (it) => {
  it.effect("§3: 201 {id, url, role, email, expires_at} with an ETag; the URL holds a 43-character secret under the issuer", () =>
    Effect.gen(function*() {
      const { name } = yield* createRealm()
      const res = yield* call("POST", invitationsOf(name), { role: "admin", email: "Ada@Example.COM" })
      expectJson(res, 201, { id: uuid, url: urlOf(name), role: "admin", email: "Ada@Example.COM", expires_at: iso })
      expect(res.headers["etag"]).toEqual(etag)
      // CONTRACT §3: default 604800 s
      const created = Date.parse((yield* eventsOf(undefined, `type=invitation.created&subject=${(yield* findRealm(name)).id}`))[0]!["at"] as string)
      expect(Date.parse(res.json.expires_at) - created).toBe(604800 * 1000)
    }))

  it.effect("§3: `email` is left out when absent; `expires_in` sets the expiry", () =>
    Effect.gen(function*() {
      const { name } = yield* createRealm()
      const res = yield* call("POST", invitationsOf(name), { role: "member", expires_in: 3600 })
      expectJson(res, 201, { id: uuid, url: urlOf(name), role: "member", expires_at: iso })
      const realm = yield* findRealm(name)
      const created = Date.parse((yield* eventsOf(undefined, `type=invitation.created&subject=${realm.id}`))[0]!["at"] as string)
      expect(Date.parse(res.json.expires_at) - created).toBe(3600 * 1000)
      const longest = yield* call("POST", invitationsOf(name), { role: "member", expires_in: 2592000 })
      expect(longest.status).toBe(201)
    }))

  it.effect("§3, §2: every malformed body is 400 invalid_request and writes nothing", () =>
    Effect.gen(function*() {
      const { name } = yield* createRealm()
      const cases: Array<[unknown, string]> = [
        [{}, "'role' is required"],
        [{ role: "owner" }, "'role' must be admin or member"],
        [{ role: null }, "'role' must be admin or member"],
        [{ role: ["admin"] }, "'role' must be admin or member"],
        [{ role: "member", expires_in: 2592001 }, "'expires_in' must be an integer number of seconds from 3600 to 2592000"],
        [{ role: "member", expires_in: 3599 }, "'expires_in' must be an integer number of seconds from 3600 to 2592000"],
        [{ role: "member", expires_in: 0 }, "'expires_in' must be an integer number of seconds from 3600 to 2592000"],
        [{ role: "member", expires_in: -604800 }, "'expires_in' must be an integer number of seconds from 3600 to 2592000"],
        [{ role: "member", expires_in: 3600.5 }, "'expires_in' must be an integer number of seconds from 3600 to 2592000"],
        [{ role: "member", expires_in: "3600" }, "'expires_in' must be an integer number of seconds from 3600 to 2592000"],
        [{ role: "member", expires_in: 1e300 }, "'expires_in' must be an integer number of seconds from 3600 to 2592000"],
        [{ role: "member", email: "not-an-address" }, "'email' must be one email address that can be mailed (ASCII local@domain)"],
        [{ role: "member", email: "" }, "'email' must be one email address that can be mailed (ASCII local@domain)"],
        [{ role: "member", email: 42 }, "'email' must be one email address that can be mailed (ASCII local@domain)"],
        [{ role: "member", email: `${"a".repeat(320)}@example.com` }, "'email' must be one email address that can be mailed (ASCII local@domain)"],
        [{ role: "member", email: "a b@example.com" }, "'email' must be one email address that can be mailed (ASCII local@domain)"],
        [[], "the body must be a JSON object"],
        ["admin", "the body must be a JSON object"]
      ]
      for (const [body, description] of cases) {
        expectError(yield* call("POST", invitationsOf(name), body), 400, "invalid_request", description)
      }
      for (const [body, description] of [
        ["{", "the body is not valid JSON"],
        [`{"role":"member","email":"a\\u0000@example.com"}`, "the body must not contain NUL characters or unpaired surrogates"],
        [`{"role":"member","email":"\\ud800@example.com"}`, "the body must not contain NUL characters or unpaired surrogates"]
      ] as const) {
        expectError(yield* raw("POST", invitationsOf(name), body), 400, "invalid_request", description)
      }
      // CONTRACT §2: larger than 64 KiB is 413 invalid_request
      const big = yield* raw("POST", invitationsOf(name), JSON.stringify({ role: "member", pad: "x".repeat(70 * 1024) }))
      expectError(big, 413, "invalid_request", "the body is larger than 65536 bytes")
      // nothing was written: no invitation, no event
      expectJson(yield* listOf(name), 200, { invitations: [] })
      expect(yield* eventsOf(undefined, `type=invitation.created&subject=${(yield* findRealm(name)).id}`)).toEqual([])
    }))

  it.effect("§3: an unknown realm is 404; no owner token is 401", () =>
    Effect.gen(function*() {
      expectError(yield* call("POST", invitationsOf("no-such-realm-here"), { role: "member" }), 404, "not_found", "unknown realm")
      expectError(yield* listOf("no-such-realm-here"), 404, "not_found", "unknown realm")
      const { name } = yield* createRealm()
      const res = yield* request("POST", invitationsOf(name), { json: { role: "member" } })
      expectError(res, 401, "invalid_token", "the admin API needs the owner's token or a tenant admin's access token")
      const wrong = yield* request("GET", invitationsOf(name), { headers: { authorization: "Bearer wrong" } })
      expectError(wrong, 401, "invalid_token", "the admin API needs the owner's token or a tenant admin's access token")
      expectJson(yield* listOf(name), 200, { invitations: [] })
    }))
})

it.layer(TestLive.World)("CONTRACT §3 GET /admin/realms/R/invitations", (it) => {
  it.effect("§3: each invitation with its status and expiry, never its URL or secret; `limit` and `cursor` page through", () =>
    Effect.gen(function*() {
      const { name } = yield* createRealm()
      const made: Array<Effect.Effect.Success<ReturnType<typeof invite>>> = []
      for (let i = 0; i < 5; i++) {
        made.push(yield* invite(name, i % 2 === 0 ? { role: "member", email: `p${i}@example.org` } : { role: "admin" }))
      }
      made.splice(0, made.length, ...inListOrder(made))
      const view = (m: (typeof made)[number]) => ({
        id: m.id,
        role: m.role,
        ...(m.email !== undefined ? { email: m.email } : {}),
        status: "pending",
        expires_at: m.expires_at
      })
      const all = yield* listOf(name)
      expectJson(all, 200, { invitations: made.map(view) })
      for (const m of made) expect(all.text).not.toContain(secretOf(m.url))
      const first = yield* listOf(name, "?limit=2")
      expectJson(first, 200, { invitations: made.slice(0, 2).map(view), next_cursor: expect.any(String) })
      const second = yield* listOf(name, `?limit=2&cursor=${first.json.next_cursor}`)
      expectJson(second, 200, { invitations: made.slice(2, 4).map(view), next_cursor: expect.any(String) })
      const third = yield* listOf(name, `?limit=2&cursor=${second.json.next_cursor}`)
      expectJson(third, 200, { invitations: made.slice(4).map(view) })
      // another realm sees none of them, and a cursor of this list is refused there
      const other = yield* createRealm()
      expectJson(yield* listOf(other.name), 200, { invitations: [] })
      expectError(yield* listOf(other.name, `?cursor=${first.json.next_cursor}`), 400, "invalid_request", "'cursor' must be a cursor from an earlier page")
    }))

  it.effect("§3: a bad `limit` or `cursor` is 400 invalid_request", () =>
    Effect.gen(function*() {
      const { name } = yield* createRealm()
      expectError(yield* listOf(name, "?limit=0"), 400, "invalid_request", "'limit' must be an integer from 1 to 200")
      expectError(yield* listOf(name, "?limit=201"), 400, "invalid_request", "'limit' must be an integer from 1 to 200")
      expectError(yield* listOf(name, "?limit=1&limit=2"), 400, "invalid_request", "'limit' must not be given twice")
      expectError(yield* listOf(name, "?cursor=forged"), 400, "invalid_request", "'cursor' must be a cursor from an earlier page")
    }))
})

it.layer(TestLive.World)("CONTRACT §3 DELETE /admin/realms/R/invitations/{id}", (it) => {
  it.effect("§3: 204 revokes; the list says revoked; again is 409 (ADR 0037); unknown ids are 404", () =>
    Effect.gen(function*() {
      const { name } = yield* createRealm()
      const a = yield* invite(name, { role: "member" })
      const b = yield* invite(name, { role: "admin", email: "b@example.net" })
      expectNoContent(yield* call("DELETE", `${invitationsOf(name)}/${a.id}`))
      const listed = inListOrder([
        { id: a.id, role: "member", status: "revoked", expires_at: a.expires_at },
        { id: b.id, role: "admin", email: "b@example.net", status: "pending", expires_at: b.expires_at }
      ])
      expectJson(yield* listOf(name), 200, { invitations: listed })
      expectError(yield* call("DELETE", `${invitationsOf(name)}/${a.id}`), 409, "conflict", "the invitation is already revoked")
      for (const id of ["00000000-0000-4000-8000-000000000000", "not-an-id", a.id.toUpperCase(), "%00"]) {
        expectError(yield* call("DELETE", `${invitationsOf(name)}/${id}`), 404, "not_found", "unknown invitation")
      }
      // another realm's invitation is unknown here
      const other = yield* createRealm()
      expectError(yield* call("DELETE", `${invitationsOf(other.name)}/${b.id}`), 404, "not_found", "unknown invitation")
      expectJson(yield* listOf(name), 200, { invitations: listed })
    }))

  it.effect("§3, RFC 9110 §13.1.1: DELETE honours If-Match (the ETag of the 201)", () =>
    Effect.gen(function*() {
      const { name } = yield* createRealm()
      const created = yield* call("POST", invitationsOf(name), { role: "member" })
      const tag = created.headers["etag"]!
      const path = `${invitationsOf(name)}/${created.json.id}`
      expectError(yield* call("DELETE", path, undefined, { "if-match": "\"stale\"" }), 412, "precondition_failed",
        "If-Match does not name the current representation")
      expectError(yield* call("DELETE", path, undefined, { "if-match": `W/${tag}` }), 412, "precondition_failed",
        "If-Match does not name the current representation")
      expect((yield* listOf(name)).json.invitations[0].status).toBe("pending")
      expectNoContent(yield* call("DELETE", path, undefined, { "if-match": tag }))
      // the revoked invitation has another version: the old tag no longer matches
      expectError(yield* call("DELETE", path, undefined, { "if-match": tag }), 412, "precondition_failed",
        "If-Match does not name the current representation")
    }))
})

// ---------------------------------------------------------------------------------------------------------------
// Expiry (a world of its own per test, for its TestClock)
// ---------------------------------------------------------------------------------------------------------------

it.effect("§3: a pending invitation past `expires_at` lists as expired; it can still be revoked", () =>
  Effect.gen(function*() {
    const { name } = yield* createRealm()
    const short = yield* invite(name, { role: "member", expires_in: 3600 })
    const long = yield* invite(name, { role: "admin" })
    yield* TestClock.adjust("59 minutes")
    expect((yield* listOf(name)).json.invitations.map((i: { status: string }) => i.status)).toEqual(["pending", "pending"])
    yield* TestClock.adjust("1 minute")
    const listed = inListOrder([
      { id: short.id, role: "member", status: "expired", expires_at: short.expires_at },
      { id: long.id, role: "admin", status: "pending", expires_at: long.expires_at }
    ])
    expectJson(yield* listOf(name), 200, { invitations: listed })
    expectNoContent(yield* call("DELETE", `${invitationsOf(name)}/${short.id}`))
    expectJson(yield* listOf(name), 200, { invitations: listed.map((i) => (i.id === short.id ? { ...i, status: "revoked" } : i)) })
  }).pipe(Effect.provide(TestLive.World)))

// ---------------------------------------------------------------------------------------------------------------
// Audit: owner trail vs realm trail, and the secret nowhere
// ---------------------------------------------------------------------------------------------------------------

it.layer(TestLive.World)("CONTRACT §7 invitation events", (it) => {
  it.effect("issue 14: the owner's invitations land in the owner trail (role and email domain, never the secret); the realm trail has none", () =>
    Effect.gen(function*() {
      const { name } = yield* createRealm()
      const realm = yield* findRealm(name)
      const a = yield* invite(name, { role: "admin", email: "first.admin@acme.example" })
      const b = yield* invite(name, { role: "member" })
      expectNoContent(yield* call("DELETE", `${invitationsOf(name)}/${b.id}`))
      const trail = yield* eventsOf(undefined, `subject=${realm.id}`)
      expect(trail.filter((e) => (e["type"] as string).startsWith("invitation."))).toEqual([
        { ...ownerEvent, realm: name, subject: realm.id, type: "invitation.revoked", reason: `invitation ${b.id}; role: member` },
        { ...ownerEvent, realm: name, subject: realm.id, type: "invitation.created", reason: `invitation ${b.id}; role: member` },
        {
          ...ownerEvent,
          realm: name,
          subject: realm.id,
          type: "invitation.created",
          reason: `invitation ${a.id}; role: admin, email domain: acme.example`
        }
      ])
      expect((yield* eventsOf(name, "")).filter((e) => (e["type"] as string).startsWith("invitation."))).toEqual([])
      const everything = yield* allEvents(realm)
      for (const m of [a, b]) expect(everything).not.toContain(secretOf(m.url))
      expect(everything).not.toContain("first.admin@")
    }))

  it.effect("issue 14: a tenant admin's invitation lands in the realm trail with the inviter as actor", () =>
    Effect.gen(function*() {
      const { name } = yield* createRealm()
      const realm = yield* findRealm(name)
      const inviter = { type: "tenant_admin" as const, id: "sub-of-the-tenant-admin" }
      const { invitation, url } = yield* InvitationAdmin.create(realm, { role: "member", email: "m@members.example" }, inviter,
        (secret) => `${publicUrl}/realms/${name}/invitations/${secret}`)
      yield* InvitationAdmin.revoke(realm, invitation, inviter)
      const base = { id: uuid, at: iso, realm: name, actor: inviter, subject: invitation.id, result: "success" }
      expect((yield* eventsOf(name, `subject=${invitation.id}`))).toEqual([
        { ...base, type: "invitation.revoked", reason: "role: member, email domain: members.example" },
        { ...base, type: "invitation.created", reason: "role: member, email domain: members.example" }
      ])
      expect((yield* eventsOf(undefined, `subject=${realm.id}`)).filter((e) => (e["type"] as string).startsWith("invitation."))).toEqual([])
      expect(yield* allEvents(realm)).not.toContain(secretOf(url))
    }))

  it.effect("ADR 0037: only the secret's SHA-256 is stored", () =>
    Effect.gen(function*() {
      const { name } = yield* createRealm()
      const realm = yield* findRealm(name)
      const made = yield* invite(name, { role: "admin", email: "x@example.com" })
      const stored = yield* storedInvitations(realm)
      expect(stored).toContain(made.id)
      expect(stored).not.toContain(secretOf(made.url))
      expect(stored).toContain(yield* Hash.sha256(secretOf(made.url)))
    }))
})

// ---------------------------------------------------------------------------------------------------------------
// Mail, through a fake Mailer
// ---------------------------------------------------------------------------------------------------------------

it.effect("§3: with SMTP configured, an invitation with an email is mailed once: the realm in the subject, the URL, role and expiry in the text", () =>
  withMailer("record", (sent) =>
    Effect.gen(function*() {
      const { name } = yield* createRealm()
      const made = yield* invite(name, { role: "admin", email: "ada@example.com" })
      yield* invite(name, { role: "member" })
      expect(yield* Ref.get(sent)).toEqual([{
        to: "ada@example.com",
        subject: `Your invitation to ${name}`,
        text: [
          `You are invited to the realm ${name} as an admin.`,
          "",
          "Open this link to choose your username and password:",
          made.url,
          "",
          `The link works once and expires at ${made.expires_at}.`,
          "If you did not expect this invitation, ignore this message.",
          ""
        ].join("\n")
      }])
      const realm = yield* findRealm(name)
      expect((yield* eventsOf(undefined, `type=invitation.mail_failed&subject=${realm.id}`))).toEqual([])
    })))

it.effect("§3: without SMTP configured nothing is sent", () =>
  withMailer("unconfigured", (sent) =>
    Effect.gen(function*() {
      const { name } = yield* createRealm()
      yield* invite(name, { role: "admin", email: "ada@example.com" })
      expect(yield* Ref.get(sent)).toEqual([])
    })))

it.effect("issue 14: a mail failure never loses the invitation: 201 with the URL, and invitation.mail_failed with the reason", () =>
  withMailer("fail", (sent) =>
    Effect.gen(function*() {
      const { name } = yield* createRealm()
      const realm = yield* findRealm(name)
      const res = yield* call("POST", invitationsOf(name), { role: "admin", email: "ada@example.com" })
      expectJson(res, 201, { id: uuid, url: urlOf(name), role: "admin", email: "ada@example.com", expires_at: iso })
      expect((yield* Ref.get(sent)).length).toBe(1)
      expectJson(yield* listOf(name), 200, {
        invitations: [{ id: res.json.id, role: "admin", email: "ada@example.com", status: "pending", expires_at: res.json.expires_at }]
      })
      expect(yield* eventsOf(undefined, `type=invitation.mail_failed&subject=${realm.id}`)).toEqual([{
        ...ownerEvent,
        realm: name,
        subject: realm.id,
        type: "invitation.mail_failed",
        result: "failure",
        reason: `invitation ${res.json.id}; 550 mailbox unavailable`
      }])
      expect(yield* allEvents(realm)).not.toContain(secretOf(res.json.url))
    })))

// ---------------------------------------------------------------------------------------------------------------
// CONTRACT §4: the invitation page
// ---------------------------------------------------------------------------------------------------------------

/** Every page's security headers (pages/Page.ts), and CONTRACT §4's `no-store` and `no-referrer`. */
const expectPage = (res: PageResponse, status: number) => {
  expect(res.status).toBe(status)
  expect(res.headers["content-type"]).toBe("text/html; charset=utf-8")
  expect(res.headers["cache-control"]).toBe("no-store")
  expect(res.headers["referrer-policy"]).toBe("no-referrer")
  expect(res.headers["x-frame-options"]).toBe("DENY")
  expect(res.headers["content-security-policy"]).toContain("form-action 'self'")
  expect(res.text).not.toContain("<script")
}

/** The invitation form: method post, no action (it posts back to its own URL), csrf, username, password, name. */
const expectForm = (res: PageResponse, status: number, error?: string) => {
  expectPage(res, status)
  const form = onlyForm(res.text)
  expect({ method: form.method, action: form.action, hidden: Object.keys(form.hidden) }).toEqual({ method: "post", action: "", hidden: ["csrf"] })
  expect(form.controls.map(([tag, a]) => [tag, a["type"], a["name"]])).toEqual([
    ["input", "hidden", "csrf"],
    ["input", "text", "username"],
    ["input", "password", "password"],
    ["input", "text", "name"],
    ["button", "submit", undefined]
  ])
  if (error === undefined) expect(res.text).not.toContain(`class="error"`)
  else expect(res.text).toContain(`<p class="error" id="invitation-error" role="alert">${error.replaceAll("'", "&#39;")}</p>`)
  return form
}

const gone = {
  accepted: "This invitation has already been used",
  revoked: "This invitation was withdrawn",
  expired: "This invitation has expired"
} as const

const expectGone = (res: PageResponse, reason: keyof typeof gone) => {
  expectPage(res, 410)
  expect(res.text).toContain(`<h1>${gone[reason]}</h1>`)
  expect(res.text).not.toContain("<form")
}

const expectUnknown = (res: PageResponse) => {
  expectPage(res, 404)
  expect(res.text).toContain("<h1>Invitation not found</h1>")
  expect(res.text).not.toContain("<form")
}

const password = "correct horse battery staple"

/** Opens the invitation's page in `browser` and answers the form's CSRF token. */
const open = (browser: Browser, url: string) =>
  Effect.gen(function*() {
    const page = yield* browser.get(pathOf(url))
    expectForm(page, 200)
    return onlyForm(page.text).hidden["csrf"]!
  })

/** Posts the form (with the page's CSRF token) and whatever fields are given. */
const submit = (browser: Browser, url: string, csrf: string, fields: ReadonlyArray<readonly [string, string]>) =>
  browser.post(pathOf(url), [["csrf", csrf], ...fields])

const statusOf = (realm: string, id: string) =>
  Effect.map(listOf(realm), (res) => (res.json.invitations as Array<{ id: string; status: string }>).find((i) => i.id === id)?.status)

const usersOf = (realm: string) =>
  Effect.map(call("GET", `/admin/realms/${realm}/users`), (res) => res.json.users as Array<Record<string, unknown>>)

it.layer(TestLive.World)("CONTRACT §4 the invitation page", (it) => {
  it.effect("§4: the URL opens the form; accepting creates the user with the invitation's role and email, once; a used URL is 410", () =>
    Effect.gen(function*() {
      const { name } = yield* createRealm()
      const made = yield* invite(name, { role: "admin", email: "ada@example.com" })
      const browser = makeBrowser()
      const page = yield* browser.get(pathOf(made.url))
      const form = expectForm(page, 200)
      expect(page.text).toContain(`You are invited to ${name} as an admin.`)
      // the CSRF cookie: only on this realm's invitation pages, HttpOnly, SameSite=Lax, Secure (https public URL)
      expect(page.rawSetCookies).toEqual([
        `tessera_invitation=${form.hidden["csrf"]}; Max-Age=3600; Path=/realms/${name}/invitations; HttpOnly; Secure; SameSite=Lax`
      ])
      const res = yield* submit(browser, made.url, form.hidden["csrf"]!, [["username", "ada"], ["password", password], ["name", "Ada Lovelace"]])
      expectPage(res, 200)
      expect(res.text).toContain("<h1>Your account is ready</h1>")
      expect(res.text).toContain("<strong>ada</strong>")
      expect(res.text).not.toContain("<a ")
      expect(res.text).not.toContain(secretOf(made.url))
      expect(yield* usersOf(name)).toEqual([{
        sub: uuid, username: "ada", email: "ada@example.com", name: "Ada Lovelace", roles: ["admin"], disabled: false, created_at: iso
      }])
      expect(yield* statusOf(name, made.id)).toBe("accepted")
      // CONTRACT §4: once
      expectGone(yield* browser.get(pathOf(made.url)), "accepted")
      expectGone(yield* submit(browser, made.url, form.hidden["csrf"]!, [["username", "ada2"], ["password", password]]), "accepted")
      expectGone(yield* makeBrowser().get(pathOf(made.url)), "accepted")
      expect((yield* usersOf(name)).length).toBe(1)
      // revoking what was accepted is 409 (ADR 0037)
      expectError(yield* call("DELETE", `${invitationsOf(name)}/${made.id}`), 409, "conflict", "the invitation is already accepted")
    }))

  it.effect("§4, §7: a member's invitation makes a user with no roles; invitation.accepted and user.created name the person, never the secret", () =>
    Effect.gen(function*() {
      const { name } = yield* createRealm()
      const realm = yield* findRealm(name)
      const made = yield* invite(name, { role: "member" })
      const browser = makeBrowser()
      const csrf = yield* open(browser, made.url)
      // a name field left blank is sent empty, as browsers do: no name
      expectPage(yield* submit(browser, made.url, csrf, [["username", "Bob"], ["password", password], ["name", ""]]), 200)
      const [user] = yield* usersOf(name)
      expect(user).toEqual({ sub: uuid, username: "Bob", roles: [], disabled: false, created_at: iso })
      const sub = user!["sub"] as string
      const actor = { type: "user", id: sub }
      expect(yield* eventsOf(name, "type=user.created")).toEqual([{
        id: uuid, at: iso, realm: name, type: "user.created", actor, subject: sub, result: "success",
        reason: `accepted invitation ${made.id}; role: member`
      }])
      // the owner made the invitation: its acceptance is in the owner trail with its creation
      expect((yield* eventsOf(undefined, `subject=${realm.id}`)).filter((e) => (e["type"] as string).startsWith("invitation."))).toEqual([
        { id: uuid, at: iso, realm: name, type: "invitation.accepted", actor, subject: realm.id, result: "success",
          reason: `invitation ${made.id}; role: member` },
        { ...ownerEvent, realm: name, subject: realm.id, type: "invitation.created", reason: `invitation ${made.id}; role: member` }
      ])
      const everything = yield* allEvents(realm)
      expect(everything).not.toContain(secretOf(made.url))
      expect(everything).not.toContain(password)
      expectJson(yield* call("GET", `/admin/realms/${name}/audit/verify`), 200, { ok: true, events: expect.any(Number) })
    }))

  it.effect("§4: the accepted person signs in through the authorization code flow with what they chose", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const made = yield* invite(s.realm, { role: "member", email: "carol@example.com" })
      const browser = makeBrowser()
      const csrf = yield* open(browser, made.url)
      expectPage(yield* submit(browser, made.url, csrf, [["username", "carol"], ["password", "a new password of carol"]]), 200)
      const consent = yield* authorizeAndLogin(makeBrowser(), { ...s, username: "carol", password: "a new password of carol" }, pkce().challenge)
      expectPage(consent, 200)
      expect(onlyForm(consent.text).controls.filter(([tag]) => tag === "button").map(([, a]) => a["value"])).toEqual(["allow", "deny"])
    }))

  it.effect("§4: a revoked invitation is 410 on GET and POST, and makes no user; an unknown or malformed secret is 404", () =>
    Effect.gen(function*() {
      const { name } = yield* createRealm()
      const made = yield* invite(name, { role: "admin" })
      const browser = makeBrowser()
      const csrf = yield* open(browser, made.url)
      expectNoContent(yield* call("DELETE", `${invitationsOf(name)}/${made.id}`))
      expectGone(yield* browser.get(pathOf(made.url)), "revoked")
      expectGone(yield* submit(browser, made.url, csrf, [["username", "mallory"], ["password", password]]), "revoked")
      expect(yield* usersOf(name)).toEqual([])
      const base = pathOf(made.url).slice(0, pathOf(made.url).lastIndexOf("/") + 1)
      for (const secret of ["A".repeat(43), "short", secretOf(made.url).slice(0, 42), `${secretOf(made.url)}A`, "%00".repeat(3)]) {
        expectUnknown(yield* browser.get(`${base}${secret}`))
        expectUnknown(yield* browser.post(`${base}${secret}`, [["csrf", csrf], ["username", "x"], ["password", password]]))
      }
      // the secret of one realm names nothing in another
      const other = yield* createRealm()
      const live = yield* invite(name, { role: "member" })
      expectUnknown(yield* browser.get(`/realms/${other.name}/invitations/${secretOf(live.url)}`))
      expect(yield* statusOf(name, live.id)).toBe("pending")
      // CONTRACT §2: an unknown realm is the JSON 404
      const noRealm = yield* browser.get(`/realms/no-such-realm-here/invitations/${secretOf(live.url)}`)
      expect({ status: noRealm.status, json: JSON.parse(noRealm.text) }).toEqual({
        status: 404, json: { error: "invalid_request", error_description: "unknown realm" }
      })
    }))

  it.effect("§4, §2: bad input is the form again with a message (400), nothing written, the invitation still pending", () =>
    Effect.gen(function*() {
      const { name } = yield* createRealm()
      const made = yield* invite(name, { role: "admin", email: "dora@example.com" })
      const browser = makeBrowser()
      const csrf = yield* open(browser, made.url)
      const usernameRule = "'username' must be 1 to 255 characters without spaces or control characters"
      const cases: Array<[ReadonlyArray<readonly [string, string]>, string]> = [
        [[["password", password]], "'username' is required"],
        [[["username", ""], ["password", password]], "'username' is required"],
        [[["username", "dora"]], "'password' is required"],
        [[["username", "dora"], ["password", "short"]], "'password' must be a string of 8 to 1024 characters"],
        [[["username", "dora"], ["password", "p".repeat(1025)]], "'password' must be a string of 8 to 1024 characters"],
        [[["username", "d".repeat(256)], ["password", password]], usernameRule],
        [[["username", "two words"], ["password", password]], usernameRule],
        [[["username", "tab\there"], ["password", password]], usernameRule],
        [[["username", "nul\u0000"], ["password", password]], "'username' must not contain NUL characters"],
        [[["username", "dora"], ["password", `${password}\u0000`]], "'password' must not contain NUL characters"],
        [[["username", "dora"], ["username", "dora2"], ["password", password]], "'username' must not be provided twice"],
        [[["username", "dora"], ["password", password], ["name", "n".repeat(201)]], "'name' must be a string of 1 to 200 characters"]
      ]
      for (const [fields, message] of cases) {
        const res = yield* submit(browser, made.url, csrf, fields)
        // the same token again: this browser's cookie still holds it
        expect(expectForm(res, 400, message).hidden["csrf"]).toBe(csrf)
        expect(res.text).not.toContain(password)
      }
      // a body that is not a form: broken UTF-8, broken percent-encoding, another content type
      // (the form comes back with a fresh token: the one posted could not be read)
      let token = csrf
      for (const [body, type] of [
        [`csrf=${csrf}&username=%C3%28&password=${password}`, "application/x-www-form-urlencoded"],
        [`csrf=${csrf}&username=%ZZ&password=${password}`, "application/x-www-form-urlencoded"],
        [JSON.stringify({ csrf, username: "dora", password }), "application/json"]
      ] as const) {
        token = expectForm(yield* browser.post(pathOf(made.url), body, type), 400, "The form could not be read.").hidden["csrf"]!
      }
      // CONTRACT §2: larger than 64 KiB is 413
      token = expectForm(yield* browser.post(pathOf(made.url), `csrf=${token}&username=dora&password=${"p".repeat(70 * 1024)}`), 413,
        "The form was too large.").hidden["csrf"]!
      expect(yield* usersOf(name)).toEqual([])
      expect(yield* statusOf(name, made.id)).toBe("pending")
      // and the invitation still works
      expectPage(yield* submit(browser, made.url, token, [["username", "dora"], ["password", password]]), 200)
      expect((yield* usersOf(name)).map((u) => u["username"])).toEqual(["dora"])
    }))

  it.effect("§4: a taken username (without regard to case) is the form again, 409 (ADR 0037), the invitation still pending", () =>
    Effect.gen(function*() {
      const { name } = yield* createRealm()
      expect((yield* call("POST", `/admin/realms/${name}/users`, { username: "Eve", password })).status).toBe(201)
      const made = yield* invite(name, { role: "member" })
      const browser = makeBrowser()
      const csrf = yield* open(browser, made.url)
      const res = yield* submit(browser, made.url, csrf, [["username", "eve"], ["password", password], ["name", "Eve Two"]])
      const form = expectForm(res, 409, "That username is taken. Choose another.")
      // what was typed is shown again (never the password)
      expect(form.controls.find(([, a]) => a["name"] === "username")![1]["value"]).toBe("eve")
      expect(form.controls.find(([, a]) => a["name"] === "name")![1]["value"]).toBe("Eve Two")
      expect(yield* statusOf(name, made.id)).toBe("pending")
      expect((yield* usersOf(name)).map((u) => u["username"])).toEqual(["Eve"])
      expect(form.hidden["csrf"]).toBe(csrf)
      expectPage(yield* submit(browser, made.url, csrf, [["username", "eve2"], ["password", password]]), 200)
    }))

  it.effect("§4, RFC 9700 §4.4.1.8: a POST without the page's CSRF token and cookie is the form again, 400, nothing written", () =>
    Effect.gen(function*() {
      const { name } = yield* createRealm()
      const made = yield* invite(name, { role: "admin" })
      const browser = makeBrowser()
      const csrf = yield* open(browser, made.url)
      const expired = "The form has expired. Submit it again."
      // another browser (no cookie) with the token; this browser without the token; with a wrong one
      expectForm(yield* submit(makeBrowser(), made.url, csrf, [["username", "x"], ["password", password]]), 400, expired)
      expectForm(yield* browser.post(pathOf(made.url), [["username", "x"], ["password", password]]), 400, expired)
      expectForm(yield* submit(browser, made.url, `${csrf.slice(1)}A`, [["username", "x"], ["password", password]]), 400, expired)
      expect(yield* usersOf(name)).toEqual([])
      expect(yield* statusOf(name, made.id)).toBe("pending")
    }))

  it.effect("§4: ten racing acceptances make exactly one user; the other nine see 410", () =>
    Effect.gen(function*() {
      const { name } = yield* createRealm()
      const realm = yield* findRealm(name)
      const made = yield* invite(name, { role: "member" })
      const browsers = Array.from({ length: 10 }, () => makeBrowser())
      const tokens = yield* Effect.forEach(browsers, (b) => open(b, made.url))
      const answers = yield* Effect.all(
        browsers.map((b, i) => submit(b, made.url, tokens[i]!, [["username", `racer${i}`], ["password", password]])),
        { concurrency: "unbounded" }
      )
      const statuses = answers.map((a) => a.status).sort()
      expect(statuses).toEqual([200, 410, 410, 410, 410, 410, 410, 410, 410, 410])
      for (const a of answers.filter((a) => a.status === 410)) expectGone(a, "accepted")
      const users = yield* usersOf(name)
      expect(users.length).toBe(1)
      const winner = answers.findIndex((a) => a.status === 200)
      expect(users[0]!["username"]).toBe(`racer${winner}`)
      expect(yield* Effect.flatMap(Users.Users, (u) => u.findByUsername(realm.id, `racer${winner}`)).pipe(Effect.map(Option.isSome))).toBe(true)
      expect((yield* eventsOf(name, "type=user.created")).length).toBe(1)
      expect((yield* eventsOf(undefined, `type=invitation.accepted&subject=${realm.id}`)).length).toBe(1)
    }))
})

it.effect("§4: an expired invitation is 410 on GET and POST, and makes no user", () =>
  Effect.gen(function*() {
    const { name } = yield* createRealm()
    const made = yield* invite(name, { role: "member", expires_in: 3600 })
    const browser = makeBrowser()
    const csrf = yield* open(browser, made.url)
    yield* TestClock.adjust("1 hour")
    expectGone(yield* browser.get(pathOf(made.url)), "expired")
    expectGone(yield* submit(browser, made.url, csrf, [["username", "late"], ["password", password]]), "expired")
    expect(yield* usersOf(name)).toEqual([])
    expect(yield* statusOf(name, made.id)).toBe("expired")
  }).pipe(Effect.provide(TestLive.World)))

// ---------------------------------------------------------------------------------------------------------------
// A tenant admin's invitations (an automation client with the realm's admin resource, CONTRACT §3)
// ---------------------------------------------------------------------------------------------------------------

it.layer(TestLive.World)("issue 14: a tenant admin invites", (it) => {
  it.effect("§3, §7: its invitations and revocations land in the realm trail with it as actor, never in the owner trail", () =>
    Effect.gen(function*() {
      const w = yield* world
      const adminResource = `${publicUrl}/admin/realms/${w.name}`
      const registered = yield* call("POST", `/admin/realms/${w.name}/resources`, { uri: adminResource, scopes: ["tessera:admin"] })
      expect([201, 409]).toContain(registered.status)
      const automation = yield* registerClient(w, {
        grant_types: ["client_credentials"], redirect_uris: [], response_types: [], resources: [adminResource]
      })
      const cc = yield* postEndpoint(w, "token", authOf(automation), { grant_type: "client_credentials", scope: "tessera:admin", resource: adminResource })
      expect(cc.status).toBe(200)
      const tenant = { authorization: `Bearer ${cc.json.access_token as string}` }
      const actor = { type: "client", id: automation.client_id }
      // the owner's invitation (owner trail), then the tenant's own, and the tenant revoking the owner's
      const byOwner = yield* invite(w.name, { role: "admin", email: "first@acme.example" })
      const created = yield* request("POST", invitationsOf(w.name), { headers: tenant, json: { role: "member", email: "m@acme.example" } })
      expectJson(created, 201, { id: uuid, url: urlOf(w.name), role: "member", email: "m@acme.example", expires_at: iso })
      expectJson(yield* request("GET", invitationsOf(w.name), { headers: tenant }), 200, {
        invitations: inListOrder([
          { id: byOwner.id, role: "admin", email: "first@acme.example", status: "pending", expires_at: byOwner.expires_at },
          { id: created.json.id, role: "member", email: "m@acme.example", status: "pending", expires_at: created.json.expires_at }
        ])
      })
      expectNoContent(yield* request("DELETE", `${invitationsOf(w.name)}/${byOwner.id}`, { headers: tenant }))
      // the tenant's invitation is accepted on the page: its acceptance goes where its creation went
      const browser = makeBrowser()
      const csrf = yield* open(browser, created.json.url)
      expectPage(yield* submit(browser, created.json.url, csrf, [["username", "member1"], ["password", password]]), 200)
      const [member] = (yield* usersOf(w.name)).filter((u) => u["username"] === "member1")
      const base = { id: uuid, at: iso, realm: w.name, result: "success" }
      expect((yield* eventsOf(w.name, "")).filter((e) => (e["type"] as string).startsWith("invitation."))).toEqual([
        { ...base, type: "invitation.accepted", actor: { type: "user", id: member!["sub"] }, subject: created.json.id, reason: "role: member, email domain: acme.example" },
        { ...base, type: "invitation.revoked", actor, subject: byOwner.id, reason: "role: admin, email domain: acme.example" },
        { ...base, type: "invitation.created", actor, subject: created.json.id, reason: "role: member, email domain: acme.example" }
      ])
      expect((yield* eventsOf(undefined, `subject=${w.realmId}`)).filter((e) => (e["type"] as string).startsWith("invitation."))).toEqual([
        { ...ownerEvent, realm: w.name, subject: w.realmId, type: "invitation.created", reason: `invitation ${byOwner.id}; role: admin, email domain: acme.example` }
      ])
    }))
})
