import { expect } from "@effect/vitest"
import { DateTime, Duration, Effect, TestClock } from "effect"
import { AccessTokens, Jwt, Session, SigningKeys } from "@tessera/domain"
import { admin } from "./support/Http.js"
import * as TestLive from "./support/TestLive.js"
import {
  accessTokenLifetime, accessTokenType, auditOf, authOf, exchange, expectExchanged, expectTokenError as expectError, introspect, invalidGrant,
  issueCode, nowSeconds, post, registerClient, revoke, tokenExchangeGrant as grantType, userAgent, verify, world
} from "./support/TokenFixtures.js"
import type { Auth, RegisteredClient, World } from "./support/TokenFixtures.js"

const it = TestLive.file()

/** DESIGN "Agents": an agent client that people authorize (code grant) and that exchanges their tokens. */
const agentClient = (w: World, metadata: Record<string, unknown> = {}) =>
  registerClient(w, { principal_type: "agent", grant_types: ["authorization_code", "refresh_token", grantType], ...metadata })

/**
 * A person's access token issued to `client` by the code grant: the grant and code written through the ports as the
 * authorization endpoint would, then redeemed at the real token endpoint.
 */
const personToken = (w: World, client: RegisteredClient, scopes: ReadonlyArray<string> = ["read", "write"], resource = w.resource) =>
  Effect.gen(function*() {
    const code = yield* issueCode(w, { clientId: client.client_id, scopes, resources: [resource] })
    const res = yield* exchange(w, authOf(client), code, { resource })
    expect(res.status).toBe(200)
    return res.json as { access_token: string; refresh_token?: string }
  })

/** An access token signed by the realm's active ES256 key through the domain, with whatever claims a case needs. */
const mint = (w: World, claims: Record<string, unknown>) =>
  Effect.gen(function*() {
    const iat = yield* nowSeconds
    return yield* Jwt.sign(
      { iss: w.issuer, aud: w.resource, scope: "read write", jti: crypto.randomUUID(), iat, exp: iat + 900, ...claims },
      yield* SigningKeys.signer(w.realmId, "ES256"),
      "at+jwt"
    )
  })

/** A third resource that understands the same scopes as the world's `resource` (`read`, `write`): a resource B. */
const sameScopesResource = (w: World) =>
  Effect.gen(function*() {
    const uri = `https://files.example/${w.name}`
    const res = yield* admin.post(`/admin/realms/${w.name}/resources`, { uri, scopes: ["read", "write"] })
    expect(res.status).toBe(201)
    return uri
  })

/** Links a minted token to a grant, as the code grant does for the tokens it issues (RFC 7009 §2.1). */
const linkToGrant = (w: World, token: string, grantId: string) =>
  Effect.gen(function*() {
    const { payload } = yield* verify(w, token)
    yield* Effect.flatMap(AccessTokens.AccessTokens, (tokens) => tokens.record(w.realmId, payload.jti!, grantId, DateTime.unsafeMake(payload.exp! * 1000)))
  })

const unknownOrNotAllowed = { error: "invalid_target", error_description: "the resource is unknown or not allowed to the client" }

/** RFC 8693 §2.1: the token exchange request. */
const tokenExchange = (w: Pick<World, "name">, auth: Auth, subjectToken: string, extra: Record<string, string> = {}) =>
  post(w, "token", auth, { grant_type: grantType, subject_token: subjectToken, subject_token_type: accessTokenType, ...extra })

const notActive = invalidGrant("'subject_token' is not an active access token of this realm")
const notDelegable = invalidGrant("'subject_token' may not be delegated to this client")
const freshAuthenticationRequired = {
  error: "invalid_scope", error_description: "fresh authentication required: a requested scope is a step-up scope of the resource"
}

/** The exchanged token's whole claim set (RFC 9068 §2.2, RFC 8693 §4.1), verified with jose against the JWKS. */
const expectClaims = (w: World, token: string, expected: Record<string, unknown>) =>
  Effect.gen(function*() {
    const now = yield* nowSeconds
    const { payload, protectedHeader } = yield* verify(w, token, { typ: "at+jwt", algorithms: ["ES256"] })
    expect(protectedHeader).toEqual({ alg: "ES256", typ: "at+jwt", kid: expect.any(String) })
    expect(payload).toEqual({ iss: w.issuer, jti: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/), iat: now, exp: now + accessTokenLifetime, ...expected })
    return payload
  })

it.layer(TestLive.World)("RFC 8693: token exchange", (it) => {
  it.effect("§2.1 / §4.1: an agent exchanges a person's token: sub the person, act the agent, narrower scope; audited", () =>
    Effect.gen(function*() {
      const w = yield* world
      const agent = yield* agentClient(w)
      const subject = yield* personToken(w, agent)
      const before = (yield* verify(w, subject.access_token)).payload
      expect(before.act).toBeUndefined()
      const res = yield* tokenExchange(w, authOf(agent), subject.access_token, { resource: w.resource, scope: "read" })
      const token = expectExchanged(res, "read")
      yield* expectClaims(w, token, {
        sub: w.sub, aud: w.resource, client_id: agent.client_id, scope: "read",
        auth_time: before.auth_time, acr: Session.passwordAcr, act: { sub: agent.client_id }
      })
      expect(yield* auditOf(w, "token.exchanged")).toEqual([{
        id: expect.any(String), at: expect.any(String), realm: w.name, type: "token.exchanged",
        actor: { type: "agent", id: agent.client_id }, subject: w.sub, client_id: agent.client_id, grant_type: grantType,
        resource: w.resource, scope: "read", act: { sub: agent.client_id }, result: "success", ip: "127.0.0.1", user_agent: userAgent
      }])
      // RFC 7662: introspection shows the actor too
      expect((yield* introspect(w, authOf(agent), token)).json).toMatchObject({ active: true, sub: w.sub, act: { sub: agent.client_id } })
    }))

  it.effect("without scope: the subject's, cut to the resource; without resource: the agent's only one; `audience` reads as `resource`", () =>
    Effect.gen(function*() {
      const w = yield* world
      const agent = yield* agentClient(w)
      const subject = yield* personToken(w, agent)
      expectExchanged(yield* tokenExchange(w, authOf(agent), subject.access_token), "read write")
      const viaAudience = expectExchanged(yield* tokenExchange(w, authOf(agent), subject.access_token, { audience: w.resource }), "read write")
      expect((yield* verify(w, viaAudience)).payload.aud).toBe(w.resource)
      expectExchanged(yield* tokenExchange(w, authOf(agent), subject.access_token, { requested_token_type: accessTokenType }), "read write")
    }))

  it.effect("§4.1: exchanging an exchanged token nests the earlier act", () =>
    Effect.gen(function*() {
      const w = yield* world
      const agent = yield* agentClient(w)
      const subject = yield* mint(w, {
        sub: w.sub, client_id: agent.client_id, auth_time: yield* nowSeconds, acr: Session.passwordAcr,
        act: { sub: "planner", act: { sub: "assistant" } }
      })
      const token = expectExchanged(yield* tokenExchange(w, authOf(agent), subject, { scope: "write" }), "write")
      const chain = { sub: agent.client_id, act: { sub: "planner", act: { sub: "assistant" } } }
      yield* expectClaims(w, token, {
        sub: w.sub, aud: w.resource, client_id: agent.client_id, scope: "write", auth_time: yield* nowSeconds, acr: Session.passwordAcr, act: chain
      })
      // the exchanged token can be exchanged again: one more level
      const again = expectExchanged(yield* tokenExchange(w, authOf(agent), token), "write")
      expect((yield* verify(w, again)).payload.act).toEqual({ sub: agent.client_id, act: chain })
      const [latest, first] = yield* auditOf(w, "token.exchanged")
      expect(first).toMatchObject({ act: chain })
      expect(latest).toMatchObject({ act: { sub: agent.client_id, act: chain } })
    }))

  it.effect("§4.4: may_act naming the agent makes another client's token delegable; naming another does not", () =>
    Effect.gen(function*() {
      const w = yield* world
      const agent = yield* agentClient(w)
      // CONTRACT §5 Introspection (ADR 0034): a token of a client that is not registered is inactive, so a real one
      const app = yield* registerClient(w)
      const named = yield* mint(w, { sub: w.sub, client_id: app.client_id, may_act: { sub: agent.client_id } })
      const token = expectExchanged(yield* tokenExchange(w, authOf(agent), named), "read write")
      // no auth_time or acr in, none out
      yield* expectClaims(w, token, { sub: w.sub, aud: w.resource, client_id: agent.client_id, scope: "read write", act: { sub: agent.client_id } })
      const other = yield* mint(w, { sub: w.sub, client_id: app.client_id, auth_time: yield* nowSeconds, may_act: { sub: "another-agent" } })
      expectError(yield* tokenExchange(w, authOf(agent), other), notDelegable)
    }))

  it.effect("§5.2: unauthorized_client for a client that is not an agent, and for an agent without the grant type", () =>
    Effect.gen(function*() {
      const w = yield* world
      const app = yield* registerClient(w, { grant_types: ["authorization_code", grantType] })
      const subject = yield* personToken(w, app)
      expectError(yield* tokenExchange(w, authOf(app), subject.access_token), {
        error: "unauthorized_client", error_description: "token exchange is for agent clients only"
      })
      const agent = yield* registerClient(w, { principal_type: "agent" })
      const own = yield* personToken(w, agent)
      expectError(yield* tokenExchange(w, authOf(agent), own.access_token), {
        error: "unauthorized_client", error_description: `the client may not use the '${grantType}' grant`
      })
      expect(yield* auditOf(w, "token.exchanged")).toEqual([])
    }))

  it.effect("CONTRACT §5: invalid_grant for another realm's token, garbage, a revoked one, another client's, a client credentials one", () =>
    Effect.gen(function*() {
      const w = yield* world
      const agent = yield* agentClient(w, { grant_types: ["authorization_code", "refresh_token", "client_credentials", grantType] })
      // another realm: same agent name nowhere there, a token signed by that realm's keys
      const elsewhere = yield* world
      const stranger = yield* agentClient(elsewhere)
      expectError(yield* tokenExchange(w, authOf(agent), (yield* personToken(elsewhere, stranger)).access_token), notActive)
      // a token of this realm's shape but signed by another realm's key
      expectError(yield* tokenExchange(w, authOf(agent), yield* mint({ ...w, realmId: elsewhere.realmId }, {
        sub: w.sub, client_id: agent.client_id, auth_time: yield* nowSeconds
      })), notActive)
      expectError(yield* tokenExchange(w, authOf(agent), "not-a-token"), notActive)
      // revoked (RFC 7009)
      const revoked = yield* personToken(w, agent)
      expect((yield* revoke(w, authOf(agent), revoked.access_token)).status).toBe(200)
      expectError(yield* tokenExchange(w, authOf(agent), revoked.access_token), notActive)
      // issued to another client, no may_act
      const app = yield* registerClient(w)
      expectError(yield* tokenExchange(w, authOf(agent), (yield* personToken(w, app)).access_token), notDelegable)
      // the agent's own client credentials token: no person authorized it
      const machine = yield* post(w, "token", authOf(agent), { grant_type: "client_credentials" })
      expect(machine.status).toBe(200)
      expectError(yield* tokenExchange(w, authOf(agent), (machine.json as { access_token: string }).access_token), notDelegable)
      expect(yield* auditOf(w, "token.exchanged")).toEqual([])
    }))

  it.effect("RFC 7009: revoking the person's grant reaches the exchanged token", () =>
    Effect.gen(function*() {
      const w = yield* world
      const agent = yield* agentClient(w)
      const subject = yield* personToken(w, agent)
      const token = expectExchanged(yield* tokenExchange(w, authOf(agent), subject.access_token), "read write")
      expect((yield* introspect(w, authOf(agent), token)).json).toMatchObject({ active: true })
      expect((yield* revoke(w, authOf(agent), subject.refresh_token!)).status).toBe(200)
      expect((yield* introspect(w, authOf(agent), token)).json).toEqual({ active: false })
    }))

  it.effect("§2.1: an actor_token must be an active access token issued to the agent", () =>
    Effect.gen(function*() {
      const w = yield* world
      const agent = yield* agentClient(w)
      const subject = yield* personToken(w, agent)
      const own = yield* personToken(w, agent)
      expectExchanged(
        yield* tokenExchange(w, authOf(agent), subject.access_token, { actor_token: own.access_token, actor_token_type: accessTokenType }),
        "read write"
      )
      const app = yield* registerClient(w)
      const foreign = yield* personToken(w, app)
      const notTheAgent = invalidGrant("'actor_token' is not an active access token of this client")
      expectError(
        yield* tokenExchange(w, authOf(agent), subject.access_token, { actor_token: foreign.access_token, actor_token_type: accessTokenType }),
        notTheAgent
      )
      expectError(
        yield* tokenExchange(w, authOf(agent), subject.access_token, { actor_token: "garbage", actor_token_type: accessTokenType }),
        notTheAgent
      )
    }))

  it.effect("RFC 8707 §2: invalid_target for an unknown resource, one not allowed, none with several, two at once", () =>
    Effect.gen(function*() {
      const w = yield* world
      const agent = yield* agentClient(w)
      const subject = yield* personToken(w, agent)
      expectError(yield* tokenExchange(w, authOf(agent), subject.access_token, { resource: "https://unknown.example/api" }), unknownOrNotAllowed)
      expectError(yield* tokenExchange(w, authOf(agent), subject.access_token, { resource: w.otherResource }), unknownOrNotAllowed)
      const every = yield* agentClient(w, { resources: undefined })
      expectError(yield* tokenExchange(w, authOf(every), (yield* personToken(w, every)).access_token), {
        error: "invalid_target", error_description: "'resource' is required: the client is not registered for exactly one resource"
      })
      expectError(
        yield* post(w, "token", authOf(agent), [
          ["grant_type", grantType], ["subject_token", subject.access_token], ["subject_token_type", accessTokenType],
          ["resource", w.resource], ["resource", w.otherResource]
        ]),
        { error: "invalid_target", error_description: "at most one 'resource' may be requested" }
      )
      expectError(
        yield* tokenExchange(w, authOf(agent), subject.access_token, { resource: w.resource, audience: w.resource }),
        { error: "invalid_request", error_description: "'resource' and 'audience' must not both be given" }
      )
    }))

  it.effect("CONTRACT §5 attack: consent for A, exchange for B: invalid_target for an agent registered without `resources` or with A only", () =>
    Effect.gen(function*() {
      const w = yield* world
      const b = yield* sameScopesResource(w)
      for (const resources of [undefined, [w.resource]]) {
        const agent = yield* agentClient(w, { resources })
        const subject = yield* personToken(w, agent)
        expectError(yield* tokenExchange(w, authOf(agent), subject.access_token, { resource: b }), unknownOrNotAllowed)
        // the granted resource still is
        const token = expectExchanged(yield* tokenExchange(w, authOf(agent), subject.access_token, { resource: w.resource }), "read write")
        expect((yield* verify(w, token)).payload.aud).toBe(w.resource)
        // nor does exchanging the exchanged token reach B; it keeps reaching what the person granted
        expectError(yield* tokenExchange(w, authOf(agent), token, { resource: b }), unknownOrNotAllowed)
        expectExchanged(yield* tokenExchange(w, authOf(agent), token, { resource: w.resource, scope: "read" }), "read")
      }
      // refusals are not audited as exchanges; the four successes are
      expect((yield* auditOf(w, "token.exchanged")).map((e) => e["resource"])).toEqual([w.resource, w.resource, w.resource, w.resource])
    }))

  it.effect("CONTRACT §5: a resource the realm's admin registered in the agent's `resources` is reachable without the person's grant", () =>
    Effect.gen(function*() {
      const w = yield* world
      const b = yield* sameScopesResource(w)
      const agent = yield* agentClient(w, { resources: [w.resource, b] })
      const subject = yield* personToken(w, agent)
      const token = expectExchanged(yield* tokenExchange(w, authOf(agent), subject.access_token, { resource: b, scope: "read" }), "read")
      yield* expectClaims(w, token, {
        sub: w.sub, aud: b, client_id: agent.client_id, scope: "read",
        auth_time: (yield* verify(w, subject.access_token)).payload.auth_time, acr: Session.passwordAcr, act: { sub: agent.client_id }
      })
      // its scheme and host spelled in capitals, it is the registered resource (RFC 3986 §6.2.2.1)
      const respelled = b.replace("https://files.example/", "HTTPS://FILES.EXAMPLE/")
      expect((yield* verify(w, expectExchanged(yield* tokenExchange(w, authOf(agent), subject.access_token, { resource: respelled }), "read write"))).payload.aud)
        .toBe(b)
    }))

  it.effect("ADR 0025 may_act: another client's token reaches its own aud and the agent's registered resources, never its grant's other resources", () =>
    Effect.gen(function*() {
      const w = yield* world
      const b = yield* sameScopesResource(w)
      // the person consented to A and B for the app; the app's token for A names the agent in may_act
      const app = yield* registerClient(w, { resources: undefined })
      const code = yield* issueCode(w, { clientId: app.client_id, scopes: ["read", "write"], resources: [w.resource, b] })
      expect((yield* exchange(w, authOf(app), code, { resource: w.resource })).status).toBe(200)
      const every = yield* agentClient(w, { resources: undefined })
      const named = yield* mint(w, { sub: w.sub, client_id: app.client_id, auth_time: yield* nowSeconds, may_act: { sub: every.client_id } })
      expectExchanged(yield* tokenExchange(w, authOf(every), named, { resource: w.resource }), "read write")
      expectError(yield* tokenExchange(w, authOf(every), named, { resource: b }), unknownOrNotAllowed)
      // a grant-linked token of the app (as the code grant records it) with may_act: the app's grant still does not count
      const linked = yield* mint(w, { sub: w.sub, client_id: app.client_id, auth_time: yield* nowSeconds, may_act: { sub: every.client_id } })
      yield* linkToGrant(w, linked, code.grantId)
      expectError(yield* tokenExchange(w, authOf(every), linked, { resource: b }), unknownOrNotAllowed)
      // what the admin registered for the agent does
      const registered = yield* agentClient(w, { resources: [b] })
      const forRegistered = yield* mint(w, { sub: w.sub, client_id: app.client_id, may_act: { sub: registered.client_id } })
      expectExchanged(yield* tokenExchange(w, authOf(registered), forRegistered, { resource: b }), "read write")
      expectExchanged(yield* tokenExchange(w, authOf(registered), forRegistered, { resource: w.resource }), "read write")
    }))

  it.effect("§5.2: invalid_scope for a scope wider than the subject token's, or none left for the resource", () =>
    Effect.gen(function*() {
      const w = yield* world
      const agent = yield* agentClient(w, { resources: [w.resource, w.otherResource] })
      const subject = yield* personToken(w, agent, ["read"])
      expectError(yield* tokenExchange(w, authOf(agent), subject.access_token, { resource: w.resource, scope: "read write" }), {
        error: "invalid_scope", error_description: "the scope asks for more than was granted"
      })
      expectError(yield* tokenExchange(w, authOf(agent), subject.access_token, { resource: w.otherResource }), {
        error: "invalid_scope", error_description: "none of the scope applies to the resource"
      })
    }))

  it.effect("§2.2.2: invalid_request for an unsupported subject_token_type, actor_token_type or requested_token_type", () =>
    Effect.gen(function*() {
      const w = yield* world
      const agent = yield* agentClient(w)
      const subject = yield* personToken(w, agent)
      // §3: jwt is supported (trusted issuers' JWTs, rfc8693-jwt-subject-token.test.ts); these are not
      for (const type of ["urn:ietf:params:oauth:token-type:saml2", "urn:ietf:params:oauth:token-type:refresh_token", "jwt"]) {
        expectError(
          yield* tokenExchange(w, authOf(agent), subject.access_token, { subject_token_type: type }),
          { error: "invalid_request", error_description: "unsupported subject_token_type" }
        )
      }
      // an ID token is a subject for an ID-JAG only (id-jag-idp-token-exchange.test.ts)
      expectError(
        yield* tokenExchange(w, authOf(agent), subject.access_token, { subject_token_type: "urn:ietf:params:oauth:token-type:id_token" }),
        {
          error: "invalid_request",
          error_description: "an ID token is exchanged only for an ID-JAG: 'requested_token_type' must be urn:ietf:params:oauth:token-type:id-jag"
        }
      )
      expectError(
        yield* tokenExchange(w, authOf(agent), subject.access_token, {
          actor_token: subject.access_token, actor_token_type: "urn:ietf:params:oauth:token-type:jwt"
        }),
        { error: "invalid_request", error_description: "unsupported actor_token_type" }
      )
      expectError(
        yield* tokenExchange(w, authOf(agent), subject.access_token, { requested_token_type: "urn:ietf:params:oauth:token-type:jwt" }),
        { error: "invalid_request", error_description: "unsupported requested_token_type" }
      )
      expectError(
        yield* tokenExchange(w, authOf(agent), subject.access_token, { requested_token_type: "urn:ietf:params:oauth:token-type:refresh_token" }),
        { error: "invalid_request", error_description: "unsupported requested_token_type" }
      )
    }))

  it.effect("a wrong client secret is invalid_client before any token is looked at", () =>
    Effect.gen(function*() {
      const w = yield* world
      const agent = yield* agentClient(w)
      const res = yield* tokenExchange(w, { basic: [agent.client_id, "wrong"] }, "anything")
      expect(res.status).toBe(401)
      expect(res.json).toMatchObject({ error: "invalid_client" })
    }))
})

// ---------------------------------------------------------------------------------------------------------------
// Time: a world per test, so TestClock may move
// ---------------------------------------------------------------------------------------------------------------

/** A vault resource whose `unseal` scope needs step-up, and an agent a person authorized for it just now. */
const vaultSetup = Effect.gen(function*() {
  const w = yield* world
  const vault = `https://vault.example/${w.name}`
  const created = yield* admin.post(`/admin/realms/${w.name}/resources`, { uri: vault, scopes: ["list", "unseal"], step_up_scopes: ["unseal"] })
  expect(created.status).toBe(201)
  const agent = yield* agentClient(w, { resources: [vault] })
  const subject = yield* personToken(w, agent, ["list", "unseal"], vault)
  return { w, vault, agent, subject }
})

it.effect("CONTRACT §5 step-up: a step-up scope on a fresh authentication is granted, and the event says so", () =>
  Effect.gen(function*() {
    const { agent, subject, vault, w } = yield* vaultSetup
    yield* TestClock.adjust(Duration.minutes(5))
    // the delegated token ends when the person's token does (issued 5 minutes ago for 15)
    const token = expectExchanged(yield* tokenExchange(w, authOf(agent), subject.access_token, { scope: "unseal" }), "unseal", 600)
    const { payload } = yield* verify(w, token)
    expect(payload).toMatchObject({ aud: vault, scope: "unseal", act: { sub: agent.client_id } })
    expect(payload.auth_time).toBe((yield* nowSeconds) - 300)
    expect(yield* auditOf(w, "token.exchanged")).toEqual([{
      id: expect.any(String), at: expect.any(String), realm: w.name, type: "token.exchanged",
      actor: { type: "agent", id: agent.client_id }, subject: w.sub, client_id: agent.client_id, grant_type: grantType,
      resource: vault, scope: "unseal", act: { sub: agent.client_id }, result: "success",
      reason: "step-up scope granted: the person authenticated within the last 5 minutes", ip: "127.0.0.1", user_agent: userAgent
    }])
  }).pipe(Effect.provide(TestLive.world())))

it.effect("CONTRACT §5 step-up: after 5 minutes a step-up scope is invalid_scope; the default scope leaves it out", () =>
  Effect.gen(function*() {
    const { agent, subject, w } = yield* vaultSetup
    yield* TestClock.adjust(Duration.sum(Duration.minutes(5), Duration.seconds(1)))
    expectError(yield* tokenExchange(w, authOf(agent), subject.access_token, { scope: "unseal" }), freshAuthenticationRequired)
    expectError(yield* tokenExchange(w, authOf(agent), subject.access_token, { scope: "list unseal" }), freshAuthenticationRequired)
    expectExchanged(yield* tokenExchange(w, authOf(agent), subject.access_token), "list", 599)
  }).pipe(Effect.provide(TestLive.world())))

it.effect("ADR 0011: an exchanged token never outlives the subject token (exp capped, expires_in what is left)", () =>
  Effect.gen(function*() {
    const w = yield* world
    const agent = yield* agentClient(w)
    const subject = yield* personToken(w, agent)
    yield* TestClock.adjust(Duration.minutes(14))
    const token = expectExchanged(yield* tokenExchange(w, authOf(agent), subject.access_token), "read write", 60)
    const subjectExp = (yield* verify(w, subject.access_token)).payload.exp
    expect((yield* verify(w, token)).payload.exp).toBe(subjectExp)
  }).pipe(Effect.provide(TestLive.world())))

it.effect("CONTRACT §5: an expired subject token is invalid_grant", () =>
  Effect.gen(function*() {
    const w = yield* world
    const agent = yield* agentClient(w)
    const subject = yield* personToken(w, agent)
    yield* TestClock.adjust(Duration.sum(Duration.minutes(15), Duration.seconds(1)))
    expectError(yield* tokenExchange(w, authOf(agent), subject.access_token), notActive)
    // the same token minted to last longer would still pass: it is the expiry that refuses it
    const longer = yield* mint(w, { sub: w.sub, client_id: agent.client_id, auth_time: (yield* nowSeconds) - 60 })
    expectExchanged(yield* tokenExchange(w, authOf(agent), longer), "read write")
  }).pipe(Effect.provide(TestLive.world())))
