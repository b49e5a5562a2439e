/**
 * Issue 16, CONTRACT §5 "ID-JAG" (draft-ietf-oauth-identity-assertion-authz-grant §4.3): the realm as the enterprise
 * identity provider. A client exchanges an ID token this realm issued to it for an Identity Assertion JWT
 * Authorization Grant toward one of its `id_jag_targets`; every refusal of §4.3.3 and RFC 8693 §2.2.2, the whole wire
 * answer each. ADR 0048 records the choices the draft leaves open.
 */
import { expect } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { Jwt, Session, SigningKeys } from "@tessera/domain"
import * as DpopFixtures from "./support/DpopFixtures.js"
import { admin, request } from "./support/Http.js"
import * as TestLive from "./support/TestLive.js"
import {
  accessTokenType, auditOf, authOf, exchange, expectTokenError, expectTokenResponse, invalidGrant, issueCode, nowSeconds, post,
  registerClient, signIn, tokenExchangeGrant, userAgent, verify, world
} from "./support/TokenFixtures.js"
import type { Auth, RegisteredClient, World } from "./support/TokenFixtures.js"

const it = TestLive.file()

const idTokenType = "urn:ietf:params:oauth:token-type:id_token"
const idJagType = "urn:ietf:params:oauth:token-type:id-jag"

/** The other authorization server (the MCP server's), its resource, and this client's id there. */
const mcpIssuer = "https://mcp-as.example/realms/mcp"
const mcpResource = "https://mcp.example/mcp"
const mcpClientId = "client-at-mcp"

/** A client of the IdP realm that may exchange its people's ID tokens for ID-JAGs toward `mcpIssuer`. */
const jagClient = (w: World, metadata: Record<string, unknown> = {}) =>
  registerClient(w, {
    grant_types: ["authorization_code", "refresh_token", tokenExchangeGrant],
    id_jag_targets: [{ audience: mcpIssuer, client_id: mcpClientId }, { audience: "https://other-as.example", client_id: "elsewhere" }],
    ...metadata
  })

/** The person's ID token issued to `client` by the code grant (OIDC Core §3.1.3.3), in session `sid` when given. */
const idTokenOf = (w: World, client: RegisteredClient, scopes: ReadonlyArray<string> = ["openid", "email"], sid?: string) =>
  Effect.gen(function*() {
    const code = yield* issueCode(w, { clientId: client.client_id, scopes, ...(sid !== undefined ? { sid } : {}) })
    const res = yield* exchange(w, authOf(client), code)
    expect(res.status).toBe(200)
    return (res.json as { id_token: string }).id_token
  })

/** draft §4.3: the token exchange request for an ID-JAG. */
const requestJag = (
  w: Pick<World, "name">,
  auth: Auth,
  subjectToken: string,
  extra: Record<string, string> | ReadonlyArray<readonly [string, string]> = {},
  headers: Record<string, string> = {}
) =>
  post(w, "token", auth, [
    ["grant_type", tokenExchangeGrant], ["requested_token_type", idJagType], ["subject_token", subjectToken],
    ["subject_token_type", idTokenType], ...(Array.isArray(extra) ? extra : Object.entries(extra))
  ], { headers })

const toMcp = { audience: mcpIssuer, resource: mcpResource, scope: "mcp:tools" }

/** draft §4.3.4: 200, no-store; the ID-JAG as access_token, its type, token_type N_A, no refresh token. Returns it. */
const expectJag = (res: Parameters<typeof expectTokenResponse>[0], expiresIn: number, scope: string | undefined) => {
  expectTokenResponse(res, {
    access_token: expect.any(String), issued_token_type: idJagType, token_type: "N_A", expires_in: expiresIn,
    ...(scope !== undefined ? { scope } : {})
  })
  return (res.json as { access_token: string }).access_token
}

/** The ID-JAG's header and whole claim set, verified with jose against the realm's JWKS (draft §3.1). */
const expectJagClaims = (w: World, jag: string, expected: Record<string, unknown>, lifetime = 300) =>
  Effect.gen(function*() {
    const now = yield* nowSeconds
    const { payload, protectedHeader } = yield* verify(w, jag, { typ: "oauth-id-jag+jwt", algorithms: ["RS256"], audience: mcpIssuer })
    expect(protectedHeader).toEqual({ alg: "RS256", typ: "oauth-id-jag+jwt", kid: expect.any(String) })
    expect(payload).toEqual({
      iss: w.issuer, sub: w.sub, aud: mcpIssuer, client_id: mcpClientId, jti: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
      iat: now, exp: now + lifetime, ...expected
    })
    return payload
  })

const invalidRequest = (description: string) => ({ error: "invalid_request", error_description: description })
const notAnIdToken = invalidGrant("'subject_token' is not an ID token of this realm")
const notSignedIn = invalidGrant("'subject_token' no longer stands for a signed-in person")

it.layer(TestLive.World)("draft-ietf-oauth-identity-assertion-authz-grant §4.3: token exchange for an ID-JAG", (it) => {
  it.effect("§4.3.4: the ID-JAG for a target: iss, sub, aud, client_id there, resource, scope, auth_time, acr, amr, email; audited", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* jagClient(w)
      const sid = yield* signIn(w)
      const idToken = yield* idTokenOf(w, client, ["openid", "email"], sid)
      const idClaims = (yield* verify(w, idToken)).payload
      const jag = expectJag(yield* requestJag(w, authOf(client), idToken, toMcp), 300, "mcp:tools")
      yield* expectJagClaims(w, jag, {
        resource: mcpResource, scope: "mcp:tools", auth_time: idClaims.auth_time, acr: Session.passwordAcr, amr: ["pwd"],
        email: "ada@example.com"
      })
      expect(yield* auditOf(w, "id_jag.issued")).toEqual([{
        id: expect.any(String), at: expect.any(String), realm: w.name, type: "id_jag.issued",
        actor: { type: "client", id: client.client_id }, subject: w.sub, client_id: client.client_id, grant_type: tokenExchangeGrant,
        resource: mcpResource, scope: "mcp:tools", result: "success", reason: `for ${mcpIssuer} as client ${mcpClientId}`,
        ip: "127.0.0.1", user_agent: userAgent
      }])
    }))

  it.effect("§3.1: without resource or scope, none in the grant; email only when the ID token carried it", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* jagClient(w)
      const idToken = yield* idTokenOf(w, client, ["openid"])
      const jag = expectJag(yield* requestJag(w, authOf(client), idToken, { audience: mcpIssuer }), 300, undefined)
      const idClaims = (yield* verify(w, idToken)).payload
      yield* expectJagClaims(w, jag, { auth_time: idClaims.auth_time, acr: Session.passwordAcr, amr: ["pwd"] })
      // the second target's own client id
      const other = expectJag(yield* requestJag(w, authOf(client), idToken, { audience: "https://other-as.example" }), 300, undefined)
      expect((yield* verify(w, other, { audience: "https://other-as.example" })).payload).toMatchObject({ client_id: "elsewhere" })
    }))

  it.effect("§8.6.1.1: with a DPoP proof the ID-JAG carries cnf.jkt of its key, and token_type stays N_A", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* jagClient(w)
      const idToken = yield* idTokenOf(w, client)
      const key = yield* DpopFixtures.key()
      const proof = yield* DpopFixtures.proof(w, key, "token")
      const jag = expectJag(yield* requestJag(w, authOf(client), idToken, toMcp, DpopFixtures.dpop(proof)), 300, "mcp:tools")
      expect((yield* verify(w, jag, { audience: mcpIssuer })).payload.cnf).toEqual({ jkt: key.jkt })
    }))

  it.effect("RFC 6749 §5.2: a client not registered for token exchange is unauthorized_client", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* registerClient(w, { id_jag_targets: [{ audience: mcpIssuer, client_id: mcpClientId }] })
      const idToken = yield* idTokenOf(w, client)
      expectTokenError(yield* requestJag(w, authOf(client), idToken, toMcp), {
        error: "unauthorized_client", error_description: `the client may not use the '${tokenExchangeGrant}' grant`
      })
      expect(yield* auditOf(w, "id_jag.issued")).toEqual([])
    }))

  it.effect("RFC 8693 §2.2.2: an audience that is none of the client's id_jag_targets is invalid_target (none registered too)", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* jagClient(w)
      const idToken = yield* idTokenOf(w, client)
      const notTarget = { error: "invalid_target", error_description: "the 'audience' is not one of the client's 'id_jag_targets'" }
      expectTokenError(yield* requestJag(w, authOf(client), idToken, { ...toMcp, audience: "https://evil-as.example" }), notTarget)
      // a target names an issuer exactly: a trailing slash is another issuer (RFC 8414 §2)
      expectTokenError(yield* requestJag(w, authOf(client), idToken, { ...toMcp, audience: `${mcpIssuer}/` }), notTarget)
      const plain = yield* registerClient(w, { grant_types: ["authorization_code", tokenExchangeGrant] })
      expectTokenError(yield* requestJag(w, authOf(plain), yield* idTokenOf(w, plain), toMcp), notTarget)
      expect(yield* auditOf(w, "id_jag.issued")).toEqual([])
    }))

  it.effect("§4.3.3: the ID token must be this realm's: an access token, another realm's ID token, or an ES256 JWT typed JWT is refused", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* jagClient(w)
      // an access token of this realm, presented as an ID token
      const code = yield* issueCode(w, { clientId: client.client_id, scopes: ["openid"] })
      const access = (yield* exchange(w, authOf(client), code)).json.access_token as string
      expectTokenError(yield* requestJag(w, authOf(client), access, toMcp), notAnIdToken)
      // an ID token another realm issued, to a client of the same id there is impossible; its own client suffices
      const foreign = yield* world
      const foreignClient = yield* jagClient(foreign)
      expectTokenError(yield* requestJag(w, authOf(client), yield* idTokenOf(foreign, foreignClient), toMcp), notAnIdToken)
      // ID token claims signed with the realm's access-token key (ES256): not how this realm signs ID tokens
      const iat = yield* nowSeconds
      const forged = yield* Jwt.sign(
        { iss: w.issuer, sub: w.sub, aud: client.client_id, azp: client.client_id, iat, exp: iat + 600, auth_time: iat },
        yield* SigningKeys.signer(w.realmId, "ES256"), "JWT"
      )
      expectTokenError(yield* requestJag(w, authOf(client), forged, toMcp), notAnIdToken)
      // not a JWT at all
      expectTokenError(yield* requestJag(w, authOf(client), "not.a.jwt", toMcp), notAnIdToken)
      expect(yield* auditOf(w, "id_jag.issued")).toEqual([])
    }))

  it.effect("§4.3.3: an ID token issued to another client of the realm is refused", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* jagClient(w)
      const other = yield* jagClient(w)
      const notIssuedToClient = invalidGrant("'subject_token' was not issued to this client")
      expectTokenError(yield* requestJag(w, authOf(client), yield* idTokenOf(w, other), toMcp), notIssuedToClient)
      // signed by the realm's ID-token key: the audience must be the client alone, and azp (when present) the client
      const iat = yield* nowSeconds
      const signer = yield* SigningKeys.signer(w.realmId, "RS256")
      const idToken = (claims: Record<string, unknown>) =>
        Jwt.sign({ iss: w.issuer, sub: w.sub, iat, exp: iat + 600, auth_time: iat, ...claims }, signer, "JWT")
      expectTokenError(yield* requestJag(w, authOf(client), yield* idToken({ aud: other.client_id }), toMcp), notIssuedToClient)
      expectTokenError(yield* requestJag(w, authOf(client), yield* idToken({ aud: [client.client_id, other.client_id] }), toMcp), notIssuedToClient)
      expectTokenError(
        yield* requestJag(w, authOf(client), yield* idToken({ aud: client.client_id, azp: other.client_id }), toMcp), notIssuedToClient)
      // the same claims for the client itself are an ID token of this realm
      expect(yield* auditOf(w, "id_jag.issued")).toEqual([])
      expect((yield* requestJag(w, authOf(client), yield* idToken({ aud: client.client_id }), toMcp)).status).toBe(200)
    }))

  it.effect("ADR 0048: the person's session ended, or the person disabled: the ID token no longer yields an ID-JAG", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* jagClient(w)
      const sid = yield* signIn(w)
      const idToken = yield* idTokenOf(w, client, ["openid"], sid)
      expect((yield* requestJag(w, authOf(client), idToken, toMcp)).status).toBe(200)
      const ended = yield* request("DELETE", `/admin/realms/${w.name}/users/${w.sub}/sessions/${sid}`, {
        headers: { authorization: `Bearer ${TestLive.adminToken}` }
      })
      expect(ended.status).toBe(204)
      expectTokenError(yield* requestJag(w, authOf(client), idToken, toMcp), notSignedIn)

      const person = yield* world
      const personClient = yield* jagClient(person)
      const token = yield* idTokenOf(person, personClient)
      const disabled = yield* request("PATCH", `/admin/realms/${person.name}/users/${person.sub}`, {
        headers: { authorization: `Bearer ${TestLive.adminToken}` }, json: { disabled: true }
      })
      expect(disabled.status).toBe(200)
      expectTokenError(yield* requestJag(person, authOf(personClient), token, toMcp), notSignedIn)
    }))

  it.effect("RFC 8693 §2.1 / draft §4.3: malformed ID-JAG requests are invalid_request (or invalid_target for the audience)", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* jagClient(w)
      const idToken = yield* idTokenOf(w, client)
      const auth = authOf(client)
      // an access token type as the subject of an ID-JAG request
      expectTokenError(yield* post(w, "token", auth, {
        grant_type: tokenExchangeGrant, requested_token_type: idJagType, subject_token: idToken, subject_token_type: accessTokenType, ...toMcp
      }), invalidRequest(`an ID-JAG is issued for an ID token: 'subject_token_type' must be ${idTokenType}`))
      // an ID token subject for anything but an ID-JAG
      expectTokenError(yield* post(w, "token", auth, {
        grant_type: tokenExchangeGrant, subject_token: idToken, subject_token_type: idTokenType, audience: mcpIssuer
      }), invalidRequest(`an ID token is exchanged only for an ID-JAG: 'requested_token_type' must be ${idJagType}`))
      // a requested token type Tessera does not issue
      expectTokenError(yield* post(w, "token", auth, {
        grant_type: tokenExchangeGrant, requested_token_type: "urn:ietf:params:oauth:token-type:saml2", subject_token: idToken,
        subject_token_type: idTokenType, audience: mcpIssuer
      }), invalidRequest("unsupported requested_token_type"))
      expectTokenError(yield* requestJag(w, auth, idToken, { resource: mcpResource }),
        invalidRequest("'audience' is required: the issuer of the authorization server the ID-JAG is for"))
      expectTokenError(yield* requestJag(w, auth, idToken, [["audience", mcpIssuer], ["audience", "https://other-as.example"]]),
        { error: "invalid_target", error_description: "an ID-JAG is for one authorization server: one 'audience'" })
      expectTokenError(yield* requestJag(w, auth, idToken, [["audience", mcpIssuer], ["resource", mcpResource], ["resource", "https://b.example/"]]),
        { error: "invalid_target", error_description: "at most one 'resource' may be requested" })
      expectTokenError(yield* requestJag(w, auth, idToken, { ...toMcp, actor_token: idToken, actor_token_type: idTokenType }),
        invalidRequest("'actor_token' is not taken with an ID-JAG request"))
      expectTokenError(yield* requestJag(w, auth, idToken, { ...toMcp, scope: "a  b" }),
        { error: "invalid_scope", error_description: "'scope' must be scope tokens separated by single spaces" })
      expect(yield* auditOf(w, "id_jag.issued")).toEqual([])
    }))
})

it.effect("§4.3.3: an expired ID token is refused; one about to expire yields an ID-JAG that expires with it (ADR 0048)", () =>
  Effect.gen(function*() {
    const w = yield* world
    const client = yield* jagClient(w)
    const idToken = yield* idTokenOf(w, client)
    // the ID token lives 15 minutes: 2 minutes before its end, the ID-JAG lives those 2 minutes
    yield* TestClock.adjust("13 minutes")
    const jag = expectJag(yield* requestJag(w, authOf(client), idToken, toMcp), 120, "mcp:tools")
    expect((yield* verify(w, jag, { audience: mcpIssuer })).payload).toMatchObject({ exp: (yield* nowSeconds) + 120 })
    yield* TestClock.adjust("2 minutes")
    expectTokenError(yield* requestJag(w, authOf(client), idToken, toMcp), invalidGrant("'subject_token' has expired"))
  }).pipe(Effect.provide(TestLive.world())))

it.layer(TestLive.World)("CONTRACT §3: id_jag_targets in client metadata", (it) => {
  it.effect("RFC 7591 §3.2.1: registered, read back, changed (client.updated names it) and removed through the admin API", () =>
    Effect.gen(function*() {
      const w = yield* world
      const targets = [{ audience: mcpIssuer, client_id: mcpClientId }, { audience: "http://127.0.0.1:9000/realms/mcp", client_id: "dev" }]
      const created = yield* admin.post(`/admin/realms/${w.name}/clients`, {
        grant_types: [tokenExchangeGrant], client_name: "Enterprise app", id_jag_targets: targets
      })
      expect(created.status).toBe(201)
      expect(created.json).toEqual({
        client_id: expect.any(String), client_secret: expect.any(String), client_secret_expires_at: 0, client_id_issued_at: expect.any(Number),
        redirect_uris: [], post_logout_redirect_uris: [], grant_types: [tokenExchangeGrant], response_types: [],
        token_endpoint_auth_method: "client_secret_basic", client_name: "Enterprise app", frontchannel_logout_session_required: false,
        dpop_bound_access_tokens: false, principal_type: "app", id_jag_targets: targets
      })
      const path = `/admin/realms/${w.name}/clients/${created.json.client_id}`
      expect((yield* admin.get(path)).json.id_jag_targets).toEqual(targets)
      const changed = yield* request("PATCH", path, {
        headers: { authorization: `Bearer ${TestLive.adminToken}` }, json: { id_jag_targets: [targets[0]] }
      })
      expect(changed.status).toBe(200)
      expect(changed.json.id_jag_targets).toEqual([targets[0]])
      expect((yield* auditOf(w, "client.updated"))[0]).toMatchObject({ reason: "changed: id_jag_targets" })
      const removed = yield* request("PATCH", path, { headers: { authorization: `Bearer ${TestLive.adminToken}` }, json: { id_jag_targets: null } })
      expect(removed.status).toBe(200)
      expect(removed.json.id_jag_targets).toBeUndefined()
    }))

  it.effect("RFC 7591 §3.2.2: a malformed id_jag_targets is invalid_client_metadata, nothing registered", () =>
    Effect.gen(function*() {
      const w = yield* world
      const target = { audience: mcpIssuer, client_id: mcpClientId }
      const cases: ReadonlyArray<readonly [unknown, string]> = [
        [target, "'id_jag_targets' must be an array of {\"audience\", \"client_id\"} objects"],
        [["https://a.example"], "id_jag_targets[0] must be an object with 'audience' and 'client_id'"],
        [[{ ...target, extra: 1 }], "id_jag_targets[0] may hold only 'audience' and 'client_id'"],
        [[{ client_id: "x" }], "id_jag_targets[0].audience must be an issuer: an https URL without query or fragment"],
        [[{ ...target, audience: "http://as.example" }], "id_jag_targets[0].audience must be an issuer: an https URL without query or fragment"],
        [[{ ...target, audience: "https://as.example?tenant=1" }], "id_jag_targets[0].audience must be an issuer: an https URL without query or fragment"],
        [[{ ...target, audience: "https://as.example#x" }], "id_jag_targets[0].audience must be an issuer: an https URL without query or fragment"],
        [[{ ...target, audience: "https://user:pw@as.example" }], "id_jag_targets[0].audience must be an issuer: an https URL without query or fragment"],
        [[{ audience: mcpIssuer }], "id_jag_targets[0].client_id must be 1 to 2048 printable ASCII characters"],
        [[{ ...target, client_id: "" }], "id_jag_targets[0].client_id must be 1 to 2048 printable ASCII characters"],
        [[{ ...target, client_id: "a\nb" }], "id_jag_targets[0].client_id must be 1 to 2048 printable ASCII characters"],
        [[{ ...target, client_id: "x".repeat(2049) }], "id_jag_targets[0].client_id must be 1 to 2048 printable ASCII characters"],
        [[target, { ...target, client_id: "other" }], "'id_jag_targets' must not name an audience twice"],
        [Array.from({ length: 21 }, (_, i) => ({ audience: `https://as${i}.example`, client_id: "c" })), "'id_jag_targets' may list at most 20 targets"]
      ]
      const before = (yield* auditOf(w, "client.created")).length
      for (const [value, description] of cases) {
        const res = yield* admin.post(`/admin/realms/${w.name}/clients`, { grant_types: [tokenExchangeGrant], id_jag_targets: value })
        expect(res.status).toBe(400)
        expect(res.json).toEqual({ error: "invalid_client_metadata", error_description: description })
      }
      expect(yield* auditOf(w, "client.created")).toHaveLength(before)
    }))
})
