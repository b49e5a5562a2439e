/**
 * Issue 13: revocation takes effect wherever Tessera accepts its own tokens (CONTRACT §5 Introspection, ADR 0034).
 * For each revoking admin call (user disabled, deleted, new password; session ended; grant revoked; client deleted;
 * delegation revoked) the affected refresh token fails, userinfo answers 401 invalid_token, introspection says
 * `{"active": false}`, and a token exchange with the affected access token as `subject_token` is invalid_grant
 * (CONTRACT §5; RFC 8693 §2.2.2 would say invalid_request); the tokens the call does not concern stay active.
 * On every store.
 */
import { expect } from "@effect/vitest"
import { Effect, Option } from "effect"
import { Jwt, Grants, SigningKeys } from "@tessera/domain"
import type { WireResponse } from "./support/Http.js"
import { admin, request } from "./support/Http.js"
import * as TestLive from "./support/TestLive.js"
import {
  accessTokenType, authOf, exchange, expectInvalidToken, expectTokenError, introspect, invalidGrant, issueCode, nowSeconds, post, refresh,
  registerClient, signIn, tokenExchangeGrant, userinfo, world
} from "./support/TokenFixtures.js"
import type { RegisteredClient, World } from "./support/TokenFixtures.js"

const it = TestLive.file()

const owner = { authorization: `Bearer ${TestLive.adminToken}` }
const call = (method: "PATCH" | "PUT" | "DELETE", path: string, json?: unknown) =>
  request(method, path, { headers: owner, ...(json !== undefined ? { json } : {}) })

interface Held {
  readonly client: RegisteredClient
  readonly person: World
  /** An OpenID access token (`aud` the issuer: userinfo takes it), one for the API, and the grant's refresh token. */
  readonly access: string
  readonly api: string
  readonly refresh: string
  readonly grantId: string
}

/** A person's authorization of `client` in session `sid` (openid, read, write; the API), redeemed for an OpenID token. */
const authorize = (person: World, client: RegisteredClient, sid: string) =>
  Effect.gen(function*() {
    const code = yield* issueCode(person, { clientId: client.client_id, scopes: ["openid", "read", "write"], resources: [person.resource], sid })
    const res = yield* exchange(person, authOf(client), code)
    expect(res.status).toBe(200)
    // RFC 8707 §2.2: the refresh token gets a token for the API too (and rotates)
    const api = yield* refresh(person, authOf(client), res.json.refresh_token, { resource: person.resource })
    expect(api.status).toBe(200)
    return {
      client, person, access: res.json.access_token, api: api.json.access_token, refresh: api.json.refresh_token, grantId: code.grantId
    } satisfies Held
  })

/** The story every case starts from: Ada and Bob, an agent both authorized, an app Ada authorized in another session. */
const story = Effect.gen(function*() {
  const w = yield* world
  const agent = yield* registerClient(w, {
    principal_type: "agent", grant_types: ["authorization_code", "refresh_token", tokenExchangeGrant]
  })
  const app = yield* registerClient(w)
  // a resource server's client: it may introspect every token for the API (CONTRACT §5 Introspection)
  const rs = yield* registerClient(w, { grant_types: ["client_credentials"], redirect_uris: [], response_types: [] })
  const bobUser = yield* admin.post(`/admin/realms/${w.name}/users`, { username: "bob", password: "correct horse battery staple" })
  expect(bobUser.status).toBe(201)
  const bob: World = { ...w, sub: bobUser.json.sub, username: "bob" }
  const adaAgent = yield* authorize(w, agent, yield* signIn(w))
  const adaApp = yield* authorize(w, app, yield* signIn(w))
  const bobAgent = yield* authorize(bob, agent, yield* signIn(bob))
  return { w, agent, app, rs, bob, adaAgent, adaApp, bobAgent }
})

const notActiveSubject = invalidGrant("'subject_token' is not an active access token of this realm")

const tokenExchange = (w: World, agent: RegisteredClient, subjectToken: string) =>
  post(w, "token", authOf(agent), {
    grant_type: tokenExchangeGrant, subject_token: subjectToken, subject_token_type: accessTokenType, resource: w.resource
  })

const introspected = (w: World, client: RegisteredClient, token: string) =>
  Effect.map(introspect(w, authOf(client), token), (res) => {
    expect(res.status).toBe(200)
    expect(res.headers["cache-control"]).toBe("no-store")
    return res.json
  })

/** An affected token set: refresh invalid_grant, userinfo 401, introspection inactive, exchange invalid_grant. */
const expectCutOff = (held: Held, agent: RegisteredClient) =>
  Effect.gen(function*() {
    const w = held.person
    expectTokenError(yield* refresh(w, authOf(held.client), held.refresh), { error: "invalid_grant" })
    expectInvalidToken(w, yield* userinfo(w, held.access))
    expect(yield* introspected(w, held.client, held.access)).toEqual({ active: false })
    expect(yield* introspected(w, held.client, held.api)).toEqual({ active: false })
    expectTokenError(yield* tokenExchange(w, agent, held.api), notActiveSubject)
  })

/** A token set the call does not concern: introspection active, userinfo 200, its refresh token rotates. */
const expectUntouched = (held: Held) =>
  Effect.gen(function*() {
    const w = held.person
    expect(yield* introspected(w, held.client, held.access)).toMatchObject({ active: true, sub: w.sub, client_id: held.client.client_id })
    expect(yield* introspected(w, held.client, held.api)).toMatchObject({ active: true, sub: w.sub, aud: w.resource })
    const info: WireResponse = yield* userinfo(w, held.access)
    expect(info.status).toBe(200)
    expect(info.json).toEqual({ sub: w.sub })
    expect((yield* refresh(w, authOf(held.client), held.refresh)).status).toBe(200)
  })

/** The agent's exchange of a held token works before the call (so its refusal after is the call's doing). */
const exchangeWorks = (held: Held) =>
  Effect.map(tokenExchange(held.person, held.client, held.api), (res) => {
    expect(res.status).toBe(200)
    return res.json.access_token as string
  })

/** A token for `sub` issued to `clientId` without any grant (as the JWT-bearer grant or an ID-JAG makes them). */
const grantless = (w: World, clientId: string, sub: string, claims: Record<string, unknown> = {}) =>
  Effect.gen(function*() {
    const iat = yield* nowSeconds
    return yield* Jwt.sign(
      { iss: w.issuer, sub, aud: w.resource, client_id: clientId, scope: "read", jti: crypto.randomUUID(), iat, exp: iat + 900, ...claims },
      yield* SigningKeys.signer(w.realmId, "ES256"),
      "at+jwt"
    )
  })

const userPath = (w: World, sub = w.sub) => `/admin/realms/${w.name}/users/${sub}`

it.layer(TestLive.World)("issue 13: a revoking admin call takes effect wherever Tessera accepts its tokens", (it) => {
  for (
    const [name, revoke] of [
      ["PATCH users/{sub} disabled", (w: World) => call("PATCH", userPath(w), { disabled: true })],
      ["DELETE users/{sub}", (w: World) => call("DELETE", userPath(w))],
      ["PUT users/{sub}/password", (w: World) => call("PUT", `${userPath(w)}/password`, { password: "a brand new passphrase" })]
    ] as const
  ) {
    it.effect(`${name}: every token of the person is cut off, grant-less ones too; another person's stay active`, () =>
      Effect.gen(function*() {
        const s = yield* story
        const exchanged = yield* exchangeWorks(s.adaAgent)
        const viaRs = yield* grantless(s.w, s.rs.client_id, s.w.sub)
        expect(yield* introspected(s.w, s.rs, viaRs)).toMatchObject({ active: true })
        const res = yield* revoke(s.w)
        expect([200, 204]).toContain(res.status)
        yield* expectCutOff(s.adaAgent, s.agent)
        yield* expectCutOff(s.adaApp, s.agent)
        expect(yield* introspected(s.w, s.agent, exchanged)).toEqual({ active: false })
        // a token with no grant behind it (JWT-bearer, exchanges) issued before is dead too (users.tokens_not_before)
        expect(yield* introspected(s.w, s.rs, viaRs)).toEqual({ active: false })
        yield* expectUntouched(s.bobAgent)
      }))
  }

  it.effect("DELETE users/{sub}/sessions/{sid}: the session's grants are cut off; the person's other session stays", () =>
    Effect.gen(function*() {
      const s = yield* story
      const grant = yield* Effect.flatMap(Grants.Grants, (grants) => grants.find(s.w.realmId, s.adaAgent.grantId))
      const sid = Option.getOrThrow(grant).sid!
      expect((yield* call("DELETE", `${userPath(s.w)}/sessions/${sid}`)).status).toBe(204)
      yield* expectCutOff(s.adaAgent, s.agent)
      yield* expectUntouched(s.adaApp)
      yield* expectUntouched(s.bobAgent)
    }))

  it.effect("DELETE users/{sub}/grants/{grant_id}: that grant is cut off; the person's other grants stay", () =>
    Effect.gen(function*() {
      const s = yield* story
      expect((yield* call("DELETE", `${userPath(s.w)}/grants/${s.adaAgent.grantId}`)).status).toBe(204)
      yield* expectCutOff(s.adaAgent, s.agent)
      yield* expectUntouched(s.adaApp)
      yield* expectUntouched(s.bobAgent)
    }))

  it.effect("DELETE clients/{client_id}: its grants' tokens, its client credentials tokens, tokens delegable by may_act", () =>
    Effect.gen(function*() {
      const s = yield* story
      // the app's own token (sub = client_id, no grant) and a token of the app's whose may_act names the agent
      const own = yield* grantless(s.w, s.app.client_id, s.app.client_id)
      const named = yield* grantless(s.w, s.app.client_id, s.w.sub, { may_act: { sub: s.agent.client_id } })
      expect(yield* introspected(s.w, s.rs, own)).toMatchObject({ active: true })
      expect((yield* tokenExchange(s.w, s.agent, named)).status).toBe(200)
      expect((yield* call("DELETE", `/admin/realms/${s.w.name}/clients/${s.app.client_id}`)).status).toBe(204)
      // the client cannot authenticate any more: its refresh token is refused with invalid_client (RFC 6749 §5.2)
      const refreshed = yield* refresh(s.w, authOf(s.app), s.adaApp.refresh)
      expect(refreshed.status).toBe(401)
      expect(refreshed.json.error).toBe("invalid_client")
      expectInvalidToken(s.w, yield* userinfo(s.w, s.adaApp.access))
      // a resource server's client introspects them: inactive
      expect(yield* introspected(s.w, s.rs, own)).toEqual({ active: false })
      expect(yield* introspected(s.w, s.rs, named)).toEqual({ active: false })
      expectTokenError(yield* tokenExchange(s.w, s.agent, named), notActiveSubject)
      yield* expectUntouched(s.adaAgent)
      yield* expectUntouched(s.bobAgent)
    }))

  it.effect("DELETE agents/{client_id}/delegations/{sub}: the agent's tokens for the person, exchanged or not; the rest stays", () =>
    Effect.gen(function*() {
      const s = yield* story
      const exchanged = yield* exchangeWorks(s.adaAgent)
      expect((yield* call("DELETE", `/admin/realms/${s.w.name}/agents/${s.agent.client_id}/delegations/${s.w.sub}`)).status).toBe(204)
      yield* expectCutOff(s.adaAgent, s.agent)
      expect(yield* introspected(s.w, s.agent, exchanged)).toEqual({ active: false })
      expectTokenError(yield* tokenExchange(s.w, s.agent, exchanged), notActiveSubject)
      yield* expectUntouched(s.adaApp)
      yield* expectUntouched(s.bobAgent)
    }))
})
