/**
 * draft-ietf-oauth-identity-assertion-authz-grant as the Resource Authorization Server (CONTRACT §5 ID-JAG, issue 16
 * part B): §4.4 the access token request with an ID-JAG, §4.4.1 its processing rules (after RFC 7521 §5.2 and RFC 7523
 * §3), §3 its claims, §7.1 confidential clients only; the person linked to a realm user per ADR 0047.
 */
import { expect } from "@effect/vitest"
import { Clock, Effect } from "effect"
import * as Jose from "jose"
import { admin, request as http } from "./support/Http.js"
import type { WireResponse } from "./support/Http.js"
import * as TestLive from "./support/TestLive.js"
import { adminToken } from "./support/TestLive.js"
import {
  accessTokenLifetime, auditOf, authOf, clientKey, expectTokenError as expectError, expectTokenResponse, invalidGrant, nowSeconds, post,
  registerClient, userAgent, verify, world
} from "./support/TokenFixtures.js"
import type { ClientKey, RegisteredClient, World } from "./support/TokenFixtures.js"

const it = TestLive.file()

const jwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"

interface Idp {
  readonly issuer: string
  readonly key: ClientKey
  readonly id: string
}

/** CONTRACT §3: a trusted issuer registered with `id_jag` (and `provision_users` as asked), keys inline. */
const idJagIssuer = (w: World, flags: { readonly id_jag?: boolean; readonly provision_users?: boolean } = {}, issuer = `https://idp.example/${w.name}`) =>
  Effect.gen(function*() {
    const key = yield* clientKey
    const res = yield* admin.post(`/admin/realms/${w.name}/trusted-issuers`, {
      issuer, jwks: { keys: [key.publicJwk] }, id_jag: flags.id_jag ?? true, provision_users: flags.provision_users ?? true
    })
    if (res.status !== 201) return yield* Effect.dieMessage(`trusted issuer: ${res.status} ${res.text}`)
    return { issuer, key, id: res.json.id as string } satisfies Idp
  })

/** §3: an ID-JAG at the Clock's time for `client` at the realm, typed `oauth-id-jag+jwt`; undefined removes a claim. */
const idJagOf = (w: World, idp: Idp, client: RegisteredClient, claims: Record<string, unknown> = {}, typ = "oauth-id-jag+jwt") =>
  Effect.gen(function*() {
    const now = Math.floor((yield* Clock.currentTimeMillis) / 1000)
    const payload = Object.fromEntries(Object.entries({
      iss: idp.issuer, sub: "U019488227", aud: w.issuer, client_id: client.client_id, jti: crypto.randomUUID(), iat: now, exp: now + 300,
      resource: w.resource, scope: "read write", email: "grace@acme.example", name: "Grace Hopper", ...claims
    }).filter(([, value]) => value !== undefined))
    return yield* Effect.promise(() =>
      new Jose.SignJWT(payload).setProtectedHeader({ alg: "ES256", kid: idp.key.kid, typ }).sign(idp.key.privateKey))
  })

/** A confidential client registered for the JWT-bearer grant (§7.1), allowed the world's resource only. */
const bearerClient = (w: World, metadata: Record<string, unknown> = {}) =>
  registerClient(w, { grant_types: [jwtBearer, "refresh_token"], redirect_uris: [], response_types: [], ...metadata })

/** §4.4: the access token request. */
const request = (w: World, client: RegisteredClient, assertion: string, params: { readonly scope?: string; readonly resource?: string } = {}) =>
  post(w, "token", authOf(client), [
    ["grant_type", jwtBearer],
    ["assertion", assertion],
    ...(params.scope !== undefined ? [["scope", params.scope] as const] : []),
    ...(params.resource !== undefined ? [["resource", params.resource] as const] : [])
  ])

/** §4.4.2: 200, never cached; an access token and its scope, never a refresh token nor an ID token. */
const expectTokens = (res: WireResponse, scope: string) => {
  expectTokenResponse(res, { access_token: expect.any(String), token_type: "Bearer", expires_in: accessTokenLifetime, scope })
  return (res.json as { access_token: string }).access_token
}

/** RFC 9068 §2: the whole claim set: the linked user, the assertion's resource, the client, the intersected scope. */
const expectAccessToken = (w: World, token: string, sub: string, clientId: string, aud: string, scope: string) =>
  Effect.gen(function*() {
    const now = yield* nowSeconds
    const { payload } = yield* verify(w, token, { typ: "at+jwt", audience: aud, algorithms: ["ES256"] })
    expect(payload).toEqual({
      iss: w.issuer, sub, aud, client_id: clientId, scope, jti: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/), iat: now, exp: now + accessTokenLifetime
    })
  })

/** The realm's `user.created` events but the world's own user's (made by the owner): the provisioned ones. */
const provisioned = (w: World) =>
  Effect.map(auditOf(w, "user.created"), (events) => events.filter((e) => (e["actor"] as { type: string }).type !== "owner"))

/** The realm's users whose username or email starts with `q` (CONTRACT §3). */
const usersLike = (w: World, q: string) =>
  Effect.map(admin.get(`/admin/realms/${w.name}/users?q=${encodeURIComponent(q)}`), (res) => res.json.users as Array<Record<string, unknown>>)

const setup = (flags: { readonly id_jag?: boolean; readonly provision_users?: boolean } = {}) =>
  Effect.gen(function*() {
    const w = yield* world
    const idp = yield* idJagIssuer(w, flags)
    const client = yield* bearerClient(w)
    return { w, idp, client }
  })

const unlinked = invalidGrant("the ID-JAG's subject is linked to no user of the realm")

it.layer(TestLive.World)("draft-ietf-oauth-identity-assertion-authz-grant §4.4: an ID-JAG at the token endpoint", (it) => {
  it.effect("§4.4: a valid ID-JAG: a token for the provisioned user, the assertion's resource and scope; linked and audited once", () =>
    Effect.gen(function*() {
      const { w, idp, client } = yield* setup()
      const res = yield* request(w, client, yield* idJagOf(w, idp, client))
      const token = expectTokens(res, "read write")
      const [user] = yield* usersLike(w, "grace@")
      // ADR 0047: the username is the vouched email (free), the name the assertion's, no role, no password
      expect(user).toEqual({
        sub: expect.any(String), username: "grace@acme.example", email: "grace@acme.example", name: "Grace Hopper", roles: [], disabled: false,
        created_at: expect.any(String)
      })
      const sub = user!["sub"] as string
      yield* expectAccessToken(w, token, sub, client.client_id, w.resource, "read write")
      // CONTRACT §7: user.created, user.linked and token.issued, written together, naming the issuer and the subject
      const who = `issuer: ${idp.issuer}, subject: U019488227`
      const common = {
        id: expect.any(String), at: expect.any(String), realm: w.name, actor: { type: "client", id: client.client_id }, subject: sub,
        client_id: client.client_id, result: "success", ip: "127.0.0.1", user_agent: userAgent
      }
      expect(yield* provisioned(w)).toEqual([
        { ...common, type: "user.created", reason: `provisioned for the person at a trusted issuer (${who})` }
      ])
      expect(yield* auditOf(w, "user.linked")).toEqual([{ ...common, type: "user.linked", reason: who }])
      expect(yield* auditOf(w, "token.issued")).toEqual([
        { ...common, type: "token.issued", grant_type: jwtBearer, resource: w.resource, scope: "read write", reason: `ID-JAG issuer: ${idp.issuer}` }
      ])
      // a second ID-JAG for the person: the same user, nothing provisioned or linked again
      const again = expectTokens(yield* request(w, client, yield* idJagOf(w, idp, client, { scope: "read" })), "read")
      yield* expectAccessToken(w, again, sub, client.client_id, w.resource, "read")
      expect(yield* provisioned(w)).toHaveLength(1)
      expect(yield* auditOf(w, "user.linked")).toHaveLength(1)
      expect(yield* auditOf(w, "token.issued")).toHaveLength(2)
    }))

  it.effect("ADR 0047: two first uses of one person at once make one user and one link; both get a token for it", () =>
    Effect.gen(function*() {
      const { w, idp, client } = yield* setup()
      const [a, b] = yield* Effect.all([idJagOf(w, idp, client), idJagOf(w, idp, client)])
      const [ra, rb] = yield* Effect.all([request(w, client, a!), request(w, client, b!)], { concurrency: 2 })
      const subs = yield* Effect.forEach([ra!, rb!], (res) => Effect.map(verify(w, expectTokens(res, "read write")), (v) => v.payload.sub))
      const [user] = yield* usersLike(w, "grace@")
      expect(subs).toEqual([user!["sub"], user!["sub"]])
      expect(yield* provisioned(w)).toHaveLength(1)
      expect(yield* auditOf(w, "user.linked")).toHaveLength(1)
      expect(yield* auditOf(w, "token.issued")).toHaveLength(2)
    }))

  it.effect("ADR 0047: provision_users off: an unlinked person is invalid_grant, nothing written; once allowed, the same ID-JAG works", () =>
    Effect.gen(function*() {
      const { w, idp, client } = yield* setup({ provision_users: false })
      const assertion = yield* idJagOf(w, idp, client)
      expectError(yield* request(w, client, assertion), unlinked)
      expect(yield* usersLike(w, "grace")).toEqual([])
      expect(yield* auditOf(w, "user.linked")).toEqual([])
      expect(yield* auditOf(w, "token.issued")).toEqual([])
      // the refusal did not spend the jti
      const patched = yield* admin.patch(`/admin/realms/${w.name}/trusted-issuers/${idp.id}`, { provision_users: true })
      expect(patched.status).toBe(200)
      expectTokens(yield* request(w, client, assertion), "read write")
      // turned off again: the linked person keeps working, a new one is refused
      expect((yield* admin.patch(`/admin/realms/${w.name}/trusted-issuers/${idp.id}`, { provision_users: false })).status).toBe(200)
      expectTokens(yield* request(w, client, yield* idJagOf(w, idp, client)), "read write")
      expectError(yield* request(w, client, yield* idJagOf(w, idp, client, { sub: "U000000002" })), unlinked)
    }))

  it.effect("ADR 0047: an existing user is never reused by email; a taken username gets a generated one", () =>
    Effect.gen(function*() {
      const { w, idp, client } = yield* setup()
      // the world's user ada has email ada@example.com and username ada
      const first = expectTokens(yield* request(w, client, yield* idJagOf(w, idp, client, { sub: "ada-at-idp", email: "ada@example.com" })), "read write")
      const { payload } = yield* verify(w, first)
      expect(payload.sub).not.toBe(w.sub)
      const [made] = (yield* usersLike(w, "ada@")).filter((u) => u["username"] === "ada@example.com")
      expect(made).toMatchObject({ sub: payload.sub, email: "ada@example.com" })
      // another person at the issuer claiming the same email: the username is taken, so a generated one
      const second = expectTokens(yield* request(w, client, yield* idJagOf(w, idp, client, { sub: "impostor", email: "ada@example.com" })), "read write")
      const other = (yield* verify(w, second)).payload.sub
      expect([w.sub, payload.sub]).not.toContain(other)
      const generated = (yield* usersLike(w, "idjag-")).map((u) => [u["username"], u["email"], u["sub"]])
      expect(generated).toEqual([[expect.stringMatching(/^idjag-[a-z2-7]{16}$/), "ada@example.com", other]])
      // an email marked unverified is not used at all; no email: a generated username
      expectTokens(yield* request(w, client, yield* idJagOf(w, idp, client, { sub: "u3", email: "u3@acme.example", email_verified: false })), "read write")
      expect(yield* usersLike(w, "u3@")).toEqual([])
      expectTokens(yield* request(w, client, yield* idJagOf(w, idp, client, { sub: "u4", email: undefined, name: undefined })), "read write")
      expect(yield* usersLike(w, "idjag-")).toHaveLength(3)
    }))

  it.effect("ADR 0047: deleting the user removes its link (the next ID-JAG provisions anew); a disabled user is refused", () =>
    Effect.gen(function*() {
      const { w, idp, client } = yield* setup()
      const sub = (yield* verify(w, expectTokens(yield* request(w, client, yield* idJagOf(w, idp, client)), "read write"))).payload.sub!
      const path = `/admin/realms/${w.name}/users/${sub}`
      const disabled = yield* admin.patch(path, { disabled: true })
      expect(disabled.status).toBe(200)
      expectError(yield* request(w, client, yield* idJagOf(w, idp, client)), unlinked)
      const deleted = yield* http("DELETE", path, { headers: { authorization: `Bearer ${adminToken}` } })
      expect(deleted.status).toBe(204)
      const fresh = (yield* verify(w, expectTokens(yield* request(w, client, yield* idJagOf(w, idp, client)), "read write"))).payload.sub
      expect(fresh).not.toBe(sub)
      expect(yield* auditOf(w, "user.linked")).toHaveLength(2)
    }))

  it.effect("§4.4.1 (RFC 8725 §3.11): typ oauth-id-jag+jwt from an issuer without id_jag is invalid_grant; a plain JWT stays RFC 7523", () =>
    Effect.gen(function*() {
      const { w, idp, client } = yield* setup({ id_jag: false })
      expectError(
        yield* request(w, client, yield* idJagOf(w, idp, client)),
        invalidGrant("the trusted issuer is not registered for ID-JAGs ('id_jag')")
      )
      // the media type's prefix and case do not matter (RFC 7515 §4.1.9)
      expectError(
        yield* request(w, client, yield* idJagOf(w, idp, client, {}, "application/OAuth-ID-JAG+JWT")),
        invalidGrant("the trusted issuer is not registered for ID-JAGs ('id_jag')")
      )
      // an id_jag issuer's JWT typed plainly is an RFC 7523 assertion: its sub must be a realm user (no linking)
      const trusted = yield* idJagIssuer(w, {}, "https://idp2.example")
      const plain = yield* idJagOf(w, trusted, client, {}, "JWT")
      expectError(yield* request(w, client, plain), invalidGrant("the assertion's 'sub' is neither a user of the realm nor the client"))
      expect(yield* usersLike(w, "grace")).toEqual([])
      expect(yield* auditOf(w, "user.linked")).toEqual([])
    }))

  it.effect("§4.4.1: aud must be exactly the realm's issuer (not the token endpoint, not another realm's, one value)", () =>
    Effect.gen(function*() {
      const { w, idp, client } = yield* setup()
      const wrong = invalidGrant("the ID-JAG's 'aud' must be the issuer")
      const other = yield* world
      for (const aud of [`${w.issuer}/token`, other.issuer, [w.issuer, other.issuer], undefined]) {
        expectError(yield* request(w, client, yield* idJagOf(w, idp, client, { aud })), wrong)
      }
      expect(yield* auditOf(w, "token.issued")).toEqual([])
    }))

  it.effect("§4.4.1: an ID-JAG for realm A is refused at realm B, even where B trusts the same issuer", () =>
    Effect.gen(function*() {
      const { w: a, idp, client: clientA } = yield* setup()
      const b = yield* world
      const keyed = yield* admin.post(`/admin/realms/${b.name}/trusted-issuers`, {
        issuer: idp.issuer, jwks: { keys: [idp.key.publicJwk] }, id_jag: true, provision_users: true
      })
      expect(keyed.status).toBe(201)
      const clientB = yield* bearerClient(b)
      // made for A (aud A, A's client), presented at B by B's client
      const forA = yield* idJagOf(a, idp, clientA)
      expectError(yield* request(b, clientB, forA), invalidGrant("the ID-JAG's 'aud' must be the issuer"))
      // aud B but A's client_id
      expectError(yield* request(b, clientB, yield* idJagOf(b, idp, clientA)), invalidGrant("the ID-JAG's 'client_id' must be the authenticated client"))
      expect(yield* provisioned(b)).toEqual([])
      // and still good at A
      expectTokens(yield* request(a, clientA, forA), "read write")
    }))

  it.effect("§4.4.1: client_id must be the authenticated client", () =>
    Effect.gen(function*() {
      const { w, idp, client } = yield* setup()
      const other = yield* bearerClient(w)
      const mismatch = invalidGrant("the ID-JAG's 'client_id' must be the authenticated client")
      expectError(yield* request(w, other, yield* idJagOf(w, idp, client)), mismatch)
      expectError(yield* request(w, client, yield* idJagOf(w, idp, client, { client_id: undefined })), mismatch)
    }))

  it.effect("§3, CONTRACT §5: exp in the future, iat present, at most 5 minutes, jti present; sub present", () =>
    Effect.gen(function*() {
      const { w, idp, client } = yield* setup()
      const now = yield* nowSeconds
      const cases: ReadonlyArray<readonly [Record<string, unknown>, string]> = [
        [{ iat: now - 400, exp: now - 10 }, "the assertion has expired"],
        [{ exp: undefined }, "the assertion must have 'exp'"],
        [{ iat: undefined }, "the assertion must have 'iat'"],
        [{ iat: now, exp: now + 301 }, "the assertion must not be valid for more than 300 seconds ('exp' - 'iat')"],
        [{ jti: undefined }, "the assertion must have 'jti'"],
        [{ sub: undefined }, "the assertion's 'sub' is neither a user of the realm nor the client"],
        [{ resource: 42 }, "the ID-JAG's 'resource' must be a URI or an array of URIs and its 'scope' a string"],
        [{ scope: ["read"] }, "the ID-JAG's 'resource' must be a URI or an array of URIs and its 'scope' a string"]
      ]
      for (const [claims, description] of cases) {
        expectError(yield* request(w, client, yield* idJagOf(w, idp, client, claims)), invalidGrant(description))
      }
      expect(yield* provisioned(w)).toEqual([])
    }))

  it.effect("RFC 7523 §3 item 7: a replayed ID-JAG is refused, even by another client", () =>
    Effect.gen(function*() {
      const { w, idp, client } = yield* setup()
      const assertion = yield* idJagOf(w, idp, client)
      expectTokens(yield* request(w, client, assertion), "read write")
      const replayed = invalidGrant("the assertion was already used ('jti' seen before)")
      expectError(yield* request(w, client, assertion), replayed)
      expectError(yield* request(w, client, yield* idJagOf(w, idp, client, { jti: (Jose.decodeJwt(assertion).jti as string) })), replayed)
      expect(yield* auditOf(w, "token.issued")).toHaveLength(1)
    }))

  it.effect("§3, RFC 8707: resource becomes the token's aud; one the client may not have, or the request picks outside it: invalid_target", () =>
    Effect.gen(function*() {
      const { w, idp, client } = yield* setup()
      const notAllowed = { error: "invalid_target", error_description: "the resource is unknown or not allowed to the client" }
      expectError(yield* request(w, client, yield* idJagOf(w, idp, client, { resource: w.otherResource })), notAllowed)
      expectError(yield* request(w, client, yield* idJagOf(w, idp, client, { resource: "https://unknown.example" })), notAllowed)
      expectError(yield* request(w, client, yield* idJagOf(w, idp, client), { resource: w.otherResource }), notAllowed)
      // several in the assertion: the request picks one
      const both = yield* bearerClient(w, { resources: [w.resource, w.otherResource] })
      expectError(
        yield* request(w, both, yield* idJagOf(w, idp, both, { resource: [w.resource, w.otherResource], scope: "read admin" })),
        { error: "invalid_target", error_description: "'resource' is required: the client is not registered for exactly one resource" }
      )
      const picked = yield* request(w, both, yield* idJagOf(w, idp, both, { resource: [w.resource, w.otherResource], scope: "read admin" }), {
        resource: w.otherResource
      })
      const token = expectTokens(picked, "admin")
      expect((yield* verify(w, token, { audience: w.otherResource })).payload.aud).toBe(w.otherResource)
    }))

  it.effect("RFC 6749 §3.3: the scope is the intersection of the asked, the assertion's and the client's; none left is invalid_scope", () =>
    Effect.gen(function*() {
      const { w, idp, client } = yield* setup()
      expectTokens(yield* request(w, client, yield* idJagOf(w, idp, client, { scope: "read" }), { scope: "read write" }), "read")
      expectTokens(yield* request(w, client, yield* idJagOf(w, idp, client), { scope: "write delete" }), "write")
      const noneLeft = { error: "invalid_scope", error_description: "none of the scope applies to the resource" }
      expectError(yield* request(w, client, yield* idJagOf(w, idp, client, { scope: "read" }), { scope: "write" }), noneLeft)
      // no scope in the assertion: the issuer authorized none
      expectError(yield* request(w, client, yield* idJagOf(w, idp, client, { scope: undefined })), noneLeft)
      // the client's registered scope cuts too
      const narrow = yield* bearerClient(w, { scope: "read" })
      expectTokens(yield* request(w, narrow, yield* idJagOf(w, idp, narrow)), "read")
      // draft §4.4.2: no refresh token, whatever is asked
      expectTokens(yield* request(w, client, yield* idJagOf(w, idp, client, { scope: "read offline_access" }), { scope: "read offline_access" }), "read")
    }))

  it.effect("§7.1: ID-JAGs are for confidential clients: a public client cannot be registered for the grant at all", () =>
    Effect.gen(function*() {
      const w = yield* world
      const res = yield* admin.post(`/admin/realms/${w.name}/clients`, {
        grant_types: [jwtBearer], redirect_uris: [], response_types: [], token_endpoint_auth_method: "none"
      })
      expect(res.status).toBe(400)
      expect(res.json).toEqual({
        error: "invalid_client_metadata",
        error_description: "the 'urn:ietf:params:oauth:grant-type:jwt-bearer' grant needs a client that authenticates, not 'none'"
      })
    }))
})
