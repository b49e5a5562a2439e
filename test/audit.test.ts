import { expect } from "@effect/vitest"
import { Chunk, DateTime, Effect, HashMap, Ref } from "effect"
import { Audit, AuditEvent, MemoryDb, Provisioning } from "@tessera/domain"
import { admin, createRealm, type WireResponse } from "./support/Http.js"
import { publicUrl, TestMemory } from "./support/TestLive.js"
import * as TestLive from "./support/TestLive.js"

const it = TestLive.file()

const auditOf = (realm: string, query = "") => admin.get(`/admin/realms/${realm}/audit${query}`)

it.layer(TestMemory)("CONTRACT §7: the audit trail", (it) => {
  it.effect("each owner change is recorded with the contract's event shape, newest first", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const user = (yield* admin.post(`/admin/realms/${realm.name}/users`, { username: "ada", password: "correct horse" })).json
      const client = (yield* admin.post(`/admin/realms/${realm.name}/clients`, { redirect_uris: ["https://app.example/cb"] })).json
      yield* admin.post(`/admin/realms/${realm.name}/keys/rotate`)
      const res = yield* auditOf(realm.name)
      expect(res.status).toBe(200)
      expect(res.headers["cache-control"]).toBe("no-store")
      const base = { id: expect.any(String), at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/), realm: realm.name, actor: { type: "owner", id: "owner" }, result: "success" }
      expect(res.json).toEqual({
        events: [
          { ...base, type: "key.rotated", reason: expect.stringMatching(/^requested by the owner; active /) },
          { ...base, type: "client.created", client_id: client.client_id },
          { ...base, type: "user.created", subject: user.sub },
          // ADR 0035: the realm's built-ins, born with it
          { ...base, type: "client.created", client_id: "tessera-cli", reason: "built in" },
          { ...base, type: "resource.created", resource: `${publicUrl}/admin/realms/${realm.name}`, reason: "built in" },
          { ...base, type: "realm.created" }
        ]
      })
      expect(new Set(res.json.events.map((e: { id: string }) => e.id)).size).toBe(6)
    }))

  it.effect("filters: type, subject, actor, client_id, since, until", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const { id } = yield* Provisioning.findRealm(realm.name)
      const audit = yield* Audit.Audit
      const at = (iso: string) => DateTime.unsafeMake(iso)
      const append = (draft: Partial<AuditEvent.AuditEvent>, iso: string) =>
        Effect.flatMap(Audit.make({ id, name: realm.name }, {
          type: "login.failed", actor: { type: "user", id: "u1" }, result: "failure", ...draft
        }), (event) => audit.append({ ...event, at: at(iso) }))
      yield* append({ subject: "u1", clientId: "c1", reason: "bad password", ip: "192.0.2.1", userAgent: "curl" }, "2030-01-01T00:00:00Z")
      yield* append({ type: "login.succeeded", subject: "u1", clientId: "c2", result: "success" }, "2030-01-02T00:00:00Z")
      yield* append({ type: "token.exchanged", subject: "u1", clientId: "agent-1", actor: { type: "agent", id: "agent-1" }, act: { sub: "agent-1" }, scope: "read", resource: "https://api.example", grantType: "urn:ietf:params:oauth:grant-type:token-exchange", result: "success" }, "2030-01-03T00:00:00Z")
      const types = (query: string) => Effect.map(auditOf(realm.name, query), (res) => {
        expect(res.status).toBe(200)
        return res.json.events.map((e: { type: string }) => e.type)
      })
      expect(yield* types("?type=login.failed")).toEqual(["login.failed"])
      expect(yield* types("?subject=u1")).toEqual(["token.exchanged", "login.succeeded", "login.failed"])
      expect(yield* types("?actor=agent-1")).toEqual(["token.exchanged"])
      expect(yield* types("?client_id=c2")).toEqual(["login.succeeded"])
      expect(yield* types("?since=2030-01-02T00:00:00Z")).toEqual(["token.exchanged", "login.succeeded"])
      expect(yield* types("?until=2030-01-01T12:00:00%2B00:00&subject=u1")).toEqual(["login.failed"])
      expect(yield* types("?since=2030-01-02T00:00:00Z&until=2030-01-02T23:59:59Z")).toEqual(["login.succeeded"])
      expect((yield* auditOf(realm.name, "?type=token.exchanged")).json.events[0]).toMatchObject({
        actor: { type: "agent", id: "agent-1" }, act: { sub: "agent-1" }, scope: "read", resource: "https://api.example",
        grant_type: "urn:ietf:params:oauth:grant-type:token-exchange"
      })
      const failed = (yield* auditOf(realm.name, "?type=login.failed")).json.events[0]
      expect(failed).toEqual({
        id: expect.any(String), at: "2030-01-01T00:00:00.000Z", realm: realm.name, type: "login.failed",
        actor: { type: "user", id: "u1" }, subject: "u1", client_id: "c1", result: "failure", reason: "bad password",
        ip: "192.0.2.1", user_agent: "curl"
      })
    }))

  it.effect("cursor pagination walks every event exactly once, newest first", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const { id } = yield* Provisioning.findRealm(realm.name)
      const audit = yield* Audit.Audit
      for (let i = 0; i < 11; i++) {
        yield* Effect.flatMap(Audit.make({ id, name: realm.name }, { type: "login.failed", actor: { type: "user", id: `u${i}` }, result: "failure" }), audit.append)
      }
      const seen: Array<string> = []
      let cursor: string | undefined = undefined
      let pages = 0
      do {
        const res: WireResponse = yield* auditOf(realm.name, `?limit=5${cursor === undefined ? "" : `&cursor=${cursor}`}`)
        expect(res.status).toBe(200)
        seen.push(...res.json.events.map((e: { actor: { id: string }; type: string }) => e.type === "realm.created" ? "realm" : e.actor.id))
        // CONTRACT §3 lists: next_cursor absent on the last page
        cursor = res.json.next_cursor
        pages++
      } while (cursor !== undefined)
      expect(pages).toBe(3)
      // the built-ins' two events (the owner's) between the realm's creation and the rest (ADR 0035)
      expect(seen).toEqual(["u10", "u9", "u8", "u7", "u6", "u5", "u4", "u3", "u2", "u1", "u0", "owner", "owner", "realm"])
    }))

  it.effect("CONTRACT §3 lists: limit 1-200, default 50; next_cursor on every page but the last, absent there", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const { id } = yield* Provisioning.findRealm(realm.name)
      const audit = yield* Audit.Audit
      // realm.created, its built-ins' two (ADR 0035) and 205 more: 208 events
      for (let i = 0; i < 205; i++) {
        yield* Effect.flatMap(Audit.make({ id, name: realm.name }, { type: "login.failed", actor: { type: "user", id: `u${i}` }, result: "failure" }), audit.append)
      }
      const actors = (res: WireResponse) => res.json.events.map((e: { actor: { id: string }; type: string }) => e.type === "realm.created" ? "realm" : e.actor.id)
      const newest = (from: number, n: number) => Array.from({ length: n }, (_, i) => `u${from - i}`)
      const expectPage = (res: WireResponse, keys: Array<string>, ids: Array<string>) => {
        expect(res.status).toBe(200)
        expect(res.headers["cache-control"]).toBe("no-store")
        expect(Object.keys(res.json)).toEqual(keys)
        expect(actors(res)).toEqual(ids)
      }
      // the default page is 50
      const first = yield* auditOf(realm.name)
      expectPage(first, ["events", "next_cursor"], newest(204, 50))
      expect(first.json.next_cursor).toMatch(/^[A-Za-z0-9_-]+$/)
      // 200 at most
      const big = yield* auditOf(realm.name, `?limit=200&cursor=${first.json.next_cursor}`)
      // ADR 0035: the built-ins' two events (the owner's) between realm.created and the rest
      expectPage(big, ["events"], [...newest(154, 155), "owner", "owner", "realm"])
      const whole = yield* auditOf(realm.name, "?limit=200")
      expectPage(whole, ["events", "next_cursor"], newest(204, 200))
      const rest = yield* auditOf(realm.name, `?limit=200&cursor=${whole.json.next_cursor}`)
      expectPage(rest, ["events"], [...newest(4, 5), "owner", "owner", "realm"])
      // a page that ends exactly at the last event is the last page
      const exact = yield* auditOf(realm.name, `?limit=8&cursor=${whole.json.next_cursor}`)
      expect(exact.json).toEqual(rest.json)
    }))

  it.effect("bad query parameters are 400 invalid_request naming the parameter", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const cases: Array<[string, string]> = [
        // CONTRACT §3 lists: limit 1-200, with every list's text
        ["?limit=0", "'limit' must be an integer from 1 to 200"],
        ["?limit=201", "'limit' must be an integer from 1 to 200"],
        ["?limit=5000", "'limit' must be an integer from 1 to 200"],
        ["?limit=abc", "'limit' must be an integer from 1 to 200"],
        ["?limit=1.5", "'limit' must be an integer from 1 to 200"],
        ["?since=yesterday", "'since' must be an RFC 3339 date-time"],
        ["?until=2030-13-45T00:00:00Z", "'until' must be an RFC 3339 date-time"],
        ["?cursor=not*a*cursor", "'cursor' must be a cursor from an earlier page"],
        ["?cursor=Zm9v", "'cursor' must be a cursor from an earlier page"],
        ["?cursor=bogus", "'cursor' must be a cursor from an earlier page"],
        ["?type=a&type=b", "'type' must not be given twice"]
      ]
      for (const [query, description] of cases) {
        const res = yield* auditOf(realm.name, query)
        expect(res.status, query).toBe(400)
        expect(res.headers["cache-control"]).toBe("no-store")
        expect(res.json, query).toEqual({ error: "invalid_request", error_description: description })
      }
    }))

  it.effect("CONTRACT §3 audit/verify: the hash chain verifies, and an edited event is named as the first broken", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      yield* admin.post(`/admin/realms/${realm.name}/users`, { username: "ada", password: "correct horse" })
      yield* admin.post(`/admin/realms/${realm.name}/keys/rotate`)
      const ok = yield* admin.get(`/admin/realms/${realm.name}/audit/verify`)
      expect(ok.status).toBe(200)
      expect(ok.headers["cache-control"]).toBe("no-store")
      expect(ok.json).toEqual({ ok: true, events: 5 })
      // tamper with the stored user.created event behind the app's back
      const { id } = yield* Provisioning.findRealm(realm.name)
      const db = yield* MemoryDb.MemoryDb
      const edited = yield* Ref.modify(db.state, (state) => {
        const trail = MemoryDb.trailOf(state, id)
        const target = Chunk.unsafeGet(trail, 1)
        const forged = { ...target, event: { ...target.event, subject: "someone-else" } }
        return [target.event.id, { ...state, audit: HashMap.set(state.audit, id, Chunk.replace(trail, 1, forged)) }] as const
      })
      // ADR 0042: the first call left a signed checkpoint at the head; what lies before it is read again with full=true
      const broken = yield* admin.get(`/admin/realms/${realm.name}/audit/verify?full=true`)
      expect(broken.status).toBe(200)
      expect(broken.json).toEqual({ ok: false, first_broken: edited })
      expect((yield* admin.get(`/admin/realms/no-such/audit/verify`)).json).toEqual({ error: "not_found", error_description: "unknown realm" })
    }))

  it.effect("one realm's trail never shows another realm's events", () =>
    Effect.gen(function*() {
      const a = yield* createRealm()
      const b = yield* createRealm()
      yield* admin.post(`/admin/realms/${a.name}/users`, { username: "only-in-a", password: "correct horse" })
      const events = (yield* auditOf(b.name)).json.events
      expect(events.map((e: { realm: string; type: string }) => [e.realm, e.type])).toEqual([[b.name, "client.created"], [b.name, "resource.created"], [b.name, "realm.created"]])
    }))
})

/**
 * CONTRACT §3 `until`/`since` on events timed out of order (timed when made, numbered when committed): the page is
 * the events at or before `until`, newest position first, whatever their times, and the cursor continues it. On
 * PGlite this is ADR 0045's bounded scan (the first event timed after `until` plus the trail's largest lag).
 */
const untilPage = Effect.gen(function*() {
  const realm = yield* createRealm()
  const { id } = yield* Provisioning.findRealm(realm.name)
  const audit = yield* Audit.Audit
  // positions 1.. after the realm's own events; times: 03:00, 01:00 (two hours late), 05:00, 02:00, 06:00
  for (const [subject, hour] of [["e1", 3], ["e2", 1], ["e3", 5], ["e4", 2], ["e5", 6]] as const) {
    const event = yield* Audit.make({ id, name: realm.name }, { type: "login.succeeded", actor: { type: "user", id: subject }, subject, result: "success" })
    yield* audit.append({ ...event, at: DateTime.unsafeMake(`2030-01-01T0${hour}:00:00Z`) })
  }
  const event = (subject: string, hour: number) => ({
    id: expect.any(String), at: `2030-01-01T0${hour}:00:00.000Z`, realm: realm.name, type: "login.succeeded",
    actor: { type: "user", id: subject }, subject, result: "success"
  })
  const first = yield* auditOf(realm.name, "?until=2030-01-01T03:00:00Z&type=login.succeeded&limit=2")
  expect([first.status, first.json]).toEqual([200, { events: [event("e4", 2), event("e2", 1)], next_cursor: expect.any(String) }])
  const rest = yield* auditOf(realm.name, `?until=2030-01-01T03:00:00Z&type=login.succeeded&limit=2&cursor=${first.json.next_cursor}`)
  expect([rest.status, rest.json]).toEqual([200, { events: [event("e1", 3)] }])
  const window = yield* auditOf(realm.name, "?since=2030-01-01T02:00:00Z&until=2030-01-01T05:00:00Z&type=login.succeeded")
  expect([window.status, window.json]).toEqual([200, { events: [event("e4", 2), event("e3", 5), event("e1", 3)] }])
})
const untilPageName = "CONTRACT §3 audit `until` and `since`: the right page of events timed out of order, and its cursor"

it.layer(TestMemory)("CONTRACT §3 audit time filters, memory", (it) => it.effect(untilPageName, () => untilPage))
it.layer(TestLive.world({}, { store: "pglite" }))("CONTRACT §3 audit time filters, PGlite", (it) => it.effect(untilPageName, () => untilPage))
