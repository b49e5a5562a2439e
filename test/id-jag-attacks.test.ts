/**
 * Attacks on ID-JAG (draft-ietf-oauth-identity-assertion-authz-grant, CONTRACT §5 "ID-JAG", ADR 0047, ADR 0048), both
 * sides: the realm as the Resource Authorization Server (§4.4 the JWT-bearer grant) and as the enterprise IdP (§4.3
 * token exchange), and who may set `id_jag_targets` (RFC 7591 §2, CONTRACT §3). Each test is the attacker's request
 * and the whole wire answer it gets.
 */
import { expect } from "@effect/vitest"
import { Clock, Effect } from "effect"
import * as Jose from "jose"
import { ClientIdMetadataDocument } from "@tessera/protocol"
import { admin, request as http } from "./support/Http.js"
import type { WireResponse } from "./support/Http.js"
import * as TestLive from "./support/TestLive.js"
import {
  accessTokenLifetime, auditOf, authOf, clientKey, exchange, expectTokenError, expectTokenResponse, invalidGrant, issueCode, post,
  registerClient, tokenExchangeGrant, world
} from "./support/TokenFixtures.js"
import type { ClientKey, RegisteredClient, World } from "./support/TokenFixtures.js"

const it = TestLive.file()

const jwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"
const idTokenType = "urn:ietf:params:oauth:token-type:id_token"
const idJagType = "urn:ietf:params:oauth:token-type:id-jag"
const unverified = invalidGrant("the assertion is not a JWT signed by a trusted issuer of the realm")
const replayed = invalidGrant("the assertion was already used ('jti' seen before)")

interface Idp {
  readonly issuer: string
  readonly key: ClientKey
}

/** CONTRACT §3: a trusted issuer with `id_jag` and `provision_users`, its keys inline. */
const trust = (w: World, issuer: string, jwks: unknown, flags: { readonly id_jag: boolean } = { id_jag: true }) =>
  Effect.gen(function*() {
    const res = yield* admin.post(`/admin/realms/${w.name}/trusted-issuers`, { issuer, jwks, id_jag: flags.id_jag, provision_users: true })
    if (res.status !== 201) return yield* Effect.dieMessage(`trusted issuer: ${res.status} ${res.text}`)
    return res.json.id as string
  })

const idpFor = (w: World, issuer = "https://idp.example/acme") =>
  Effect.gen(function*() {
    const key = yield* clientKey
    yield* trust(w, issuer, { keys: [key.publicJwk] })
    return { issuer, key } satisfies Idp
  })

/** §3: the ID-JAG's claims for `client` at realm `w`, now; `undefined` removes one. */
const claimsOf = (w: World, idp: Idp, client: RegisteredClient, claims: Record<string, unknown>) =>
  Effect.map(Clock.currentTimeMillis, (ms) => {
    const now = Math.floor(ms / 1000)
    return Object.fromEntries(Object.entries({
      iss: idp.issuer, sub: "U019488227", aud: w.issuer, client_id: client.client_id, jti: crypto.randomUUID(), iat: now, exp: now + 300,
      resource: w.resource, scope: "read", ...claims
    }).filter(([, value]) => value !== undefined))
  })

const idJagOf = (w: World, idp: Idp, client: RegisteredClient, claims: Record<string, unknown> = {}, typ = "oauth-id-jag+jwt") =>
  Effect.gen(function*() {
    const payload = yield* claimsOf(w, idp, client, claims)
    return yield* Effect.promise(() => new Jose.SignJWT(payload).setProtectedHeader({ alg: "ES256", kid: idp.key.kid, typ }).sign(idp.key.privateKey))
  })

const segment = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")

const bearerClient = (w: World) => registerClient(w, { grant_types: [jwtBearer], redirect_uris: [], response_types: [] })

/** §4.4: the access token request with an ID-JAG. */
const present = (w: World, client: RegisteredClient, assertion: string) =>
  post(w, "token", authOf(client), [["grant_type", jwtBearer], ["assertion", assertion]])

/** §4.4.2: the access token for the linked user, `scope`, no refresh token. */
const expectToken = (res: WireResponse, scope = "read") =>
  expectTokenResponse(res, { access_token: expect.any(String), token_type: "Bearer", expires_in: accessTokenLifetime, scope })

const setup = Effect.gen(function*() {
  const w = yield* world
  const idp = yield* idpFor(w)
  const client = yield* bearerClient(w)
  return { w, idp, client }
})

/** The realm's token.issued events: nothing issued after a refusal. */
const issued = (w: World) => auditOf(w, "token.issued")

it.layer(TestLive.World)("ID-JAG attacks at the Resource Authorization Server (draft §4.4.1, RFC 7523 §3, RFC 8725)", (it) => {
  it.effect("RFC 8725 §2.1, §3.1: alg none, and HS256 keyed with the issuer's public key, are not signed by the trusted issuer", () =>
    Effect.gen(function*() {
      const { w, idp, client } = yield* setup
      const payload = yield* claimsOf(w, idp, client, {})
      const none = `${segment({ alg: "none", typ: "oauth-id-jag+jwt", kid: idp.key.kid })}.${segment(payload)}`
      // RFC 7515 §7.1: no signature is no JWS; with one appended, alg none is still not the issuer's signature
      expectTokenError(yield* present(w, client, `${none}.`), {
        error: "invalid_request", error_description: "'assertion' must be a JWT in JWS compact serialization"
      })
      expectTokenError(yield* present(w, client, `${none}.${Buffer.from("forged").toString("base64url")}`), unverified)
      // the classic key confusion: the public key (as its JWK JSON, and as SPKI PEM) used as the HMAC secret
      const publicKey = yield* Effect.promise(() => Jose.importJWK(idp.key.publicJwk, "ES256"))
      const pem = yield* Effect.promise(() => Jose.exportSPKI(publicKey as CryptoKey))
      for (const secret of [JSON.stringify(idp.key.publicJwk), pem]) {
        const hs = yield* Effect.promise(() =>
          new Jose.SignJWT(payload).setProtectedHeader({ alg: "HS256", kid: idp.key.kid, typ: "oauth-id-jag+jwt" })
            .sign(new TextEncoder().encode(secret)))
        expectTokenError(yield* present(w, client, hs), unverified)
      }
      expect(yield* issued(w)).toEqual([])
      // the same claims signed by the issuer's key are taken (the refusals above were for the signature)
      expectToken(yield* present(w, client, yield* idJagOf(w, idp, client, { jti: payload["jti"] })))
    }))

  it.effect("RFC 7515 §4.1.9, RFC 8725 §3.11: typ is compared without case and with application/ optional: each variant is an ID-JAG", () =>
    Effect.gen(function*() {
      const { w, idp, client } = yield* setup
      // an ID-JAG however spelt: the draft's rules apply (an issuer without id_jag refuses it, not taken as a plain JWT)
      for (const typ of ["OAUTH-ID-JAG+JWT", "application/oauth-id-jag+jwt", "Application/OAuth-ID-JAG+JWT"]) {
        expectToken(yield* present(w, client, yield* idJagOf(w, idp, client, {}, typ)))
      }
      const plainIdp = { issuer: "https://plain-idp.example", key: yield* clientKey }
      const notTrusted = invalidGrant("the trusted issuer is not registered for ID-JAGs ('id_jag')")
      const plainW = yield* world
      yield* trust(plainW, plainIdp.issuer, { keys: [plainIdp.key.publicJwk] }, { id_jag: false })
      const plainClient = yield* bearerClient(plainW)
      for (const typ of ["OAUTH-ID-JAG+JWT", "application/oauth-id-jag+jwt"]) {
        expectTokenError(yield* present(plainW, plainClient, yield* idJagOf(plainW, plainIdp, plainClient, {}, typ)), notTrusted)
      }
      // a near miss is no ID-JAG: the RFC 7523 rules, where the person at the IdP is no user of the realm
      expectTokenError(
        yield* present(w, client, yield* idJagOf(w, idp, client, {}, "oauth-id-jag+jwt2")),
        invalidGrant("the assertion's 'sub' is neither a user of the realm nor the client")
      )
    }))

  it.effect("§4.4.1: aud an array holding the issuer and another audience is refused (one value, the issuer)", () =>
    Effect.gen(function*() {
      const { w, idp, client } = yield* setup
      const wrong = invalidGrant("the ID-JAG's 'aud' must be the issuer")
      for (const aud of [[w.issuer, "https://other-as.example"], ["https://other-as.example", w.issuer], [w.issuer, w.issuer]]) {
        expectTokenError(yield* present(w, client, yield* idJagOf(w, idp, client, { aud })), wrong)
      }
      expect(yield* issued(w)).toEqual([])
    }))

  it.effect("§4.4.1: an ID-JAG naming another client of the realm is refused to its presenter, and not spent by the refusal", () =>
    Effect.gen(function*() {
      const { w, idp, client } = yield* setup
      const thief = yield* bearerClient(w)
      const jag = yield* idJagOf(w, idp, client)
      expectTokenError(yield* present(w, thief, jag), invalidGrant("the ID-JAG's 'client_id' must be the authenticated client"))
      expectToken(yield* present(w, client, jag))
    }))

  it.effect("RFC 7523 §3 item 1: an ID-JAG minted by realm A (token exchange) is refused at realm B, which does not trust A", () =>
    Effect.gen(function*() {
      const a = yield* world
      const b = yield* world
      const atB = yield* bearerClient(b)
      const jagClient = yield* registerClient(a, {
        grant_types: ["authorization_code", tokenExchangeGrant], id_jag_targets: [{ audience: b.issuer, client_id: atB.client_id }]
      })
      const code = yield* issueCode(a, { clientId: jagClient.client_id, scopes: ["openid", "email"] })
      const idToken = (yield* exchange(a, authOf(jagClient), code)).json.id_token as string
      const minted = yield* post(a, "token", authOf(jagClient), [
        ["grant_type", tokenExchangeGrant], ["requested_token_type", idJagType], ["subject_token", idToken],
        ["subject_token_type", idTokenType], ["audience", b.issuer], ["resource", b.resource], ["scope", "read"]
      ])
      expect(minted.status).toBe(200)
      const jag = minted.json.access_token as string
      // B trusts nobody: one text, that does not tell which issuers are trusted
      expectTokenError(yield* present(b, atB, jag), unverified)
      // B trusts A's issuer for RFC 7523 only: still no ID-JAG
      const jwks = (yield* http("GET", `/realms/${a.name}/jwks`)).json
      const trusted = yield* trust(b, a.issuer, jwks, { id_jag: false })
      expectTokenError(yield* present(b, atB, jag), invalidGrant("the trusted issuer is not registered for ID-JAGs ('id_jag')"))
      expect(yield* issued(b)).toEqual([])
      // and once B trusts A for ID-JAGs, the very same ID-JAG is taken (the refusals were about trust)
      expect((yield* admin.patch(`/admin/realms/${b.name}/trusted-issuers/${trusted}`, { id_jag: true })).status).toBe(200)
      expectToken(yield* present(b, atB, jag))
    }))

  it.effect("RFC 7523 §3 item 7: a jti is spent per realm: the same jti at two realms (each its own aud) is taken once at each", () =>
    Effect.gen(function*() {
      const b = yield* world
      const c = yield* world
      const key = yield* clientKey
      const idp = { issuer: "https://idp.example/shared", key }
      yield* trust(b, idp.issuer, { keys: [key.publicJwk] })
      yield* trust(c, idp.issuer, { keys: [key.publicJwk] })
      const [atB, atC] = [yield* bearerClient(b), yield* bearerClient(c)]
      const jti = crypto.randomUUID()
      const forB = yield* idJagOf(b, idp, atB, { jti })
      const forC = yield* idJagOf(c, idp, atC, { jti })
      expectToken(yield* present(b, atB, forB))
      expectToken(yield* present(c, atC, forC))
      expectTokenError(yield* present(b, atB, forB), replayed)
      expectTokenError(yield* present(c, atC, forC), replayed)
      // the ID-JAG for B is not a key to C: its aud says B
      expectTokenError(yield* present(c, atC, yield* idJagOf(b, idp, atC)), invalidGrant("the ID-JAG's 'aud' must be the issuer"))
    }))

  it.effect("CONTRACT §2: a sub with NUL is malformed; OpenID Connect Core §2: a sub over 255 characters is refused; neither links", () =>
    Effect.gen(function*() {
      const { w, idp, client } = yield* setup
      expectTokenError(yield* present(w, client, yield* idJagOf(w, idp, client, { sub: "U01\u0000admin" })), unverified)
      // 10 000 characters: the whole assertion is over the form's 4096 (CONTRACT §2)
      expectTokenError(yield* present(w, client, yield* idJagOf(w, idp, client, { sub: "x".repeat(10_000) })), {
        error: "invalid_request", error_description: "'assertion' is too long"
      })
      // the longest that fits the form, random so it does not compress: past a PostgreSQL b-tree entry (2704 bytes)
      const long = Buffer.from(crypto.getRandomValues(new Uint8Array(2000))).toString("base64url")
      const tooLong = invalidGrant("the ID-JAG's 'sub' must be 1 to 255 characters (OpenID Connect Core §2)")
      const lean = { sub: long, resource: undefined, jti: "j" }
      const longJag = yield* idJagOf(w, idp, client, lean)
      expect(longJag.length).toBeLessThanOrEqual(4096)
      expectTokenError(yield* present(w, client, longJag), tooLong)
      expectTokenError(yield* present(w, client, yield* idJagOf(w, idp, client, { sub: "x".repeat(256) })), tooLong)
      expect(yield* auditOf(w, "user.linked")).toEqual([])
      expect(yield* issued(w)).toEqual([])
      // 255 characters is a subject
      expectToken(yield* present(w, client, yield* idJagOf(w, idp, client, { sub: "x".repeat(255) })))
      expect(yield* auditOf(w, "user.linked")).toHaveLength(1)
    }))

  it.effect("CONTRACT §2, ADR 0047: a jti over 255 characters is refused before the replay store; 255 is taken", () =>
    Effect.gen(function*() {
      const { w, idp, client } = yield* setup
      // random, so it does not compress: past a PostgreSQL b-tree entry (2704 bytes), and within the form's 4096
      const long = Buffer.from(crypto.getRandomValues(new Uint8Array(2000))).toString("base64url")
      const longJag = yield* idJagOf(w, idp, client, { jti: long, resource: undefined, sub: "u" })
      expect(longJag.length).toBeLessThanOrEqual(4096)
      const tooLong = invalidGrant("the assertion's 'jti' must be at most 255 characters")
      expectTokenError(yield* present(w, client, longJag), tooLong)
      expectTokenError(yield* present(w, client, yield* idJagOf(w, idp, client, { jti: "j".repeat(256) })), tooLong)
      expect(yield* issued(w)).toEqual([])
      expectToken(yield* present(w, client, yield* idJagOf(w, idp, client, { jti: "j".repeat(255) })))
    }))

  it.effect("RFC 8707 §2: a resource the client may not have, in the ID-JAG or the request, is invalid_target; the ID-JAG not spent", () =>
    Effect.gen(function*() {
      const { w, idp, client } = yield* setup
      const notAllowed = { error: "invalid_target", error_description: expect.any(String) }
      const jag = yield* idJagOf(w, idp, client, { resource: [w.otherResource, w.resource] })
      const res = yield* post(w, "token", authOf(client), [["grant_type", jwtBearer], ["assertion", jag], ["resource", w.otherResource]])
      expectTokenError(res, notAllowed)
      expectTokenError(yield* present(w, client, yield* idJagOf(w, idp, client, { resource: w.otherResource })), notAllowed)
      expect(yield* issued(w)).toEqual([])
      // the first ID-JAG, asked for the resource the client may have, is still good
      const ok = yield* post(w, "token", authOf(client), [["grant_type", jwtBearer], ["assertion", jag], ["resource", w.resource]])
      expectToken(ok)
    }))

  it.effect("RFC 7523 §3 item 7: eight concurrent presentations of one ID-JAG yield exactly one token", () =>
    Effect.gen(function*() {
      const { w, idp, client } = yield* setup
      const jag = yield* idJagOf(w, idp, client)
      const answers = yield* Effect.all(Array.from({ length: 8 }, () => present(w, client, jag)), { concurrency: 8 })
      const ok = answers.filter((res) => res.status === 200)
      expect(ok).toHaveLength(1)
      expectToken(ok[0]!)
      for (const res of answers.filter((r) => r.status !== 200)) expectTokenError(res, replayed)
      expect(yield* issued(w)).toHaveLength(1)
      expect(yield* auditOf(w, "user.linked")).toHaveLength(1)
    }))
})

/** The IdP side: a client allowed one target. */
const target = "https://mcp-as.example/realms/mcp"

const jagRequest = (w: World, client: RegisteredClient, subjectToken: string, extra: ReadonlyArray<readonly [string, string]>) =>
  post(w, "token", authOf(client), [
    ["grant_type", tokenExchangeGrant], ["requested_token_type", idJagType], ["subject_token", subjectToken],
    ["subject_token_type", idTokenType], ...extra
  ])

const idpClient = (w: World) =>
  registerClient(w, { grant_types: ["authorization_code", tokenExchangeGrant], id_jag_targets: [{ audience: target, client_id: "there" }] })

const idTokenOf = (w: World, client: RegisteredClient) =>
  Effect.gen(function*() {
    const code = yield* issueCode(w, { clientId: client.client_id, scopes: ["openid"] })
    const res = yield* exchange(w, authOf(client), code)
    return { idToken: res.json.id_token as string, accessToken: res.json.access_token as string }
  })

it.layer(TestLive.World)("ID-JAG attacks at the enterprise IdP (draft §4.3.3, RFC 8693 §2.2.2, RFC 7591 §2)", (it) => {
  it.effect("§4.3.3: client Y exchanging client X's ID token, or an access token typed as an ID token, is invalid_grant", () =>
    Effect.gen(function*() {
      const w = yield* world
      const x = yield* idpClient(w)
      const y = yield* idpClient(w)
      const { accessToken, idToken } = yield* idTokenOf(w, x)
      expectTokenError(yield* jagRequest(w, y, idToken, [["audience", target]]), invalidGrant("'subject_token' was not issued to this client"))
      expectTokenError(yield* jagRequest(w, x, accessToken, [["audience", target]]), invalidGrant("'subject_token' is not an ID token of this realm"))
      expect(yield* auditOf(w, "id_jag.issued")).toEqual([])
      expect((yield* jagRequest(w, x, idToken, [["audience", target]])).status).toBe(200)
    }))

  it.effect("RFC 8693 §2.2.2, RFC 3986 §6.2.1: an audience differing from the target by a trailing slash or by case is invalid_target", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* idpClient(w)
      const { idToken } = yield* idTokenOf(w, client)
      const notTarget = { error: "invalid_target", error_description: "the 'audience' is not one of the client's 'id_jag_targets'" }
      for (const audience of [`${target}/`, target.toUpperCase(), "https://MCP-AS.example/realms/mcp", "https://mcp-as.example/realms/MCP", `${target}/.`]) {
        expectTokenError(yield* jagRequest(w, client, idToken, [["audience", audience]]), notTarget)
      }
      expect(yield* auditOf(w, "id_jag.issued")).toEqual([])
    }))

  it.effect("RFC 7591 §2, CONTRACT §3: a dynamically registered client may not choose its id_jag_targets: invalid_client_metadata", () =>
    Effect.gen(function*() {
      const w = yield* world
      expect((yield* admin.patch(`/admin/realms/${w.name}`, { dynamic_registration: true })).status).toBe(200)
      const res = yield* http("POST", `/realms/${w.name}/register`, {
        json: {
          application_type: "native", client_name: "Mallory", redirect_uris: ["http://127.0.0.1:53682/callback"],
          grant_types: ["authorization_code"], token_endpoint_auth_method: "none",
          id_jag_targets: [{ audience: target, client_id: "victim-app" }]
        }
      })
      expect({ status: res.status, json: res.json, cache: res.headers["cache-control"] }).toEqual({
        status: 400,
        json: { error: "invalid_client_metadata", error_description: "'id_jag_targets' is set by the realm's owner" },
        cache: "no-store"
      })
      const created = (yield* auditOf(w, "client.created")).filter((e) => (e["actor"] as { type: string }).type !== "owner")
      expect(created).toEqual([])
    }))

  it.effect("CIMD draft -00, CONTRACT §3: a client ID metadata document's id_jag_targets is ignored, as its resources are", () =>
    Effect.sync(() => {
      const url = "https://client.example/oauth/mallory.json"
      const doc = {
        client_id: url, client_name: "Mallory", redirect_uris: ["https://client.example/cb"], token_endpoint_auth_method: "none",
        id_jag_targets: [{ audience: target, client_id: "victim-app" }]
      }
      const validated = ClientIdMetadataDocument.validate(url, doc)
      expect(validated._tag).toBe("Right")
      expect(validated._tag === "Right" ? validated.right.idJagTargets : "refused").toBeUndefined()
    }))
})
