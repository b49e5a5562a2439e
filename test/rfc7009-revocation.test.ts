import { expect } from "@effect/vitest"
import { Effect } from "effect"
import {
  auditOf, authOf, exchange, expectInvalidToken, introspect, issueCode, refresh, registerClient, revoke, userAgent, userinfo,
  world
} from "./support/TokenFixtures.js"
import type { Auth, World } from "./support/TokenFixtures.js"
import * as TestLive from "./support/TestLive.js"

const it = TestLive.file()

type Wire = { status: number; headers: Record<string, string>; text: string }

/** RFC 7009 §2.2: 200 and an empty body, whatever became of the token. */
const expectRevoked = (res: Wire) => {
  expect(res.status).toBe(200)
  expect(res.text).toBe("")
  expect(res.headers["cache-control"]).toBe("no-store")
  expect(res.headers["pragma"]).toBe("no-cache")
}

const tokensFor = (w: World, metadata: Record<string, unknown> = {}) =>
  Effect.gen(function*() {
    const client = yield* registerClient(w, metadata)
    const code = yield* issueCode(w, { clientId: client.client_id, scopes: ["read"], resources: [w.resource] })
    const res = yield* exchange(w, authOf(client), code)
    expect(res.status).toBe(200)
    return { client, auth: authOf(client), tokens: res.json as { access_token: string; refresh_token: string } }
  })

const isActive = (w: World, auth: Auth, token: string) => Effect.map(introspect(w, auth, token), (res) => res.json.active as boolean)

it.layer(TestLive.World)("RFC 7009 §2.1 and §2.2: revocation", (it) => {
  it.effect("§2.1: a revoked access token is inactive at introspection; its grant's refresh token still works; audited", () =>
    Effect.gen(function*() {
      const w = yield* world
      const { auth, client, tokens } = yield* tokensFor(w)
      expect(yield* isActive(w, auth, tokens.access_token)).toBe(true)
      expectRevoked(yield* revoke(w, auth, tokens.access_token, { token_type_hint: "access_token" }))
      expect((yield* introspect(w, auth, tokens.access_token)).json).toEqual({ active: false })
      expect((yield* refresh(w, auth, tokens.refresh_token)).status).toBe(200)
      const events = yield* auditOf(w, "token.revoked")
      expect(events).toEqual([{
        id: expect.any(String), at: expect.any(String), realm: w.name, type: "token.revoked",
        actor: { type: "client", id: client.client_id }, subject: w.sub, client_id: client.client_id, resource: w.resource,
        scope: "read", result: "success", reason: "access token revoked by its client", ip: "127.0.0.1", user_agent: userAgent
      }])
      // revoking again changes nothing and writes nothing
      expectRevoked(yield* revoke(w, auth, tokens.access_token))
      expect(yield* auditOf(w, "token.revoked")).toHaveLength(1)
    }))

  it.effect("§2.1: revoking a refresh token ends its family and the grant's access tokens", () =>
    Effect.gen(function*() {
      const w = yield* world
      const { auth, client, tokens } = yield* tokensFor(w)
      expectRevoked(yield* revoke(w, auth, tokens.refresh_token, { token_type_hint: "refresh_token" }))
      expect((yield* introspect(w, auth, tokens.refresh_token)).json).toEqual({ active: false })
      expect((yield* introspect(w, auth, tokens.access_token)).json).toEqual({ active: false })
      const refused = yield* refresh(w, auth, tokens.refresh_token)
      expect(refused.status).toBe(400)
      expect(refused.json).toEqual({ error: "invalid_grant" })
      expect(yield* auditOf(w, "token.revoked")).toEqual([expect.objectContaining({
        actor: { type: "client", id: client.client_id }, subject: w.sub, client_id: client.client_id, scope: "read",
        result: "success", reason: "refresh token revoked by its client: its grant, refresh family and access tokens are revoked",
        ip: "127.0.0.1", user_agent: userAgent
      })])
    }))

  it.effect("§2.1 / CONTRACT §5 Introspection: a refresh token revoking its grant ends its access tokens at userinfo too", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* registerClient(w)
      const code = yield* issueCode(w, { clientId: client.client_id, scopes: ["openid"] })
      const issued = yield* exchange(w, authOf(client), code)
      expect(issued.status).toBe(200)
      const tokens = issued.json as { access_token: string; refresh_token: string }
      expect((yield* userinfo(w, tokens.access_token)).json).toEqual({ sub: w.sub })
      expectRevoked(yield* revoke(w, authOf(client), tokens.refresh_token))
      expectInvalidToken(w, yield* userinfo(w, tokens.access_token))
      expect((yield* introspect(w, authOf(client), tokens.access_token)).json).toEqual({ active: false })
    }))

  it.effect("§2.1: a hint the server does not know, or a wrong one, is only a hint: the token is still revoked", () =>
    Effect.gen(function*() {
      const w = yield* world
      const { auth, tokens } = yield* tokensFor(w)
      expectRevoked(yield* revoke(w, auth, tokens.access_token, { token_type_hint: "refresh_token" }))
      expect(yield* isActive(w, auth, tokens.access_token)).toBe(false)
      expectRevoked(yield* revoke(w, auth, tokens.refresh_token, { token_type_hint: "id_token" }))
      expect(yield* isActive(w, auth, tokens.refresh_token)).toBe(false)
    }))

  it.effect("§2.2: another client's token, another realm's token, an unknown token: 200, and nothing is revoked", () =>
    Effect.gen(function*() {
      const w = yield* world
      const elsewhere = yield* world
      const { auth, tokens } = yield* tokensFor(w)
      const other = yield* registerClient(w)
      const foreign = yield* registerClient(elsewhere)
      for (const token of [tokens.access_token, tokens.refresh_token]) {
        expectRevoked(yield* revoke(w, authOf(other), token))
        expectRevoked(yield* revoke(elsewhere, authOf(foreign), token))
        expect(yield* isActive(w, auth, token)).toBe(true)
      }
      expectRevoked(yield* revoke(w, auth, "no-such-token"))
      expect(yield* auditOf(w, "token.revoked")).toEqual([])
    }))

  it.effect("§2.1 / §5: a public client revokes its own refresh token naming itself (none)", () =>
    Effect.gen(function*() {
      const w = yield* world
      const { auth, tokens } = yield* tokensFor(w, { token_endpoint_auth_method: "none" })
      expect(auth).toEqual({ none: expect.any(String) })
      expectRevoked(yield* revoke(w, auth, tokens.refresh_token))
      const refused = yield* refresh(w, auth, tokens.refresh_token)
      expect(refused.json).toEqual({ error: "invalid_grant" })
    }))

  it.effect("§2.1: the client must authenticate (401 invalid_client); token is required (400 invalid_request)", () =>
    Effect.gen(function*() {
      const w = yield* world
      const { client, tokens } = yield* tokensFor(w)
      const anonymous = yield* revoke(w, { nothing: true }, tokens.refresh_token)
      expect(anonymous.status).toBe(401)
      expect(anonymous.headers["www-authenticate"]).toBe(`Basic realm="${w.issuer}"`)
      expect(anonymous.headers["cache-control"]).toBe("no-store")
      expect(anonymous.json).toEqual({ error: "invalid_client", error_description: "client authentication failed" })
      const wrong = yield* revoke(w, { basic: [client.client_id, "wrong"] }, tokens.refresh_token)
      expect(wrong.status).toBe(401)
      expect(wrong.json).toEqual({ error: "invalid_client", error_description: "client authentication failed" })
      const missing = yield* revoke(w, authOf(client), "")
      expect(missing.status).toBe(400)
      expect(missing.json).toEqual({ error: "invalid_request", error_description: "'token' is required" })
      expect(yield* isActive(w, authOf(client), tokens.refresh_token)).toBe(true)
    }))
})
