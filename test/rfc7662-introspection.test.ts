import { describe, expect } from "@effect/vitest"
import { Duration, Effect, TestClock } from "effect"
import { RefreshFamily } from "@tessera/domain"
import { request } from "./support/Http.js"
import * as TestLive from "./support/TestLive.js"
import {
  assertion, authOf, clientKey, exchange, expectInvalidToken, introspect, issueCode, nowSeconds, refresh, registerClient,
  userinfo, world
} from "./support/TokenFixtures.js"
import type { World } from "./support/TokenFixtures.js"

const it = TestLive.file()

type Wire = { status: number; headers: Record<string, string>; json: unknown; text: string }

/** RFC 7662 §2.2: 200, application/json, never cached, and the whole body. */
const expectIntrospection = (res: Wire, body: unknown) => {
  expect(res.status).toBe(200)
  expect(res.headers["content-type"]).toBe("application/json")
  expect(res.headers["cache-control"]).toBe("no-store")
  expect(res.headers["pragma"]).toBe("no-cache")
  expect(res.json).toEqual(body)
}

const inactive = { active: false }

/** A confidential client with a code-grant token set for the realm's resource (and a resource server to ask). */
const tokensFor = (w: World, scopes: ReadonlyArray<string> = ["read", "write"]) =>
  Effect.gen(function*() {
    const client = yield* registerClient(w)
    const code = yield* issueCode(w, { clientId: client.client_id, scopes, resources: [w.resource] })
    const res = yield* exchange(w, authOf(client), code)
    expect(res.status).toBe(200)
    return { client, tokens: res.json as { access_token: string; refresh_token: string }, grantId: code.grantId }
  })

it.layer(TestLive.World)("RFC 7662 §2.1 and §2.2: introspection", (it) => {
  it.effect("§2.2: an active access token: its claims, token_type Bearer", () =>
    Effect.gen(function*() {
      const w = yield* world
      const { client, tokens } = yield* tokensFor(w)
      // a resource server is a client of the realm too, and may introspect any of the realm's tokens
      const api = yield* registerClient(w, { grant_types: ["client_credentials"], redirect_uris: [], response_types: [] })
      const now = yield* nowSeconds
      const expected = {
        active: true, iss: w.issuer, sub: w.sub, aud: w.resource, client_id: client.client_id, scope: "read write",
        exp: now + 900, iat: now, jti: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/), token_type: "Bearer",
        auth_time: now, acr: "urn:tessera:acr:password"
      }
      expectIntrospection(yield* introspect(w, authOf(api), tokens.access_token), expected)
      expectIntrospection(yield* introspect(w, authOf(client), tokens.access_token, { token_type_hint: "access_token" }), expected)
      // §2.1: the hint only orders the search
      expectIntrospection(yield* introspect(w, authOf(client), tokens.access_token, { token_type_hint: "refresh_token" }), expected)
    }))

  it.effect("§2.2: an active refresh token: client, scope, subject, expiry, token_type refresh_token", () =>
    Effect.gen(function*() {
      const w = yield* world
      const { client, tokens } = yield* tokensFor(w)
      const now = yield* nowSeconds
      const expected = {
        // RefreshFamily.defaultPolicy: 14 days idle, 30 days absolute; the idle end comes first
        active: true, client_id: client.client_id, scope: "read write", sub: w.sub, exp: now + 14 * 24 * 3600,
        token_type: "refresh_token"
      }
      expectIntrospection(yield* introspect(w, authOf(client), tokens.refresh_token), expected)
      expectIntrospection(yield* introspect(w, authOf(client), tokens.refresh_token, { token_type_hint: "access_token" }), expected)
      expectIntrospection(yield* introspect(w, authOf(client), tokens.refresh_token, { token_type_hint: "something_else" }), expected)
    }))

  it.effect("§2.2: a rotated-out refresh token, garbage, a forged or altered JWT are only {\"active\": false}", () =>
    Effect.gen(function*() {
      const w = yield* world
      const { client, tokens } = yield* tokensFor(w)
      const rotated = yield* refresh(w, authOf(client), tokens.refresh_token)
      expect(rotated.status).toBe(200)
      const [header, payload, signature] = (rotated.json.access_token as string).split(".")
      const altered = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload!, "base64url").toString()), scope: "admin" })).toString("base64url")
      for (const token of [
        tokens.refresh_token,
        "garbage",
        "a.b.c",
        `${header}.${altered}.${signature}`,
        // alg none (RFC 7519 §6): never accepted
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
        "<script>alert(1)</script>"
      ]) {
        const res = yield* introspect(w, authOf(client), token)
        expectIntrospection(res, inactive)
        expect(res.text).toBe("{\"active\":false}")
      }
      expectIntrospection(yield* introspect(w, authOf(client), rotated.json.refresh_token), expect.objectContaining({ active: true }))
    }))

  it.effect("CONTRACT §5: a client of one realm learns nothing about another realm's tokens", () =>
    Effect.gen(function*() {
      const a = yield* world
      const b = yield* world
      const { tokens } = yield* tokensFor(a)
      const bClient = yield* registerClient(b)
      expectIntrospection(yield* introspect(b, authOf(bClient), tokens.access_token), inactive)
      expectIntrospection(yield* introspect(b, authOf(bClient), tokens.refresh_token), inactive)
      expectIntrospection(yield* introspect(b, authOf(bClient), tokens.refresh_token, { token_type_hint: "refresh_token" }), inactive)
    }))

  it.effect("CONTRACT §5 Introspection / RFC 7662 §4: only the token's client, or a resource server it is for, learns it is active", () =>
    Effect.gen(function*() {
      const w = yield* world
      const { client, tokens } = yield* tokensFor(w)
      const now = yield* nowSeconds
      // a resource server whose registration lists the token's audience explicitly: the whole answer, access token only
      const api = yield* registerClient(w, { grant_types: ["client_credentials"], redirect_uris: [], response_types: [], resources: [w.resource] })
      expectIntrospection(yield* introspect(w, authOf(api), tokens.access_token), expect.objectContaining({
        active: true, sub: w.sub, aud: w.resource, client_id: client.client_id, scope: "read write", exp: now + 900
      }))
      // refresh tokens: only the client they were issued to
      expectIntrospection(yield* introspect(w, authOf(api), tokens.refresh_token), inactive)
      const others = [
        // another client of the realm, for another resource
        yield* registerClient(w, { resources: [w.otherResource] }),
        // the "every resource" default does not count
        yield* registerClient(w, { resources: undefined }),
        yield* registerClient(w, { grant_types: ["client_credentials"], redirect_uris: [], response_types: [], resources: undefined })
      ]
      for (const other of others) {
        for (const token of [tokens.access_token, tokens.refresh_token]) {
          for (const hint of [{}, { token_type_hint: "access_token" }, { token_type_hint: "refresh_token" }]) {
            const res = yield* introspect(w, authOf(other), token, hint)
            expectIntrospection(res, inactive)
            expect(res.text).toBe("{\"active\":false}")
          }
        }
      }
      // the token's own client still sees both
      expectIntrospection(yield* introspect(w, authOf(client), tokens.access_token), expect.objectContaining({ active: true }))
      expectIntrospection(yield* introspect(w, authOf(client), tokens.refresh_token), expect.objectContaining({ active: true }))
    }))

  it.effect("§2.1: a private_key_jwt client authenticates with an assertion", () =>
    Effect.gen(function*() {
      const w = yield* world
      const { tokens } = yield* tokensFor(w)
      const key = yield* clientKey
      const rs = yield* registerClient(w, { token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [key.publicJwk] } })
      const res = yield* introspect(w, { assertion: yield* assertion(key, rs.client_id, w.issuer) }, tokens.access_token)
      expectIntrospection(res, expect.objectContaining({ active: true, sub: w.sub }))
    }))

  it.effect("§2.1 / CONTRACT §5: without client authentication, 401 invalid_client; a public client (none) is not enough", () =>
    Effect.gen(function*() {
      const w = yield* world
      const { tokens } = yield* tokensFor(w)
      const spa = yield* registerClient(w, { token_endpoint_auth_method: "none" })
      for (const auth of [
        { nothing: true } as const,
        { none: spa.client_id },
        { basic: [spa.client_id, "guess"] as const },
        { basic: ["no-such-client", "guess"] as const }
      ] as const) {
        const res = yield* introspect(w, auth, tokens.access_token)
        expect(res.status).toBe(401)
        expect(res.headers["www-authenticate"]).toBe(`Basic realm="${w.issuer}"`)
        expect(res.headers["cache-control"]).toBe("no-store")
        // RFC 6749 §5.2: one answer for every client authentication failure (rfc6749-client-authentication.test.ts)
        expect(res.json).toEqual({ error: "invalid_client", error_description: "client authentication failed" })
      }
    }))

  it.effect("§2.1: token is required, once; the body is a form", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* registerClient(w)
      const missing = yield* introspect(w, authOf(client), "")
      expect(missing.status).toBe(400)
      expect(missing.json).toEqual({ error: "invalid_request", error_description: "'token' is required" })
      const twice = yield* request("POST", `/realms/${w.name}/introspect`, {
        headers: { authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString("base64")}` },
        body: "token=a&token=b",
        contentType: "application/x-www-form-urlencoded"
      })
      expect(twice.status).toBe(400)
      expect(twice.json).toEqual({ error: "invalid_request", error_description: "'token' must not be provided twice" })
      const json = yield* request("POST", `/realms/${w.name}/introspect`, { json: { token: "x" } })
      expect(json.status).toBe(400)
      expect(json.json).toEqual({ error: "invalid_request", error_description: "the body must be application/x-www-form-urlencoded" })
    }))
})

/** An OpenID grant's first token set (aud the issuer: a token for userinfo), which userinfo accepts. */
const openIdTokens = (w: World) =>
  Effect.gen(function*() {
    const client = yield* registerClient(w)
    const code = yield* issueCode(w, { clientId: client.client_id, scopes: ["openid"] })
    const res = yield* exchange(w, authOf(client), code)
    expect(res.status).toBe(200)
    const tokens = res.json as { access_token: string; refresh_token: string }
    const before = yield* userinfo(w, tokens.access_token)
    expect(before.status).toBe(200)
    expect(before.json).toEqual({ sub: w.sub })
    return { client, code, tokens }
  })

it.layer(TestLive.World)("CONTRACT §5 Introspection: a token of a revoked grant is inactive at userinfo and introspection", (it) => {
  it.effect("RFC 6749 §4.1.2: a replayed code revokes its grant: the first access token is 401 invalid_token at userinfo", () =>
    Effect.gen(function*() {
      const w = yield* world
      const { client, code, tokens } = yield* openIdTokens(w)
      const replay = yield* exchange(w, authOf(client), code)
      expect(replay.status).toBe(400)
      expect(replay.json.error).toBe("invalid_grant")
      expectInvalidToken(w, yield* userinfo(w, tokens.access_token))
      expectIntrospection(yield* introspect(w, authOf(client), tokens.access_token), inactive)
      expectIntrospection(yield* introspect(w, authOf(client), tokens.refresh_token), inactive)
    }))

  it.effect("RFC 9700 §4.14.2: refresh reuse revokes the family: its access tokens, old and new, are inactive everywhere", () =>
    Effect.gen(function*() {
      const w = yield* world
      const { client, tokens } = yield* openIdTokens(w)
      const rotated = yield* refresh(w, authOf(client), tokens.refresh_token)
      expect(rotated.status).toBe(200)
      const second = rotated.json as { access_token: string; refresh_token: string }
      expect((yield* userinfo(w, second.access_token)).status).toBe(200)
      const reused = yield* refresh(w, authOf(client), tokens.refresh_token)
      expect(reused.status).toBe(400)
      expect(reused.json).toEqual({ error: "invalid_grant" })
      for (const access of [tokens.access_token, second.access_token]) {
        expectInvalidToken(w, yield* userinfo(w, access))
        expectIntrospection(yield* introspect(w, authOf(client), access), inactive)
      }
      expectIntrospection(yield* introspect(w, authOf(client), second.refresh_token), inactive)
    }))
})

describe("RFC 7662 §2.2: expiry, each test in its own world and clock", () => {
  it.effect("an access token past its exp is inactive (per-test clock)", () =>
    Effect.gen(function*() {
      const w = yield* world
      const { client, tokens } = yield* tokensFor(w)
      yield* TestClock.adjust("899 seconds")
      expectIntrospection(yield* introspect(w, authOf(client), tokens.access_token), expect.objectContaining({ active: true }))
      yield* TestClock.adjust("1 second")
      expectIntrospection(yield* introspect(w, authOf(client), tokens.access_token), inactive)
      // the refresh token lives on
      expectIntrospection(yield* introspect(w, authOf(client), tokens.refresh_token), expect.objectContaining({ active: true }))
    }).pipe(Effect.provide(TestLive.world())))

  // the idle lifetime is configurable (TESSERA_REFRESH_IDLE_LIFETIME); a short one keeps the clock's jump short, since
  // every simulated hour wakes the key scheduler, which reads each realm's keys (on a SQL store, one transaction each)
  const idleLifetime = Duration.hours(2)

  it.effect("a refresh token unused for its idle lifetime is inactive (per-test clock)", () =>
    Effect.gen(function*() {
      const w = yield* world
      const { client, tokens } = yield* tokensFor(w)
      yield* TestClock.adjust(Duration.subtract(idleLifetime, Duration.seconds(1)))
      expectIntrospection(yield* introspect(w, authOf(client), tokens.refresh_token), expect.objectContaining({ active: true }))
      yield* TestClock.adjust("1 second")
      expectIntrospection(yield* introspect(w, authOf(client), tokens.refresh_token), inactive)
    }).pipe(Effect.provide(TestLive.world({ refreshPolicy: { ...RefreshFamily.defaultPolicy, idleLifetime } }))))
})
