/**
 * Issue 14, CONTRACT §3: the admin API accepts a tenant admin's access token (Bearer, or DPoP-bound with its proof,
 * RFC 9449 §7) for the token's own realm only; owner-only calls are 403 `insufficient_scope`, every other realm 404 as
 * if it did not exist; a destructive call needs the realm's step-up scope when its admin resource declares one; audit
 * actors are `tenant_admin` and `client` (CONTRACT §7); issue 13's revocation reaches the admin API itself; and row-level
 * security holds the realm in every store (RealmPin). On memory, PGlite and PostgreSQL.
 */
import { expect, layer } from "@effect/vitest"
import { Cause, DateTime, Effect, Exit, Option } from "effect"
import { AdminAccess, Audit, AuditEvent, Clients, Hash, Jwt, Provisioning, RealmPin, Session, Sessions, SigningKeys, Users } from "@tessera/domain"
import { Dpop } from "@tessera/protocol"
import * as Proofs from "../packages/protocol/test/support/DpopProofs.js"
import { fieldsOf, followSeeOther, makeBrowser, onlyForm, pathOf } from "./support/Browser.js"
import type { WireResponse } from "./support/Http.js"
import { admin, request, uniqueName } from "./support/Http.js"
import * as TestLive from "./support/TestLive.js"
import { authOf, clientKey, exchange, issueCode, nowSeconds, post, registerClient, world } from "./support/TokenFixtures.js"
import type { RegisteredClient, World } from "./support/TokenFixtures.js"

const ownerHeaders = { authorization: `Bearer ${TestLive.adminToken}` }
const password = "correct horse battery staple"
type Method = "GET" | "POST" | "PATCH" | "PUT" | "DELETE"

/** CONTRACT §3: the realm's built-in admin resource. */
const adminResourceOf = (w: Pick<World, "name">) => `${TestLive.publicUrl}/admin/realms/${w.name}`

/** A session of `sub`, as the login page makes one (its grants carry the `sid`). */
const signIn = (w: World, sub: string) =>
  Effect.gen(function*() {
    const now = yield* DateTime.now
    const sid = crypto.randomUUID()
    const session = Session.Session.Active({
      realmId: w.realmId, sid, cookieHash: yield* Hash.sha256(crypto.randomUUID()), sub, createdAt: now, authTime: now,
      acr: Session.passwordAcr, amr: Session.passwordAmr, expiresAt: DateTime.addDuration(now, Session.lifetime), clientIds: []
    })
    const event: AuditEvent.AuditEvent = {
      id: crypto.randomUUID(), at: now, realmId: w.realmId, realm: w.name, type: "login.succeeded", actor: { type: "user", id: sub },
      subject: sub, result: "success"
    }
    yield* Effect.flatMap(Sessions.Sessions, (sessions) => sessions.create(session, event))
    return sid
  })

/** An access token signed by the realm's own key with any claims: what the token endpoint would never issue. */
const minted = (w: World, claims: Record<string, unknown>) =>
  Effect.gen(function*() {
    const iat = yield* nowSeconds
    return yield* Jwt.sign(
      { iss: w.issuer, jti: crypto.randomUUID(), iat, exp: iat + 900, ...claims },
      yield* SigningKeys.signer(w.realmId, "ES256"),
      "at+jwt"
    )
  })

interface Tenant {
  readonly w: World
  readonly adminResource: string
  /** The client the admin signed in with (authorization code, the admin resource only). */
  readonly app: RegisteredClient
  /** Ada, role `admin`: her token from the token endpoint, its grant and session. */
  readonly adminToken: string
  readonly grantId: string
  readonly sid: string
  /** A confidential client registered with the admin resource, and its client credentials token. */
  readonly automation: RegisteredClient
  readonly clientToken: string
  /** Bob, a plain member. */
  readonly memberSub: string
}

/** The person's token for the admin resource through the token endpoint, scopes `scopes` (a grant in session `sid`). */
const personToken = (w: World, sub: string, app: RegisteredClient, sid: string, scopes: ReadonlyArray<string> = ["tessera:admin"]) =>
  Effect.gen(function*() {
    const code = yield* issueCode({ ...w, sub }, { clientId: app.client_id, scopes, resources: [adminResourceOf(w)], sid })
    const res = yield* exchange(w, authOf(app), code)
    if (res.status !== 200) return yield* Effect.dieMessage(`admin token: ${res.status} ${res.text}`)
    expect(res.json.scope).toBe(scopes.join(" "))
    return { token: res.json.access_token as string, grantId: code.grantId }
  })

/**
 * A realm with its admin resource (registered by hand until the built-in one exists: then the POST is 409), Ada its
 * admin with a token, an automation client with one, and Bob a member.
 */
const tenant = Effect.gen(function*() {
  const w = yield* world
  const adminResource = adminResourceOf(w)
  const registered = yield* admin.post(`/admin/realms/${w.name}/resources`, { uri: adminResource, scopes: ["tessera:admin"] })
  expect([201, 409]).toContain(registered.status)
  expect((yield* admin.patch(`/admin/realms/${w.name}/users/${w.sub}`, { roles: ["admin"] })).status).toBe(200)
  const app = yield* registerClient(w, { resources: [adminResource] })
  const sid = yield* signIn(w, w.sub)
  const { token: adminToken, grantId } = yield* personToken(w, w.sub, app, sid)
  const automation = yield* registerClient(w, {
    grant_types: ["client_credentials"], redirect_uris: [], response_types: [], resources: [adminResource]
  })
  const cc = yield* post(w, "token", authOf(automation), { grant_type: "client_credentials", scope: "tessera:admin", resource: adminResource })
  if (cc.status !== 200) return yield* Effect.dieMessage(`client credentials: ${cc.status} ${cc.text}`)
  const bob = yield* admin.post(`/admin/realms/${w.name}/users`, { username: "bob", password })
  expect(bob.status).toBe(201)
  return {
    w, adminResource, app, adminToken, grantId, sid, automation, clientToken: cc.json.access_token, memberSub: bob.json.sub
  } satisfies Tenant
})

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

const call = (method: Method, path: string, headers: Record<string, string>, json?: unknown) =>
  request(method, path, { headers, ...(json !== undefined ? { json } : {}) })

/** RFC 6750 §3.1, CONTRACT §3: the whole refusal. */
const expectRefusal = (res: WireResponse, status: number, body: unknown, challenge: string | undefined) => {
  expect({ status: res.status, body: res.json }).toEqual({ status, body })
  expect(res.headers["content-type"]).toBe("application/json")
  expect(res.headers["cache-control"]).toBe("no-store")
  expect(res.headers["www-authenticate"]).toBe(challenge)
}

const noCredential = {
  status: 401,
  body: { error: "invalid_token", error_description: "the admin API needs the owner's token or a tenant admin's access token" },
  challenge: `Bearer realm="tessera-admin", error="invalid_token"`
}
const invalidToken = {
  status: 401,
  body: { error: "invalid_token", error_description: "the access token is invalid, expired, or not for the admin API" },
  challenge: `Bearer realm="tessera-admin", error="invalid_token"`
}
const notAdmin = {
  status: 403,
  body: { error: "insufficient_scope", error_description: "the person is not an admin of this realm" },
  challenge: `Bearer realm="tessera-admin", error="insufficient_scope"`
}
const ownerOnly = {
  status: 403,
  body: { error: "insufficient_scope", error_description: "only the owner may make this call" },
  challenge: `Bearer realm="tessera-admin", error="insufficient_scope"`
}
const unknownRealm = { status: 404, body: { error: "not_found", error_description: "unknown realm" }, challenge: undefined }
/** RFC 9449 §7.1: the DPoP scheme without a proof. */
const proofMissing = {
  status: 401,
  body: { error: "invalid_dpop_proof", error_description: "a DPoP proof is required" },
  challenge: `DPoP realm="tessera-admin", error="invalid_dpop_proof", error_description="a DPoP proof is required", algs="${
    Dpop.algorithms.join(" ")
  }"`
}
type Expected = typeof noCredential | typeof unknownRealm

/** One admin operation: its access class and what it sends, prepared afresh for each caller (deletes need a target each). */
interface Operation {
  readonly name: string
  readonly access: "realm" | "owner" | "destructive"
  /** The status the owner (and, for realm calls, the realm's tenant admins) get. */
  readonly ok: number
  readonly prepare: (t: Tenant) => Effect.Effect<{ readonly method: Method; readonly path: string; readonly json?: unknown }, any, any>
}

const realmPath = (t: Tenant) => `/admin/realms/${t.w.name}`
const fresh = (method: Method, path: string, json?: unknown) => Effect.succeed({ method, path, ...(json !== undefined ? { json } : {}) })

/** A user made by the owner, to be read, changed or deleted. */
const aUser = (t: Tenant) =>
  Effect.map(admin.post(`${realmPath(t)}/users`, { username: uniqueName("u"), password }), (res) => {
    expect(res.status).toBe(201)
    return res.json.sub as string
  })
const aClient = (t: Tenant) => Effect.map(registerClient(t.w), (c) => c.client_id)
const aResource = (t: Tenant) =>
  Effect.map(admin.post(`${realmPath(t)}/resources`, { uri: `https://${uniqueName("api")}.example`, scopes: ["x"] }), (res) => {
    expect(res.status).toBe(201)
    return res.json.id as string
  })
const aTrustedIssuer = (t: Tenant) =>
  Effect.gen(function*() {
    const key = yield* clientKey
    const res = yield* admin.post(`${realmPath(t)}/trusted-issuers`, { issuer: `https://${uniqueName("idp")}.example`, jwks: { keys: [key.publicJwk] } })
    expect(res.status).toBe(201)
    return res.json.id as string
  })

/** Every admin operation of CONTRACT §3. */
const operations: ReadonlyArray<Operation> = [
  { name: "POST /admin/realms", access: "owner", ok: 201, prepare: () => fresh("POST", "/admin/realms", { name: uniqueName() }) },
  { name: "GET /admin/realms", access: "owner", ok: 200, prepare: () => fresh("GET", "/admin/realms") },
  { name: "GET /admin/audit", access: "owner", ok: 200, prepare: () => fresh("GET", "/admin/audit") },
  { name: "GET /admin/audit/verify", access: "owner", ok: 200, prepare: () => fresh("GET", "/admin/audit/verify") },
  { name: "GET /admin/realms/R", access: "realm", ok: 200, prepare: (t) => fresh("GET", realmPath(t)) },
  { name: "PATCH /admin/realms/R", access: "realm", ok: 200, prepare: (t) => fresh("PATCH", realmPath(t), { display_name: "Acme" }) },
  { name: "POST users", access: "realm", ok: 201, prepare: (t) => fresh("POST", `${realmPath(t)}/users`, { username: uniqueName("u"), password }) },
  { name: "GET users", access: "realm", ok: 200, prepare: (t) => fresh("GET", `${realmPath(t)}/users`) },
  { name: "GET users/{sub}", access: "realm", ok: 200, prepare: (t) => Effect.map(aUser(t), (sub) => ({ method: "GET", path: `${realmPath(t)}/users/${sub}` })) },
  {
    name: "PATCH users/{sub}", access: "realm", ok: 200,
    prepare: (t) => Effect.map(aUser(t), (sub) => ({ method: "PATCH", path: `${realmPath(t)}/users/${sub}`, json: { name: "Someone" } }))
  },
  {
    name: "DELETE users/{sub}", access: "destructive", ok: 204,
    prepare: (t) => Effect.map(aUser(t), (sub) => ({ method: "DELETE", path: `${realmPath(t)}/users/${sub}` }))
  },
  {
    name: "PUT users/{sub}/password", access: "realm", ok: 204,
    prepare: (t) => Effect.map(aUser(t), (sub) => ({ method: "PUT", path: `${realmPath(t)}/users/${sub}/password`, json: { password: "another good passphrase" } }))
  },
  { name: "GET users/{sub}/sessions", access: "realm", ok: 200, prepare: (t) => fresh("GET", `${realmPath(t)}/users/${t.memberSub}/sessions`) },
  {
    name: "DELETE users/{sub}/sessions/{sid}", access: "destructive", ok: 204,
    prepare: (t) => Effect.map(signIn(t.w, t.memberSub), (sid) => ({ method: "DELETE", path: `${realmPath(t)}/users/${t.memberSub}/sessions/${sid}` }))
  },
  { name: "GET users/{sub}/grants", access: "realm", ok: 200, prepare: (t) => fresh("GET", `${realmPath(t)}/users/${t.memberSub}/grants`) },
  {
    name: "DELETE users/{sub}/grants/{grant_id}", access: "destructive", ok: 204,
    prepare: (t) =>
      Effect.map(
        issueCode({ ...t.w, sub: t.memberSub }, { clientId: t.app.client_id, scopes: ["read"], resources: [t.w.resource] }),
        (code) => ({ method: "DELETE", path: `${realmPath(t)}/users/${t.memberSub}/grants/${code.grantId}` })
      )
  },
  {
    name: "POST clients", access: "realm", ok: 201,
    prepare: (t) => fresh("POST", `${realmPath(t)}/clients`, { redirect_uris: ["https://app.example/cb"], client_name: "App" })
  },
  { name: "GET clients", access: "realm", ok: 200, prepare: (t) => fresh("GET", `${realmPath(t)}/clients`) },
  { name: "GET clients/{id}", access: "realm", ok: 200, prepare: (t) => Effect.map(aClient(t), (id) => ({ method: "GET", path: `${realmPath(t)}/clients/${id}` })) },
  {
    name: "PATCH clients/{id}", access: "realm", ok: 200,
    prepare: (t) => Effect.map(aClient(t), (id) => ({ method: "PATCH", path: `${realmPath(t)}/clients/${id}`, json: { client_name: "Renamed" } }))
  },
  {
    name: "DELETE clients/{id}", access: "destructive", ok: 204,
    prepare: (t) => Effect.map(aClient(t), (id) => ({ method: "DELETE", path: `${realmPath(t)}/clients/${id}` }))
  },
  {
    name: "POST clients/{id}/secret", access: "realm", ok: 200,
    prepare: (t) => Effect.map(aClient(t), (id) => ({ method: "POST", path: `${realmPath(t)}/clients/${id}/secret`, json: {} }))
  },
  {
    name: "POST resources", access: "realm", ok: 201,
    prepare: (t) => fresh("POST", `${realmPath(t)}/resources`, { uri: `https://${uniqueName("api")}.example`, scopes: ["x"] })
  },
  { name: "GET resources", access: "realm", ok: 200, prepare: (t) => fresh("GET", `${realmPath(t)}/resources`) },
  { name: "GET resources/{id}", access: "realm", ok: 200, prepare: (t) => Effect.map(aResource(t), (id) => ({ method: "GET", path: `${realmPath(t)}/resources/${id}` })) },
  {
    name: "PATCH resources/{id}", access: "realm", ok: 200,
    prepare: (t) => Effect.map(aResource(t), (id) => ({ method: "PATCH", path: `${realmPath(t)}/resources/${id}`, json: { display_name: "API" } }))
  },
  {
    name: "DELETE resources/{id}", access: "destructive", ok: 204,
    prepare: (t) => Effect.map(aResource(t), (id) => ({ method: "DELETE", path: `${realmPath(t)}/resources/${id}` }))
  },
  {
    name: "POST trusted-issuers", access: "realm", ok: 201,
    prepare: (t) =>
      Effect.flatMap(clientKey, (key) =>
        fresh("POST", `${realmPath(t)}/trusted-issuers`, { issuer: `https://${uniqueName("idp")}.example`, jwks: { keys: [key.publicJwk] } }))
  },
  { name: "GET trusted-issuers", access: "realm", ok: 200, prepare: (t) => fresh("GET", `${realmPath(t)}/trusted-issuers`) },
  {
    name: "GET trusted-issuers/{id}", access: "realm", ok: 200,
    prepare: (t) => Effect.map(aTrustedIssuer(t), (id) => ({ method: "GET", path: `${realmPath(t)}/trusted-issuers/${id}` }))
  },
  {
    name: "PATCH trusted-issuers/{id}", access: "realm", ok: 200,
    prepare: (t) => Effect.map(aTrustedIssuer(t), (id) => ({ method: "PATCH", path: `${realmPath(t)}/trusted-issuers/${id}`, json: { id_jag: true } }))
  },
  {
    name: "DELETE trusted-issuers/{id}", access: "destructive", ok: 204,
    prepare: (t) => Effect.map(aTrustedIssuer(t), (id) => ({ method: "DELETE", path: `${realmPath(t)}/trusted-issuers/${id}` }))
  },
  { name: "GET agents", access: "realm", ok: 200, prepare: (t) => fresh("GET", `${realmPath(t)}/agents`) },
  {
    name: "DELETE agents/{client_id}/delegations/{sub}", access: "destructive", ok: 204,
    prepare: (t) =>
      Effect.gen(function*() {
        const agent = yield* registerClient(t.w, { principal_type: "agent" })
        yield* issueCode({ ...t.w, sub: t.memberSub }, { clientId: agent.client_id, scopes: ["read"], resources: [t.w.resource] })
        return { method: "DELETE" as const, path: `${realmPath(t)}/agents/${agent.client_id}/delegations/${t.memberSub}` }
      })
  },
  {
    name: "POST invitations", access: "realm", ok: 201,
    prepare: (t) => fresh("POST", `${realmPath(t)}/invitations`, { role: "member", email: "someone@example.com" })
  },
  { name: "GET invitations", access: "realm", ok: 200, prepare: (t) => fresh("GET", `${realmPath(t)}/invitations`) },
  {
    // an invitation the owner sent (its events go to the owner trail) and one a tenant admin sent
    name: "DELETE invitations/{id}", access: "destructive", ok: 204,
    prepare: (t) =>
      Effect.map(admin.post(`${realmPath(t)}/invitations`, { role: "admin" }), (res) => {
        expect(res.status).toBe(201)
        return { method: "DELETE" as const, path: `${realmPath(t)}/invitations/${res.json.id}` }
      })
  },
  {
    name: "DELETE invitations/{id} (a tenant admin's)", access: "destructive", ok: 204,
    prepare: (t) =>
      Effect.map(call("POST", `${realmPath(t)}/invitations`, bearer(t.adminToken), { role: "member" }), (res) => {
        expect(res.status).toBe(201)
        return { method: "DELETE" as const, path: `${realmPath(t)}/invitations/${res.json.id}` }
      })
  },
  { name: "GET audit", access: "realm", ok: 200, prepare: (t) => fresh("GET", `${realmPath(t)}/audit`) },
  { name: "GET audit/verify", access: "realm", ok: 200, prepare: (t) => fresh("GET", `${realmPath(t)}/audit/verify`) },
  { name: "GET keys", access: "realm", ok: 200, prepare: (t) => fresh("GET", `${realmPath(t)}/keys`) },
  { name: "POST keys/rotate", access: "destructive", ok: 200, prepare: (t) => fresh("POST", `${realmPath(t)}/keys/rotate`) },
  // last: the owner deletes the realm (every caller before it is refused and leaves it)
  {
    name: "DELETE /admin/realms/R", access: "owner", ok: 204,
    prepare: (t) => fresh("DELETE", `${realmPath(t)}?confirm=${t.w.name}`)
  }
]

interface CallerCase {
  readonly name: string
  readonly headers: (t: Tenant, other: Tenant) => Effect.Effect<Record<string, string>, any, any>
  readonly expected: (op: Operation) => Expected | number
}

/** The callers of the matrix; the owner comes last, so a delete it makes does not hide the others' refusals. */
const callers: ReadonlyArray<CallerCase> = [
  { name: "no credential", headers: () => Effect.succeed({}), expected: () => noCredential },
  {
    name: "an expired token",
    headers: (t) =>
      Effect.flatMap(nowSeconds, (now) =>
        Effect.map(
          minted(t.w, { sub: t.w.sub, aud: t.adminResource, client_id: t.app.client_id, scope: "tessera:admin", iat: now - 2000, exp: now - 1000 }),
          bearer
        )),
    expected: () => invalidToken
  },
  {
    name: "a token for another audience",
    headers: (t) => Effect.map(minted(t.w, { sub: t.w.sub, aud: t.w.resource, client_id: t.app.client_id, scope: "tessera:admin" }), bearer),
    expected: () => invalidToken
  },
  {
    name: "a DPoP-bound token without its proof",
    headers: (t) =>
      Effect.gen(function*() {
        const k = yield* Effect.promise(() => Proofs.key())
        const token = yield* minted(t.w, { sub: t.w.sub, aud: t.adminResource, client_id: t.app.client_id, scope: "tessera:admin", cnf: { jkt: k.jkt } })
        return { authorization: `DPoP ${token}` }
      }),
    expected: () => proofMissing
  },
  {
    name: "a plain member of R",
    headers: (t) =>
      Effect.map(minted(t.w, { sub: t.memberSub, aud: t.adminResource, client_id: t.app.client_id, scope: "tessera:admin" }), bearer),
    expected: () => notAdmin
  },
  {
    name: "a tenant admin of S",
    headers: (_t, other) => Effect.succeed(bearer(other.adminToken)),
    expected: (op) => (op.access === "owner" ? ownerOnly : unknownRealm)
  },
  { name: "an automation client of R", headers: (t) => Effect.succeed(bearer(t.clientToken)), expected: (op) => (op.access === "owner" ? ownerOnly : op.ok) },
  { name: "a tenant admin of R", headers: (t) => Effect.succeed(bearer(t.adminToken)), expected: (op) => (op.access === "owner" ? ownerOnly : op.ok) },
  { name: "the owner", headers: () => Effect.succeed(ownerHeaders), expected: (op) => op.ok }
]

layer(TestLive.TestLive, { timeout: "120 seconds" })("CONTRACT §3: the authorization matrix, every admin operation × every caller", (it) => {
  for (const op of operations) {
    it.effect(op.name, () =>
      Effect.gen(function*() {
        const t = yield* tenant
        const s = yield* tenant
        for (const caller of callers) {
          const { method, path, json } = yield* op.prepare(t)
          const res = yield* call(method, path, yield* caller.headers(t, s), json)
          const expected = caller.expected(op)
          if (typeof expected === "number") {
            expect({ caller: caller.name, status: res.status, body: res.status >= 400 ? res.json : undefined })
              .toEqual({ caller: caller.name, status: expected, body: undefined })
          } else {
            expect({ caller: caller.name, status: res.status }).toEqual({ caller: caller.name, status: expected.status })
            expectRefusal(res, expected.status, expected.body, expected.challenge)
          }
        }
      }), { timeout: 120_000 })
  }
})

layer(TestLive.TestLive, { timeout: "120 seconds" })("CONTRACT §3, RFC 9449 §7: how a tenant admin's token is presented", (it) => {
  it.effect("RFC 9449 §7.1: a DPoP-bound token with the DPoP scheme and a proof for this request is accepted; a replayed proof is not", () =>
    Effect.gen(function*() {
      const t = yield* tenant
      const k = yield* Effect.promise(() => Proofs.key())
      const token = yield* minted(t.w, { sub: t.w.sub, aud: t.adminResource, client_id: t.app.client_id, scope: "tessera:admin", cnf: { jkt: k.jkt } })
      const htu = `${TestLive.publicUrl}${realmPath(t)}/users`
      const proof = yield* Effect.flatMap(nowSeconds, (iat) => Effect.promise(() => Proofs.proof(k, { htm: "GET", htu, iat, accessToken: token })))
      const ok = yield* call("GET", `${realmPath(t)}/users?limit=5`, { authorization: `DPoP ${token}`, dpop: proof })
      expect(ok.status).toBe(200)
      expect(ok.json.users.map((u: { username: string }) => u.username).sort()).toEqual(["ada", "bob"])
      // RFC 9449 §11.1: the same proof again is a replay
      const replay = yield* call("GET", `${realmPath(t)}/users`, { authorization: `DPoP ${token}`, dpop: proof })
      expectRefusal(replay, 401, { error: "invalid_dpop_proof", error_description: Dpop.descriptions.replayed }, Dpop.challenge({ realm: "tessera-admin" }, {
        error: "invalid_dpop_proof", description: Dpop.descriptions.replayed
      }))
      // RFC 9449 §4.3: htm and htu name this request, not another
      const elsewhere = yield* Effect.flatMap(nowSeconds, (iat) =>
        Effect.promise(() => Proofs.proof(k, { htm: "GET", htu: `${TestLive.publicUrl}${realmPath(t)}/clients`, iat, accessToken: token })))
      const wrongUri = yield* call("GET", `${realmPath(t)}/users`, { authorization: `DPoP ${token}`, dpop: elsewhere })
      expect({ status: wrongUri.status, error: wrongUri.json.error }).toEqual({ status: 401, error: "invalid_dpop_proof" })
      // RFC 9449 §7.2: the bound token as a bearer token is refused
      const asBearer = yield* call("GET", `${realmPath(t)}/users`, bearer(token))
      expectRefusal(asBearer, 401, { error: "invalid_token", error_description: Dpop.bindingDescriptions.bearer_bound }, `Bearer realm="tessera-admin", error="invalid_token", error_description="${Dpop.bindingDescriptions.bearer_bound}", ${
        Dpop.challenge({ realm: "tessera-admin" })
      }`)
    }))

  it.effect("CONTRACT §3: a token without scope tessera:admin is 403 insufficient_scope", () =>
    Effect.gen(function*() {
      const t = yield* tenant
      const token = yield* minted(t.w, { sub: t.w.sub, aud: t.adminResource, client_id: t.app.client_id, scope: "openid" })
      expectRefusal(yield* call("GET", realmPath(t), bearer(token)), 403, {
        error: "insufficient_scope", error_description: "the access token lacks the scope tessera:admin"
      }, `Bearer realm="tessera-admin", error="insufficient_scope"`)
    }))

  it.effect("CONTRACT §3: a token of another realm's issuer for this realm's admin resource, or forged, is 401", () =>
    Effect.gen(function*() {
      const t = yield* tenant
      const s = yield* tenant
      // S signs a token claiming R's admin resource: S's issuer makes it S's token, and S's admin resource it is not
      const crossed = yield* minted(s.w, { sub: s.w.sub, aud: t.adminResource, client_id: s.app.client_id, scope: "tessera:admin" })
      expectRefusal(yield* call("GET", realmPath(t), bearer(crossed)), invalidToken.status, invalidToken.body, invalidToken.challenge)
      expectRefusal(yield* call("GET", realmPath(s), bearer(crossed)), invalidToken.status, invalidToken.body, invalidToken.challenge)
      // R's issuer named, S's key signed
      const forged = yield* Effect.gen(function*() {
        const iat = yield* nowSeconds
        return yield* Jwt.sign(
          { iss: t.w.issuer, sub: t.w.sub, aud: t.adminResource, client_id: t.app.client_id, scope: "tessera:admin", jti: crypto.randomUUID(), iat, exp: iat + 900 },
          yield* SigningKeys.signer(s.w.realmId, "ES256"),
          "at+jwt"
        )
      })
      expectRefusal(yield* call("GET", realmPath(t), bearer(forged)), invalidToken.status, invalidToken.body, invalidToken.challenge)
      // several audiences, the admin resource among them: not exactly the admin resource
      const wide = yield* minted(t.w, { sub: t.w.sub, aud: [t.adminResource, t.w.resource], client_id: t.app.client_id, scope: "tessera:admin" })
      expectRefusal(yield* call("GET", realmPath(t), bearer(wide)), invalidToken.status, invalidToken.body, invalidToken.challenge)
    }))

  it.effect("CONTRACT §3: a device-flow token from the built-in tessera-cli works against the admin API", () =>
    Effect.gen(function*() {
      const t = yield* tenant
      const deviceGrant = "urn:ietf:params:oauth:grant-type:device_code"
      const cli = { client_id: AdminAccess.cliClientId }
      const started = yield* post(t.w, "device_authorization", { none: cli.client_id }, { scope: "tessera:admin", resource: t.adminResource })
      expect(started.status).toBe(200)
      // RFC 8628 §3.3: the person enters the code, signs in and allows, through the pages
      const browser = makeBrowser({ userAgent: "tessera-test/1.0 (tenancy)" })
      const entry = yield* browser.get(pathOf(`${t.w.issuer}/device`))
      const afterCode = yield* browser.submit(onlyForm(entry.text), { user_code: started.json.user_code })
      const consent = onlyForm(afterCode.text).action.endsWith("/login")
        ? yield* followSeeOther(browser, yield* browser.submit(onlyForm(afterCode.text), { username: "ada", password }))
        : afterCode
      expect(fieldsOf(onlyForm(consent.text))).toBeDefined()
      yield* browser.submit(onlyForm(consent.text), {}, ["decision", "allow"])
      const polled = yield* post(t.w, "token", { none: cli.client_id }, { grant_type: deviceGrant, device_code: started.json.device_code })
      expect(polled.status).toBe(200)
      const res = yield* call("GET", `${realmPath(t)}/users`, bearer(polled.json.access_token))
      expect(res.status).toBe(200)
      expect(res.json.users.map((u: { username: string }) => u.username).sort()).toEqual(["ada", "bob"])
    }))
})

layer(TestLive.TestLive, { timeout: "120 seconds" })("issue 13: revocation takes effect in the admin API itself", (it) => {
  const users = (t: Tenant, headers: Record<string, string>) => call("GET", `${realmPath(t)}/users`, headers)
  const cases: ReadonlyArray<readonly [string, (t: Tenant) => Effect.Effect<WireResponse, never, any>, (t: Tenant) => string, Expected]> = [
    ["the admin disabled", (t) => call("PATCH", `${realmPath(t)}/users/${t.w.sub}`, ownerHeaders, { disabled: true }), (t) => t.adminToken, invalidToken],
    [
      "the admin's password set",
      (t) => call("PUT", `${realmPath(t)}/users/${t.w.sub}/password`, ownerHeaders, { password: "a brand new passphrase" }),
      (t) => t.adminToken,
      invalidToken
    ],
    ["the grant revoked", (t) => call("DELETE", `${realmPath(t)}/users/${t.w.sub}/grants/${t.grantId}`, ownerHeaders), (t) => t.adminToken, invalidToken],
    ["the session ended", (t) => call("DELETE", `${realmPath(t)}/users/${t.w.sub}/sessions/${t.sid}`, ownerHeaders), (t) => t.adminToken, invalidToken],
    ["the admin role removed", (t) => call("PATCH", `${realmPath(t)}/users/${t.w.sub}`, ownerHeaders, { roles: [] }), (t) => t.adminToken, notAdmin],
    ["the automation client deleted", (t) => call("DELETE", `${realmPath(t)}/clients/${t.automation.client_id}`, ownerHeaders), (t) => t.clientToken, invalidToken]
  ]
  for (const [name, revoke, tokenOf, expected] of cases) {
    it.effect(`${name}: the next admin call is ${expected.status} ${expected.body.error}`, () =>
      Effect.gen(function*() {
        const t = yield* tenant
        expect((yield* users(t, bearer(tokenOf(t)))).status).toBe(200)
        expect([200, 204]).toContain((yield* revoke(t)).status)
        expectRefusal(yield* users(t, bearer(tokenOf(t))), expected.status, expected.body, expected.challenge)
      }))
  }

  it.effect("the automation client no longer listing the admin resource: 403 insufficient_scope", () =>
    Effect.gen(function*() {
      const t = yield* tenant
      const patched = yield* call("PATCH", `${realmPath(t)}/clients/${t.automation.client_id}`, ownerHeaders, { resources: [t.w.resource] })
      expect(patched.status).toBe(200)
      expectRefusal(yield* users(t, bearer(t.clientToken)), 403, {
        error: "insufficient_scope", error_description: "the client is not registered with the admin resource"
      }, `Bearer realm="tessera-admin", error="insufficient_scope"`)
    }))
})

layer(TestLive.TestLive, { timeout: "120 seconds" })("CONTRACT §3, §6, RFC 6750 §3.1: step-up for destructive calls", (it) => {
  it.effect("with step_up_scopes on the admin resource, a destructive call without one is 403 with the challenge; a fresh login with it is 204", () =>
    Effect.gen(function*() {
      const t = yield* tenant
      const listed = yield* admin.get(`${realmPath(t)}/resources`)
      const adminResource = listed.json.resources.find((r: { uri: string }) => r.uri === t.adminResource)
      const declared = yield* admin.patch(`${realmPath(t)}/resources/${adminResource.id}`, {
        scopes: ["tessera:admin", "tessera:admin:step-up"], step_up_scopes: ["tessera:admin:step-up"]
      })
      expect(declared.status).toBe(200)
      const victim = yield* aUser(t)
      const refused = yield* call("DELETE", `${realmPath(t)}/users/${victim}`, bearer(t.adminToken))
      expectRefusal(refused, 403, {
        error: "insufficient_scope", error_description: "this call needs a fresh login with the scope tessera:admin:step-up"
      }, `Bearer error="insufficient_scope", scope="tessera:admin tessera:admin:step-up"`)
      // a non-destructive call still works with the plain token
      expect((yield* call("GET", `${realmPath(t)}/users/${victim}`, bearer(t.adminToken))).status).toBe(200)
      // the owner never needs it
      const other = yield* aUser(t)
      expect((yield* call("DELETE", `${realmPath(t)}/users/${other}`, ownerHeaders)).status).toBe(204)
      // a fresh login carrying the step-up scope
      const { token } = yield* personToken(t.w, t.w.sub, t.app, yield* signIn(t.w, t.w.sub), ["tessera:admin", "tessera:admin:step-up"])
      expect((yield* call("DELETE", `${realmPath(t)}/users/${victim}`, bearer(token))).status).toBe(204)
      expect((yield* call("GET", `${realmPath(t)}/users/${victim}`, ownerHeaders)).status).toBe(404)
    }))
})

layer(TestLive.TestLive, { timeout: "120 seconds" })("CONTRACT §7: the audit actor of a tenant admin's change", (it) => {
  it.effect("a tenant admin is {type: tenant_admin, id: sub}; an automation client {type: client, id: client_id}", () =>
    Effect.gen(function*() {
      const t = yield* tenant
      const byAdmin = yield* call("POST", `${realmPath(t)}/users`, bearer(t.adminToken), { username: "carol", password })
      const byClient = yield* call("POST", `${realmPath(t)}/users`, bearer(t.clientToken), { username: "dave", password })
      expect([byAdmin.status, byClient.status]).toEqual([201, 201])
      const trail = yield* admin.get(`${realmPath(t)}/audit?type=user.created`)
      const actors = Object.fromEntries(
        trail.json.events.map((e: { subject: string; actor: unknown; result: string }) => [e.subject, { actor: e.actor, result: e.result }])
      )
      expect(actors[byAdmin.json.sub]).toEqual({ actor: { type: "tenant_admin", id: t.w.sub }, result: "success" })
      expect(actors[byClient.json.sub]).toEqual({ actor: { type: "client", id: t.automation.client_id }, result: "success" })
      // a destructive call and a rotation too
      expect((yield* call("POST", `${realmPath(t)}/keys/rotate`, bearer(t.adminToken))).status).toBe(200)
      const rotated = yield* admin.get(`${realmPath(t)}/audit?type=key.rotated`)
      expect(rotated.json.events[0]).toMatchObject({
        type: "key.rotated", actor: { type: "tenant_admin", id: t.w.sub }, result: "success", reason: expect.stringMatching(/^requested by a tenant admin/)
      })
    }))
})

/** The exit of a store call is the pin's defect, and nothing else. */
const expectPinViolation = <A, E>(exit: Exit.Exit<A, E>, pinned: string) => {
  expect(Exit.isFailure(exit)).toBe(true)
  if (Exit.isSuccess(exit)) return
  const defects = Array.from(Cause.defects(exit.cause))
  expect(defects).toHaveLength(1)
  expect(defects[0]).toBeInstanceOf(RealmPin.RealmPinViolated)
  expect((defects[0] as RealmPin.RealmPinViolated).pinned).toBe(pinned)
}

layer(TestLive.TestLive, { timeout: "120 seconds" })("issue 14: row-level security pins a tenant admin's realm in every store", (it) => {
  it.effect("inside a fiber pinned to R, a port call for S, or for the owner trail, fails and reads or writes nothing; R's own calls work", () =>
    Effect.gen(function*() {
      const t = yield* tenant
      const s = yield* tenant
      const pinned = RealmPin.pinned(t.w.realmId)
      const usersPort = yield* Users.Users
      const clientsPort = yield* Clients.Clients
      const audit = yield* Audit.Audit
      // R's own data, as before
      expect(Option.map(yield* pinned(usersPort.find(t.w.realmId, t.w.sub)), (u) => u.username)).toEqual(Option.some("ada"))
      expect((yield* pinned(clientsPort.list(t.w.realmId))).length).toBeGreaterThan(0)
      expect((yield* pinned(audit.query(t.w.realmId, { limit: 5 }))).length).toBeGreaterThan(0)
      // S's, and the owner trail: a defect, nothing answered
      expectPinViolation(yield* Effect.exit(pinned(usersPort.find(s.w.realmId, s.w.sub))), t.w.realmId)
      expectPinViolation(yield* Effect.exit(pinned(clientsPort.list(s.w.realmId))), t.w.realmId)
      // a read the hot path caches (ReadCache, ADR 0015), warm for S: the cache refuses it as the store would
      expect(Option.isSome(yield* clientsPort.find(s.w.realmId, s.app.client_id))).toBe(true)
      expectPinViolation(yield* Effect.exit(pinned(clientsPort.find(s.w.realmId, s.app.client_id))), t.w.realmId)
      expectPinViolation(yield* Effect.exit(pinned(audit.query(s.w.realmId, { limit: 5 }))), t.w.realmId)
      expectPinViolation(yield* Effect.exit(pinned(audit.query(Audit.ownerTrail, { limit: 5 }))), t.w.realmId)
      // no append to the owner trail (not even about R), nor to S's trail; nothing lands
      const aboutR = yield* Audit.makeOwner({ id: t.w.realmId, name: t.w.name }, { type: "realm.updated", actor: AuditEvent.owner, result: "success" })
      const intoS = yield* Audit.make({ id: s.w.realmId, name: s.w.name }, { type: "realm.updated", actor: AuditEvent.owner, result: "success" })
      expectPinViolation(yield* Effect.exit(pinned(audit.append(aboutR))), t.w.realmId)
      expectPinViolation(yield* Effect.exit(pinned(audit.append(intoS))), t.w.realmId)
      const ownerTrail = yield* audit.query(Audit.ownerTrail, { limit: 200 })
      expect(ownerTrail.some(({ event }) => event.id === aboutR.id)).toBe(false)
      expect((yield* audit.query(s.w.realmId, { limit: 200 })).some(({ event }) => event.id === intoS.id)).toBe(false)
      // S's realm is unknown by name inside the pin, as a realm that does not exist (its directory is R alone)
      expect(Exit.isFailure(yield* Effect.exit(pinned(Provisioning.findRealm(s.w.name))))).toBe(true)
      expect((yield* pinned(Provisioning.findRealm(t.w.name))).id).toBe(t.w.realmId)
      // a write into S: refused, and nothing written
      const intruder = uniqueName("intruder")
      const created = yield* Effect.exit(pinned(Provisioning.createUser(s.w.name, { username: intruder, password }, { type: "owner", id: "owner" })))
      expect(Exit.isFailure(created)).toBe(true)
      expectPinViolation(
        yield* Effect.exit(pinned(Effect.gen(function*() {
          const now = yield* DateTime.now
          const user = Option.getOrThrow(yield* usersPort.find(s.w.realmId, s.w.sub).pipe(RealmPin.pinned(s.w.realmId)))
          yield* usersPort.insert({ ...user, sub: crypto.randomUUID(), username: intruder, createdAt: now }, {
            id: crypto.randomUUID(), at: now, realmId: s.w.realmId, realm: s.w.name, type: "user.created", actor: AuditEvent.owner, result: "success"
          })
        }))),
        t.w.realmId
      )
      expect(yield* usersPort.findByUsername(s.w.realmId, intruder)).toEqual(Option.none())
    }))

  it.effect("through HTTP: a tenant admin of S reaches nothing of R, whatever the route (404 before any read)", () =>
    Effect.gen(function*() {
      const t = yield* tenant
      const s = yield* tenant
      const before = yield* admin.get(`${realmPath(t)}/users`)
      for (const path of ["", "/users", `/users/${t.w.sub}`, "/clients", "/audit", "/keys", "/agents"]) {
        expectRefusal(yield* call("GET", `${realmPath(t)}${path}`, bearer(s.adminToken)), 404, unknownRealm.body, undefined)
      }
      expect((yield* admin.get(`${realmPath(t)}/users`)).json).toEqual(before.json)
    }))
})
