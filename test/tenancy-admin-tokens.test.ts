/**
 * CONTRACT §3 (issue 14, ADR 0035): every realm's built-in admin resource (`$TESSERA_PUBLIC_URL/admin/realms/R`, scope
 * `tessera:admin`) and built-in public client `tessera-cli`, as ordinary stored rows: born with the realm, given at
 * start to realms made before them, not deletable, and who may get a token whose audience is that resource.
 */
import * as Http from "node:http"
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { expect, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import {
  AccessTokens, Audit, AuditEvent, Clients, Delegations, DeviceAuthorizations, Entropy, Fetcher, Interactions, JobLock,
  JtiCache, Keys, LoginThrottle, Provisioning, Realms, Resources, SignIn, SigningKeys, TrustedIssuers, UserCodeThrottle, Users
} from "@tessera/domain"
import type { Realm } from "@tessera/domain"
import * as AppConfig from "@tessera/server-node/AppConfig"
import * as Live from "@tessera/server-node/Live"
import type { WireResponse } from "./support/Http.js"
import { admin, createRealm, request, uniqueName } from "./support/Http.js"
import { adminToken, config, publicUrl, TestLive } from "./support/TestLive.js"

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
  SignIn.Sessions, SignIn.Codes, SignIn.Grants, SignIn.Consents, SignIn.RefreshTokens, DeviceAuthorizations.DeviceAuthorizations,
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

layer(TestLive)("CONTRACT §3 the built-in admin resource and tessera-cli", (it) => {
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

layer(TestLive)("ADR 0035 the built-ins pass at start", (it) => {
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
