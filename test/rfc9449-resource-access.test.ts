/**
 * RFC 9449 §6.2, §7 on the resource side: userinfo takes a DPoP-bound token with the DPoP scheme and a proof of its key
 * (`ath`, `htm`, `htu`), refuses it as a bearer token and every bad proof with a `WWW-Authenticate: DPoP` challenge
 * naming `algs`; introspection reports `cnf`; and a resource server built on packages/protocol alone does the same.
 */
import { expect } from "@effect/vitest"
import { Effect } from "effect"
import { AccessToken, Dpop } from "@tessera/protocol"
import type { Jwks } from "@tessera/protocol"
import { get, request } from "./support/Http.js"
import type { WireResponse } from "./support/Http.js"
import * as TestLive from "./support/TestLive.js"
import { dpop, endpoint, key, proof } from "./support/DpopFixtures.js"
import type { ProofKey } from "./support/DpopFixtures.js"
import { authOf, exchange, introspect, issueCode, nowSeconds, registerClient, world } from "./support/TokenFixtures.js"
import type { World } from "./support/TokenFixtures.js"

const it = TestLive.file()

const algs = Dpop.algorithms.join(" ")

/** A person's DPoP-bound access token for `scopes` (no resource: for userinfo when openid is asked). */
const boundToken = (w: World, k: ProofKey, scopes: ReadonlyArray<string> = ["openid", "profile"], resources: ReadonlyArray<string> = []) =>
  Effect.gen(function*() {
    const client = yield* registerClient(w, { token_endpoint_auth_method: "none" })
    const code = yield* issueCode(w, { clientId: client.client_id, scopes, resources })
    const res = yield* exchange(w, authOf(client), code, resources.length > 0 ? { resource: resources[0]! } : {}, dpop(yield* proof(w, k, "token")))
    expect(res.status).toBe(200)
    expect(res.json.token_type).toBe("DPoP")
    return { token: res.json.access_token as string, client }
  })

const userinfo = (w: World, headers: Record<string, string>, method: "GET" | "POST" = "GET") =>
  request(method, `/realms/${w.name}/userinfo`, { headers })

/** RFC 9449 §7.1 / RFC 6750 §3: 401, no-store, the challenge and the body, whole. */
const expectRefused = (res: WireResponse, challenge: string, body: unknown, status = 401) => {
  expect(res.status).toBe(status)
  expect(res.headers["cache-control"]).toBe("no-store")
  expect(res.headers["www-authenticate"]).toBe(challenge)
  expect(res.headers["dpop-nonce"]).toBeUndefined()
  expect(res.json).toEqual(body)
}

/** The DPoP challenge with an error (§7.1). */
const dpopChallenge = (w: World, error: string, description: string) =>
  `DPoP realm="${w.issuer}", error="${error}", error_description="${description}", algs="${algs}"`

it.layer(TestLive.World)("RFC 9449 §7: DPoP-bound tokens at userinfo", (it) => {
  it.effect("§7.1: the DPoP scheme with a proof of the token's key (htm, htu, ath) gets the claims", () =>
    Effect.gen(function*() {
      const w = yield* world
      const k = yield* key()
      const { token } = yield* boundToken(w, k)
      const res = yield* userinfo(w, { authorization: `DPoP ${token}`, ...dpop(yield* proof(w, k, "userinfo", { accessToken: token })) })
      expect(res.status).toBe(200)
      expect(res.headers["cache-control"]).toBe("no-store")
      expect(res.headers["dpop-nonce"]).toBeUndefined()
      expect(res.json).toEqual({ sub: w.sub, preferred_username: "ada", name: "Ada Lovelace" })
      // POST works the same, with htm POST
      const post = yield* userinfo(w, { authorization: `DPoP ${token}`, ...dpop(yield* proof(w, k, "userinfo", { accessToken: token, htm: "POST" })) }, "POST")
      expect(post.status).toBe(200)
    }))

  it.effect("§7.2: a DPoP-bound token presented as a bearer token is refused: the Bearer challenge carries the error", () =>
    Effect.gen(function*() {
      const w = yield* world
      const k = yield* key()
      const { token } = yield* boundToken(w, k)
      const description = Dpop.bindingDescriptions.bearer_bound
      expectRefused(
        yield* userinfo(w, { authorization: `Bearer ${token}` }),
        `Bearer realm="${w.issuer}", error="invalid_token", error_description="${description}", DPoP realm="${w.issuer}", algs="${algs}"`,
        { error: "invalid_token", error_description: description }
      )
      // nor with a proof alongside, nor in the form body (RFC 6750 §2.2)
      expect((yield* userinfo(w, { authorization: `Bearer ${token}`, ...dpop(yield* proof(w, k, "userinfo", { accessToken: token })) })).json)
        .toEqual({ error: "invalid_token", error_description: description })
      const body = yield* request("POST", `/realms/${w.name}/userinfo`, { body: `access_token=${token}`, contentType: "application/x-www-form-urlencoded" })
      expect(body.status).toBe(401)
      expect(body.json).toEqual({ error: "invalid_token", error_description: description })
    }))

  it.effect("§7.1: a stolen token replayed with the thief's own key is invalid_token (Invalid DPoP key binding); without a proof, invalid_dpop_proof", () =>
    Effect.gen(function*() {
      const w = yield* world
      const k = yield* key()
      const { token } = yield* boundToken(w, k)
      const thief = yield* key()
      expectRefused(
        yield* userinfo(w, { authorization: `DPoP ${token}`, ...dpop(yield* proof(w, thief, "userinfo", { accessToken: token })) }),
        dpopChallenge(w, "invalid_token", "Invalid DPoP key binding"),
        { error: "invalid_token", error_description: "Invalid DPoP key binding" }
      )
      expectRefused(
        yield* userinfo(w, { authorization: `DPoP ${token}` }),
        dpopChallenge(w, "invalid_dpop_proof", Dpop.descriptions.missing),
        { error: "invalid_dpop_proof", error_description: Dpop.descriptions.missing }
      )
    }))

  it.effect("§4.3 at userinfo: no ath, another token's ath, the token endpoint's htu, POST for GET, a replayed proof", () =>
    Effect.gen(function*() {
      const w = yield* world
      const k = yield* key()
      const { token } = yield* boundToken(w, k)
      const refused = (reason: Dpop.Reason) => [dpopChallenge(w, "invalid_dpop_proof", Dpop.descriptions[reason]), {
        error: "invalid_dpop_proof", error_description: Dpop.descriptions[reason]
      }] as const
      const attempt = (p: string) => userinfo(w, { authorization: `DPoP ${token}`, ...dpop(p) })
      expectRefused(yield* attempt(yield* proof(w, k, "userinfo")), ...refused("ath"))
      expectRefused(yield* attempt(yield* proof(w, k, "userinfo", { accessToken: "another" })), ...refused("ath"))
      expectRefused(yield* attempt(yield* proof(w, k, "token", { accessToken: token, htm: "GET" })), ...refused("htu"))
      expectRefused(yield* attempt(yield* proof(w, k, "userinfo", { accessToken: token, htm: "POST" })), ...refused("htm"))
      expectRefused(yield* attempt(yield* proof(w, k, "userinfo", { accessToken: token, iat: (yield* nowSeconds) - 61 })), ...refused("stale"))
      const once = yield* proof(w, k, "userinfo", { accessToken: token })
      expect((yield* attempt(once)).status).toBe(200)
      expectRefused(yield* attempt(once), ...refused("replayed"))
    }))

  it.effect("§7.1: a bearer token sent with the DPoP scheme is invalid_token; no credentials is a challenge of both schemes", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* registerClient(w, { token_endpoint_auth_method: "none" })
      const code = yield* issueCode(w, { clientId: client.client_id, scopes: ["openid"], resources: [] })
      const bearer = (yield* exchange(w, authOf(client), code)).json.access_token as string
      const k = yield* key()
      const description = Dpop.bindingDescriptions.not_bound
      expectRefused(
        yield* userinfo(w, { authorization: `DPoP ${bearer}`, ...dpop(yield* proof(w, k, "userinfo", { accessToken: bearer })) }),
        dpopChallenge(w, "invalid_token", description),
        { error: "invalid_token", error_description: description }
      )
      expectRefused(yield* userinfo(w, {}), `Bearer realm="${w.issuer}", DPoP realm="${w.issuer}", algs="${algs}"`, {
        error: "invalid_token", error_description: "an access token is required"
      })
      // an invalid token with the DPoP scheme: the DPoP challenge carries the error
      expectRefused(
        yield* userinfo(w, { authorization: "DPoP not.a.token", ...dpop(yield* proof(w, k, "userinfo", { accessToken: "not.a.token" })) }),
        dpopChallenge(w, "invalid_token", "the access token is invalid, expired, or not for this endpoint"),
        { error: "invalid_token", error_description: "the access token is invalid, expired, or not for this endpoint" }
      )
    }))
})

it.layer(TestLive.World)("RFC 9449 §6.2: introspection of a DPoP-bound token", (it) => {
  it.effect("§6.2: cnf.jkt as a top-level member and token_type DPoP; no proof is asked of the resource server", () =>
    Effect.gen(function*() {
      const w = yield* world
      const k = yield* key()
      const { token, client } = yield* boundToken(w, k, ["read"], [w.resource])
      const rs = yield* registerClient(w)
      const res = yield* introspect(w, authOf(rs), token)
      expect(res.status).toBe(200)
      expect(res.headers["cache-control"]).toBe("no-store")
      const now = yield* nowSeconds
      expect(res.json).toEqual({
        active: true, iss: w.issuer, sub: w.sub, aud: w.resource, client_id: client.client_id, scope: "read", exp: now + 900, iat: now,
        jti: expect.any(String), token_type: "DPoP", auth_time: now, acr: "urn:tessera:acr:password", cnf: { jkt: k.jkt }
      })
    }))
})

/**
 * A resource server built on packages/protocol alone (RFC 9068 §4 with `AccessToken.verifyAccessToken`, RFC 9449 §7
 * with `Dpop.verifyPresentation`), answering like `Dpop.resourceError` says, with an in-memory replay cache.
 */
const resourceServer = (w: World, jwks: Jwks.Jwks) => {
  const seen = new Set<string>()
  const uri = `${w.resource}/things`
  return (headers: Record<string, string>) =>
    Effect.gen(function*() {
      const credentials = Dpop.credentials(headers["authorization"] ?? "")
      if (credentials === undefined) return { status: 401, challenge: Dpop.challenge({}), body: {} }
      const claims = yield* AccessToken.verifyAccessToken(credentials.token, { issuer: w.issuer, audience: w.resource, jwks })
      yield* Dpop.verifyPresentation({
        credentials, claims, proof: headers["dpop"], method: "GET", uri, now: yield* nowSeconds,
        unique: (p) => Effect.sync(() => !seen.has(`${p.htu} ${p.jti}`) && seen.add(`${p.htu} ${p.jti}`) !== undefined)
      })
      return { status: 200, challenge: undefined, body: { sub: claims.sub } }
    }).pipe(
      Effect.catchTags({
        AccessTokenRejected: () => Effect.succeed({ status: 401, challenge: "Bearer error=\"invalid_token\"", body: {} }),
        ProofRejected: (e) => Effect.succeed(refusal(Dpop.resourceError(e))),
        BindingRejected: (e) => Effect.succeed(refusal(Dpop.resourceError(e)))
      })
    )
}

const refusal = (e: ReturnType<typeof Dpop.resourceError>) => ({ status: e.httpStatus, challenge: e.wwwAuthenticate, body: e.body })

it.layer(TestLive.World)("RFC 9449 §7: a resource server built on packages/protocol", (it) => {
  it.effect("§7.1: the key holder gets in; a stolen token is refused as Bearer (§7.2) and with another key (§7.1); a replayed proof too (§11.1)", () =>
    Effect.gen(function*() {
      const w = yield* world
      const k = yield* key()
      const { token } = yield* boundToken(w, k, ["read"], [w.resource])
      const rs = resourceServer(w, (yield* get(`/realms/${w.name}/jwks`)).json)
      const htu = `${w.resource}/things`
      const good = yield* proof(w, k, "userinfo", { htu, accessToken: token })
      expect(yield* rs({ authorization: `DPoP ${token}`, dpop: good })).toEqual({ status: 200, challenge: undefined, body: { sub: w.sub } })
      expect(yield* rs({ authorization: `DPoP ${token}`, dpop: good })).toEqual({
        status: 401,
        challenge: `DPoP error="invalid_dpop_proof", error_description="${Dpop.descriptions.replayed}", algs="${algs}"`,
        body: { error: "invalid_dpop_proof", error_description: Dpop.descriptions.replayed }
      })
      expect(yield* rs({ authorization: `Bearer ${token}` })).toEqual({
        status: 401,
        challenge: `Bearer error="invalid_token", error_description="${Dpop.bindingDescriptions.bearer_bound}", DPoP algs="${algs}"`,
        body: { error: "invalid_token", error_description: Dpop.bindingDescriptions.bearer_bound }
      })
      const thief = yield* key()
      expect(yield* rs({ authorization: `DPoP ${token}`, dpop: yield* proof(w, thief, "userinfo", { htu, accessToken: token }) })).toEqual({
        status: 401,
        challenge: `DPoP error="invalid_token", error_description="Invalid DPoP key binding", algs="${algs}"`,
        body: { error: "invalid_token", error_description: "Invalid DPoP key binding" }
      })
      // a proof made for userinfo is not good here (htu)
      expect((yield* rs({ authorization: `DPoP ${token}`, dpop: yield* proof(w, k, "userinfo", { accessToken: token }) })).body)
        .toEqual({ error: "invalid_dpop_proof", error_description: Dpop.descriptions.htu })
      expect(endpoint(w, "userinfo")).toBe(`${w.issuer}/userinfo`)
    }))
})
