/**
 * CONTRACT §3 agents (DESIGN "Agents", ADR 0034): the realm's agent clients with their delegations (from the people's
 * grants to them and from their RFC 8693 token exchanges), and revoking a delegation, whose effects reach the agent's
 * refresh tokens and every token it holds for that person, and nothing else. On every store.
 */
import { expect } from "@effect/vitest"
import { DateTime, Duration, Effect, TestClock } from "effect"
import { Jwt, SigningKeys } from "@tessera/domain"
import type { WireResponse } from "./support/Http.js"
import { admin, get, request } from "./support/Http.js"
import * as TestLive from "./support/TestLive.js"
import {
  accessTokenType, authOf, exchange, expectExchanged, expectTokenError, introspect, invalidGrant, issueCode, nowSeconds, post, refresh,
  registerClient, tokenExchangeGrant, world
} from "./support/TokenFixtures.js"
import type { RegisteredClient, World } from "./support/TokenFixtures.js"

const it = TestLive.file()

const owner = { authorization: `Bearer ${TestLive.adminToken}` }
const del = (path: string) => request("DELETE", path, { headers: owner })

/** An agent client: people authorize it (code grant, refresh) and it exchanges their tokens (RFC 8693). */
const agentClient = (w: World, metadata: Record<string, unknown> = {}) =>
  registerClient(w, {
    principal_type: "agent",
    grant_types: ["authorization_code", "refresh_token", tokenExchangeGrant],
    ...metadata
  })

/** A second person in the world's realm. */
const person = (w: World, username: string) =>
  Effect.gen(function*() {
    const res = yield* admin.post(`/admin/realms/${w.name}/users`, { username, password: "correct horse battery staple" })
    expect(res.status).toBe(201)
    return { ...w, sub: res.json.sub as string, username } satisfies World
  })

/** A person's authorization of `client` (the grant written as the consent page would), redeemed at the token endpoint. */
const authorize = (w: World, client: RegisteredClient, scopes: ReadonlyArray<string> = ["read", "write"], resources = [w.resource]) =>
  Effect.gen(function*() {
    const code = yield* issueCode(w, { clientId: client.client_id, scopes, resources })
    const res = yield* exchange(w, authOf(client), code, { resource: resources[0]! })
    expect(res.status).toBe(200)
    return res.json as { access_token: string; refresh_token: string }
  })

const tokenExchange = (w: World, client: RegisteredClient, subjectToken: string, extra: Record<string, string> = {}) =>
  post(w, "token", authOf(client), {
    grant_type: tokenExchangeGrant, subject_token: subjectToken, subject_token_type: accessTokenType, ...extra
  })

/** A resource B with the same scopes as the world's resource (`read`, `write`). */
const filesResource = (w: World) =>
  Effect.gen(function*() {
    const uri = `https://files.example/${w.name}`
    expect((yield* admin.post(`/admin/realms/${w.name}/resources`, { uri, scopes: ["read", "write"] })).status).toBe(201)
    return uri
  })

/** An access token of the realm signed through the domain, e.g. one whose `may_act` names an agent (RFC 8693 §4.4). */
const mint = (w: World, claims: Record<string, unknown>) =>
  Effect.gen(function*() {
    const iat = yield* nowSeconds
    return yield* Jwt.sign(
      { iss: w.issuer, aud: w.resource, scope: "read write", jti: crypto.randomUUID(), iat, exp: iat + 900, ...claims },
      yield* SigningKeys.signer(w.realmId, "ES256"),
      "at+jwt"
    )
  })

const expectJson = (res: WireResponse, status: number, body: unknown) => {
  expect(res.status).toBe(status)
  expect(res.headers["content-type"]).toBe("application/json")
  expect(res.headers["cache-control"]).toBe("no-store")
  expect(res.json).toEqual(body)
}

const expectNoContent = (res: WireResponse) => {
  expect(res.status).toBe(204)
  expect(res.headers["cache-control"]).toBe("no-store")
  expect(res.text).toBe("")
}

const unknownDelegation = { error: "not_found", error_description: "unknown delegation" }
const inactive = { active: false }
const notActive = invalidGrant("'subject_token' is not an active access token of this realm")
const notDelegable = invalidGrant("'subject_token' may not be delegated to this client")
const refreshRefused = { error: "invalid_grant" }

const isActive = (w: World, client: RegisteredClient, token: string) =>
  Effect.map(introspect(w, authOf(client), token), (res) => {
    expect(res.status).toBe(200)
    return res.json.active as boolean
  })

const byClientId = <A extends { readonly client_id: string }>(rows: ReadonlyArray<A>) =>
  [...rows].sort((a, b) => (a.client_id < b.client_id ? -1 : a.client_id > b.client_id ? 1 : 0))

const iso = (at: DateTime.Utc) => DateTime.formatIso(at)

it.layer(TestLive.World)("CONTRACT §3 agents: the list", (it) => {
  it.effect("every agent client with its delegations: grants and exchanges merged per person; apps are not listed", () =>
    Effect.gen(function*() {
      const w = yield* world
      const files = yield* filesResource(w)
      const planner = yield* agentClient(w, { client_name: "Planner", resources: [w.resource, files] })
      const idle = yield* agentClient(w)
      const app = yield* registerClient(w)
      const bob = yield* person(w, "bob")
      const now = iso(yield* DateTime.now)
      // Ada authorizes the planner for the API (read, write), and it exchanges her token for the files resource (write)
      const ada = yield* authorize(w, planner)
      expectExchanged(yield* tokenExchange(w, planner, ada.access_token, { resource: files, scope: "write" }), "write")
      // Bob authorizes it for read only, and it never exchanges; Ada's authorization of the app is no delegation
      yield* authorize(bob, planner, ["read"])
      yield* authorize(w, app)
      const res = yield* admin.get(`/admin/realms/${w.name}/agents`)
      const delegations = [
        { sub: w.sub, resources: [files, w.resource].sort(), scopes: ["read", "write"], first_at: now, last_at: now },
        { sub: bob.sub, resources: [w.resource], scopes: ["read"], first_at: now, last_at: now }
      ].sort((a, b) => (a.sub < b.sub ? -1 : 1))
      expectJson(res, 200, {
        agents: byClientId([
          { client_id: planner.client_id, client_name: "Planner", delegations },
          { client_id: idle.client_id, delegations: [] }
        ])
      })
    }))

  it.effect("CONTRACT §3 lists: limit and cursor page through the agents by client_id; next_cursor absent on the last page", () =>
    Effect.gen(function*() {
      const w = yield* world
      const agents = byClientId(yield* Effect.all([agentClient(w), agentClient(w), agentClient(w)]))
      const first = yield* admin.get(`/admin/realms/${w.name}/agents?limit=2`)
      expectJson(first, 200, {
        agents: agents.slice(0, 2).map((a) => ({ client_id: a.client_id, delegations: [] })),
        next_cursor: expect.stringMatching(/^[A-Za-z0-9_-]+$/)
      })
      const second = yield* admin.get(`/admin/realms/${w.name}/agents?limit=2&cursor=${first.json.next_cursor}`)
      expectJson(second, 200, { agents: [{ client_id: agents[2]!.client_id, delegations: [] }] })
      // exactly a page's worth: no next page
      expectJson(yield* admin.get(`/admin/realms/${w.name}/agents?limit=3`), 200, {
        agents: agents.map((a) => ({ client_id: a.client_id, delegations: [] }))
      })
    }))

  it.effect("CONTRACT §3: bad limit, bad cursor, a repeated parameter are 400 invalid_request; an unknown realm 404", () =>
    Effect.gen(function*() {
      const w = yield* world
      const path = `/admin/realms/${w.name}/agents`
      const limitText = { error: "invalid_request", error_description: "'limit' must be an integer from 1 to 200" }
      for (const limit of ["0", "201", "1.5", "x", "%00"]) expectJson(yield* admin.get(`${path}?limit=${limit}`), 400, limitText)
      expectJson(yield* admin.get(`${path}?cursor=not-a-cursor`), 400, {
        error: "invalid_request", error_description: "'cursor' must be a cursor from an earlier page"
      })
      expectJson(yield* admin.get(`${path}?limit=1&limit=2`), 400, {
        error: "invalid_request", error_description: "'limit' must not be given twice"
      })
      expectJson(yield* admin.get(`/admin/realms/no-such-realm-${w.name}/agents`), 404, { error: "not_found", error_description: "unknown realm" })
      const unauthorized = yield* get(path)
      expect(unauthorized.status).toBe(401)
      expect(unauthorized.json).toEqual({ error: "invalid_token", error_description: "the admin API needs the owner's token or a tenant admin's access token" })
    }))

  it.effect("the OpenAPI document lists both operations with their answers", () =>
    Effect.gen(function*() {
      const paths = (yield* get("/admin/openapi.json")).json.paths
      const list = paths["/admin/realms/{realm}/agents"]["get"]
      expect(Object.keys(list.responses).sort()).toEqual(["200", "400", "401", "404"])
      expect(list.parameters.map((p: { name: string }) => p.name).sort()).toEqual(["cursor", "limit", "realm"])
      const revoke = paths["/admin/realms/{realm}/agents/{client_id}/delegations/{sub}"]["delete"]
      expect(Object.keys(revoke.responses).sort()).toEqual(["204", "400", "401", "404"])
      expect(revoke.parameters.map((p: { name: string }) => p.name).sort()).toEqual(["client_id", "realm", "sub"])
    }))
})

it.layer(TestLive.World)("CONTRACT §3 agents: revoking a delegation", (it) => {
  it.effect("204: the agent's refresh token fails, its tokens for the person introspect inactive; the rest stays active", () =>
    Effect.gen(function*() {
      const w = yield* world
      const agent = yield* agentClient(w)
      const app = yield* registerClient(w)
      const bob = yield* person(w, "bob")
      const ada = yield* authorize(w, agent)
      const exchanged = expectExchanged(yield* tokenExchange(w, agent, ada.access_token, { scope: "read" }), "read")
      const adaApp = yield* authorize(w, app)
      const bobAgent = yield* authorize(bob, agent)
      const bobExchanged = expectExchanged(yield* tokenExchange(bob, agent, bobAgent.access_token), "read write")
      // another realm, with the same story, is untouched
      const w2 = yield* world
      const agent2 = yield* agentClient(w2)
      const other = yield* authorize(w2, agent2)
      const otherExchanged = expectExchanged(yield* tokenExchange(w2, agent2, other.access_token), "read write")

      expectNoContent(yield* del(`/admin/realms/${w.name}/agents/${agent.client_id}/delegations/${w.sub}`))

      expectTokenError(yield* refresh(w, authOf(agent), ada.refresh_token), refreshRefused)
      expect((yield* introspect(w, authOf(agent), exchanged)).json).toEqual(inactive)
      expect((yield* introspect(w, authOf(agent), ada.access_token)).json).toEqual(inactive)
      // an exchange with the older subject token fails too
      expectTokenError(yield* tokenExchange(w, agent, ada.access_token), notActive)
      // Ada's token for another client, Bob's delegation to the same agent, the other realm: all still active
      expect(yield* isActive(w, app, adaApp.access_token)).toBe(true)
      expect((yield* refresh(w, authOf(app), adaApp.refresh_token)).status).toBe(200)
      expect(yield* isActive(w, agent, bobExchanged)).toBe(true)
      expect((yield* refresh(bob, authOf(agent), bobAgent.refresh_token)).status).toBe(200)
      expect(yield* isActive(w2, agent2, otherExchanged)).toBe(true)
      expect((yield* refresh(w2, authOf(agent2), other.refresh_token)).status).toBe(200)
      // the list no longer shows Ada; the other realm's list still shows its delegation
      const listed = (yield* admin.get(`/admin/realms/${w.name}/agents`)).json.agents
      expect(listed.find((a: { client_id: string }) => a.client_id === agent.client_id).delegations.map((d: { sub: string }) => d.sub))
        .toEqual([bob.sub])
      expect((yield* admin.get(`/admin/realms/${w2.name}/agents`)).json.agents[0].delegations.map((d: { sub: string }) => d.sub))
        .toEqual([w2.sub])
      // CONTRACT §7: its own event, in its realm only
      const events = (yield* admin.get(`/admin/realms/${w.name}/audit?type=delegation.revoked`)).json.events
      expect(events).toEqual([{
        id: expect.any(String), at: expect.any(String), realm: w.name, type: "delegation.revoked", actor: { type: "owner", id: "owner" },
        subject: w.sub, client_id: agent.client_id, result: "success"
      }])
      expect((yield* admin.get(`/admin/realms/${w2.name}/audit?type=delegation.revoked`)).json.events).toEqual([])
      // revoked already: nothing left to revoke
      expectJson(yield* del(`/admin/realms/${w.name}/agents/${agent.client_id}/delegations/${w.sub}`), 404, unknownDelegation)
    }))

  it.effect("a delegation from exchanges alone (a may_act token of another client) is revoked too", () =>
    Effect.gen(function*() {
      const w = yield* world
      const agent = yield* agentClient(w)
      const app = yield* registerClient(w)
      const named = yield* mint(w, { sub: w.sub, client_id: app.client_id, may_act: { sub: agent.client_id } })
      const exchanged = expectExchanged(yield* tokenExchange(w, agent, named), "read write")
      expect((yield* admin.get(`/admin/realms/${w.name}/agents`)).json.agents[0].delegations).toEqual([{
        sub: w.sub, resources: [w.resource], scopes: ["read", "write"], first_at: expect.any(String), last_at: expect.any(String)
      }])
      expectNoContent(yield* del(`/admin/realms/${w.name}/agents/${agent.client_id}/delegations/${w.sub}`))
      expect((yield* introspect(w, authOf(agent), exchanged)).json).toEqual(inactive)
      // the may_act token itself is the app's, still active; the agent may not exchange it any more
      expect(yield* isActive(w, app, named)).toBe(true)
      expectTokenError(yield* tokenExchange(w, agent, named), notDelegable)
      expect((yield* admin.get(`/admin/realms/${w.name}/agents`)).json.agents[0].delegations).toEqual([])
    }))

  it.effect("404 not_found: unknown agent, a client that is no agent, a person without a delegation, another realm's agent", () =>
    Effect.gen(function*() {
      const w = yield* world
      const agent = yield* agentClient(w)
      const app = yield* registerClient(w)
      yield* authorize(w, app)
      yield* authorize(w, agent)
      const bob = yield* person(w, "bob")
      const w2 = yield* world
      const agent2 = yield* agentClient(w2)
      yield* authorize(w2, agent2)
      const e = encodeURIComponent
      const path = (realm: string, clientId: string, sub: string) => `/admin/realms/${realm}/agents/${clientId}/delegations/${sub}`
      for (
        const [realm, clientId, sub] of [
          [w.name, "no-such-agent", w.sub],
          [w.name, app.client_id, w.sub],
          [w.name, agent.client_id, bob.sub],
          [w.name, agent.client_id, "no-such-person"],
          [w.name, agent2.client_id, w2.sub],
          [w.name, agent.client_id, w2.sub],
          // CONTRACT §2: text no store can hold names nothing (NUL), nor does text Tessera never makes ids of
          [w.name, "a%00b", w.sub],
          [w.name, e("é"), w.sub],
          [w.name, agent.client_id, "x".repeat(100)]
        ] as const
      ) {
        expectJson(yield* del(path(realm, clientId, sub)), 404, unknownDelegation)
      }
      // a path segment that is not UTF-8 once decoded, or longer than 100 characters, never reaches the route: the
      // router's own bare 404
      for (const bad of ["%ED%A0%80", "%FF", "x".repeat(101)]) expect((yield* del(path(w.name, agent.client_id, bad))).status).toBe(404)
      expectJson(yield* del(path(`no-such-realm-${w.name}`, agent.client_id, w.sub)), 404, { error: "not_found", error_description: "unknown realm" })
      // nothing was revoked: both realms still list their delegation
      expect((yield* admin.get(`/admin/realms/${w.name}/agents`)).json.agents[0].delegations.map((d: { sub: string }) => d.sub)).toEqual([w.sub])
      expect((yield* admin.get(`/admin/realms/${w2.name}/agents`)).json.agents[0].delegations.map((d: { sub: string }) => d.sub)).toEqual([w2.sub])
      const unauthorized = yield* request("DELETE", path(w.name, agent.client_id, w.sub))
      expect(unauthorized.status).toBe(401)
    }))
})

it.effect("ADR 0034: after a revocation, the person's new consent starts a new delegation; older subject tokens stay refused", () =>
  Effect.gen(function*() {
    const w = yield* world
    const agent = yield* agentClient(w)
    const app = yield* registerClient(w)
    const before = yield* authorize(w, agent)
    const named = yield* mint(w, { sub: w.sub, client_id: app.client_id, may_act: { sub: agent.client_id } })
    expectExchanged(yield* tokenExchange(w, agent, before.access_token), "read write")
    yield* TestClock.adjust(Duration.seconds(10))
    const revokedAt = yield* DateTime.now
    expectNoContent(yield* del(`/admin/realms/${w.name}/agents/${agent.client_id}/delegations/${w.sub}`))
    // tokens are stamped in whole seconds: one issued in the second of the revocation counts as issued before it
    yield* TestClock.adjust(Duration.seconds(1))
    expectTokenError(yield* tokenExchange(w, agent, named), notDelegable)
    const again = yield* authorize(w, agent, ["read"])
    const exchanged = expectExchanged(yield* tokenExchange(w, agent, again.access_token), "read")
    expect(yield* isActive(w, agent, exchanged)).toBe(true)
    const restarted = iso(DateTime.addDuration(revokedAt, Duration.seconds(1)))
    expectJson(yield* admin.get(`/admin/realms/${w.name}/agents`), 200, {
      agents: [{ client_id: agent.client_id, delegations: [{ sub: w.sub, resources: [w.resource], scopes: ["read"], first_at: restarted, last_at: restarted }] }]
    })
    // a may_act token minted after the revocation is a new word from its issuer: it may be exchanged
    const newer = yield* mint(w, { sub: w.sub, client_id: app.client_id, may_act: { sub: agent.client_id } })
    expectExchanged(yield* tokenExchange(w, agent, newer), "read write")
  }).pipe(Effect.provide(TestLive.world())))
