/**
 * RFC 9449 §4.3, §5, §5.1, §5.2, §10 at the token endpoint: a valid proof binds the access token of every grant
 * (`token_type` DPoP, `cnf.jkt`), a public client's refresh token is bound to the key, `dpop_jkt` binds the code,
 * `dpop_bound_access_tokens` clients must use DPoP, and every invalid proof is refused with `invalid_dpop_proof`.
 */
import { expect } from "@effect/vitest"
import { Effect } from "effect"
import * as Jose from "jose"
import { Dpop } from "@tessera/protocol"
import { admin, get } from "./support/Http.js"
import * as TestLive from "./support/TestLive.js"
import { dpop, expectTokenError, invalidProof, key, proof, unsigned } from "./support/DpopFixtures.js"
import type { ProofKey } from "./support/DpopFixtures.js"
import {
  accessTokenLifetime, assertion, authOf, clientKey, exchange, issueCode, noStore, nowSeconds, post, refresh, registerClient, verify, world
} from "./support/TokenFixtures.js"
import type { Auth, RegisteredClient, World } from "./support/TokenFixtures.js"

const it = TestLive.file()

type Wire = { status: number; headers: Record<string, string>; json: unknown }

/**
 * RFC 9449 §5 / RFC 6749 §5.1: 200, no-store, no-cache, no challenge, no nonce (nonces are off here); the body whole,
 * with `token_type` DPoP when bound.
 */
const expectTokens = (res: Wire, body: Record<string, unknown>, tokenType: "DPoP" | "Bearer" = "DPoP") => {
  expect(res.status).toBe(200)
  expect(res.headers["content-type"]).toBe("application/json")
  expect(res.headers["cache-control"]).toBe(noStore["cache-control"])
  expect(res.headers["pragma"]).toBe(noStore.pragma)
  expect(res.headers["www-authenticate"]).toBeUndefined()
  expect(res.headers["dpop-nonce"]).toBeUndefined()
  expect(res.json).toEqual({ access_token: expect.any(String), token_type: tokenType, expires_in: accessTokenLifetime, ...body })
  return res.json as { access_token: string; refresh_token?: string }
}

/** RFC 6749 §5.2: a 400 grant error, whole. */
const expectGrantError = (res: Wire, body: unknown) => {
  expect(res.status).toBe(400)
  expect(res.headers["cache-control"]).toBe("no-store")
  expect(res.headers["pragma"]).toBe("no-cache")
  expect(res.headers["www-authenticate"]).toBeUndefined()
  expect(res.headers["dpop-nonce"]).toBeUndefined()
  expect(res.json).toEqual(body)
}

/** RFC 9449 §6.1: the access token's `cnf.jkt`, or undefined for a bearer token (checked against the realm's JWKS). */
const boundKeyOf = (w: World, token: string) =>
  Effect.map(verify(w, token, { typ: "at+jwt", algorithms: ["ES256"] }), ({ payload }) => (payload["cnf"] as { jkt?: string } | undefined)?.jkt)

/** A confidential machine client for client credentials. */
const machine = (w: World, metadata: Record<string, unknown> = {}) =>
  registerClient(w, { grant_types: ["client_credentials"], redirect_uris: [], response_types: [], ...metadata })

const clientCredentials = (w: World, auth: Auth, headers: Record<string, string>) =>
  post(w, "token", auth, { grant_type: "client_credentials" }, { headers })

/** A public client (PKCE, no secret) and a confidential one, both for code and refresh. */
const publicClient = (w: World) => registerClient(w, { token_endpoint_auth_method: "none" })

/** The code grant for `client` with a proof of `k` (when given). */
const codeTokens = (w: World, client: RegisteredClient, k: ProofKey | undefined, scopes: ReadonlyArray<string> = ["read"]) =>
  Effect.gen(function*() {
    const code = yield* issueCode(w, { clientId: client.client_id, scopes, resources: [w.resource] })
    const headers = k === undefined ? {} : dpop(yield* proof(w, k, "token"))
    return yield* exchange(w, authOf(client), code, {}, headers)
  })

const dpopBound = (what: string) => ({ error: "invalid_grant", error_description: `the ${what} is bound to a DPoP key: send a DPoP proof of that key` })

it.layer(TestLive.World)("RFC 9449 §5: DPoP access token request", (it) => {
  it.effect("§5, §6.1: a valid proof gives token_type DPoP and an RFC 9068 token with cnf.jkt, the key's RFC 7638 thumbprint", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* machine(w)
      const k = yield* key()
      const res = yield* clientCredentials(w, authOf(client), dpop(yield* proof(w, k, "token")))
      const { access_token } = expectTokens(res, { scope: "read write" })
      const now = yield* nowSeconds
      const { payload } = yield* verify(w, access_token, { typ: "at+jwt", algorithms: ["ES256"] })
      expect(payload).toEqual({
        iss: w.issuer, sub: client.client_id, aud: w.resource, client_id: client.client_id, scope: "read write",
        jti: expect.any(String), iat: now, exp: now + accessTokenLifetime, cnf: { jkt: k.jkt }
      })
      expect(k.jkt).toBe(yield* Effect.promise(() => Jose.calculateJwkThumbprint(k.publicJwk, "sha256")))
      // RFC 9449 §5: without a proof, a bearer token as before
      const bearer = expectTokens(yield* clientCredentials(w, authOf(client), {}), { scope: "read write" }, "Bearer")
      expect(yield* boundKeyOf(w, bearer.access_token)).toBeUndefined()
    }))

  it.effect("§4.2: an RSA (PS256) and an EdDSA key bind as well", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* machine(w)
      for (const alg of ["PS256", "EdDSA"]) {
        const k = yield* key(alg)
        const { access_token } = expectTokens(yield* clientCredentials(w, authOf(client), dpop(yield* proof(w, k, "token"))), { scope: "read write" })
        expect(yield* boundKeyOf(w, access_token)).toBe(k.jkt)
      }
    }))

  it.effect("§5: a public client's refresh token is bound: the same key refreshes (still bound); another key or none is invalid_grant", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* publicClient(w)
      const k = yield* key()
      const first = expectTokens(yield* codeTokens(w, client, k), { scope: "read", refresh_token: expect.any(String) })
      expect(yield* boundKeyOf(w, first.access_token)).toBe(k.jkt)
      const other = yield* key()
      expectGrantError(yield* refresh(w, authOf(client), first.refresh_token!, {}, dpop(yield* proof(w, other, "token"))), dpopBound("refresh token"))
      expectGrantError(yield* refresh(w, authOf(client), first.refresh_token!), dpopBound("refresh token"))
      // refused without rotating: the token still works with its key, and the family stays bound
      const second = expectTokens(yield* refresh(w, authOf(client), first.refresh_token!, {}, dpop(yield* proof(w, k, "token"))), {
        scope: "read", refresh_token: expect.any(String)
      })
      expect(yield* boundKeyOf(w, second.access_token)).toBe(k.jkt)
      expectGrantError(yield* refresh(w, authOf(client), second.refresh_token!), dpopBound("refresh token"))
    }))

  it.effect("§5: a public client's refresh token issued without a proof is bound by the first refresh that brings one", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* publicClient(w)
      const bearer = expectTokens(yield* codeTokens(w, client, undefined), { scope: "read", refresh_token: expect.any(String) }, "Bearer")
      const k = yield* key()
      const bound = expectTokens(yield* refresh(w, authOf(client), bearer.refresh_token!, {}, dpop(yield* proof(w, k, "token"))), {
        scope: "read", refresh_token: expect.any(String)
      })
      expectGrantError(yield* refresh(w, authOf(client), bound.refresh_token!), dpopBound("refresh token"))
    }))

  it.effect("§5: a confidential client's refresh token is not bound; its new access token is bound to whichever key it proves", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* registerClient(w)
      const k = yield* key()
      const first = expectTokens(yield* codeTokens(w, client, k), { scope: "read", refresh_token: expect.any(String) })
      expect(yield* boundKeyOf(w, first.access_token)).toBe(k.jkt)
      // no proof: a bearer token, and the refresh token is not refused
      const second = expectTokens(yield* refresh(w, authOf(client), first.refresh_token!), { scope: "read", refresh_token: expect.any(String) }, "Bearer")
      expect(yield* boundKeyOf(w, second.access_token)).toBeUndefined()
      const rotated = yield* key()
      const third = expectTokens(yield* refresh(w, authOf(client), second.refresh_token!, {}, dpop(yield* proof(w, rotated, "token"))), {
        scope: "read", refresh_token: expect.any(String)
      })
      expect(yield* boundKeyOf(w, third.access_token)).toBe(rotated.jkt)
    }))

  it.effect("§5.2: a client registered with dpop_bound_access_tokens is refused a token request without DPoP", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* machine(w, { dpop_bound_access_tokens: true })
      expectTokenError(yield* clientCredentials(w, authOf(client), {}), invalidProof("a DPoP proof is required"))
      const k = yield* key()
      const { access_token } = expectTokens(yield* clientCredentials(w, authOf(client), dpop(yield* proof(w, k, "token"))), { scope: "read write" })
      expect(yield* boundKeyOf(w, access_token)).toBe(k.jkt)
    }))

  it.effect("§10: a code bound by dpop_jkt needs a proof of that key: another key or none is invalid_grant", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* publicClient(w)
      const k = yield* key()
      const other = yield* key()
      for (const presented of [other, undefined]) {
        const code = yield* issueCode(w, { clientId: client.client_id, scopes: ["read"], resources: [w.resource], dpopJkt: k.jkt })
        const headers = presented === undefined ? {} : dpop(yield* proof(w, presented, "token"))
        expectGrantError(yield* exchange(w, authOf(client), code, {}, headers), dpopBound("authorization code"))
      }
      const code = yield* issueCode(w, { clientId: client.client_id, scopes: ["read"], resources: [w.resource], dpopJkt: k.jkt })
      const tokens = expectTokens(yield* exchange(w, authOf(client), code, {}, dpop(yield* proof(w, k, "token"))), {
        scope: "read", refresh_token: expect.any(String)
      })
      expect(yield* boundKeyOf(w, tokens.access_token)).toBe(k.jkt)
    }))

  it.effect("§5: the JWT-bearer grant (RFC 7523) binds its token too", () =>
    Effect.gen(function*() {
      const w = yield* world
      const idp = yield* clientKey
      const issuer = `https://idp.example/${w.name}`
      expect((yield* admin.post(`/admin/realms/${w.name}/trusted-issuers`, { issuer, jwks: { keys: [idp.publicJwk] } })).status).toBe(201)
      const client = yield* machine(w, { grant_types: ["urn:ietf:params:oauth:grant-type:jwt-bearer"] })
      const now = yield* nowSeconds
      const assertion = yield* Effect.promise(() =>
        new Jose.SignJWT({ iss: issuer, sub: w.sub, aud: w.issuer, iat: now, exp: now + 60, jti: crypto.randomUUID() })
          .setProtectedHeader({ alg: "ES256", kid: idp.kid, typ: "JWT" })
          .sign(idp.privateKey))
      const k = yield* key()
      const res = yield* post(w, "token", authOf(client), { grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion }, {
        headers: dpop(yield* proof(w, k, "token"))
      })
      const { access_token } = expectTokens(res, { scope: "read write" })
      expect(yield* boundKeyOf(w, access_token)).toBe(k.jkt)
    }))

  it.effect("§5 (ADR 0018): token exchange: a bound subject token is exchanged only with a proof of its key; the new token is bound", () =>
    Effect.gen(function*() {
      const w = yield* world
      const exchangeGrant = "urn:ietf:params:oauth:grant-type:token-exchange"
      const agent = yield* registerClient(w, { principal_type: "agent", grant_types: ["authorization_code", "refresh_token", exchangeGrant] })
      const k = yield* key()
      const person = expectTokens(yield* codeTokens(w, agent, k, ["read", "write"]), { scope: "read write", refresh_token: expect.any(String) })
      const request = (headers: Record<string, string>) =>
        post(w, "token", authOf(agent), {
          grant_type: exchangeGrant,
          subject_token: person.access_token,
          subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
          scope: "read"
        }, { headers })
      const stolen = dpopBound("'subject_token'")
      expectGrantError(yield* request({}), stolen)
      expectGrantError(yield* request(dpop(yield* proof(w, yield* key(), "token"))), stolen)
      const res = yield* request(dpop(yield* proof(w, k, "token")))
      expect(res.status).toBe(200)
      expect(res.json).toEqual({
        access_token: expect.any(String), issued_token_type: "urn:ietf:params:oauth:token-type:access_token", token_type: "DPoP",
        expires_in: accessTokenLifetime, scope: "read"
      })
      const exchanged = (res.json as { access_token: string }).access_token
      const { payload } = yield* verify(w, exchanged, { typ: "at+jwt", algorithms: ["ES256"] })
      expect(payload["act"]).toEqual({ sub: agent.client_id })
      expect(payload["cnf"]).toEqual({ jkt: k.jkt })
      // a bearer subject token exchanged with a proof: the new token is bound to the proof's key
      const bearer = expectTokens(yield* codeTokens(w, agent, undefined, ["read"]), { scope: "read", refresh_token: expect.any(String) }, "Bearer")
      const fresh = yield* key()
      const bound = yield* post(w, "token", authOf(agent), {
        grant_type: exchangeGrant, subject_token: bearer.access_token, subject_token_type: "urn:ietf:params:oauth:token-type:access_token"
      }, { headers: dpop(yield* proof(w, fresh, "token")) })
      expect(bound.status).toBe(200)
      expect(yield* boundKeyOf(w, (bound.json as { access_token: string }).access_token)).toBe(fresh.jkt)
    }))

  it.effect("§5.1: the metadata advertises dpop_signing_alg_values_supported: asymmetric algorithms only", () =>
    Effect.gen(function*() {
      const w = yield* world
      const res = yield* get(`/realms/${w.name}/.well-known/openid-configuration`)
      expect(res.json.dpop_signing_alg_values_supported).toEqual([...Dpop.algorithms])
      expect(res.json.dpop_signing_alg_values_supported.some((alg: string) => alg === "none" || alg.startsWith("HS"))).toBe(false)
    }))
})

it.layer(TestLive.World)("RFC 9449 §4.3 at the token endpoint: every invalid proof is 400 invalid_dpop_proof (§5)", (it) => {
  /** A client-credentials request with the given `DPoP` header value. */
  const attempt = (w: World, client: RegisteredClient, value: string) => clientCredentials(w, authOf(client), { dpop: value })

  it.effect("§4.3 items 1, 2: two proofs, or not a JWT", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* machine(w)
      const k = yield* key()
      const good = yield* proof(w, k, "token")
      expectTokenError(yield* attempt(w, client, `${good}, ${yield* proof(w, k, "token")}`), invalidProof(Dpop.descriptions.multiple))
      expectTokenError(yield* attempt(w, client, "not-a-jwt"), invalidProof(Dpop.descriptions.malformed))
    }))

  it.effect("§4.3 items 4, 5, 7, 6: typ, alg none or HMAC, a private jwk, a signature by another key", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* machine(w)
      const k = yield* key()
      const now = yield* nowSeconds
      const claims = { jti: crypto.randomUUID(), htm: "POST", htu: `${w.issuer}/token`, iat: now }
      expectTokenError(yield* attempt(w, client, yield* proof(w, k, "token", { header: { typ: "JWT" } })), invalidProof(Dpop.descriptions.typ))
      expectTokenError(yield* attempt(w, client, unsigned({ typ: "dpop+jwt", alg: "none", jwk: k.publicJwk }, claims)), invalidProof(Dpop.descriptions.alg))
      const secret = crypto.getRandomValues(new Uint8Array(32))
      const hmac = yield* Effect.promise(() =>
        new Jose.CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
          .setProtectedHeader({ typ: "dpop+jwt", alg: "HS256", jwk: { kty: "oct", k: Jose.base64url.encode(secret) } } as Jose.CompactJWSHeaderParameters)
          .sign(secret))
      expectTokenError(yield* attempt(w, client, hmac), invalidProof(Dpop.descriptions.alg))
      const privateJwk = yield* Effect.promise(() => Jose.exportJWK(k.privateKey))
      expectTokenError(yield* attempt(w, client, yield* proof(w, k, "token", { header: { jwk: privateJwk } })), invalidProof(Dpop.descriptions.jwk))
      const other = yield* key()
      expectTokenError(yield* attempt(w, client, yield* proof(w, k, "token", { header: { jwk: other.publicJwk } })), invalidProof(Dpop.descriptions.signature))
    }))

  it.effect("§4.3 items 3, 8, 9, 11: jti, htm, htu (another endpoint, another realm), iat outside the window", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* machine(w)
      const k = yield* key()
      const now = yield* nowSeconds
      expectTokenError(yield* attempt(w, client, yield* proof(w, k, "token", { claims: { jti: undefined } })), invalidProof(Dpop.descriptions.jti))
      expectTokenError(yield* attempt(w, client, yield* proof(w, k, "token", { htm: "GET" })), invalidProof(Dpop.descriptions.htm))
      expectTokenError(yield* attempt(w, client, yield* proof(w, k, "userinfo", { htm: "POST" })), invalidProof(Dpop.descriptions.htu))
      expectTokenError(yield* attempt(w, client, yield* proof(w, k, "token", { htu: `${TestLive.publicUrl}/realms/other/token` })), invalidProof(Dpop.descriptions.htu))
      expectTokenError(yield* attempt(w, client, yield* proof(w, k, "token", { iat: now - 61 })), invalidProof(Dpop.descriptions.stale))
      expectTokenError(yield* attempt(w, client, yield* proof(w, k, "token", { iat: now + 31 })), invalidProof(Dpop.descriptions.stale))
      // the query is ignored (§4.3 item 9), and a proof 60 s old is still within the window
      const { access_token } = expectTokens(yield* attempt(w, client, yield* proof(w, k, "token", { htu: `${w.issuer}/token?x=1`, iat: now - 60 })), {
        scope: "read write"
      })
      expect(yield* boundKeyOf(w, access_token)).toBe(k.jkt)
    }))

  it.effect("§11.1: a proof is accepted once: the same proof again is refused, on any client", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* machine(w)
      const other = yield* machine(w)
      const k = yield* key()
      const once = yield* proof(w, k, "token")
      expectTokens(yield* attempt(w, client, once), { scope: "read write" })
      expectTokenError(yield* attempt(w, client, once), invalidProof(Dpop.descriptions.replayed))
      expectTokenError(yield* attempt(w, other, once), invalidProof(Dpop.descriptions.replayed))
    }))

  it.effect("§4.3 before client authentication: a bad proof is refused first, and spends no private_key_jwt assertion", () =>
    Effect.gen(function*() {
      const w = yield* world
      const signing = yield* clientKey
      const client = yield* machine(w, { token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [signing.publicJwk] } })
      const auth: Auth = { assertion: yield* assertion(signing, client.client_id, `${w.issuer}/token`) }
      const k = yield* key()
      const refused = yield* post(w, "token", auth, { grant_type: "client_credentials" }, { headers: dpop(yield* proof(w, k, "token", { htm: "PUT" })) })
      expectTokenError(refused, invalidProof(Dpop.descriptions.htm))
      // the assertion's jti was not remembered: the same assertion with a good proof gets its token
      const { access_token } = expectTokens(yield* post(w, "token", auth, { grant_type: "client_credentials" }, {
        headers: dpop(yield* proof(w, k, "token"))
      }), { scope: "read write" })
      expect(yield* boundKeyOf(w, access_token)).toBe(k.jkt)
      // and a bad proof beats bad credentials
      expectTokenError(
        yield* post(w, "token", { basic: [client.client_id, "wrong"] }, { grant_type: "client_credentials" }, { headers: dpop("x.y.z") }),
        invalidProof(Dpop.descriptions.malformed)
      )
    }))
})
