/**
 * RFC 9449 §8, §9 and §11.3 with `TESSERA_DPOP_NONCE_REQUIRED=1` (ADR 0017): the token endpoint answers a proof
 * without a current nonce with 400 `use_dpop_nonce` and a `DPoP-Nonce`, userinfo with 401 and a `DPoP` challenge;
 * the client retries with the nonce; every answer to a DPoP request hands out the current one.
 */
import { expect } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { Dpop } from "@tessera/protocol"
import { request, tokenEndpointHeaders } from "./support/Http.js"
import * as TestLive from "./support/TestLive.js"
import { dpop, expectTokenError, invalidProof, key, proof } from "./support/DpopFixtures.js"
import type { ProofKey } from "./support/DpopFixtures.js"
import { accessTokenLifetime, authOf, exchange, issueCode, post, registerClient, world } from "./support/TokenFixtures.js"
import type { RegisteredClient, World } from "./support/TokenFixtures.js"

const it = TestLive.file()

const NoncesRequired = TestLive.world({ dpopNonceRequired: true })

const nqchar = /^[\x21\x23-\x5B\x5D-\x7E]+$/

const useNonce = { error: "use_dpop_nonce", error_description: Dpop.descriptions.nonce_missing }
const wrongNonce = { error: "use_dpop_nonce", error_description: Dpop.descriptions.nonce_invalid }

const machine = (w: World) => registerClient(w, { grant_types: ["client_credentials"], redirect_uris: [], response_types: [] })

const clientCredentials = (w: World, client: RegisteredClient, headers: Record<string, string>) =>
  post(w, "token", authOf(client), { grant_type: "client_credentials" }, { headers })

/** A nonce challenge answered: the nonce of the 400, then a new proof carrying it. */
const challengeAndRetry = (w: World, client: RegisteredClient, k: ProofKey) =>
  Effect.gen(function*() {
    const first = yield* clientCredentials(w, client, dpop(yield* proof(w, k, "token")))
    expectTokenError(first, useNonce, "present")
    const nonce = first.headers["dpop-nonce"]!
    return { nonce, retry: yield* clientCredentials(w, client, dpop(yield* proof(w, k, "token", { nonce }))) }
  })

it.layer(NoncesRequired)("RFC 9449 §8: authorization server-provided nonce", (it) => {
  it.effect("§8: a proof without a nonce is 400 use_dpop_nonce with a DPoP-Nonce; the retry with it gets a DPoP token and the next nonce (§8.2)", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* machine(w)
      const k = yield* key()
      const { nonce, retry } = yield* challengeAndRetry(w, client, k)
      expect(nonce).toMatch(nqchar)
      expect(retry.status).toBe(200)
      expect(retry.headers["cache-control"]).toBe("no-store")
      expect(retry.headers["pragma"]).toBe("no-cache")
      expect(retry.headers["dpop-nonce"]).toBe(nonce)
      // §8: a browser-based client can read the nonce (CORS)
      expect(retry.headers["access-control-expose-headers"]).toBe(tokenEndpointHeaders["access-control-expose-headers"])
      expect(retry.json).toEqual({ access_token: expect.any(String), token_type: "DPoP", expires_in: accessTokenLifetime, scope: "read write" })
    }))

  it.effect("§8: a wrong nonce, another realm's nonce, a forged one: use_dpop_nonce, with a fresh DPoP-Nonce", () =>
    Effect.gen(function*() {
      const w = yield* world
      const other = yield* world
      const client = yield* machine(w)
      const k = yield* key()
      const { nonce } = yield* challengeAndRetry(w, client, k)
      const elsewhere = (yield* challengeAndRetry(other, yield* machine(other), k)).nonce
      expect(elsewhere).not.toBe(nonce)
      for (const bad of [elsewhere, `${nonce}x`, "0.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "garbage"]) {
        const res = yield* clientCredentials(w, client, dpop(yield* proof(w, k, "token", { nonce: bad })))
        expectTokenError(res, wrongNonce, "present")
        expect(res.headers["dpop-nonce"]).toBe(nonce)
      }
    }))

  it.effect("§8: an otherwise invalid proof is still invalid_dpop_proof, with the nonce to use next", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* machine(w)
      const k = yield* key()
      expectTokenError(yield* clientCredentials(w, client, dpop(yield* proof(w, k, "token", { htm: "GET" }))), invalidProof(Dpop.descriptions.htm), "present")
    }))

  it.effect("§8: a token request without DPoP needs no nonce, and gets none", () =>
    Effect.gen(function*() {
      const w = yield* world
      const res = yield* clientCredentials(w, yield* machine(w), {})
      expect(res.status).toBe(200)
      expect(res.json.token_type).toBe("Bearer")
      expect(res.headers["dpop-nonce"]).toBeUndefined()
    }))
})

it.layer(NoncesRequired)("RFC 9449 §9: resource server-provided nonce, at userinfo", (it) => {
  it.effect("§9: a proof without the nonce is 401 with WWW-Authenticate: DPoP error=use_dpop_nonce and a DPoP-Nonce; the retry gets the claims", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* registerClient(w, { token_endpoint_auth_method: "none" })
      const k = yield* key()
      const code = yield* issueCode(w, { clientId: client.client_id, scopes: ["openid"], resources: [] })
      const first = yield* exchange(w, authOf(client), code, {}, dpop(yield* proof(w, k, "token")))
      expectTokenError(first, useNonce, "present")
      // the code was not spent by the nonce challenge: the same code, with the nonce
      const issued = yield* exchange(w, authOf(client), code, {}, dpop(yield* proof(w, k, "token", { nonce: first.headers["dpop-nonce"]! })))
      expect(issued.status).toBe(200)
      const token = issued.json.access_token as string
      const res = yield* request("GET", `/realms/${w.name}/userinfo`, {
        headers: { authorization: `DPoP ${token}`, ...dpop(yield* proof(w, k, "userinfo", { accessToken: token })) }
      })
      expect(res.status).toBe(401)
      expect(res.headers["cache-control"]).toBe("no-store")
      expect(res.headers["www-authenticate"]).toBe(
        `DPoP realm="${w.issuer}", error="use_dpop_nonce", error_description="${Dpop.descriptions.nonce_missing}", algs="${Dpop.algorithms.join(" ")}"`
      )
      expect(res.headers["dpop-nonce"]).toMatch(nqchar)
      expect(res.json).toEqual(useNonce)
      const retry = yield* request("GET", `/realms/${w.name}/userinfo`, {
        headers: { authorization: `DPoP ${token}`, ...dpop(yield* proof(w, k, "userinfo", { accessToken: token, nonce: res.headers["dpop-nonce"]! })) }
      })
      expect(retry.status).toBe(200)
      expect(retry.headers["dpop-nonce"]).toBe(res.headers["dpop-nonce"])
      expect(retry.json).toEqual({ sub: w.sub })
    }))
})

it.effect("ADR 0017: a nonce is good for four more 60-second windows, then use_dpop_nonce hands out the current one", () =>
  Effect.gen(function*() {
    const w = yield* world
    const client = yield* machine(w)
    const k = yield* key()
    const { nonce, retry } = yield* challengeAndRetry(w, client, k)
    expect(retry.status).toBe(200)
    yield* TestClock.adjust("4 minutes")
    const later = yield* clientCredentials(w, client, dpop(yield* proof(w, k, "token", { nonce })))
    expect(later.status).toBe(200)
    expect(later.headers["dpop-nonce"]).not.toBe(nonce)
    yield* TestClock.adjust("1 minute")
    const stale = yield* clientCredentials(w, client, dpop(yield* proof(w, k, "token", { nonce })))
    expectTokenError(stale, wrongNonce, "present")
    expect(stale.headers["dpop-nonce"]).not.toBe(nonce)
    const fresh = yield* clientCredentials(w, client, dpop(yield* proof(w, k, "token", { nonce: stale.headers["dpop-nonce"]! })))
    expect(fresh.status).toBe(200)
  }).pipe(Effect.provide(NoncesRequired)))
