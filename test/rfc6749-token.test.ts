import { expect, layer, it as itWorld } from "@effect/vitest"
import { Effect, Option, TestClock } from "effect"
import * as Jose from "jose"
import { Fetcher } from "@tessera/domain"
import { request } from "./support/Http.js"
import * as TestLive from "./support/TestLive.js"
import {
  accessTokenLifetime, assertion, auditOf, authOf, clientKey, exchange, form, introspect, issueCode, noStore, nowSeconds, post,
  redirectUri, refresh, registerClient, resourceTokens, signIn, userAgent, verify, world
} from "./support/TokenFixtures.js"
import type { World } from "./support/TokenFixtures.js"

const basicChallenge = (w: World) => `Basic realm="${w.issuer}"`

/** RFC 6749 §5.2: a 401 invalid_client with the Basic challenge, the whole wire response. */
/**
 * RFC 6749 §5.2: 401 invalid_client and the Basic challenge. `_reason` names the failure the case exercises, which
 * only the log says: every client authentication failure answers the same (test/rfc6749-client-authentication.test.ts).
 */
const expectInvalidClient = (res: { status: number; headers: Record<string, string>; json: unknown }, w: World, _reason: string) => {
  expect(res.status).toBe(401)
  expect(res.headers["www-authenticate"]).toBe(basicChallenge(w))
  expect(res.headers["cache-control"]).toBe("no-store")
  expect(res.headers["pragma"]).toBe("no-cache")
  expect(res.json).toEqual({ error: "invalid_client", error_description: "client authentication failed" })
}

/** A 400 (or other) error with the no-store headers and no challenge. */
const expectError = (res: { status: number; headers: Record<string, string>; json: unknown }, body: unknown, status = 400) => {
  expect(res.status).toBe(status)
  expect(res.headers["cache-control"]).toBe("no-store")
  expect(res.headers["pragma"]).toBe("no-cache")
  expect(res.headers["www-authenticate"]).toBeUndefined()
  expect(res.json).toEqual(body)
}

/** RFC 6749 §5.1: 200, no-store, no-cache, and the whole body. */
const expectTokens = (res: { status: number; headers: Record<string, string>; json: unknown }, body: Record<string, unknown>) => {
  expect(res.status).toBe(200)
  expect(res.headers["content-type"]).toBe("application/json")
  expect(res.headers["cache-control"]).toBe(noStore["cache-control"])
  expect(res.headers["pragma"]).toBe(noStore.pragma)
  expect(res.json).toEqual(body)
}


layer(TestLive.TestLive)("RFC 6749 §2.3 and RFC 7523 §2.2: client authentication at the token endpoint", (it) => {
  const codeFor = (w: World, clientId: string) => issueCode(w, { clientId, scopes: ["read"], resources: [w.resource] })

  it.effect("§2.3.1 client_secret_basic: the code is exchanged", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* registerClient(w)
      const res = yield* exchange(w, authOf(client), yield* codeFor(w, client.client_id))
      expectTokens(res, resourceTokens("read"))
    }))

  it.effect("§2.3.1 client_secret_post: the code is exchanged", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* registerClient(w, { token_endpoint_auth_method: "client_secret_post" })
      const res = yield* exchange(w, authOf(client), yield* codeFor(w, client.client_id))
      expectTokens(res, resourceTokens("read"))
    }))

  it.effect("RFC 7523 §2.2 private_key_jwt: an assertion signed with the registered key, aud the token endpoint or the issuer", () =>
    Effect.gen(function*() {
      const w = yield* world
      const key = yield* clientKey
      const client = yield* registerClient(w, { token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [key.publicJwk] } })
      const byEndpoint = yield* assertion(key, client.client_id, `${w.issuer}/token`)
      expectTokens(yield* exchange(w, { assertion: byEndpoint }, yield* codeFor(w, client.client_id)), resourceTokens("read"))
      // RFC 7521 §4.2: client_id is optional and, when sent, names the same client
      const byIssuer = yield* assertion(key, client.client_id, w.issuer)
      expectTokens(
        yield* exchange(w, { assertion: byIssuer, clientId: client.client_id }, yield* codeFor(w, client.client_id)),
        resourceTokens("read")
      )
    }))

  it.effect("RFC 7523 §3: a replayed assertion (same jti) is invalid_client", () =>
    Effect.gen(function*() {
      const w = yield* world
      const key = yield* clientKey
      const client = yield* registerClient(w, { token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [key.publicJwk] } })
      const signed = yield* assertion(key, client.client_id, w.issuer)
      expect((yield* exchange(w, { assertion: signed }, yield* codeFor(w, client.client_id))).status).toBe(200)
      const again = yield* exchange(w, { assertion: signed }, yield* codeFor(w, client.client_id))
      expectInvalidClient(again, w, "the client assertion was already used ('jti' seen before)")
      // a fresh jti with the same key is fine
      const fresh = yield* assertion(key, client.client_id, w.issuer)
      expect((yield* exchange(w, { assertion: fresh }, yield* codeFor(w, client.client_id))).status).toBe(200)
    }))

  it.effect("RFC 7523 §3: aud, iss/sub, exp, jti, lifetime and signature are each checked", () =>
    Effect.gen(function*() {
      const w = yield* world
      const key = yield* clientKey
      const stranger = yield* clientKey
      const client = yield* registerClient(w, { token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [key.publicJwk] } })
      const now = yield* nowSeconds
      const cases: ReadonlyArray<readonly [string, Effect.Effect<string>]> = [
        ["the client assertion's 'aud' must be the issuer or the token endpoint", assertion(key, client.client_id, "https://elsewhere.example/token")],
        ["the client assertion's 'aud' must be the issuer or the token endpoint", assertion(key, client.client_id, `${w.issuer}/introspect`)],
        ["the client assertion's 'aud' must be the issuer or the token endpoint", assertion(key, client.client_id, [w.issuer, "https://other.example"])],
        ["the client assertion's 'iss' and 'sub' must be the client_id", assertion(key, client.client_id, w.issuer, { iss: "someone-else" })],
        ["the client assertion must not be valid for more than 300 seconds", assertion(key, client.client_id, w.issuer, { exp: now + 301 })],
        ["the client assertion must not be valid for more than 300 seconds", assertion(key, client.client_id, w.issuer, { iat: now - 200, exp: now + 200 })],
        ["the client assertion must have 'exp'", assertion(key, client.client_id, w.issuer, { exp: undefined })],
        ["the client assertion has expired", assertion(key, client.client_id, w.issuer, { iat: now - 120, exp: now - 60 })],
        ["the client assertion must have 'jti'", assertion(key, client.client_id, w.issuer, { jti: undefined })],
        ["the client assertion's signature does not verify with the client's registered keys", assertion({ ...stranger, kid: key.kid }, client.client_id, w.issuer)]
      ]
      for (const [description, make] of cases) {
        const res = yield* exchange(w, { assertion: yield* make }, yield* codeFor(w, client.client_id))
        expectInvalidClient(res, w, description)
      }
    }))

  it.effect("RFC 7523 §3, RFC 7519 §4.1.5-4.1.6 (ADR 0050): a client's clock may run 60 s ahead (iat, nbf, a full 5 minutes), no further", () =>
    Effect.gen(function*() {
      const w = yield* world
      const key = yield* clientKey
      const client = yield* registerClient(w, { token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [key.publicJwk] } })
      const now = yield* nowSeconds
      // a client whose clock runs 60 s ahead signs iat = nbf = its now and the longest lifetime, 300 s
      const ahead = yield* assertion(key, client.client_id, w.issuer, { iat: now + 60, nbf: now + 60, exp: now + 360 })
      expectTokens(yield* exchange(w, { assertion: ahead }, yield* codeFor(w, client.client_id)), resourceTokens("read"))
      const refused: ReadonlyArray<readonly [string, Record<string, unknown>]> = [
        ["iat_future", { iat: now + 61, exp: now + 120 }],
        ["assertion_invalid (nbf)", { nbf: now + 61 }],
        ["assertion_lifetime", { iat: undefined, exp: now + 361 }]
      ]
      for (const [reason, claims] of refused) {
        const res = yield* exchange(w, { assertion: yield* assertion(key, client.client_id, w.issuer, claims) }, yield* codeFor(w, client.client_id))
        expectInvalidClient(res, w, reason)
      }
    }))

  it.effect("RFC 8725 §3.11 (ADR 0050): a JWT typed oauth-id-jag+jwt is never a client assertion", () =>
    Effect.gen(function*() {
      const w = yield* world
      const key = yield* clientKey
      const client = yield* registerClient(w, { token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [key.publicJwk] } })
      const now = yield* nowSeconds
      const claims = { iss: client.client_id, sub: client.client_id, aud: w.issuer, iat: now, exp: now + 60, jti: crypto.randomUUID() }
      const typed = yield* Effect.promise(() =>
        new Jose.SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: key.kid, typ: "oauth-id-jag+jwt" }).sign(key.privateKey))
      expectInvalidClient(yield* exchange(w, { assertion: typed }, yield* codeFor(w, client.client_id)), w, "assertion_invalid (typ)")
    }))

  it.effect("RFC 7523 §2.2 private_key_jwt with a jwks_uri: the keys are fetched (public addresses only) and cached", () =>
    Effect.gen(function*() {
      const w = yield* world
      const key = yield* clientKey
      const jwksUri = `https://app.example/${w.name}/jwks.json`
      const table = yield* Fetcher.MemoryFetcher
      yield* table.set(jwksUri, Fetcher.json({ keys: [key.publicJwk] }, { "cache-control": "max-age=600" }))
      const client = yield* registerClient(w, { token_endpoint_auth_method: "private_key_jwt", jwks_uri: jwksUri })
      for (let i = 0; i < 3; i++) {
        const signed = yield* assertion(key, client.client_id, w.issuer)
        expectTokens(yield* exchange(w, { assertion: signed }, yield* codeFor(w, client.client_id)), resourceTokens("read"))
      }
      expect(yield* table.calls(jwksUri)).toBe(1)
      expect(Option.map(yield* table.lastOptions(jwksUri), (o) => o.addresses)).toEqual(Option.some("public"))
      // a key the set does not hold still fails as a signature
      const stranger = yield* clientKey
      expectInvalidClient(
        yield* exchange(w, { assertion: yield* assertion({ ...stranger, kid: key.kid }, client.client_id, w.issuer) }, yield* codeFor(w, client.client_id)),
        w,
        "the client assertion's signature does not verify with the client's registered keys"
      )
    }))

  it.effect("private_key_jwt with an unreachable or bad jwks_uri is 401 invalid_client, never a 500; not cached", () =>
    Effect.gen(function*() {
      const w = yield* world
      const key = yield* clientKey
      const jwksUri = `https://app.example/${w.name}/jwks.json`
      const table = yield* Fetcher.MemoryFetcher
      const client = yield* registerClient(w, { token_endpoint_auth_method: "private_key_jwt", jwks_uri: jwksUri })
      const failures: ReadonlyArray<Fetcher.Canned> = [
        { _tag: "Failure", reason: "network" },
        { _tag: "Failure", reason: "address_refused" },
        { _tag: "Response", status: 404, body: "" },
        { _tag: "Response", status: 200, body: "[1, 2, 3]" }
      ]
      for (const failure of failures) {
        yield* table.set(jwksUri, failure)
        const res = yield* exchange(w, { assertion: yield* assertion(key, client.client_id, w.issuer) }, yield* codeFor(w, client.client_id))
        expectInvalidClient(res, w, "the client's keys could not be fetched from its 'jwks_uri'")
      }
      yield* table.set(jwksUri, Fetcher.json({ keys: [key.publicJwk] }))
      const res = yield* exchange(w, { assertion: yield* assertion(key, client.client_id, w.issuer) }, yield* codeFor(w, client.client_id))
      expectTokens(res, resourceTokens("read"))
      expect(yield* table.calls(jwksUri)).toBe(failures.length + 1)
    }))

  it.effect("§5.2: a wrong secret, or an unknown client, is 401 invalid_client with the Basic challenge, alike", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* registerClient(w)
      const code = yield* codeFor(w, client.client_id)
      expectInvalidClient(yield* exchange(w, { basic: [client.client_id, "not-the-secret"] }, code), w, "client authentication failed")
      expectInvalidClient(yield* exchange(w, { basic: ["no-such-client", "whatever"] }, code), w, "client authentication failed")
      const post = yield* registerClient(w, { token_endpoint_auth_method: "client_secret_post" })
      expectInvalidClient(yield* exchange(w, { post: [post.client_id, "not-the-secret"] }, code), w, "client authentication failed")
      // nothing was spent: the right secret still redeems the code
      expect((yield* exchange(w, authOf(client), code)).status).toBe(200)
    }))

  it.effect("OIDC Core §9: the client must use its registered method, not another one", () =>
    Effect.gen(function*() {
      const w = yield* world
      const basic = yield* registerClient(w)
      const postClient = yield* registerClient(w, { token_endpoint_auth_method: "client_secret_post" })
      const code = yield* codeFor(w, basic.client_id)
      const mismatch = (method: string) => `the client must authenticate with its registered method (${method})`
      expectInvalidClient(yield* exchange(w, { post: [basic.client_id, basic.client_secret!] }, code), w, mismatch("client_secret_basic"))
      expectInvalidClient(yield* exchange(w, { basic: [postClient.client_id, postClient.client_secret!] }, code), w, mismatch("client_secret_post"))
      // a confidential client cannot fall back to naming itself
      expectInvalidClient(yield* exchange(w, { none: basic.client_id }, code), w, mismatch("client_secret_basic"))
      const key = yield* clientKey
      expectInvalidClient(
        yield* exchange(w, { assertion: yield* assertion(key, basic.client_id, w.issuer) }, code),
        w,
        mismatch("client_secret_basic")
      )
    }))

  it.effect("§2.1 / §3.2.1: a public client names itself with client_id (none)", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* registerClient(w, { token_endpoint_auth_method: "none" })
      const res = yield* exchange(w, { none: client.client_id }, yield* codeFor(w, client.client_id))
      expectTokens(res, resourceTokens("read"))
    }))

  it.effect("§5.2: no client authentication at all is 401 invalid_client; two methods at once is invalid_request", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* registerClient(w)
      const code = yield* codeFor(w, client.client_id)
      expectInvalidClient(yield* exchange(w, { nothing: true }, code), w, "client authentication is required")
      const both = yield* post(w, "token", authOf(client), {
        grant_type: "authorization_code", code: code.code, redirect_uri: redirectUri, code_verifier: code.verifier,
        client_secret: client.client_secret!
      })
      expectError(both, { error: "invalid_request", error_description: "the client must use only one authentication method" })
    }))
})

itWorld.effect("RFC 7523 §2.2 private_key_jwt with a jwks_uri: the client's rotated key is found through its new kid, refetched at most once a minute", () =>
  Effect.gen(function*() {
    const w = yield* world
    const old = yield* clientKey
    const next = yield* clientKey
    const jwksUri = `https://app.example/${w.name}/jwks.json`
    const table = yield* Fetcher.MemoryFetcher
    yield* table.set(jwksUri, Fetcher.json({ keys: [old.publicJwk] }, { "cache-control": "max-age=86400" }))
    const client = yield* registerClient(w, { token_endpoint_auth_method: "private_key_jwt", jwks_uri: jwksUri })
    const codeFor = () => issueCode(w, { clientId: client.client_id, scopes: ["read"], resources: [w.resource] })
    expectTokens(yield* exchange(w, { assertion: yield* assertion(old, client.client_id, w.issuer) }, yield* codeFor()), resourceTokens("read"))
    yield* table.set(jwksUri, Fetcher.json({ keys: [next.publicJwk] }, { "cache-control": "max-age=86400" }))
    yield* TestClock.adjust("30 seconds")
    expectInvalidClient(
      yield* exchange(w, { assertion: yield* assertion(next, client.client_id, w.issuer) }, yield* codeFor()),
      w,
      "the client assertion's signature does not verify with the client's registered keys"
    )
    expect(yield* table.calls(jwksUri)).toBe(1)
    yield* TestClock.adjust("30 seconds")
    expectTokens(yield* exchange(w, { assertion: yield* assertion(next, client.client_id, w.issuer) }, yield* codeFor()), resourceTokens("read"))
    expect(yield* table.calls(jwksUri)).toBe(2)
    // the retired key is gone from the new set
    expectInvalidClient(
      yield* exchange(w, { assertion: yield* assertion(old, client.client_id, w.issuer) }, yield* codeFor()),
      w,
      "the client assertion's signature does not verify with the client's registered keys"
    )
    expect(yield* table.calls(jwksUri)).toBe(2)
  }).pipe(Effect.provide(TestLive.make())))

layer(TestLive.TestLive)("RFC 6749 §4.1.3 and OIDC Core §3.1.3: the authorization code grant", (it) => {
  it.effect("OIDC Core §3.1.3.3: access, ID and refresh tokens; the ID token has at_hash, nonce, sid; audited with ip and user agent", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* registerClient(w)
      // the session the person signed in with (ADR 0062: a code of a session that has ended buys nothing)
      const sid = yield* signIn(w)
      const code = yield* issueCode(w, { clientId: client.client_id, scopes: ["openid", "profile", "email"], nonce: "n-0S6_WzA2Mj", sid })
      const res = yield* exchange(w, authOf(client), code)
      expectTokens(res, {
        access_token: expect.any(String),
        token_type: "Bearer",
        expires_in: accessTokenLifetime,
        scope: "openid profile email",
        id_token: expect.any(String),
        // CONTRACT §5: a confidential client gets a refresh token for an OpenID request
        refresh_token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/)
      })
      const now = yield* nowSeconds
      // RFC 9068 §2: without resource, an openid grant's token is for the issuer (userinfo)
      const access = yield* verify(w, res.json.access_token, { typ: "at+jwt", audience: w.issuer })
      expect(access.protectedHeader).toEqual({ alg: "ES256", kid: expect.any(String), typ: "at+jwt" })
      expect(access.payload).toEqual({
        iss: w.issuer, sub: w.sub, aud: w.issuer, client_id: client.client_id, scope: "openid profile email",
        jti: expect.any(String), iat: now, exp: now + accessTokenLifetime, auth_time: now, acr: "urn:tessera:acr:password"
      })
      const id = yield* verify(w, res.json.id_token, { audience: client.client_id })
      expect(id.protectedHeader).toEqual({ alg: "RS256", kid: expect.any(String), typ: "JWT" })
      const digest = new Uint8Array(yield* Effect.promise(() => crypto.subtle.digest("SHA-256", new TextEncoder().encode(res.json.access_token))))
      expect(id.payload).toEqual({
        iss: w.issuer, sub: w.sub, aud: client.client_id, azp: client.client_id, iat: now, exp: now + 900, auth_time: now,
        nonce: "n-0S6_WzA2Mj", acr: "urn:tessera:acr:password", amr: ["pwd"], sid,
        at_hash: Buffer.from(digest.slice(0, 16)).toString("base64url"),
        preferred_username: "ada", name: "Ada Lovelace", email: "ada@example.com"
      })
      const [issued] = yield* auditOf(w, "token.issued")
      expect(issued).toEqual({
        id: expect.any(String), at: expect.any(String), realm: w.name, type: "token.issued",
        actor: { type: "client", id: client.client_id }, subject: w.sub, client_id: client.client_id,
        grant_type: "authorization_code", resource: w.issuer, scope: "openid profile email", result: "success",
        ip: "127.0.0.1", user_agent: userAgent
      })
    }))

  it.effect("RFC 8707 §2: one resource names the token's audience; two are invalid_target; one not granted is invalid_target", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* registerClient(w, { resources: [w.resource, w.otherResource] })
      const granted = { clientId: client.client_id, scopes: ["read", "admin"], resources: [w.resource, w.otherResource] }
      const res = yield* exchange(w, authOf(client), yield* issueCode(w, granted), { resource: w.otherResource })
      expectTokens(res, resourceTokens("admin"))
      expect((yield* verify(w, res.json.access_token, { typ: "at+jwt" })).payload.aud).toBe(w.otherResource)

      const two = yield* post(w, "token", authOf(client), [
        ["grant_type", "authorization_code"], ["code", (yield* issueCode(w, granted)).code], ["redirect_uri", redirectUri],
        ["code_verifier", "x".repeat(43)], ["resource", w.resource], ["resource", w.otherResource]
      ])
      expectError(two, { error: "invalid_target", error_description: "at most one 'resource' may be requested" })

      const notGranted = yield* exchange(w, authOf(client), yield* issueCode(w, { ...granted, resources: [w.resource] }), {
        resource: w.otherResource
      })
      expectError(notGranted, { error: "invalid_target", error_description: "the resource was not granted" })

      // CONTRACT §5: without resource, the client's `resources` lists two: which one is not for the server to guess
      const ambiguous = yield* exchange(w, authOf(client), yield* issueCode(w, granted))
      expectError(ambiguous, { error: "invalid_target", error_description: "'resource' is required: the client is not registered for exactly one resource" })
    }))

  it.effect("CONTRACT §5: without resource, the token is for the client's only resource, not the grant's only one", () =>
    Effect.gen(function*() {
      const w = yield* world
      // the client lists exactly one resource: the token is for it
      const single = yield* registerClient(w, { resources: [w.resource] })
      const res = yield* exchange(w, authOf(single), yield* issueCode(w, { clientId: single.client_id, scopes: ["read"], resources: [w.resource] }))
      expectTokens(res, resourceTokens("read"))
      expect((yield* verify(w, res.json.access_token, { typ: "at+jwt" })).payload.aud).toBe(w.resource)
      // the client lists none (every resource of the realm): even a grant of one resource needs `resource`
      const all = yield* registerClient(w, { resources: undefined })
      const unnamed = yield* exchange(w, authOf(all), yield* issueCode(w, { clientId: all.client_id, scopes: ["read"], resources: [w.resource] }))
      expectError(unnamed, { error: "invalid_target", error_description: "'resource' is required: the client is not registered for exactly one resource" })
      // ... and naming it is enough
      const named = yield* exchange(w, authOf(all), yield* issueCode(w, { clientId: all.client_id, scopes: ["read"], resources: [w.resource] }), {
        resource: w.resource
      })
      expectTokens(named, resourceTokens("read"))
      // the client lists two, the grant covers one: still invalid_target
      const two = yield* registerClient(w, { resources: [w.resource, w.otherResource] })
      const oneGranted = yield* exchange(w, authOf(two), yield* issueCode(w, { clientId: two.client_id, scopes: ["read"], resources: [w.resource] }))
      expectError(oneGranted, { error: "invalid_target", error_description: "'resource' is required: the client is not registered for exactly one resource" })
      // the client's only resource is not in this grant: invalid_target
      const narrow = yield* registerClient(w, { resources: [w.otherResource] })
      const notCovered = yield* exchange(w, authOf(narrow), yield* issueCode(w, { clientId: narrow.client_id, scopes: ["read"], resources: [w.resource] }))
      expectError(notCovered, { error: "invalid_target", error_description: "the resource was not granted" })
      // scope openid: the issuer (a token for userinfo), whatever the client lists
      for (const client of [all, two]) {
        const code = yield* issueCode(w, { clientId: client.client_id, scopes: ["openid"], resources: [w.resource] })
        const oidc = yield* exchange(w, authOf(client), code)
        expect(oidc.status).toBe(200)
        expect((yield* verify(w, oidc.json.access_token, { typ: "at+jwt" })).payload.aud).toBe(w.issuer)
      }
    }))

  it.effect("§4.1.2: a code used twice is invalid_grant, and what its first use produced is revoked", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* registerClient(w)
      const code = yield* issueCode(w, { clientId: client.client_id, scopes: ["read", "write"], resources: [w.resource] })
      const first = yield* exchange(w, authOf(client), code)
      expect(first.status).toBe(200)
      expectError(yield* exchange(w, authOf(client), code), { error: "invalid_grant" })
      // the first refresh family is gone, and so is the first access token (its grant is revoked)
      expectError(yield* refresh(w, authOf(client), first.json.refresh_token), { error: "invalid_grant" })
      expect((yield* introspect(w, authOf(client), first.json.access_token)).json).toEqual({ active: false })
      const [revoked] = yield* auditOf(w, "token.revoked")
      expect(revoked).toMatchObject({
        actor: { type: "client", id: client.client_id }, client_id: client.client_id, grant_type: "authorization_code",
        result: "success", reason: "authorization code replayed: the grant is revoked", ip: "127.0.0.1", user_agent: userAgent
      })
    }))

  it.effect("§4.1.3: another redirect_uri, a wrong code_verifier, another client's code, an unknown code: invalid_grant", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* registerClient(w)
      const other = yield* registerClient(w)
      const grant = { clientId: client.client_id, scopes: ["read"], resources: [w.resource] }
      const wrongRedirect = yield* exchange(w, authOf(client), yield* issueCode(w, grant), { redirect_uri: "https://app.example/other" })
      expectError(wrongRedirect, { error: "invalid_grant" })
      // RFC 7636 §4.6
      const wrongVerifier = yield* exchange(w, authOf(client), yield* issueCode(w, grant), { code_verifier: "v".repeat(43) })
      expectError(wrongVerifier, { error: "invalid_grant" })
      const othersCode = yield* exchange(w, authOf(other), yield* issueCode(w, grant))
      expectError(othersCode, { error: "invalid_grant" })
      const unknown = yield* exchange(w, authOf(client), { code: "no-such-code", verifier: "v".repeat(43), grantId: "none" })
      expectError(unknown, { error: "invalid_grant" })
    }))

  itWorld.effect("§4.1.2 / OAuth 2.1 §4.1.2: a code older than 60 seconds is invalid_grant", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* registerClient(w)
      const grant = { clientId: client.client_id, scopes: ["read"], resources: [w.resource] }
      const fresh = yield* issueCode(w, grant)
      const stale = yield* issueCode(w, grant)
      yield* TestClock.adjust("59 seconds")
      expect((yield* exchange(w, authOf(client), fresh)).status).toBe(200)
      yield* TestClock.adjust("1 second")
      expectError(yield* exchange(w, authOf(client), stale), { error: "invalid_grant" })
    }).pipe(Effect.provide(TestLive.make())))
})

layer(TestLive.TestLive)("RFC 6749 §6 and OAuth 2.1 §4.3.1: refreshing, with rotation", (it) => {
  const start = (w: World) =>
    Effect.gen(function*() {
      const client = yield* registerClient(w)
      const code = yield* issueCode(w, { clientId: client.client_id, scopes: ["read", "write"], resources: [w.resource] })
      const res = yield* exchange(w, authOf(client), code)
      expect(res.status).toBe(200)
      return { client, auth: authOf(client), first: res.json as { access_token: string; refresh_token: string } }
    })

  it.effect("every use returns a new refresh token; twice in a row works", () =>
    Effect.gen(function*() {
      const w = yield* world
      const { auth, first } = yield* start(w)
      const second = yield* refresh(w, auth, first.refresh_token)
      expectTokens(second, resourceTokens("read write"))
      const third = yield* refresh(w, auth, second.json.refresh_token)
      expectTokens(third, resourceTokens("read write"))
      const tokens = [first.refresh_token, second.json.refresh_token, third.json.refresh_token]
      expect(new Set(tokens).size).toBe(3)
      const access = yield* verify(w, third.json.access_token, { typ: "at+jwt", audience: w.resource })
      expect(access.payload).toMatchObject({ sub: w.sub, scope: "read write" })
      const [refreshed] = yield* auditOf(w, "token.refreshed")
      expect(refreshed).toMatchObject({ grant_type: "refresh_token", scope: "read write", resource: w.resource, ip: "127.0.0.1", user_agent: userAgent })
    }))

  it.effect("RFC 9700 §4.14.2: reusing a rotated token is invalid_grant, kills the family (the newest token too), and is audited", () =>
    Effect.gen(function*() {
      const w = yield* world
      const { auth, client, first } = yield* start(w)
      const second = yield* refresh(w, auth, first.refresh_token)
      const third = yield* refresh(w, auth, second.json.refresh_token)
      expect(third.status).toBe(200)
      expectError(yield* refresh(w, auth, first.refresh_token), { error: "invalid_grant" })
      expectError(yield* refresh(w, auth, third.json.refresh_token), { error: "invalid_grant" })
      const [reuse] = yield* auditOf(w, "refresh.reuse_detected")
      expect(reuse).toEqual({
        id: expect.any(String), at: expect.any(String), realm: w.name, type: "refresh.reuse_detected",
        actor: { type: "client", id: client.client_id }, client_id: client.client_id, grant_type: "refresh_token",
        result: "failure", reason: "a rotated refresh token was presented again; the family is revoked",
        ip: "127.0.0.1", user_agent: userAgent
      })
    }))

  it.effect("§6: the scope may be narrowed, never widened (invalid_scope); a resource not granted is invalid_target", () =>
    Effect.gen(function*() {
      const w = yield* world
      const { auth, first } = yield* start(w)
      const narrowed = yield* refresh(w, auth, first.refresh_token, { scope: "read" })
      expectTokens(narrowed, resourceTokens("read"))
      expect((yield* verify(w, narrowed.json.access_token, { typ: "at+jwt" })).payload.scope).toBe("read")
      // narrowing one response does not shrink the grant: the next refresh may ask for all of it again
      const full = yield* refresh(w, auth, narrowed.json.refresh_token)
      expectTokens(full, resourceTokens("read write"))
      const widened = yield* refresh(w, auth, full.json.refresh_token, { scope: "read write admin" })
      expectError(widened, { error: "invalid_scope", error_description: "the scope asks for more than was granted" })
      const target = yield* refresh(w, auth, full.json.refresh_token, { resource: w.otherResource })
      expectError(target, { error: "invalid_target", error_description: "the resource was not granted" })
      // refusals before rotation leave the token usable
      expect((yield* refresh(w, auth, full.json.refresh_token)).status).toBe(200)
    }))

  it.effect("§6: a refresh token is bound to its client; another client's is invalid_grant", () =>
    Effect.gen(function*() {
      const w = yield* world
      const { first } = yield* start(w)
      const other = yield* registerClient(w)
      expectError(yield* refresh(w, authOf(other), first.refresh_token), { error: "invalid_grant" })
    }))
})

layer(TestLive.TestLive)("RFC 6749 §3.1, §3.2 and §5.2: requests the token endpoint refuses", (it) => {
  it.effect("§3.1: a repeated parameter is invalid_request naming it", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* registerClient(w)
      const code = yield* issueCode(w, { clientId: client.client_id, scopes: ["read"], resources: [w.resource] })
      const res = yield* post(w, "token", authOf(client), [
        ["grant_type", "authorization_code"], ["code", code.code], ["code", code.code], ["redirect_uri", redirectUri],
        ["code_verifier", code.verifier]
      ])
      expectError(res, { error: "invalid_request", error_description: "'code' must not be provided twice" })
      const grantTwice = yield* post(w, "token", authOf(client), [["grant_type", "refresh_token"], ["grant_type", "refresh_token"], ["refresh_token", "x"]])
      expectError(grantTwice, { error: "invalid_request", error_description: "'grant_type' must not be provided twice" })
      // the code was not spent by the refused requests
      expect((yield* exchange(w, authOf(client), code)).status).toBe(200)
    }))

  it.effect("§3.2: a body that is not application/x-www-form-urlencoded is invalid_request", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* registerClient(w)
      const res = yield* post(w, "token", authOf(client), { grant_type: "refresh_token", refresh_token: "x" }, { contentType: "application/json" })
      expectError(res, { error: "invalid_request", error_description: "the body must be application/x-www-form-urlencoded" })
      const charset = yield* post(w, "token", authOf(client), { grant_type: "refresh_token", refresh_token: "x" }, {
        contentType: "application/x-www-form-urlencoded; charset=UTF-8"
      })
      expectError(charset, { error: "invalid_grant" })
    }))

  it.effect("§5.2: an unknown grant_type, password and implicit are unsupported_grant_type", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* registerClient(w, { grant_types: ["authorization_code", "refresh_token", "client_credentials"] })
      const unsupported = { error: "unsupported_grant_type", error_description: "'grant_type' is not supported" }
      for (const params of [
        { grant_type: "urn:example:unknown" },
        // OAuth 2.1 §10: the resource owner password credentials grant is gone
        { grant_type: "password", username: "ada", password: "correct horse battery staple" },
        { grant_type: "implicit" }
      ]) {
        expectError(yield* post(w, "token", authOf(client), params), unsupported)
      }
      expectError(yield* post(w, "token", authOf(client), {}), { error: "invalid_request", error_description: "'grant_type' is required" })
    }))

  it.effect("§5.2: a client without the refresh_token grant type is unauthorized_client", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* registerClient(w, { grant_types: ["authorization_code"] })
      const code = yield* issueCode(w, { clientId: client.client_id, scopes: ["read"], resources: [w.resource] })
      const res = yield* exchange(w, authOf(client), code)
      // CONTRACT §5: no refresh token for a client that may not use the grant
      expectTokens(res, { access_token: expect.any(String), token_type: "Bearer", expires_in: accessTokenLifetime, scope: "read" })
      const refused = yield* refresh(w, authOf(client), "any-refresh-token")
      expectError(refused, { error: "unauthorized_client", error_description: "the client may not use the 'refresh_token' grant" })
    }))

  it.effect("bad input: broken percent-encoding, an over-long value, an oversized body, an unknown realm", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* registerClient(w)
      const headers = { authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString("base64")}` }
      const send = (body: string, path = `/realms/${w.name}/token`) =>
        request("POST", path, { headers, body, contentType: "application/x-www-form-urlencoded" })
      expectError(yield* send("grant_type=refresh_token&refresh_token=%zz"), {
        error: "invalid_request", error_description: "the request is not valid form encoding"
      })
      expectError(yield* send(form({ grant_type: "refresh_token", refresh_token: "r".repeat(5000) })), {
        error: "invalid_request", error_description: "'refresh_token' is too long"
      })
      expectError(yield* send(`grant_type=refresh_token&pad=${"p".repeat(70 * 1024)}`), {
        error: "invalid_request", error_description: "the body is larger than 65536 bytes"
      }, 413)
      const script = yield* send(form({ grant_type: "<script>alert(1)</script>" }))
      expectError(script, { error: "unsupported_grant_type", error_description: "'grant_type' is not supported" })
      expect(script.text).not.toContain("<script>")
      expectError(yield* send("grant_type=refresh_token", "/realms/no-such-realm/token"), {
        error: "invalid_request", error_description: "unknown realm"
      }, 404)
    }))
})

layer(TestLive.TestLive)("RFC 8414 §2: the metadata lists the token, introspection and revocation endpoints", (it) => {
  it.effect("the endpoints are where the metadata says, and only the working grants are advertised", () =>
    Effect.gen(function*() {
      const w = yield* world
      const doc = (yield* request("GET", `/.well-known/oauth-authorization-server/realms/${w.name}`)).json
      expect(doc).toMatchObject({
        token_endpoint: `${w.issuer}/token`,
        introspection_endpoint: `${w.issuer}/introspect`,
        revocation_endpoint: `${w.issuer}/revoke`,
        grant_types_supported: [
          "authorization_code", "refresh_token", "client_credentials", "urn:ietf:params:oauth:grant-type:jwt-bearer",
          "urn:ietf:params:oauth:grant-type:token-exchange", "urn:ietf:params:oauth:grant-type:device_code"
        ],
        token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        introspection_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        revocation_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
      })
      expect(doc.token_endpoint_auth_signing_alg_values_supported).not.toContain("none")
      expect(doc.token_endpoint_auth_signing_alg_values_supported).not.toContain("HS256")
      // every advertised endpoint answers at the path the metadata names (here: without credentials)
      for (const url of [doc.token_endpoint, doc.introspection_endpoint, doc.revocation_endpoint]) {
        const res = yield* request("POST", new URL(url).pathname, { body: "token=x", contentType: "application/x-www-form-urlencoded" })
        expect(res.status).toBe(url === doc.token_endpoint ? 400 : 401)
      }
    }))
})
