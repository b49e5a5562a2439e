/**
 * CONTRACT §3 (issue 14, ADR 0035): every realm's built-in admin resource (`$TESSERA_PUBLIC_URL/admin/realms/R`, scope
 * `tessera:admin`) and built-in public client `tessera-cli`, as ordinary stored rows: born with the realm, given at
 * start to realms made before them, not deletable, and who may get a token whose audience is that resource.
 */
import * as Http from "node:http"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { expect } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import {
  AccessTokens, Audit, AuditEvent, Clients, Delegations, DeviceAuthorizations, Entropy, Fetcher, Interactions, JobLock,
  JtiCache, Keys, LoginThrottle, Provisioning, Realms, Resources, Codes, Consents, Grants, RefreshTokens, Sessions, SigningKeys, TrustedIssuers, UserCodeThrottle, Users
} from "@tessera/domain"
import type { Realm } from "@tessera/domain"
import * as AppConfig from "@tessera/server-node/AppConfig"
import * as Live from "@tessera/server-node/Live"
import * as Jose from "jose"
import { followSeeOther, makeBrowser, onlyForm, pathOf, pkce } from "./support/Browser.js"
import type { Browser } from "./support/Browser.js"
import type { WireResponse } from "./support/Http.js"
import { admin, createRealm, request, uniqueName } from "./support/Http.js"
import { adminToken, config, publicUrl } from "./support/TestLive.js"
import * as TestLive from "./support/TestLive.js"
import {
  accessTokenLifetime, accessTokenType, assertion, authOf, exchange, expectTokenError, expectTokenResponse, introspect, issueCode,
  post, refresh, registerClient, resourceTokens, tokenExchangeGrant, trustedIssuer, verify, world
} from "./support/TokenFixtures.js"
import type { RegisteredClient, World } from "./support/TokenFixtures.js"

const it = TestLive.file()

const owner = { authorization: `Bearer ${adminToken}` }

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const iso = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/
const etag = /^"[A-Za-z0-9_-]{22}"$/

const adminUri = (realm: string, origin = publicUrl) => `${origin}/admin/realms/${realm}`

/** CONTRACT §3: a JSON answer no cache keeps. */
const expectJson = (res: WireResponse, status: number, body: unknown) =>
  expect({ status: res.status, type: res.headers["content-type"], cache: res.headers["cache-control"], body: res.json }).toEqual({
    status,
    type: "application/json",
    cache: "no-store",
    body
  })

const expectError = (res: WireResponse, status: number, error: string, error_description: string) =>
  expectJson(res, status, { error, error_description })

/** The built-in resource of `realm` as the admin API shows it (CONTRACT §3 resources). */
const builtInResource = (realm: string, origin = publicUrl) => ({
  id: expect.stringMatching(uuid),
  uri: adminUri(realm, origin),
  scopes: ["tessera:admin"],
  step_up_scopes: [],
  display_name: `Tessera admin API of realm ${realm}`,
  scope_descriptions: {
    "tessera:admin": `Administer realm ${realm}: its users, clients, resources, invitations, keys and audit trail`
  },
  created_at: expect.stringMatching(iso)
})

/** `tessera-cli` as the admin API shows it (RFC 7591 §3.2.1 without a secret: it is public). */
const builtInClient = (realm: string, origin = publicUrl) => ({
  client_id: "tessera-cli",
  client_id_issued_at: expect.any(Number),
  redirect_uris: [],
  post_logout_redirect_uris: [],
  grant_types: ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"],
  response_types: [],
  token_endpoint_auth_method: "none",
  client_name: "Tessera CLI",
  frontchannel_logout_session_required: false,
  dpop_bound_access_tokens: false,
  principal_type: "app",
  resources: [adminUri(realm, origin)]
})

/** The realm's audit trail, newest first: type, actor, what it names, reason. */
const trail = (realm: string) =>
  Effect.map(admin.get(`/admin/realms/${realm}/audit`), (res) =>
    (res.json.events as Array<Record<string, unknown>>).map(({ actor, client_id, reason, resource, result, type }) => ({
      type,
      actor,
      result,
      ...(resource !== undefined ? { resource } : {}),
      ...(client_id !== undefined ? { client_id } : {}),
      ...(reason !== undefined ? { reason } : {})
    })))

const ownerActor = { type: "owner", id: "owner" }

const bornWith = (realm: string) => [
  { type: "client.created", actor: ownerActor, result: "success", client_id: "tessera-cli", reason: "built in" },
  { type: "resource.created", actor: ownerActor, result: "success", resource: adminUri(realm), reason: "built in" },
  { type: "realm.created", actor: ownerActor, result: "success" }
]

const resources = (realm: string) => admin.get(`/admin/realms/${realm}/resources`)
const clients = (realm: string) => admin.get(`/admin/realms/${realm}/clients`)

const patch = (path: string, json: unknown) => request("PATCH", path, { headers: owner, json })
const del = (path: string) => request("DELETE", path, { headers: owner })

/**
 * A realm as Tessera made them before the built-ins (ADR 0035): the realm, its ring and its events, straight through
 * the store port, nothing else.
 */
const realmWithoutBuiltIns = (name: string) =>
  Effect.gen(function*() {
    const realm: Realm.Realm = {
      id: yield* Entropy.uuid,
      name,
      dynamicRegistration: false,
      createdAt: (yield* Audit.make({ id: "x", name }, { type: "realm.created", actor: AuditEvent.owner, result: "success" })).at,
      version: 1
    }
    const ring = yield* SigningKeys.initialRing(realm.id)
    const event = yield* Audit.make(realm, { type: "realm.created", actor: AuditEvent.owner, result: "success" })
    yield* Effect.flatMap(Realms.Realms, (realms) => realms.create(realm, ring, event))
    return realm
  })

/** The store ports of the running world, to start a second node on the same store. */
const portTags = [
  Realms.Realms, Clients.Clients, Users.Users, Resources.Resources, TrustedIssuers.TrustedIssuers, Keys.Keys, Audit.Audit,
  JobLock.JobLock, AccessTokens.AccessTokens, JtiCache.JtiCache, Interactions.Interactions, LoginThrottle.LoginThrottle,
  Sessions.Sessions, Codes.Codes, Grants.Grants, Consents.Consents, RefreshTokens.RefreshTokens, DeviceAuthorizations.DeviceAuthorizations,
  UserCodeThrottle.UserCodeThrottle, Delegations.Delegations
] as const

/**
 * Another Tessera node, started now over the running world's store (as after a restart, or beside it), with its own
 * public URL: its start runs the built-ins pass.
 */
const anotherNode = (ports: Context.Context<any>, origin = publicUrl) => {
  const server = Http.createServer()
  const Server = NodeHttpServer.layer(() => server, { port: 0, host: "127.0.0.1" })
  const Client = HttpServer.layerTestClient.pipe(Layer.provide(NodeHttpClient.layerUndici), Layer.provideMerge(Server))
  return Live.app(server, Layer.merge(Layer.succeedContext(ports), Fetcher.layerMemoryTable), Fetcher.layerFromTable.pipe(
    Layer.provide(Fetcher.layerMemoryTable)
  )).pipe(Layer.provideMerge(Client), Layer.provideMerge(AppConfig.layer({ ...config, publicUrl: origin })))
}

const storePorts = Effect.map(Effect.context<never>(), (context) => Context.pick(...portTags)(context as Context.Context<any>))

it.layer(TestLive.World)("CONTRACT §3 the built-in admin resource and tessera-cli", (it) => {
  it.effect("§3: a new realm has both, in the lists, readable by id with an ETag, each with its event (actor owner)", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const listed = yield* resources(realm.name)
      expectJson(listed, 200, { resources: [builtInResource(realm.name)] })
      expectJson(yield* clients(realm.name), 200, { clients: [builtInClient(realm.name)] })
      const resource = yield* admin.get(`/admin/realms/${realm.name}/resources/${listed.json.resources[0].id}`)
      expectJson(resource, 200, listed.json.resources[0])
      expect(resource.headers["etag"]).toMatch(etag)
      const client = yield* admin.get(`/admin/realms/${realm.name}/clients/tessera-cli`)
      expectJson(client, 200, builtInClient(realm.name))
      expect(client.headers["etag"]).toMatch(etag)
      expect(yield* trail(realm.name)).toEqual(bornWith(realm.name))
    }))

  it.effect("§3: deleting either is 409 conflict; tessera-cli cannot be changed; nothing is written", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const id = (yield* resources(realm.name)).json.resources[0].id
      expectError(yield* del(`/admin/realms/${realm.name}/resources/${id}`), 409, "conflict",
        "the realm's admin resource is built in: it cannot be deleted")
      expectError(yield* del(`/admin/realms/${realm.name}/clients/tessera-cli`), 409, "conflict",
        "'tessera-cli' is built in: it cannot be deleted")
      for (const change of [{ client_name: "Mine" }, { resources: [] }, { grant_types: ["client_credentials"] }, {}]) {
        expectError(yield* patch(`/admin/realms/${realm.name}/clients/tessera-cli`, change), 409, "conflict",
          "'tessera-cli' is built in: it cannot be changed")
      }
      // public: no secret to rotate (as for any client that authenticates without one)
      expectError(yield* admin.post(`/admin/realms/${realm.name}/clients/tessera-cli/secret`, {}), 400, "invalid_request",
        "the client does not authenticate with a secret ('token_endpoint_auth_method' is neither client_secret_basic nor client_secret_post)")
      expectJson(yield* resources(realm.name), 200, { resources: [builtInResource(realm.name)] })
      expectJson(yield* clients(realm.name), 200, { clients: [builtInClient(realm.name)] })
      expect(yield* trail(realm.name)).toEqual(bornWith(realm.name))
    }))

  it.effect("§3: the resource's names, descriptions and extra (step-up) scopes may change; tessera:admin stays (400 otherwise)", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const path = `/admin/realms/${realm.name}/resources/${(yield* resources(realm.name)).json.resources[0].id}`
      for (const scopes of [["other"], ["tessera:admin:destructive"]]) {
        expectError(yield* patch(path, { scopes }), 400, "invalid_request", "the built-in admin resource keeps 'tessera:admin' in 'scopes'")
      }
      expectJson(yield* resources(realm.name), 200, { resources: [builtInResource(realm.name)] })
      const changed = yield* patch(path, {
        display_name: "Acme administration",
        scopes: ["tessera:admin", "tessera:destructive"],
        step_up_scopes: ["tessera:destructive"],
        scope_descriptions: { "tessera:admin": "Run Acme", "tessera:destructive": "Delete things in Acme" }
      })
      expectJson(changed, 200, {
        ...builtInResource(realm.name),
        display_name: "Acme administration",
        scopes: ["tessera:admin", "tessera:destructive"],
        step_up_scopes: ["tessera:destructive"],
        scope_descriptions: { "tessera:admin": "Run Acme", "tessera:destructive": "Delete things in Acme" }
      })
      expect((yield* trail(realm.name))[0]).toEqual({
        type: "resource.updated",
        actor: ownerActor,
        result: "success",
        resource: adminUri(realm.name),
        reason: "changed: scopes, step_up_scopes, display_name, scope_descriptions"
      })
      expectError(yield* del(path), 409, "conflict", "the realm's admin resource is built in: it cannot be deleted")
    }))

  it.effect("ADR 0035: tessera:admin and URIs under the admin API are reserved to the built-ins: 400, nothing registered", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const other = yield* createRealm()
      const reserved = "'tessera:admin' is reserved to the realm's built-in admin resource"
      const underAdmin = "'uri' under the admin API names a realm's built-in admin resource; it cannot be registered"
      expectError(yield* admin.post(`/admin/realms/${realm.name}/resources`, { uri: "https://api.example/", scopes: ["read", "tessera:admin"] }),
        400, "invalid_request", reserved)
      for (const uri of [adminUri(other.name), `${publicUrl}/admin`, `${publicUrl}/admin/x`, `HTTPS://TESSERA.TEST/admin/realms/${other.name}`]) {
        expectError(yield* admin.post(`/admin/realms/${realm.name}/resources`, { uri, scopes: ["read"] }), 400, "invalid_request", underAdmin)
      }
      // its own: it exists already (any case of scheme and host, RFC 3986 §6.2.2.1)
      for (const uri of [adminUri(realm.name), `HTTPS://TESSERA.TEST/admin/realms/${realm.name}`]) {
        for (const scopes of [["tessera:admin"], ["read"]]) {
          expectError(yield* admin.post(`/admin/realms/${realm.name}/resources`, { uri, scopes }), 409, "conflict",
            "the realm's admin resource is built in: it exists already")
        }
      }
      const plain = yield* admin.post(`/admin/realms/${realm.name}/resources`, { uri: "https://api.example/", scopes: ["read"] })
      expect(plain.status).toBe(201)
      expectError(yield* patch(`/admin/realms/${realm.name}/resources/${plain.json.id}`, { scopes: ["read", "tessera:admin"] }),
        400, "invalid_request", reserved)
      expectJson(yield* resources(realm.name), 200, {
        resources: expect.arrayContaining([builtInResource(realm.name), plain.json])
      })
      expect((yield* resources(realm.name)).json.resources).toHaveLength(2)
    }))

  it.effect("ADR 0035 attack: a client listing ANOTHER realm's admin resource is refused at registration (unknown here)", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const other = yield* createRealm()
      const res = yield* admin.post(`/admin/realms/${realm.name}/clients`, {
        grant_types: ["client_credentials"],
        resources: [adminUri(other.name)]
      })
      expectError(res, 400, "invalid_client_metadata", `resource '${adminUri(other.name)}' is not registered in this realm`)
      expectJson(yield* clients(realm.name), 200, { clients: [builtInClient(realm.name)] })
      expect(yield* trail(realm.name)).toEqual(bornWith(realm.name))
    }))
})

it.layer(TestLive.World)("ADR 0035 the built-ins pass at start", (it) => {
  it.effect("a realm made before the built-ins gets both when a node starts, with their events; a second start adds nothing", () =>
    Effect.gen(function*() {
      const name = uniqueName("legacy")
      yield* realmWithoutBuiltIns(name)
      expectJson(yield* resources(name), 200, { resources: [] })
      expectJson(yield* clients(name), 200, { clients: [] })
      const ports = yield* storePorts
      // the node that starts now (a restart) walks every realm before it listens
      yield* Effect.gen(function*() {
        expectJson(yield* resources(name), 200, { resources: [builtInResource(name)] })
        expectJson(yield* clients(name), 200, { clients: [builtInClient(name)] })
      }).pipe(Effect.provide(anotherNode(ports)))
      yield* Effect.gen(function*() {
        expect(yield* trail(name)).toEqual(bornWith(name))
      }).pipe(Effect.provide(anotherNode(ports)))
      // and the pass itself, run again, finds nothing to do in this realm
      const again = yield* Provisioning.ensureBuiltIns(publicUrl)
      expect(again.find((r) => r.realm === name)).toEqual({ realm: name, created: [], updated: [] })
    }))

  it.effect("a realm deleted while the pass rewrites its tessera-cli: reported gone (not updated, not silently done), the pass goes on, no error", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const found = yield* Provisioning.findRealm(realm.name)
      const moved = "https://id.example.net"
      const clients = yield* Clients.Clients
      const deletion = yield* Effect.provide(
        Effect.flatMap(del(`/admin/realms/${realm.name}?confirm=${realm.name}`), (r) => Effect.sync(() => expect(r.status).toBe(204))),
        yield* Effect.context<HttpClient.HttpClient>()
      ).pipe(Effect.cached)
      // the deletion lands between the pass's read of tessera-cli and its rewrite (issue 15: realmFirst finds no realm)
      const racing = Clients.Clients.of({
        ...clients,
        update: (next, version, event) =>
          next.realmId !== found.id ? clients.update(next, version, event) : Effect.zipRight(deletion, clients.update(next, version, event))
      })
      const ensured = yield* Provisioning.ensureBuiltIns(moved).pipe(Effect.provideService(Clients.Clients, racing))
      expect(ensured.find((r) => r.realm === realm.name)).toEqual({ realm: realm.name, created: ["resource"], updated: [], gone: true })
      expect((yield* resources(realm.name)).status).toBe(404)
    }))

  it.effect("two passes at once (two nodes starting): one resource, one client, one event each, no error", () =>
    Effect.gen(function*() {
      const name = uniqueName("legacy")
      yield* realmWithoutBuiltIns(name)
      const [a, b] = yield* Effect.all([Provisioning.ensureBuiltIns(publicUrl), Provisioning.ensureBuiltIns(publicUrl)], { concurrency: 2 })
      const mine = [a, b].map((run) => run.find((r) => r.realm === name)!)
      expect([...mine[0]!.created, ...mine[1]!.created].sort()).toEqual(["client", "resource"])
      expectJson(yield* resources(name), 200, { resources: [builtInResource(name)] })
      expectJson(yield* clients(name), 200, { clients: [builtInClient(name)] })
      expect(yield* trail(name)).toEqual(bornWith(name))
    }))

  it.effect("a new public URL: the admin resource under it is added, tessera-cli follows it (client.updated), the old row stays", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const moved = "https://id.example.org"
      const ports = yield* storePorts
      yield* Effect.gen(function*() {
        const listed = (yield* resources(realm.name)).json.resources as Array<{ uri: string }>
        expect([...listed].sort((x, y) => (x.uri < y.uri ? -1 : 1))).toEqual([builtInResource(realm.name, moved), builtInResource(realm.name)])
        expectJson(yield* clients(realm.name), 200, { clients: [builtInClient(realm.name, moved)] })
        expect((yield* trail(realm.name)).slice(0, 2)).toEqual([
          {
            type: "client.updated",
            actor: ownerActor,
            result: "success",
            client_id: "tessera-cli",
            reason: "changed: resources (built in: the admin resource moved with the public URL)"
          },
          { type: "resource.created", actor: ownerActor, result: "success", resource: adminUri(realm.name, moved), reason: "built in" }
        ])
        // under the new URL the old row is an ordinary resource nobody lists: it may go
        const old = listed.find((r) => r.uri === adminUri(realm.name)) as unknown as { id: string }
        expect((yield* del(`/admin/realms/${realm.name}/resources/${old.id}`)).status).toBe(204)
      }).pipe(Effect.provide(anotherNode(ports, moved)))
    }))
})

// ---------------------------------------------------------------------------------------------------------------
// Who may get a token whose audience is the admin resource (CONTRACT §3)
// ---------------------------------------------------------------------------------------------------------------

const password = "correct horse battery staple"
const deviceGrant = "urn:ietf:params:oauth:grant-type:device_code"
const jwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
const appRedirect = "https://admin-app.example/cb"

/** RFC 8707 §2 at the token endpoint: the one description for an unknown or disallowed resource. */
const invalidTarget = { error: "invalid_target", error_description: "the resource is unknown or not allowed to the client" }
/** ADR 0035: the person's grant no longer carries the admin resource. */
const notAdminGrant = { error: "invalid_grant", error_description: "only an admin of the realm may have a token for its admin API" }
/** ADR 0035, RFC 6749 §4.1.2.1: a person who is not an admin asked for the admin resource. */
const notAdminDescription = "only an admin of the realm may grant access to its admin API"

interface Tenant {
  readonly w: World
  readonly adminResource: string
  /** A public code-flow client whose registration lists the admin resource. */
  readonly app: RegisteredClient
  /** A member (no role). */
  readonly member: { readonly sub: string; readonly username: string }
}

/** A realm whose person `ada` is an admin, a member `bob`, and an app registered with the admin resource. */
const tenant = Effect.gen(function*() {
  const w = yield* world
  const adminResource = adminUri(w.name)
  expect((yield* admin.patch(`/admin/realms/${w.name}/users/${w.sub}`, { roles: ["admin"] })).status).toBe(200)
  const bob = yield* admin.post(`/admin/realms/${w.name}/users`, { username: "bob", password })
  expect(bob.status).toBe(201)
  const app = yield* registerClient(w, {
    redirect_uris: [appRedirect], token_endpoint_auth_method: "none", resources: [adminResource]
  })
  return { w, adminResource, app, member: { sub: bob.json.sub as string, username: "bob" } } satisfies Tenant
})

/** The access token's claims, verified against the realm's JWKS. */
const claimsOf = (w: World, token: string) => Effect.map(verify(w, token), (verified) => verified.payload as Jose.JWTPayload & Record<string, unknown>)

/** RFC 9068 §2.2: an admin token's claims, whole. */
const adminClaims = (t: Tenant, sub: string, clientId: string, person: boolean) => ({
  iss: t.w.issuer,
  sub,
  aud: t.adminResource,
  client_id: clientId,
  scope: "tessera:admin",
  jti: expect.any(String),
  iat: expect.any(Number),
  exp: expect.any(Number),
  ...(person ? { auth_time: expect.any(Number), acr: expect.any(String) } : {})
})

/** Authorize (code + PKCE) in a browser for `username`: the response after the login form (and its 303). */
const authorizeAs = (browser: Browser, t: Tenant, clientId: string, redirectUri: string, username: string, params: Record<string, string>) =>
  Effect.gen(function*() {
    const { challenge, verifier } = pkce()
    const query = new URLSearchParams({
      response_type: "code", client_id: clientId, redirect_uri: redirectUri, state: "s-1",
      code_challenge: challenge, code_challenge_method: "S256", ...params
    })
    const page = yield* browser.get(`/realms/${t.w.name}/authorize?${query.toString()}`)
    if (page.status !== 200) return { response: page, verifier }
    return { response: yield* followSeeOther(browser, yield* browser.submit(onlyForm(page.text), { username, password })), verifier }
  })

/** RFC 8628: a device authorization of `clientId`, and its user code entered and signed in for by `username`. */
const deviceAs = (t: Tenant, auth: Parameters<typeof post>[2], username: string, params: Record<string, string>) =>
  Effect.gen(function*() {
    const started = yield* post(t.w, "device_authorization", auth, params)
    expect(started.status).toBe(200)
    const browser = makeBrowser({ userAgent: "tessera-test/1.0 (admin tokens)" })
    const entry = yield* browser.get(pathOf(`${t.w.issuer}/device`))
    const login = yield* browser.submit(onlyForm(entry.text), { user_code: started.json.user_code })
    const page = yield* followSeeOther(browser, yield* browser.submit(onlyForm(login.text), { username, password }))
    return { browser, page, deviceCode: started.json.device_code as string }
  })

it.layer(TestLive.World, { timeout: "120 seconds" })("CONTRACT §3 person grants for the admin resource: role admin, at issue and at every refresh", (it) => {
  it.effect("RFC 6749 §4.1 + PKCE: an admin consents and gets a token for the admin resource (aud, scope tessera:admin)", () =>
    Effect.gen(function*() {
      const t = yield* tenant
      const browser = makeBrowser({ userAgent: "tessera-test/1.0 (admin tokens)" })
      const { response: consent, verifier } = yield* authorizeAs(browser, t, t.app.client_id, appRedirect, "ada", {
        scope: "tessera:admin", resource: t.adminResource
      })
      expect(consent.status).toBe(200)
      // CONTRACT §3: the consent page names the resource as described
      expect(consent.text).toContain(`Tessera admin API of realm ${t.w.name}`)
      const back = yield* browser.submit(onlyForm(consent.text), {}, ["decision", "allow"])
      const code = new URL(back.headers["location"]!).searchParams.get("code")!
      const res = yield* post(t.w, "token", authOf(t.app), {
        grant_type: "authorization_code", code, redirect_uri: appRedirect, code_verifier: verifier
      })
      expectTokenResponse(res, resourceTokens("tessera:admin"))
      expect(yield* claimsOf(t.w, res.json.access_token)).toEqual(adminClaims(t, t.w.sub, t.app.client_id, true))
    }))

  it.effect("ADR 0035: a member who asks for it is sent back with access_denied after signing in; no code, no consent page", () =>
    Effect.gen(function*() {
      const t = yield* tenant
      const browser = makeBrowser({ userAgent: "tessera-test/1.0 (admin tokens)" })
      const { response } = yield* authorizeAs(browser, t, t.app.client_id, appRedirect, "bob", {
        scope: "tessera:admin", resource: t.adminResource
      })
      expect(response.status).toBe(302)
      const location = new URL(response.headers["location"]!)
      expect(`${location.origin}${location.pathname}`).toBe(appRedirect)
      expect([...location.searchParams.entries()]).toEqual([
        ["error", "access_denied"], ["error_description", notAdminDescription], ["state", "s-1"], ["iss", t.w.issuer]
      ])
      // signed in now, asking again: the same answer straight from the authorization endpoint
      const again = yield* authorizeAs(browser, t, t.app.client_id, appRedirect, "bob", { scope: "tessera:admin", resource: t.adminResource })
      expect(again.response.status).toBe(302)
      expect(new URL(again.response.headers["location"]!).searchParams.get("error")).toBe("access_denied")
    }))

  it.effect("ADR 0035: a member's code for it (a grant made while they were admin) is invalid_grant at the token endpoint", () =>
    Effect.gen(function*() {
      const t = yield* tenant
      const issued = yield* issueCode(t.w, { clientId: t.app.client_id, scopes: ["tessera:admin"], resources: [t.adminResource] })
      expect((yield* admin.patch(`/admin/realms/${t.w.name}/users/${t.w.sub}`, { roles: [] })).status).toBe(200)
      expectTokenError(yield* exchange(t.w, authOf(t.app), issued), notAdminGrant)
    }))

  it.effect("RFC 6749 §6: refresh after the admin role was removed is invalid_grant; nothing is spent; with the role back it works", () =>
    Effect.gen(function*() {
      const t = yield* tenant
      const issued = yield* issueCode(t.w, { clientId: t.app.client_id, scopes: ["tessera:admin"], resources: [t.adminResource] })
      const first = yield* exchange(t.w, authOf(t.app), issued)
      expectTokenResponse(first, resourceTokens("tessera:admin"))
      const second = yield* refresh(t.w, authOf(t.app), first.json.refresh_token)
      expectTokenResponse(second, resourceTokens("tessera:admin"))
      expect((yield* admin.patch(`/admin/realms/${t.w.name}/users/${t.w.sub}`, { roles: ["member"] })).status).toBe(200)
      expectTokenError(yield* refresh(t.w, authOf(t.app), second.json.refresh_token), notAdminGrant)
      // refused before anything was written: the refresh token is still the current one (no reuse detected)
      expect((yield* admin.patch(`/admin/realms/${t.w.name}/users/${t.w.sub}`, { roles: ["admin"] })).status).toBe(200)
      const third = yield* refresh(t.w, authOf(t.app), second.json.refresh_token)
      expectTokenResponse(third, resourceTokens("tessera:admin"))
      expect(yield* claimsOf(t.w, third.json.access_token)).toEqual(adminClaims(t, t.w.sub, t.app.client_id, true))
    }))

  it.effect("RFC 8628: an admin signs tessera-cli in by device code; the token is for the admin resource", () =>
    Effect.gen(function*() {
      const t = yield* tenant
      const cli = { none: "tessera-cli" }
      // CONTRACT §5: tessera-cli lists exactly one resource, so `resource` may be left out
      const { browser, deviceCode, page } = yield* deviceAs(t, cli, "ada", { scope: "tessera:admin" })
      expect(page.status).toBe(200)
      const done = yield* browser.submit(onlyForm(page.text), {}, ["decision", "allow"])
      expect(done.status).toBe(200)
      const res = yield* post(t.w, "token", cli, { grant_type: deviceGrant, device_code: deviceCode })
      expectTokenResponse(res, resourceTokens("tessera:admin"))
      expect(yield* claimsOf(t.w, res.json.access_token)).toEqual(adminClaims(t, t.w.sub, "tessera-cli", true))
      const refreshed = yield* refresh(t.w, cli, res.json.refresh_token)
      expectTokenResponse(refreshed, resourceTokens("tessera:admin"))
    }))

  it.effect("ADR 0035: a member on the device page is refused (403 access_denied); the device is never approved", () =>
    Effect.gen(function*() {
      const t = yield* tenant
      const cli = { none: "tessera-cli" }
      const { deviceCode, page } = yield* deviceAs(t, cli, "bob", { scope: "tessera:admin" })
      expect(page.status).toBe(403)
      expect(page.headers["content-type"]).toBe("text/html; charset=utf-8")
      expect(page.text).toContain("<code>access_denied</code>")
      expect(page.text).toContain(notAdminDescription)
      expect(page.text).not.toContain('value="allow"')
      expectTokenError(yield* post(t.w, "token", cli, { grant_type: deviceGrant, device_code: deviceCode }), {
        error: "authorization_pending", error_description: "the person has not yet approved the request"
      })
    }))
})

it.layer(TestLive.World, { timeout: "120 seconds" })("CONTRACT §3 clients and the admin resource: only an explicit listing, never exchange or JWT-bearer", (it) => {
  it.effect("a client registered without `resources` cannot ask for it: authorization, device authorization, client credentials", () =>
    Effect.gen(function*() {
      const t = yield* tenant
      // the authorization endpoint: RFC 8707 §2 invalid_target, to the client, before anyone signs in
      const web = yield* registerClient(t.w, { redirect_uris: [appRedirect], token_endpoint_auth_method: "none", resources: undefined })
      const browser = makeBrowser({ userAgent: "tessera-test/1.0 (admin tokens)" })
      const { response } = yield* authorizeAs(browser, t, web.client_id, appRedirect, "ada", { scope: "tessera:admin", resource: t.adminResource })
      expect(response.status).toBe(302)
      expect([...new URL(response.headers["location"]!).searchParams.entries()]).toEqual([
        ["error", "invalid_target"], ["error_description", expect.any(String)], ["state", "s-1"], ["iss", t.w.issuer]
      ])
      // asking only for the scope: no resource of the default carries it, so it is not granted
      const scopeOnly = yield* authorizeAs(browser, t, web.client_id, appRedirect, "ada", { scope: "tessera:admin" })
      expect(scopeOnly.response.status).toBe(302)
      expect(new URL(scopeOnly.response.headers["location"]!).searchParams.get("error")).toBe("invalid_scope")
      // the device authorization endpoint
      const device = yield* registerClient(t.w, {
        grant_types: [deviceGrant], token_endpoint_auth_method: "none", redirect_uris: [], response_types: [], resources: undefined
      })
      const started = yield* post(t.w, "device_authorization", authOf(device), { scope: "tessera:admin", resource: t.adminResource })
      expect({ status: started.status, body: started.json }).toEqual({ status: 400, body: { error: "invalid_target", error_description: expect.any(String) } })
      // client credentials (the token endpoint and its edge)
      const machine = yield* registerClient(t.w, { grant_types: ["client_credentials"], redirect_uris: [], response_types: [], resources: undefined })
      for (const params of [{ resource: t.adminResource }, { resource: t.adminResource, scope: "tessera:admin" }]) {
        expectTokenError(yield* post(t.w, "token", authOf(machine), { grant_type: "client_credentials", ...params }), invalidTarget)
      }
      // a code grant of another resource cannot be turned into one at the token endpoint either
      const issued = yield* issueCode(t.w, { clientId: web.client_id, scopes: ["read"], resources: [t.w.resource] })
      expectTokenError(yield* exchange(t.w, authOf(web), issued, { resource: t.adminResource }), {
        error: "invalid_target", error_description: "the resource was not granted"
      })
    }))

  it.effect("client credentials: a confidential client listing it gets a token whose sub is itself (automation)", () =>
    Effect.gen(function*() {
      const t = yield* tenant
      const automation = yield* registerClient(t.w, {
        grant_types: ["client_credentials"], redirect_uris: [], response_types: [], resources: [t.adminResource]
      })
      const res = yield* post(t.w, "token", authOf(automation), { grant_type: "client_credentials" })
      expectTokenResponse(res, { access_token: expect.any(String), token_type: "Bearer", expires_in: accessTokenLifetime, scope: "tessera:admin" })
      expect(yield* claimsOf(t.w, res.json.access_token)).toEqual(adminClaims(t, automation.client_id, automation.client_id, false))
    }))

  it.effect("RFC 8693: an exchange never yields it, even for an agent listing it and an admin's subject token: invalid_target", () =>
    Effect.gen(function*() {
      const t = yield* tenant
      const agent = yield* registerClient(t.w, {
        principal_type: "agent",
        grant_types: ["authorization_code", "refresh_token", tokenExchangeGrant],
        resources: [t.w.resource, t.adminResource]
      })
      // the admin's own authorization of the agent, for the admin resource and the API
      const issued = yield* issueCode(t.w, { clientId: agent.client_id, scopes: ["read", "tessera:admin"], resources: [t.w.resource, t.adminResource] })
      const subject = yield* exchange(t.w, authOf(agent), issued, { resource: t.w.resource })
      expect(subject.status).toBe(200)
      for (const scope of ["tessera:admin", undefined]) {
        const res = yield* post(t.w, "token", authOf(agent), {
          grant_type: tokenExchangeGrant, subject_token: subject.json.access_token, subject_token_type: accessTokenType,
          resource: t.adminResource, ...(scope !== undefined ? { scope } : {})
        })
        expectTokenError(res, invalidTarget)
      }
    }))

  it.effect("RFC 7523: a JWT-bearer assertion never yields it, for a person or the client itself: invalid_target", () =>
    Effect.gen(function*() {
      const t = yield* tenant
      const idp = yield* trustedIssuer(t.w)
      const client = yield* registerClient(t.w, { grant_types: [jwtBearerGrant], redirect_uris: [], response_types: [], resources: [t.adminResource] })
      for (const sub of [t.w.sub, client.client_id]) {
        const signed = yield* assertion(idp.key, idp.issuer, t.w.issuer, { sub })
        expectTokenError(yield* post(t.w, "token", authOf(client), {
          grant_type: jwtBearerGrant, assertion: signed, resource: t.adminResource, scope: "tessera:admin"
        }), invalidTarget)
      }
    }))

  it.effect("RFC 7662 (CONTRACT §5): introspection counts only explicit listings: a default client learns nothing of an admin token", () =>
    Effect.gen(function*() {
      const t = yield* tenant
      const automation = yield* registerClient(t.w, {
        grant_types: ["client_credentials"], redirect_uris: [], response_types: [], resources: [t.adminResource]
      })
      const token = (yield* post(t.w, "token", authOf(automation), { grant_type: "client_credentials" })).json.access_token as string
      const bystander = yield* registerClient(t.w, { grant_types: ["client_credentials"], redirect_uris: [], response_types: [], resources: undefined })
      expect((yield* introspect(t.w, authOf(bystander), token)).json).toEqual({ active: false })
      const listing = yield* registerClient(t.w, { grant_types: ["client_credentials"], redirect_uris: [], response_types: [], resources: [t.adminResource] })
      expect((yield* introspect(t.w, authOf(listing), token)).json).toMatchObject({ active: true, aud: t.adminResource, scope: "tessera:admin" })
    }))
})
