import { expect } from "@effect/vitest"
import { Effect } from "effect"
import { admin } from "./support/Http.js"
import * as TestLive from "./support/TestLive.js"
import {
  accessTokenLifetime, assertion, auditOf, authOf, clientKey, introspect, noStore, nowSeconds, post, registerClient, revoke,
  userAgent, verify, world
} from "./support/TokenFixtures.js"
import type { Auth, World } from "./support/TokenFixtures.js"

const it = TestLive.file()

type Wire = { status: number; headers: Record<string, string>; json: unknown }

/** A client registered for the client credentials grant only (no redirect URIs, no response types). */
const machine = (w: World, metadata: Record<string, unknown> = {}) =>
  registerClient(w, { grant_types: ["client_credentials"], redirect_uris: [], response_types: [], ...metadata })

/** RFC 6749 §4.4.2: the token request; `resource` may repeat (RFC 8707 §2). */
const clientCredentials = (w: World, auth: Auth, params: { readonly scope?: string; readonly resource?: ReadonlyArray<string> } = {}) =>
  post(w, "token", auth, [
    ["grant_type", "client_credentials"],
    ...(params.scope !== undefined ? [["scope", params.scope] as const] : []),
    ...(params.resource ?? []).map((uri) => ["resource", uri] as const)
  ])

/**
 * RFC 6749 §4.4.3 and §5.1: 200, no-store, no-cache; an access token and its scope, never a refresh token (§4.4.3:
 * "A refresh token SHOULD NOT be included") nor an ID token (there is no person).
 */
const expectTokens = (res: Wire, scope: string) => {
  expect(res.status).toBe(200)
  expect(res.headers["content-type"]).toBe("application/json")
  expect(res.headers["cache-control"]).toBe(noStore["cache-control"])
  expect(res.headers["pragma"]).toBe(noStore.pragma)
  expect(res.headers["www-authenticate"]).toBeUndefined()
  expect(res.json).toEqual({ access_token: expect.any(String), token_type: "Bearer", expires_in: accessTokenLifetime, scope })
  return (res.json as { access_token: string }).access_token
}

/** RFC 6749 §5.2: a 400 error with the no-store headers and no challenge. */
const expectError = (res: Wire, body: unknown, status = 400) => {
  expect(res.status).toBe(status)
  expect(res.headers["cache-control"]).toBe("no-store")
  expect(res.headers["pragma"]).toBe("no-cache")
  expect(res.headers["www-authenticate"]).toBeUndefined()
  expect(res.json).toEqual(body)
}

/**
 * RFC 9068 §2: the token verifies against the realm's JWKS with typ at+jwt; `sub` is the client_id (§2.2: no
 * resource owner); `aud` the one resource; no auth_time or acr, as nobody authenticated. The whole claim set.
 */
const expectAccessToken = (w: World, token: string, clientId: string, aud: string, scope: string) =>
  Effect.gen(function*() {
    const now = yield* nowSeconds
    const { payload, protectedHeader } = yield* verify(w, token, { typ: "at+jwt", audience: aud, algorithms: ["ES256"] })
    expect(protectedHeader).toEqual({ alg: "ES256", typ: "at+jwt", kid: expect.any(String) })
    expect(payload).toEqual({
      iss: w.issuer, sub: clientId, aud, client_id: clientId, scope, jti: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
      iat: now, exp: now + accessTokenLifetime
    })
    return payload
  })

const invalidTarget = (description: string) => ({ error: "invalid_target", error_description: description })
const invalidScope = (description: string) => ({ error: "invalid_scope", error_description: description })
const unknownOrNotAllowed = invalidTarget("the resource is unknown or not allowed to the client")

it.layer(TestLive.World)("RFC 6749 §4.4: the client credentials grant", (it) => {
  it.effect("§4.4.2 / §4.4.3: with resource, a token for that resource and the client itself; audited as the client", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* machine(w, { resources: [w.resource, w.otherResource] })
      const res = yield* clientCredentials(w, authOf(client), { resource: [w.otherResource] })
      // RFC 6749 §3.3: no scope asked: the resource's scopes
      yield* expectAccessToken(w, expectTokens(res, "admin"), client.client_id, w.otherResource, "admin")
      const asked = yield* clientCredentials(w, authOf(client), { resource: [w.resource], scope: "read" })
      yield* expectAccessToken(w, expectTokens(asked, "read"), client.client_id, w.resource, "read")
      const events = yield* auditOf(w, "token.issued")
      expect(events).toEqual([asked, res].map((_, i) => ({
        id: expect.any(String), at: expect.any(String), realm: w.name, type: "token.issued",
        actor: { type: "client", id: client.client_id }, subject: client.client_id, client_id: client.client_id,
        grant_type: "client_credentials", resource: i === 0 ? w.resource : w.otherResource, scope: i === 0 ? "read" : "admin",
        result: "success", ip: "127.0.0.1", user_agent: userAgent
      })))
    }))

  it.effect("§4.4.2: without resource, the client's only resource (CONTRACT §5); the scope asked, or its default", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* machine(w)
      yield* expectAccessToken(w, expectTokens(yield* clientCredentials(w, authOf(client)), "read write"), client.client_id, w.resource, "read write")
      yield* expectAccessToken(
        w, expectTokens(yield* clientCredentials(w, authOf(client), { scope: "write" }), "write"), client.client_id, w.resource, "write"
      )
    }))

  it.effect("§3.3: the client's registered scope limits the default and cuts a request (a scope it lacks is left out)", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* machine(w, { scope: "read" })
      expectTokens(yield* clientCredentials(w, authOf(client)), "read")
      // `write` is the resource's, so known, but not the client's: RFC 6749 §3.3 lets the server grant less; the
      // response's scope says what was granted
      expectTokens(yield* clientCredentials(w, authOf(client), { scope: "read write" }), "read")
      // only `write` asked: nothing is left
      expectError(yield* clientCredentials(w, authOf(client), { scope: "write" }), invalidScope("none of the scope applies to the resource"))
    }))

  it.effect("an agent client (principal_type agent) is audited as an agent", () =>
    Effect.gen(function*() {
      const w = yield* world
      const agent = yield* machine(w, { principal_type: "agent" })
      const token = expectTokens(yield* clientCredentials(w, authOf(agent), { scope: "read" }), "read")
      yield* expectAccessToken(w, token, agent.client_id, w.resource, "read")
      const [issued] = yield* auditOf(w, "token.issued")
      expect(issued).toMatchObject({ actor: { type: "agent", id: agent.client_id }, subject: agent.client_id, grant_type: "client_credentials" })
    }))

  it.effect("RFC 8707 §2: invalid_target for an unknown resource, one not allowed, none with several, two at once", () =>
    Effect.gen(function*() {
      const w = yield* world
      const single = yield* machine(w)
      const every = yield* machine(w, { resources: undefined })
      const two = yield* machine(w, { resources: [w.resource, w.otherResource] })
      // not registered in the realm, whether or not the client has an allow-list
      expectError(yield* clientCredentials(w, authOf(every), { resource: ["https://unknown.example/api"] }), unknownOrNotAllowed)
      expectError(yield* clientCredentials(w, authOf(single), { resource: ["https://unknown.example/api"] }), unknownOrNotAllowed)
      // registered, but not in the client's `resources`
      expectError(yield* clientCredentials(w, authOf(single), { resource: [w.otherResource] }), unknownOrNotAllowed)
      // CONTRACT §5: without resource, only a client with exactly one resource gets a default
      const required = invalidTarget("'resource' is required: the client is not registered for exactly one resource")
      expectError(yield* clientCredentials(w, authOf(two), {}), required)
      expectError(yield* clientCredentials(w, authOf(every), { scope: "read" }), required)
      // one token, one audience
      expectError(
        yield* clientCredentials(w, authOf(two), { resource: [w.resource, w.otherResource] }),
        invalidTarget("at most one 'resource' may be requested")
      )
      // a client without an allow-list may have any registered resource
      yield* expectAccessToken(
        w, expectTokens(yield* clientCredentials(w, authOf(every), { resource: [w.otherResource] }), "admin"), every.client_id, w.otherResource, "admin"
      )
      expect(yield* auditOf(w, "token.issued")).toHaveLength(1)
    }))

  it.effect("§5.2: invalid_scope for an unknown scope, openid, another resource's scope, a step-up scope", () =>
    Effect.gen(function*() {
      const w = yield* world
      const vault = `https://vault.example/${w.name}`
      const created = yield* admin.post(`/admin/realms/${w.name}/resources`, { uri: vault, scopes: ["list", "unseal"], step_up_scopes: ["unseal"] })
      expect(created.status).toBe(201)
      const client = yield* machine(w, { resources: [w.resource, vault] })
      const unknown = invalidScope("a requested scope is neither the resource's nor registered for the client")
      expectError(yield* clientCredentials(w, authOf(client), { resource: [w.resource], scope: "read delete" }), unknown)
      // `admin` is a scope of the realm, but neither this resource's nor registered for the client
      expectError(yield* clientCredentials(w, authOf(client), { resource: [w.resource], scope: "admin" }), unknown)
      // CONTRACT §5: there is no issuer (userinfo) audience without a person
      const openid = invalidScope("'openid' needs a person: the client credentials grant cannot have it")
      expectError(yield* clientCredentials(w, authOf(client), { scope: "openid" }), openid)
      expectError(yield* clientCredentials(w, authOf(client), { resource: [w.resource], scope: "openid read" }), openid)
      // CONTRACT §5 "Step-up": a step-up scope needs a person's fresh login, which this grant has not
      expectError(
        yield* clientCredentials(w, authOf(client), { resource: [vault], scope: "list unseal" }),
        invalidScope("a requested scope needs a person's fresh authentication (step-up): the client credentials grant cannot have it")
      )
      // ... and asking for nothing leaves it out of the default
      yield* expectAccessToken(w, expectTokens(yield* clientCredentials(w, authOf(client), { resource: [vault] }), "list"), client.client_id, vault, "list")
      // a scope the client registered but the resource does not understand is cut, and nothing left is invalid_scope
      const registered = yield* machine(w, { resources: [w.resource, w.otherResource], scope: "read admin" })
      expectError(
        yield* clientCredentials(w, authOf(registered), { resource: [w.resource], scope: "admin" }),
        invalidScope("none of the scope applies to the resource")
      )
      expectTokens(yield* clientCredentials(w, authOf(registered), { resource: [w.resource], scope: "read admin" }), "read")
    }))

  it.effect("§5.2: a client not registered for the grant is unauthorized_client", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* registerClient(w)
      expectError(yield* clientCredentials(w, authOf(client)), {
        error: "unauthorized_client", error_description: "the client may not use the 'client_credentials' grant"
      })
    }))

  it.effect("§4.4: a public client is unauthorized_client (registration never gives it the grant)", () =>
    Effect.gen(function*() {
      const w = yield* world
      // RFC 7591 registration refuses client_credentials with `none` (rfc7591-client-metadata.test.ts), so a public
      // client never has the grant type: it names itself (`none` is accepted at the token endpoint for the code
      // grant), and the endpoint answers that this client may not use the grant (RFC 6749 §5.2 unauthorized_client),
      // not invalid_client: the client is who it says, it is the grant it may not have. The domain refuses a public
      // client too (ClientCredentialsGrant.ClientRejected, also unauthorized_client), should one ever get the grant.
      const refused = yield* admin.post(`/admin/realms/${w.name}/clients`, {
        grant_types: ["client_credentials"], token_endpoint_auth_method: "none"
      })
      expect(refused.status).toBe(400)
      const client = yield* registerClient(w, { token_endpoint_auth_method: "none" })
      expectError(yield* clientCredentials(w, authOf(client)), {
        error: "unauthorized_client", error_description: "the client may not use the 'client_credentials' grant"
      })
      expect(yield* auditOf(w, "token.issued")).toEqual([])
    }))

  it.effect("§2.3.1 client_secret_post and RFC 7523 §2.2 private_key_jwt authenticate the grant too", () =>
    Effect.gen(function*() {
      const w = yield* world
      const posted = yield* machine(w, { token_endpoint_auth_method: "client_secret_post" })
      yield* expectAccessToken(w, expectTokens(yield* clientCredentials(w, authOf(posted)), "read write"), posted.client_id, w.resource, "read write")
      const key = yield* clientKey
      const signed = yield* machine(w, { token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [key.publicJwk] } })
      const res = yield* clientCredentials(w, { assertion: yield* assertion(key, signed.client_id, `${w.issuer}/token`) }, { scope: "read" })
      yield* expectAccessToken(w, expectTokens(res, "read"), signed.client_id, w.resource, "read")
      // a wrong secret is still 401 invalid_client
      const wrong = yield* clientCredentials(w, { post: [posted.client_id, "not-the-secret"] })
      expect(wrong.status).toBe(401)
      expect(wrong.json).toEqual({ error: "invalid_client", error_description: "client authentication failed" })
    }))

  it.effect("RFC 7662 / RFC 7009: the token introspects active (no auth_time), and inactive once its client revokes it", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* machine(w)
      // CONTRACT §5 Introspection: a resource server that lists the token's audience explicitly
      const api = yield* machine(w, { resources: [w.resource] })
      const token = expectTokens(yield* clientCredentials(w, authOf(client), { scope: "read" }), "read")
      const claims = yield* expectAccessToken(w, token, client.client_id, w.resource, "read")
      const active = yield* introspect(w, authOf(api), token)
      expect(active.status).toBe(200)
      expect(active.headers["content-type"]).toBe("application/json")
      expect(active.headers["cache-control"]).toBe("no-store")
      expect(active.headers["pragma"]).toBe("no-cache")
      expect(active.json).toEqual({
        active: true, iss: w.issuer, sub: client.client_id, aud: w.resource, client_id: client.client_id, scope: "read",
        exp: claims.exp, iat: claims.iat, jti: claims.jti, token_type: "Bearer"
      })
      // RFC 7009 §2.1: only the client it was issued to revokes it; another client's attempt changes nothing
      expect((yield* revoke(w, authOf(api), token)).status).toBe(200)
      expect((yield* introspect(w, authOf(api), token)).json).toMatchObject({ active: true })
      // RFC 7009 §2.2: 200 with an empty body
      const revoked = yield* revoke(w, authOf(client), token)
      expect(revoked.status).toBe(200)
      expect(revoked.text).toBe("")
      expect(revoked.headers["cache-control"]).toBe("no-store")
      expect(revoked.headers["pragma"]).toBe("no-cache")
      expect((yield* introspect(w, authOf(api), token)).json).toEqual({ active: false })
      expect(yield* auditOf(w, "token.revoked")).toEqual([{
        id: expect.any(String), at: expect.any(String), realm: w.name, type: "token.revoked",
        actor: { type: "client", id: client.client_id }, subject: client.client_id, client_id: client.client_id,
        resource: w.resource, scope: "read", result: "success", reason: "access token revoked by its client",
        ip: "127.0.0.1", user_agent: userAgent
      }])
    }))
})
