import { expect } from "@effect/vitest"
import { Clock, Effect, Option, TestClock } from "effect"
import { Fetcher, RemoteJwks } from "@tessera/domain"
import { admin, get } from "./support/Http.js"
import type { WireResponse } from "./support/Http.js"
import * as TestLive from "./support/TestLive.js"
import {
  accessTokenLifetime, auditOf, authOf, clientKey, expectTokenError as expectError, expectTokenResponse, invalidGrant, nowSeconds, post,
  registerClient, remoteIssuer, signJwt, trustedIssuer, userAgent, verify, world
} from "./support/TokenFixtures.js"
import type { ClientKey, RegisteredClient, TrustedIssuer, World } from "./support/TokenFixtures.js"

const it = TestLive.file()

const jwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"

/** RFC 7523 §3: an assertion at the Clock's time, for the realm's issuer; every claim can be overridden (undefined removes it). */
const assertionOf = (w: World, idp: TrustedIssuer, sub: string, claims: Record<string, unknown> = {}) =>
  Effect.gen(function*() {
    const now = Math.floor((yield* Clock.currentTimeMillis) / 1000)
    return yield* signJwt(idp.key, { iss: idp.issuer, sub, aud: w.issuer, iat: now, exp: now + 60, jti: crypto.randomUUID(), ...claims })
  })

/** A confidential client registered for the JWT-bearer grant (no redirect URIs, no response types). */
const bearerClient = (w: World, metadata: Record<string, unknown> = {}) =>
  registerClient(w, { grant_types: [jwtBearer], redirect_uris: [], response_types: [], ...metadata })

/** RFC 7523 §2.1: the token request. */
const jwtBearerRequest = (
  w: World,
  client: RegisteredClient,
  assertion: string | undefined,
  params: { readonly scope?: string; readonly resource?: string } = {}
) =>
  post(w, "token", authOf(client), [
    ["grant_type", jwtBearer],
    ...(assertion !== undefined ? [["assertion", assertion] as const] : []),
    ...(params.scope !== undefined ? [["scope", params.scope] as const] : []),
    ...(params.resource !== undefined ? [["resource", params.resource] as const] : [])
  ])

/** RFC 6749 §5.1: 200, no-store, no-cache; an access token and its scope, never a refresh token nor an ID token. */
const expectTokens = (res: WireResponse, scope: string) => {
  expectTokenResponse(res, { access_token: expect.any(String), token_type: "Bearer", expires_in: accessTokenLifetime, scope })
  return (res.json as { access_token: string }).access_token
}

/** RFC 9068 §2: the whole claim set; no auth_time nor acr: nobody authenticated at Tessera. */
const expectAccessToken = (w: World, token: string, sub: string, clientId: string, aud: string, scope: string) =>
  Effect.gen(function*() {
    const now = yield* nowSeconds
    const { payload, protectedHeader } = yield* verify(w, token, { typ: "at+jwt", audience: aud, algorithms: ["ES256"] })
    expect(protectedHeader).toEqual({ alg: "ES256", typ: "at+jwt", kid: expect.any(String) })
    expect(payload).toEqual({
      iss: w.issuer, sub, aud, client_id: clientId, scope, jti: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/), iat: now, exp: now + accessTokenLifetime
    })
  })

/** Before the signature verifies, one answer: the endpoint does not tell which issuers are trusted. */
const notTrusted = invalidGrant("the assertion is not a JWT signed by a trusted issuer of the realm")

/** A realm, a trusted issuer and a client for the grant. */
const setup = Effect.gen(function*() {
  const w = yield* world
  const idp = yield* trustedIssuer(w)
  const client = yield* bearerClient(w)
  return { w, idp, client }
})

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")

const keysUnavailable = invalidGrant("the trusted issuer's keys could not be fetched from its 'jwks_uri'")

/** An assertion signed with `key` but naming another kid in its header. */
const withKid = (w: World, idp: { readonly issuer: string; readonly key: ClientKey }, kid: string) =>
  assertionOf(w, { issuer: idp.issuer, key: { ...idp.key, kid } }, w.sub)

it.layer(TestLive.World)("RFC 7523 §2.1 and §3: the JWT-bearer grant", (it) => {
  it.effect("§2.1: an assertion for a person: a token for that person and the client's resource; audited with the issuer", () =>
    Effect.gen(function*() {
      const { w, idp, client } = yield* setup
      const res = yield* jwtBearerRequest(w, client, yield* assertionOf(w, idp, w.sub), { scope: "read" })
      yield* expectAccessToken(w, expectTokens(res, "read"), w.sub, client.client_id, w.resource, "read")
      // §3 item 3: the token endpoint is as good an audience as the issuer; no scope asked: the resource's scopes
      const viaEndpoint = yield* jwtBearerRequest(w, client, yield* assertionOf(w, idp, w.sub, { aud: `${w.issuer}/token` }))
      yield* expectAccessToken(w, expectTokens(viaEndpoint, "read write"), w.sub, client.client_id, w.resource, "read write")
      const events = yield* auditOf(w, "token.issued")
      expect(events).toEqual(["read write", "read"].map((scope) => ({
        id: expect.any(String), at: expect.any(String), realm: w.name, type: "token.issued",
        actor: { type: "client", id: client.client_id }, subject: w.sub, client_id: client.client_id,
        grant_type: jwtBearer, resource: w.resource, scope, result: "success",
        reason: `assertion issuer: ${idp.issuer}`, ip: "127.0.0.1", user_agent: userAgent
      })))
    }))

  it.effect("CONTRACT §5: a person with openid and no resource: a userinfo token (aud = issuer) that userinfo accepts", () =>
    Effect.gen(function*() {
      const { w, idp, client } = yield* setup
      const res = yield* jwtBearerRequest(w, client, yield* assertionOf(w, idp, w.sub), { scope: "openid profile offline_access" })
      // offline_access is dropped: this grant issues no refresh token
      const token = expectTokens(res, "openid profile")
      yield* expectAccessToken(w, token, w.sub, client.client_id, w.issuer, "openid profile")
      const info = yield* get(`/realms/${w.name}/userinfo`, { headers: { authorization: `Bearer ${token}` } })
      expect(info.status).toBe(200)
      expect(info.json).toMatchObject({ sub: w.sub, preferred_username: w.username })
    }))

  it.effect("CONTRACT §5: sub = the client's own client_id: a token for the client itself, as with client credentials", () =>
    Effect.gen(function*() {
      const { w, idp, client } = yield* setup
      const res = yield* jwtBearerRequest(w, client, yield* assertionOf(w, idp, client.client_id), { resource: w.resource, scope: "write" })
      yield* expectAccessToken(w, expectTokens(res, "write"), client.client_id, client.client_id, w.resource, "write")
      const [issued] = yield* auditOf(w, "token.issued")
      expect(issued).toMatchObject({ subject: client.client_id, grant_type: jwtBearer, reason: `assertion issuer: ${idp.issuer}` })
      // nobody to identify: openid is refused
      expectError(
        yield* jwtBearerRequest(w, client, yield* assertionOf(w, idp, client.client_id), { scope: "openid" }),
        { error: "invalid_scope", error_description: "'openid' needs a person: the assertion's subject is the client itself" }
      )
    }))

  it.effect("§3: an untrusted issuer, a bad signature, a key of another issuer: one invalid_grant", () =>
    Effect.gen(function*() {
      const { w, idp, client } = yield* setup
      const stranger = { issuer: "https://stranger.example", key: yield* clientKey }
      expectError(yield* jwtBearerRequest(w, client, yield* assertionOf(w, stranger, w.sub)), notTrusted)
      // the trusted issuer's name, someone else's key
      expectError(yield* jwtBearerRequest(w, client, yield* assertionOf(w, { issuer: idp.issuer, key: stranger.key }, w.sub)), notTrusted)
      // a tampered payload under a good signature
      const [header, , signature] = (yield* assertionOf(w, idp, w.sub)).split(".")
      const tampered = `${header}.${base64url({ iss: idp.issuer, sub: w.sub, aud: w.issuer, exp: 9999999999 })}.${signature}`
      expectError(yield* jwtBearerRequest(w, client, tampered), notTrusted)
      // alg none (RFC 7518 §3.6): an asymmetric signature is required
      const now = yield* nowSeconds
      const unsigned = `${base64url({ alg: "none" })}.${base64url({ iss: idp.issuer, sub: w.sub, aud: w.issuer, iat: now, exp: now + 60, jti: "x" })}.c2ln`
      expectError(yield* jwtBearerRequest(w, client, unsigned), notTrusted)
      // an issuer of another realm is no issuer of this one
      const other = yield* world
      const elsewhere = yield* trustedIssuer(other, "https://elsewhere.example")
      expectError(yield* jwtBearerRequest(w, client, yield* assertionOf(w, elsewhere, w.sub)), notTrusted)
      expect(yield* auditOf(w, "token.issued")).toEqual([])
    }))

  it.effect("§3 item 3: aud must be the realm's issuer or token endpoint, one value", () =>
    Effect.gen(function*() {
      const { w, idp, client } = yield* setup
      const wrong = invalidGrant("the assertion's 'aud' must be the issuer or the token endpoint")
      for (const aud of [`${w.issuer}/introspect`, "https://tessera.test/realms/other", [w.issuer, "https://rp.example"], undefined]) {
        expectError(yield* jwtBearerRequest(w, client, yield* assertionOf(w, idp, w.sub, { aud })), wrong)
      }
    }))

  it.effect("§3 item 4, CONTRACT §5: exp required and in the future, iat required, at most 5 minutes of lifetime", () =>
    Effect.gen(function*() {
      const { w, idp, client } = yield* setup
      const now = yield* nowSeconds
      expectError(
        yield* jwtBearerRequest(w, client, yield* assertionOf(w, idp, w.sub, { iat: now - 120, exp: now - 10 })),
        invalidGrant("the assertion has expired")
      )
      expectError(
        yield* jwtBearerRequest(w, client, yield* assertionOf(w, idp, w.sub, { exp: undefined })),
        invalidGrant("the assertion must have 'exp'")
      )
      expectError(
        yield* jwtBearerRequest(w, client, yield* assertionOf(w, idp, w.sub, { iat: undefined })),
        invalidGrant("the assertion must have 'iat'")
      )
      const tooLong = invalidGrant("the assertion must not be valid for more than 300 seconds ('exp' - 'iat')")
      expectError(yield* jwtBearerRequest(w, client, yield* assertionOf(w, idp, w.sub, { iat: now, exp: now + 301 })), tooLong)
      expectError(yield* jwtBearerRequest(w, client, yield* assertionOf(w, idp, w.sub, { iat: now - 200, exp: now + 101 })), tooLong)
      expectError(
        yield* jwtBearerRequest(w, client, yield* assertionOf(w, idp, w.sub, { iat: now + 600, exp: now + 660 })),
        invalidGrant("the assertion's 'iat' is in the future")
      )
      // exactly 5 minutes is fine
      expectTokens(yield* jwtBearerRequest(w, client, yield* assertionOf(w, idp, w.sub, { iat: now, exp: now + 300 })), "read write")
    }))

  it.effect("RFC 7519 §4.1.5 (ADR 0050): nbf up to 60 s ahead is the issuer's clock skew, as for iat; further ahead is refused", () =>
    Effect.gen(function*() {
      const { w, idp, client } = yield* setup
      const now = yield* nowSeconds
      // an issuer whose clock runs 60 s ahead: iat = nbf = its now, the longest lifetime
      expectTokens(
        yield* jwtBearerRequest(w, client, yield* assertionOf(w, idp, w.sub, { iat: now + 60, nbf: now + 60, exp: now + 360 })),
        "read write"
      )
      expectError(yield* jwtBearerRequest(w, client, yield* assertionOf(w, idp, w.sub, { nbf: now + 61 })), invalidGrant("the assertion is not valid"))
    }))

  it.effect("§3 item 7: jti required; a jti seen before is refused, even for another client", () =>
    Effect.gen(function*() {
      const { w, idp, client } = yield* setup
      expectError(
        yield* jwtBearerRequest(w, client, yield* assertionOf(w, idp, w.sub, { jti: undefined })),
        invalidGrant("the assertion must have 'jti'")
      )
      const assertion = yield* assertionOf(w, idp, w.sub)
      expectTokens(yield* jwtBearerRequest(w, client, assertion), "read write")
      const replayed = invalidGrant("the assertion was already used ('jti' seen before)")
      expectError(yield* jwtBearerRequest(w, client, assertion), replayed)
      const another = yield* bearerClient(w)
      expectError(yield* jwtBearerRequest(w, another, assertion), replayed)
      // a new assertion reusing the jti
      const jti = "once-only"
      expectTokens(yield* jwtBearerRequest(w, client, yield* assertionOf(w, idp, w.sub, { jti })), "read write")
      expectError(yield* jwtBearerRequest(w, client, yield* assertionOf(w, idp, w.sub, { jti })), replayed)
      expect(yield* auditOf(w, "token.issued")).toHaveLength(2)
    }))

  it.effect("a refused request does not spend the assertion: invalid_target, then the same assertion succeeds", () =>
    Effect.gen(function*() {
      const { w, idp, client } = yield* setup
      const assertion = yield* assertionOf(w, idp, w.sub)
      expectError(
        yield* jwtBearerRequest(w, client, assertion, { resource: w.otherResource }),
        { error: "invalid_target", error_description: "the resource is unknown or not allowed to the client" }
      )
      expectTokens(yield* jwtBearerRequest(w, client, assertion), "read write")
    }))

  it.effect("CONTRACT §5: sub neither a user of the realm nor the client: invalid_grant, the value never echoed", () =>
    Effect.gen(function*() {
      const { w, idp, client } = yield* setup
      const unknown = invalidGrant("the assertion's 'sub' is neither a user of the realm nor the client")
      const other = yield* world
      const otherClient = yield* bearerClient(w)
      // a stranger, a user of another realm, another client of this realm, no sub at all
      for (const sub of ["<script>alert(1)</script>", other.sub, otherClient.client_id, undefined]) {
        const res = yield* jwtBearerRequest(w, client, yield* assertionOf(w, idp, w.sub, { sub }))
        expectError(res, unknown)
      }
    }))

  it.effect("RFC 6749 §5.2: a client without the grant type is unauthorized_client", () =>
    Effect.gen(function*() {
      const { w, idp } = yield* setup
      const machine = yield* registerClient(w, { grant_types: ["client_credentials"], redirect_uris: [], response_types: [] })
      expectError(yield* jwtBearerRequest(w, machine, yield* assertionOf(w, idp, w.sub)), {
        error: "unauthorized_client", error_description: `the client may not use the '${jwtBearer}' grant`
      })
    }))

  it.effect("CONTRACT §5: the client authenticates as registered (a wrong secret is invalid_client)", () =>
    Effect.gen(function*() {
      const { w, idp, client } = yield* setup
      const res = yield* post(w, "token", { basic: [client.client_id, "wrong"] }, { grant_type: jwtBearer, assertion: yield* assertionOf(w, idp, w.sub) })
      expect(res.status).toBe(401)
      expect(res.json).toEqual({ error: "invalid_client", error_description: "client authentication failed" })
    }))

  it.effect("malformed assertions: not JWS compact syntax is invalid_request; compact but not a JWT is invalid_grant", () =>
    Effect.gen(function*() {
      const { w, client } = yield* setup
      // RFC 6749 §5.2: a missing or malformed parameter is invalid_request
      expectError(yield* jwtBearerRequest(w, client, undefined), { error: "invalid_request", error_description: "'assertion' is required" })
      const syntax = { error: "invalid_request", error_description: "'assertion' must be a JWT in JWS compact serialization" }
      for (const assertion of ["not-a-jwt", "a.b", "a.b.c.d.e", "a..c"]) expectError(yield* jwtBearerRequest(w, client, assertion), syntax)
      // RFC 7523 §3.1: the parameter is well-formed but the JWT is not valid: invalid_grant
      expectError(yield* jwtBearerRequest(w, client, "aaaa.bbbb.cccc"), notTrusted)
      expectError(yield* jwtBearerRequest(w, client, `${base64url({ alg: "ES256" })}.${base64url([1, 2])}.c2ln`), notTrusted)
      expectError(yield* jwtBearerRequest(w, client, `${base64url({ alg: "ES256" })}.${base64url({ sub: w.sub })}.c2ln`), notTrusted)
      // a gigantic assertion: the form's value limit
      const huge = `${"a".repeat(5000)}.b.c`
      expectError(yield* jwtBearerRequest(w, client, huge), { error: "invalid_request", error_description: "'assertion' is too long" })
    }))

  it.effect("§3 item 9 with jwks_uri: the issuer's keys are fetched through the Fetcher (https, public addresses, 64 KiB, 3 s) and cached", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* bearerClient(w)
      const idp = yield* remoteIssuer(w)
      const res = yield* jwtBearerRequest(w, client, yield* assertionOf(w, idp, w.sub), { scope: "read" })
      yield* expectAccessToken(w, expectTokens(res, "read"), w.sub, client.client_id, w.resource, "read")
      expectTokens(yield* jwtBearerRequest(w, client, yield* assertionOf(w, idp, w.sub)), "read write")
      expect(yield* idp.fetches).toBe(1)
      // ADR 0012: a jwks_uri the admin API registered may resolve to public addresses only
      expect(yield* idp.table.lastOptions(idp.jwksUri)).toEqual(Option.some({
        timeout: RemoteJwks.timeout, maxBytes: 64 * 1024, addresses: "public", accept: "application/jwk-set+json, application/json"
      }))
      const events = yield* auditOf(w, "token.issued")
      expect(events.map((e) => [e.reason, e.subject])).toEqual([[`assertion issuer: ${idp.issuer}`, w.sub], [`assertion issuer: ${idp.issuer}`, w.sub]])
    }))

  it.effect("jwks_uri unreachable or not a JWK Set: invalid_grant, never a 500; the failure is not cached", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* bearerClient(w)
      const idp = yield* remoteIssuer(w)
      const failures: ReadonlyArray<Fetcher.Canned> = [
        { _tag: "Failure", reason: "network" },
        { _tag: "Failure", reason: "timeout" },
        { _tag: "Failure", reason: "address_refused" },
        { _tag: "Response", status: 500, body: "oops" },
        { _tag: "Response", status: 302, headers: { location: "https://elsewhere.example/jwks" }, body: "" },
        { _tag: "Response", status: 200, body: "x".repeat(64 * 1024 + 1) },
        { _tag: "Response", status: 200, body: "<html>not json</html>" },
        Fetcher.json({ no: "keys" })
      ]
      for (const failure of failures) {
        yield* idp.table.set(idp.jwksUri, failure)
        expectError(yield* jwtBearerRequest(w, client, yield* assertionOf(w, idp, w.sub)), keysUnavailable)
      }
      expect(yield* idp.fetches).toBe(failures.length)
      expect(yield* auditOf(w, "token.issued")).toEqual([])
      // the issuer is back: the next request fetches and succeeds
      yield* idp.publish([idp.key])
      expectTokens(yield* jwtBearerRequest(w, client, yield* assertionOf(w, idp, w.sub)), "read write")
      expect(yield* idp.fetches).toBe(failures.length + 1)
    }))
})

it.effect("RFC 7523 §3 item 9 with jwks_uri: key rotation at the issuer is picked up through the unknown kid (refetch at most once a minute)", () =>
  Effect.gen(function*() {
    const w = yield* world
    const client = yield* bearerClient(w)
    const idp = yield* remoteIssuer(w)
    expectTokens(yield* jwtBearerRequest(w, client, yield* assertionOf(w, idp, w.sub)), "read write")
    // the issuer rotates: a new key beside the old one
    const next = yield* clientKey
    yield* idp.publish([idp.key, next])
    const rotated = { issuer: idp.issuer, key: next }
    // within a minute of the last fetch, the unknown kid is not fetched for: the signature does not verify
    yield* TestClock.adjust("59 seconds")
    expectError(yield* jwtBearerRequest(w, client, yield* assertionOf(w, rotated, w.sub)), notTrusted)
    expect(yield* idp.fetches).toBe(1)
    yield* TestClock.adjust("1 second")
    expectTokens(yield* jwtBearerRequest(w, client, yield* assertionOf(w, rotated, w.sub)), "read write")
    expect(yield* idp.fetches).toBe(2)
    // both keys now verify from the cache
    expectTokens(yield* jwtBearerRequest(w, client, yield* assertionOf(w, idp, w.sub)), "read write")
    expectTokens(yield* jwtBearerRequest(w, client, yield* assertionOf(w, rotated, w.sub)), "read write")
    expect(yield* idp.fetches).toBe(2)
  }).pipe(Effect.provide(TestLive.world())))

it.effect("RFC 7523 §3 item 9 with jwks_uri: a flood of assertions with unknown kids makes at most one fetch per minute", () =>
  Effect.gen(function*() {
    const w = yield* world
    const client = yield* bearerClient(w)
    const idp = yield* remoteIssuer(w)
    expectTokens(yield* jwtBearerRequest(w, client, yield* assertionOf(w, idp, w.sub)), "read write")
    for (let minute = 1; minute <= 3; minute++) {
      yield* TestClock.adjust("61 seconds")
      const responses = yield* Effect.forEach(
        Array.from({ length: 20 }, (_, i) => `forged-${minute}-${i}`),
        (kid) => Effect.flatMap(withKid(w, idp, kid), (a) => jwtBearerRequest(w, client, a)),
        { concurrency: 5 }
      )
      for (const res of responses) expectError(res, notTrusted)
      expect(yield* idp.fetches).toBe(1 + minute)
    }
    // the real key still works throughout, from the cache
    expectTokens(yield* jwtBearerRequest(w, client, yield* assertionOf(w, idp, w.sub)), "read write")
    expect(yield* idp.fetches).toBe(4)
  }).pipe(Effect.provide(TestLive.world())))
