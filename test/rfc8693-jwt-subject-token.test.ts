/**
 * RFC 8693 §3 `urn:ietf:params:oauth:token-type:jwt` subject tokens (ADR 0013): a JWT a trusted issuer of the realm
 * signed for one of the realm's users, exchanged by the agent its `may_act` names (§4.4).
 */
import { expect } from "@effect/vitest"
import { Duration, Effect, TestClock } from "effect"
import * as Jose from "jose"
import { admin } from "./support/Http.js"
import * as TestLive from "./support/TestLive.js"
import {
  accessTokenLifetime, accessTokenType, auditOf, authOf, clientKey, expectExchanged, expectTokenError as expectError, invalidGrant, nowSeconds,
  post, registerClient, remoteIssuer, signJwt, tokenExchangeGrant as grantType, trustedIssuer, userAgent, verify, world
} from "./support/TokenFixtures.js"
import type { Auth, RegisteredClient, TrustedIssuer, World } from "./support/TokenFixtures.js"

const it = TestLive.file()

const jwtType = "urn:ietf:params:oauth:token-type:jwt"

const agentClient = (w: World, metadata: Record<string, unknown> = {}) =>
  registerClient(w, { principal_type: "agent", grant_types: [grantType], redirect_uris: [], response_types: [], ...metadata })

/** The issuer's JWT for the realm's person, at the Clock's time, naming `agent` in `may_act`; undefined removes a claim. */
const subjectJwt = (w: World, idp: TrustedIssuer, agent: RegisteredClient | undefined, claims: Record<string, unknown> = {}, alg = "ES256") =>
  Effect.gen(function*() {
    const now = yield* nowSeconds
    return yield* signJwt(idp.key, {
      iss: idp.issuer, sub: w.sub, aud: w.issuer, iat: now, exp: now + 3600, scope: "read write",
      ...(agent !== undefined ? { may_act: { sub: agent.client_id } } : {}),
      ...claims
    }, alg)
  })

const tokenExchange = (w: Pick<World, "name">, auth: Auth, subjectToken: string, extra: Record<string, string> = {}) =>
  post(w, "token", auth, { grant_type: grantType, subject_token: subjectToken, subject_token_type: jwtType, ...extra })

const unverified = invalidGrant("'subject_token' is not a JWT signed by a trusted issuer of the realm")
const notDelegable = invalidGrant("'subject_token' may not be delegated to this client")
const expired = invalidGrant("'subject_token' has expired or has no 'exp'")
const unknownUser = invalidGrant("the 'subject_token''s 'sub' is not a user of the realm")
const wrongAudience = invalidGrant("the 'subject_token''s 'aud' must be the issuer or the token endpoint")
const keysUnavailable = invalidGrant("the trusted issuer's keys could not be fetched from its 'jwks_uri'")

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")

it.layer(TestLive.World)("RFC 8693 §3: jwt subject tokens from trusted issuers", (it) => {
  it.effect("§4.4: a trusted issuer's JWT whose may_act names the agent: sub the person, act the agent, scope within the JWT's; audited", () =>
    Effect.gen(function*() {
      const w = yield* world
      const agent = yield* agentClient(w)
      const idp = yield* trustedIssuer(w)
      const res = yield* tokenExchange(w, authOf(agent), yield* subjectJwt(w, idp, agent, { auth_time: (yield* nowSeconds) - 10, acr: "urn:idp:mfa" }), {
        resource: w.resource, scope: "read"
      })
      const token = expectExchanged(res, "read")
      const now = yield* nowSeconds
      const { payload, protectedHeader } = yield* verify(w, token, { typ: "at+jwt", algorithms: ["ES256"] })
      expect(protectedHeader).toEqual({ alg: "ES256", typ: "at+jwt", kid: expect.any(String) })
      // no auth_time or acr: the person authenticated at the trusted issuer, not at Tessera
      expect(payload).toEqual({
        iss: w.issuer, sub: w.sub, aud: w.resource, client_id: agent.client_id, scope: "read", act: { sub: agent.client_id },
        jti: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/), iat: now, exp: now + accessTokenLifetime
      })
      expect(yield* auditOf(w, "token.exchanged")).toEqual([{
        id: expect.any(String), at: expect.any(String), realm: w.name, type: "token.exchanged",
        actor: { type: "agent", id: agent.client_id }, subject: w.sub, client_id: agent.client_id, grant_type: grantType,
        resource: w.resource, scope: "read", act: { sub: agent.client_id }, result: "success",
        reason: `subject token issuer: ${idp.issuer}`, ip: "127.0.0.1", user_agent: userAgent
      }])
    }))

  it.effect("§4.1: the JWT's own act chain is nested under the agent; aud may be the token endpoint; may_act.iss may name this realm", () =>
    Effect.gen(function*() {
      const w = yield* world
      const agent = yield* agentClient(w)
      const idp = yield* trustedIssuer(w)
      const jwt = yield* subjectJwt(w, idp, agent, {
        aud: `${w.issuer}/token`, act: { sub: "upstream" }, may_act: { sub: agent.client_id, iss: w.issuer }
      })
      const token = expectExchanged(yield* tokenExchange(w, authOf(agent), jwt), "read write")
      const chain = { sub: agent.client_id, act: { sub: "upstream" } }
      expect((yield* verify(w, token)).payload.act).toEqual(chain)
      const [event] = yield* auditOf(w, "token.exchanged")
      expect(event).toMatchObject({ act: chain, subject: w.sub, actor: { type: "agent", id: agent.client_id } })
    }))

  it.effect("§3 with jwks_uri: the issuer's keys come through the Fetcher; an unreachable jwks_uri is invalid_grant", () =>
    Effect.gen(function*() {
      const w = yield* world
      const agent = yield* agentClient(w)
      const idp = yield* remoteIssuer(w, {})
      expectExchanged(yield* tokenExchange(w, authOf(agent), yield* subjectJwt(w, idp, agent)), "read write")
      expect(yield* idp.table.calls(idp.jwksUri)).toBe(1)
      const other = yield* world
      const otherAgent = yield* agentClient(other)
      const down = yield* remoteIssuer(other, {})
      yield* down.table.set(down.jwksUri, { _tag: "Failure", reason: "timeout" })
      expectError(yield* tokenExchange(other, authOf(otherAgent), yield* subjectJwt(other, down, otherAgent)), keysUnavailable)
      expect(yield* auditOf(other, "token.exchanged")).toEqual([])
    }))

  it.effect("ADR 0013: without a may_act naming the agent it is not delegable (absent, another agent, another namespace)", () =>
    Effect.gen(function*() {
      const w = yield* world
      const agent = yield* agentClient(w)
      const idp = yield* trustedIssuer(w)
      expectError(yield* tokenExchange(w, authOf(agent), yield* subjectJwt(w, idp, undefined)), notDelegable)
      // client_id and auth_time of the trusted issuer name its clients and sessions, never Tessera's
      expectError(
        yield* tokenExchange(w, authOf(agent), yield* subjectJwt(w, idp, undefined, { client_id: agent.client_id, auth_time: yield* nowSeconds })),
        notDelegable
      )
      expectError(yield* tokenExchange(w, authOf(agent), yield* subjectJwt(w, idp, undefined, { may_act: { sub: "another-agent" } })), notDelegable)
      expectError(
        yield* tokenExchange(w, authOf(agent), yield* subjectJwt(w, idp, undefined, { may_act: { sub: agent.client_id, iss: idp.issuer } })),
        notDelegable
      )
      expect(yield* auditOf(w, "token.exchanged")).toEqual([])
    }))

  it.effect("CONTRACT §5: exp required and in the future; sub a user of this realm; aud this realm", () =>
    Effect.gen(function*() {
      const w = yield* world
      const agent = yield* agentClient(w)
      const idp = yield* trustedIssuer(w)
      const now = yield* nowSeconds
      expectError(yield* tokenExchange(w, authOf(agent), yield* subjectJwt(w, idp, agent, { iat: now - 600, exp: now - 1 })), expired)
      expectError(yield* tokenExchange(w, authOf(agent), yield* subjectJwt(w, idp, agent, { exp: undefined })), expired)
      const elsewhere = yield* world
      for (const sub of ["nobody", elsewhere.sub, agent.client_id, undefined]) {
        expectError(yield* tokenExchange(w, authOf(agent), yield* subjectJwt(w, idp, agent, { sub })), unknownUser)
      }
      for (const aud of [w.resource, elsewhere.issuer, [w.issuer, w.resource], undefined]) {
        expectError(yield* tokenExchange(w, authOf(agent), yield* subjectJwt(w, idp, agent, { aud })), wrongAudience)
      }
      expectError(
        yield* tokenExchange(w, authOf(agent), yield* subjectJwt(w, idp, agent, { nbf: now + 600 })),
        invalidGrant("'subject_token' is not valid")
      )
    }))

  it.effect("RFC 7519 §4.1.5-4.1.6 (ADR 0050): nbf and iat up to 60 s ahead are the issuer's clock skew; an iat further ahead is refused", () =>
    Effect.gen(function*() {
      const w = yield* world
      const agent = yield* agentClient(w)
      const idp = yield* trustedIssuer(w)
      const now = yield* nowSeconds
      expectExchanged(yield* tokenExchange(w, authOf(agent), yield* subjectJwt(w, idp, agent, { iat: now + 60, nbf: now + 60 })), "read write")
      // an iat ahead would also date the subject token after a revoked delegation (ADR 0034)
      expectError(
        yield* tokenExchange(w, authOf(agent), yield* subjectJwt(w, idp, agent, { iat: now + 61 })),
        invalidGrant("the 'subject_token''s 'iat' is in the future")
      )
      expectError(yield* tokenExchange(w, authOf(agent), yield* subjectJwt(w, idp, agent, { nbf: now + 61 })), invalidGrant("'subject_token' is not valid"))
    }))

  it.effect("§3: an untrusted issuer, another realm's issuer, a wrong key, alg none, HMAC, a realm access token: one invalid_grant", () =>
    Effect.gen(function*() {
      const w = yield* world
      const agent = yield* agentClient(w)
      const idp = yield* trustedIssuer(w)
      const stranger = { issuer: "https://stranger.example", key: yield* clientKey }
      expectError(yield* tokenExchange(w, authOf(agent), yield* subjectJwt(w, stranger, agent)), unverified)
      expectError(yield* tokenExchange(w, authOf(agent), yield* subjectJwt(w, { issuer: idp.issuer, key: stranger.key }, agent)), unverified)
      const other = yield* world
      const otherIdp = yield* trustedIssuer(other)
      expectError(yield* tokenExchange(w, authOf(agent), yield* subjectJwt(w, otherIdp, agent)), unverified)
      // RFC 7518 §3.6 alg none
      const now = yield* nowSeconds
      const claims = { iss: idp.issuer, sub: w.sub, aud: w.issuer, exp: now + 60, scope: "read", may_act: { sub: agent.client_id } }
      expectError(yield* tokenExchange(w, authOf(agent), `${base64url({ alg: "none" })}.${base64url(claims)}.`), unverified)
      // HMAC with the issuer's public key material as the secret (key confusion), and with any secret
      const secret = new TextEncoder().encode(JSON.stringify(idp.key.publicJwk))
      for (const key of [secret, new TextEncoder().encode("a shared secret of sufficient length!")]) {
        const hmac = yield* Effect.promise(() =>
          new Jose.SignJWT(claims).setProtectedHeader({ alg: "HS256", kid: idp.key.kid }).sign(key))
        expectError(yield* tokenExchange(w, authOf(agent), hmac), unverified)
      }
      // not a JWT at all
      expectError(yield* tokenExchange(w, authOf(agent), "not-a-jwt"), unverified)
      // the realm's own access token is no trusted issuer's JWT; the trusted JWT is no realm access token
      const own = yield* post(w, "token", authOf(yield* registerClient(w, { grant_types: ["client_credentials"] })), { grant_type: "client_credentials" })
      expectError(yield* tokenExchange(w, authOf(agent), (own.json as { access_token: string }).access_token), unverified)
      expectError(
        yield* tokenExchange(w, authOf(agent), yield* subjectJwt(w, idp, agent), { subject_token_type: accessTokenType }),
        invalidGrant("'subject_token' is not an active access token of this realm")
      )
      expect(yield* auditOf(w, "token.exchanged")).toEqual([])
    }))

  it.effect("§4.2 scope: within the JWT's scope; a JWT without scope grants none; a step-up scope is never granted", () =>
    Effect.gen(function*() {
      const w = yield* world
      const vault = `https://vault.example/${w.name}`
      expect((yield* admin.post(`/admin/realms/${w.name}/resources`, { uri: vault, scopes: ["list", "unseal"], step_up_scopes: ["unseal"] })).status).toBe(201)
      const agent = yield* agentClient(w, { resources: [w.resource, vault] })
      const idp = yield* trustedIssuer(w)
      expectError(
        yield* tokenExchange(w, authOf(agent), yield* subjectJwt(w, idp, agent, { scope: "read" }), { resource: w.resource, scope: "read write" }),
        { error: "invalid_scope", error_description: "the scope asks for more than was granted" }
      )
      expectError(
        yield* tokenExchange(w, authOf(agent), yield* subjectJwt(w, idp, agent, { scope: undefined }), { resource: w.resource }),
        { error: "invalid_scope", error_description: "none of the scope applies to the resource" }
      )
      // the person's authentication at the issuer does not count as a fresh one at Tessera
      const stepUp = yield* subjectJwt(w, idp, agent, { scope: "list unseal", auth_time: yield* nowSeconds })
      expectError(
        yield* tokenExchange(w, authOf(agent), stepUp, { resource: vault, scope: "unseal" }),
        { error: "invalid_scope", error_description: "fresh authentication required: a requested scope is a step-up scope of the resource" }
      )
      expectExchanged(yield* tokenExchange(w, authOf(agent), stepUp, { resource: vault }), "list")
    }))

  it.effect("ADR 0025: no consent record here: only the resources the realm's admin registered for the agent; none registered is invalid_target", () =>
    Effect.gen(function*() {
      const w = yield* world
      const idp = yield* trustedIssuer(w)
      const unknownOrNotAllowed = { error: "invalid_target", error_description: "the resource is unknown or not allowed to the client" }
      // registered without `resources` (every resource by default): nothing to exchange for
      const every = yield* agentClient(w, { resources: undefined })
      for (const resource of [w.resource, w.otherResource]) {
        expectError(yield* tokenExchange(w, authOf(every), yield* subjectJwt(w, idp, every, { scope: "read admin" }), { resource }), unknownOrNotAllowed)
      }
      // registered with `resources`: those, and only those
      const registered = yield* agentClient(w, { resources: [w.resource] })
      const jwt = yield* subjectJwt(w, idp, registered, { scope: "read admin" })
      expectExchanged(yield* tokenExchange(w, authOf(registered), jwt, { resource: w.resource }), "read")
      expectError(yield* tokenExchange(w, authOf(registered), jwt, { resource: w.otherResource }), unknownOrNotAllowed)
      expect((yield* auditOf(w, "token.exchanged")).map((e) => e["client_id"])).toEqual([registered.client_id])
    }))

  it.effect("§5.2: a client that is not an agent is unauthorized_client", () =>
    Effect.gen(function*() {
      const w = yield* world
      const app = yield* registerClient(w, { grant_types: [grantType], redirect_uris: [], response_types: [] })
      const idp = yield* trustedIssuer(w)
      expectError(yield* tokenExchange(w, authOf(app), yield* subjectJwt(w, idp, app)), {
        error: "unauthorized_client", error_description: "token exchange is for agent clients only"
      })
    }))
})

it.effect("ADR 0011 for jwt subject tokens: the exchanged token never outlives the JWT", () =>
  Effect.gen(function*() {
    const w = yield* world
    const agent = yield* agentClient(w)
    const idp = yield* trustedIssuer(w)
    const now = yield* nowSeconds
    const jwt = yield* subjectJwt(w, idp, agent, { exp: now + 300 })
    yield* TestClock.adjust(Duration.seconds(180))
    const token = expectExchanged(yield* tokenExchange(w, authOf(agent), jwt), "read write", 120)
    expect((yield* verify(w, token)).payload.exp).toBe(now + 300)
    yield* TestClock.adjust(Duration.seconds(120))
    expectError(yield* tokenExchange(w, authOf(agent), jwt), expired)
  }).pipe(Effect.provide(TestLive.world())))
