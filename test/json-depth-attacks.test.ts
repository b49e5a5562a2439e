/**
 * CONTRACT §2, §3: JSON a caller controls, nested thousands of levels deep, never reaches a store or a recursive
 * walker: the admin API's bodies (client metadata and its `jwks`, trusted issuers, resources, realms, users), dynamic
 * registration (RFC 7591 §3) and the `act` chain of a token exchange's subject token (RFC 8693 §4.1) are refused with
 * the endpoint's 4xx; nothing is written and the realm's audit chain still verifies. PGlite's jsonb fails ("cannot
 * drop portal") past about 8 000 levels: this file runs on memory, PGlite and PostgreSQL (vitest.config.ts).
 */
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as Jose from "jose"
import { admin, bornEvents, createRealm, request } from "./support/Http.js"
import * as TestLive from "./support/TestLive.js"
import {
  authOf, clientKey, expectTokenError, invalidGrant, nowSeconds, post, registerClient, signJwt, tokenExchangeGrant, trustedIssuer, world
} from "./support/TokenFixtures.js"
import type { RegisteredClient, TrustedIssuer, World } from "./support/TokenFixtures.js"

/** `depth` arrays around a string: 10 000 levels are 20 KiB, 100 000 are 200 KiB (past the 64 KiB body limit). */
const nested = (depth: number) => `${"[".repeat(depth)}"x"${"]".repeat(depth)}`

/** `value` with the text `"$DEEP"` replaced by `deep` (JSON text, which JSON.stringify could not nest that far). */
const withDeep = (value: unknown, deep: string) => JSON.stringify(value).replace("\"$DEEP\"", deep)

const owner = { authorization: `Bearer ${TestLive.adminToken}` }
const send = (method: "POST" | "PATCH", path: string, body: string) => request(method, path, { headers: owner, body, contentType: "application/json" })

const tooDeep = { error: "invalid_request", error_description: "the body nests deeper than 32 levels" }
const tooLarge = { error: "invalid_request", error_description: "the body is larger than 65536 bytes" }

/** The realm's trail holds exactly `types` (newest first) and verifies. */
const expectTrail = (realm: string, types: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const events = (yield* admin.get(`/admin/realms/${realm}/audit?limit=200`)).json.events.map((e: { type: string }) => e.type)
    expect(events).toEqual(types)
    expect((yield* admin.get(`/admin/realms/${realm}/audit/verify`)).json).toEqual({ ok: true, events: types.length })
  })

const expectRefused = (res: { status: number; json: unknown; headers: Record<string, string> }, status: number, body: unknown) => {
  expect(res.status).toBe(status)
  expect(res.headers["content-type"]).toBe("application/json")
  expect(res.json).toEqual(body)
}

const depths = [[10_000, 400, tooDeep], [100_000, 413, tooLarge]] as const

layer(TestLive.TestLive, { timeout: 120_000 })("CONTRACT §2: JSON bodies nested deeper than any field", (it) => {
  it.effect("§3 POST clients: in a jwks key's member (stored as jsonb) and in an unknown member: 400, or 413 past 64 KiB; nothing written", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const key = yield* clientKey
      for (const [depth, status, body] of depths) {
        const viaKey = withDeep({
          redirect_uris: ["https://app.example/cb"], token_endpoint_auth_method: "private_key_jwt",
          jwks: { keys: [{ ...key.publicJwk, x_extra: "$DEEP" }] }
        }, nested(depth))
        expectRefused(yield* send("POST", `/admin/realms/${realm.name}/clients`, viaKey), status, body)
        const viaUnknown = withDeep({ redirect_uris: ["https://app.example/cb"], x_vendor_extension: "$DEEP" }, nested(depth))
        expectRefused(yield* send("POST", `/admin/realms/${realm.name}/clients`, viaUnknown), status, body)
      }
      yield* expectTrail(realm.name, bornEvents)
    }))

  it.effect("§3 PATCH clients, POST trusted-issuers, PATCH resources, PATCH realm, POST users: 400 at 10 000 levels, nothing written", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const created = yield* admin.post(`/admin/realms/${realm.name}/clients`, { redirect_uris: ["https://app.example/cb"] })
      expect(created.status).toBe(201)
      const resource = yield* admin.post(`/admin/realms/${realm.name}/resources`, { uri: `https://api.example/${realm.name}`, scopes: ["read"] })
      expect(resource.status).toBe(201)
      const key = yield* clientKey
      const deep = nested(10_000)
      for (const [method, path, value] of [
        ["PATCH", `/admin/realms/${realm.name}/clients/${created.json.client_id}`, { jwks: { keys: [{ ...key.publicJwk, x_extra: "$DEEP" }] }, token_endpoint_auth_method: "private_key_jwt" }],
        ["PATCH", `/admin/realms/${realm.name}/clients/${created.json.client_id}`, { client_name: "$DEEP" }],
        ["POST", `/admin/realms/${realm.name}/trusted-issuers`, { issuer: "https://idp.example", jwks: { keys: [{ ...key.publicJwk, x_extra: "$DEEP" }] } }],
        ["POST", `/admin/realms/${realm.name}/resources`, { uri: "https://other.example/api", scopes: ["read"], scope_descriptions: { read: "$DEEP" } }],
        ["PATCH", `/admin/realms/${realm.name}/resources/${resource.json.id}`, { scope_descriptions: { read: "$DEEP" } }],
        ["PATCH", `/admin/realms/${realm.name}`, { display_name: "$DEEP" }],
        ["POST", `/admin/realms/${realm.name}/users`, { username: "deep", password: "correct horse battery staple", name: "$DEEP" }]
      ] as const) {
        expectRefused(yield* send(method, path, withDeep(value, deep)), 400, tooDeep)
      }
      yield* expectTrail(realm.name, ["resource.created", "client.created", ...bornEvents])
    }))

  it.effect("32 levels are taken: a jwks key member nested 28 deep is stored and read back as sent", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const key = yield* clientKey
      // body, jwks, keys, the key: 4 levels; 28 more make 32
      const member = JSON.parse(nested(28))
      const res = yield* admin.post(`/admin/realms/${realm.name}/clients`, {
        redirect_uris: ["https://app.example/cb"], token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [{ ...key.publicJwk, x_extra: member }] }
      })
      expect(res.status).toBe(201)
      expect(res.json.jwks).toEqual({ keys: [{ ...key.publicJwk, x_extra: member }] })
      expect((yield* admin.get(`/admin/realms/${realm.name}/clients/${res.json.client_id}`)).json.jwks).toEqual({ keys: [{ ...key.publicJwk, x_extra: member }] })
      const deeper = yield* send("POST", `/admin/realms/${realm.name}/clients`, withDeep({
        redirect_uris: ["https://app.example/cb"], token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [{ ...key.publicJwk, x_extra: "$DEEP" }] }
      }, nested(29)))
      expectRefused(deeper, 400, tooDeep)
      yield* expectTrail(realm.name, ["client.created", ...bornEvents])
    }))

  it.effect("RFC 7591 §3: dynamic registration with a nested member: 400 invalid_request (413 past 64 KiB); nothing registered", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      expect((yield* admin.patch(`/admin/realms/${realm.name}`, { dynamic_registration: true })).status).toBe(200)
      for (const [depth, status, body] of depths) {
        const res = yield* request("POST", `/realms/${realm.name}/register`, {
          body: withDeep({ application_type: "native", redirect_uris: ["http://127.0.0.1/cb"], contacts: "$DEEP" }, nested(depth)),
          contentType: "application/json"
        })
        expectRefused(res, status, body)
      }
      yield* expectTrail(realm.name, ["realm.updated", ...bornEvents])
    }))
})

const agentClient = (w: World) =>
  registerClient(w, { principal_type: "agent", grant_types: [tokenExchangeGrant], redirect_uris: [], response_types: [] })

/** A trusted issuer's JWT for the person, naming `agent` in `may_act`, with `act` as given. */
const subjectJwt = (w: World, idp: TrustedIssuer, agent: RegisteredClient, act: unknown) =>
  Effect.gen(function*() {
    const now = yield* nowSeconds
    return yield* signJwt(idp.key, { iss: idp.issuer, sub: w.sub, aud: w.issuer, iat: now, exp: now + 3600, scope: "read", may_act: { sub: agent.client_id }, act })
  })

const exchange = (w: World, agent: RegisteredClient, subjectToken: string) =>
  post(w, "token", authOf(agent), {
    grant_type: tokenExchangeGrant, subject_token: subjectToken, subject_token_type: "urn:ietf:params:oauth:token-type:jwt", resource: w.resource
  })

/** An act chain of `actors` actors, the most recent first. */
const chain = (actors: number): unknown => (actors === 0 ? undefined : { sub: `actor-${actors}`, act: chain(actors - 1) })

const badChain = invalidGrant("'subject_token' carries an 'act' chain of more than 15 actors, or an actor that is not an object of claims")

layer(TestLive.TestLive, { timeout: 120_000 })("RFC 8693 §4.1: the subject token's act chain", (it) => {
  it.effect("a chain of 15 actors is nested under the agent's; 16, or an actor whose claims nest, is invalid_grant; nothing written", () =>
    Effect.gen(function*() {
      const w = yield* world
      const agent = yield* agentClient(w)
      const idp = yield* trustedIssuer(w)
      const taken = yield* exchange(w, agent, yield* subjectJwt(w, idp, agent, chain(15)))
      expect(taken.status).toBe(200)
      for (const act of [chain(16), { sub: "a", x: [[["deep"]]] }, { sub: "a", act: "not an object" }, ["a"]]) {
        expectTokenError(yield* exchange(w, agent, yield* subjectJwt(w, idp, agent, act)), badChain)
      }
      const events = (yield* admin.get(`/admin/realms/${w.name}/audit?type=token.exchanged`)).json.events
      expect(events).toHaveLength(1)
      expect((yield* admin.get(`/admin/realms/${w.name}/audit/verify`)).json.ok).toBe(true)
    }))

  it.effect("an act nested 10 000 deep does not fit a form value (4 096 characters): invalid_request; 1 000 deep fits and is invalid_grant", () =>
    Effect.gen(function*() {
      const w = yield* world
      const agent = yield* agentClient(w)
      const idp = yield* trustedIssuer(w)
      // signed as raw bytes: jose's SignJWT copies its claims by recursion
      const now = yield* nowSeconds
      const signed = (act: string) =>
        Effect.promise(() =>
          new Jose.CompactSign(new TextEncoder().encode(
            withDeep({ iss: idp.issuer, sub: w.sub, aud: w.issuer, iat: now, exp: now + 3600, scope: "read", may_act: { sub: agent.client_id }, act: "$DEEP" }, act)
          )).setProtectedHeader({ alg: "ES256", kid: idp.key.kid, typ: "JWT" }).sign(idp.key.privateKey))
      expectTokenError(yield* exchange(w, agent, yield* signed(nested(10_000))), { error: "invalid_request", error_description: "'subject_token' is too long" })
      expectTokenError(yield* exchange(w, agent, yield* signed(`{"sub":"a","x":${nested(1_000)}}`)), badChain)
      expectTokenError(yield* exchange(w, agent, yield* signed(`${"{\"sub\":\"a\",\"act\":".repeat(120)}{"sub":"b"}${"}".repeat(120)}`)), badChain)
      expect((yield* admin.get(`/admin/realms/${w.name}/audit?type=token.exchanged`)).json.events).toEqual([])
      expect((yield* admin.get(`/admin/realms/${w.name}/audit/verify`)).json.ok).toBe(true)
    }))
})
