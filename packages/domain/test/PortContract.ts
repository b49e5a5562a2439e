/**
 * The contract every store implementation passes: run with the in-memory layers here, and with the Postgres
 * and PGlite layers by packages/sql. Each test makes its own realms, so suites may share one store.
 */
import { expect, layer } from "@effect/vitest"
import { DateTime, Deferred, Effect, Exit, Fiber, Option } from "effect"
import type { Layer } from "effect"
import {
  Audit, AuditEvent, Clients, Entropy, JobLock, Keys, Realms, Resources, SigningKey, StoreError, TrustedIssuers, Users
} from "@tessera/domain"
import type { Client, Realm } from "@tessera/domain"

export type Ports =
  | Realms.Realms | Clients.Clients | Users.Users | Resources.Resources | TrustedIssuers.TrustedIssuers | Keys.Keys | Audit.Audit
  | JobLock.JobLock

const at = DateTime.unsafeMake("2026-11-29T12:00:00Z")

const sealed: SigningKey.Sealed = { iv: "aXY", ciphertext: "Y2lwaGVy" }
const key = (kid: string, alg: SigningKey.Alg, status: "active" | "next"): SigningKey.SigningKey =>
  SigningKey.SigningKey[status === "active" ? "Active" : "Next"]({ kid, alg, publicJwk: { kty: "EC", kid }, sealedPrivateJwk: sealed, createdAt: at, activatesAt: at })
const ring: SigningKey.Ring = {
  version: 1,
  keys: [key("a1", "ES256", "active"), key("n1", "ES256", "next"), key("a2", "RS256", "active"), key("n2", "RS256", "next")]
}

const event = (realm: Realm.Realm, type: AuditEvent.EventType, extra: Partial<AuditEvent.AuditEvent> = {}) =>
  Effect.map(Entropy.uuid, (id): AuditEvent.AuditEvent => ({
    id, at, realmId: realm.id, realm: realm.name, type, actor: AuditEvent.owner, result: "success", ...extra
  })).pipe(Effect.provide(Entropy.layer))

/** A fresh realm, created through the port with its ring and event. */
export const newRealm = Effect.gen(function*() {
  const id = yield* Entropy.uuid.pipe(Effect.provide(Entropy.layer))
  const realm: Realm.Realm = { id, name: `r-${id.slice(0, 8)}`, dynamicRegistration: false, createdAt: at, version: 1 }
  const created = yield* event(realm, "realm.created")
  yield* Effect.flatMap(Realms.Realms, (realms) => realms.create(realm, ring, created))
  return realm
})

/** The realm's audit event types, newest first. */
export const trail = (realm: Realm.Realm) =>
  Effect.flatMap(Audit.Audit, (audit) => audit.query(realm.id, { limit: 1000 })).pipe(Effect.map((rows) => rows.map((r) => r.event.type)))

const metadata: Client.Metadata = {
  redirectUris: ["https://app.example/cb"],
  postLogoutRedirectUris: [],
  grantTypes: ["authorization_code"],
  responseTypes: ["code"],
  tokenEndpointAuthMethod: "client_secret_basic",
  frontchannelLogoutSessionRequired: false,
  dpopBoundAccessTokens: false,
  principalType: "app"
}

export const suite = (name: string, ports: Layer.Layer<Ports, unknown>) =>
  layer(ports)(`${name}: store port contract`, (it) => {
    it.effect("Realms: create, find by name, list; a second create with the name fails and writes nothing", () =>
      Effect.gen(function*() {
        const realms = yield* Realms.Realms
        const realm = yield* newRealm
        expect(Option.getOrThrow(yield* realms.findByName(realm.name))).toEqual(realm)
        expect((yield* realms.list).map((r) => r.id)).toContain(realm.id)
        const again = yield* Effect.exit(realms.create({ ...realm, id: crypto.randomUUID() }, ring, yield* event(realm, "realm.created")))
        expect(again).toEqual(Exit.fail(expect.objectContaining({ _tag: "AlreadyExists", entity: "realm" })))
        expect(yield* trail(realm)).toEqual(["realm.created"])
        expect(Option.isNone(yield* realms.findByName(`${realm.name}-absent`))).toBe(true)
      }))

    it.effect("Realms: update stores the settings with its event", () =>
      Effect.gen(function*() {
        const realms = yield* Realms.Realms
        const realm = yield* newRealm
        const updated = { ...realm, displayName: "Acme", dynamicRegistration: true, version: 2 }
        yield* realms.update(updated, 1, yield* event(realm, "realm.updated"))
        expect(Option.getOrThrow(yield* realms.findByName(realm.name))).toEqual(updated)
        expect(yield* trail(realm)).toEqual(["realm.updated", "realm.created"])
      }))

    it.effect("Clients: insert with its event, find and list only within the realm, duplicates refused", () =>
      Effect.gen(function*() {
        const clients = yield* Clients.Clients
        const a = yield* newRealm
        const b = yield* newRealm
        const client: Client.Client = { realmId: a.id, clientId: "c1", secretHash: "h", metadata, createdAt: at, version: 1 }
        yield* clients.insert(client, yield* event(a, "client.created", { clientId: "c1" }))
        expect(Option.getOrThrow(yield* clients.find(a.id, "c1"))).toEqual(client)
        expect(yield* clients.list(a.id)).toEqual([client])
        expect(Option.isNone(yield* clients.find(b.id, "c1"))).toBe(true)
        expect(yield* clients.list(b.id)).toEqual([])
        const again = yield* Effect.exit(clients.insert(client, yield* event(a, "client.created")))
        expect(again).toEqual(Exit.fail(expect.objectContaining({ _tag: "AlreadyExists", entity: "client" })))
        expect(yield* trail(a)).toEqual(["client.created", "realm.created"])
        // the same client id in another realm is another client
        yield* clients.insert({ ...client, realmId: b.id }, yield* event(b, "client.created"))
        expect(yield* clients.list(b.id)).toHaveLength(1)
        // RFC 7591: a dynamically registered client is found as one (RFC 9700 §4.11.2)
        const registered: Client.Client = { realmId: a.id, clientId: "c2", metadata, dynamic: true, createdAt: at, version: 1 }
        yield* clients.insert(registered, yield* event(a, "client.created", { clientId: "c2" }))
        expect(Option.getOrThrow(yield* clients.find(a.id, "c2"))).toEqual(registered)
      }))

    it.effect("Clients: pages in client_id order; update and remove only at the version read, with their events, in their realm", () =>
      Effect.gen(function*() {
        const clients = yield* Clients.Clients
        const a = yield* newRealm
        const b = yield* newRealm
        const ids = ["c-B", "c-a", "c_1", "c-A"]
        for (const clientId of ids) {
          yield* clients.insert({ realmId: a.id, clientId, metadata, createdAt: at, version: 1 }, yield* event(a, "client.created"))
        }
        yield* clients.insert({ realmId: b.id, clientId: "c-a", metadata, createdAt: at, version: 1 }, yield* event(b, "client.created"))
        // code-unit order (Clients.sortKey), whatever the database's collation
        const sorted = [...ids].sort()
        expect((yield* clients.page(a.id, { limit: 2 })).map((c) => c.clientId)).toEqual(sorted.slice(0, 3))
        expect((yield* clients.page(a.id, { limit: 2, after: sorted[1]! })).map((c) => c.clientId)).toEqual(sorted.slice(2))
        expect((yield* clients.page(b.id, { limit: 10 })).map((c) => c.clientId)).toEqual(["c-a"])

        const before = Option.getOrThrow(yield* clients.find(a.id, "c-a"))
        const next: Client.Client = {
          ...before, metadata: { ...metadata, clientName: "renamed" }, secretHash: "h2", previousSecretHash: "h1",
          previousSecretExpiresAt: DateTime.addDuration(at, "1 hour"), version: 2
        }
        yield* clients.update(next, 1, yield* event(a, "client.updated"))
        expect(Option.getOrThrow(yield* clients.find(a.id, "c-a"))).toEqual(next)
        const stale = yield* Effect.exit(clients.update({ ...next, version: 2 }, 1, yield* event(a, "client.updated")))
        expect(stale).toEqual(Exit.fail(expect.objectContaining({ _tag: "Stale", entity: "client" })))
        const absent = yield* Effect.exit(clients.update({ ...next, clientId: "absent" }, 1, yield* event(a, "client.updated")))
        expect(absent).toEqual(Exit.fail(expect.objectContaining({ _tag: "NotFound", entity: "client" })))
        // the other realm's client of the same id is untouched
        expect(Option.getOrThrow(yield* clients.find(b.id, "c-a")).version).toBe(1)

        const staleRemove = yield* Effect.exit(clients.remove(a.id, "c-a", 1, at, yield* event(a, "client.deleted")))
        expect(staleRemove).toEqual(Exit.fail(expect.objectContaining({ _tag: "Stale", entity: "client" })))
        yield* clients.remove(a.id, "c-a", 2, at, yield* event(a, "client.deleted"))
        expect(Option.isNone(yield* clients.find(a.id, "c-a"))).toBe(true)
        const gone = yield* Effect.exit(clients.remove(a.id, "c-a", 2, at, yield* event(a, "client.deleted")))
        expect(gone).toEqual(Exit.fail(expect.objectContaining({ _tag: "NotFound", entity: "client" })))
        expect(Option.isSome(yield* clients.find(b.id, "c-a"))).toBe(true)
        expect(yield* trail(a)).toEqual(["client.deleted", "client.updated", ...ids.map(() => "client.created"), "realm.created"])
        expect(yield* trail(b)).toEqual(["client.created", "realm.created"])
      }))

    it.effect("Users: usernames are unique per realm regardless of case; find by sub and by username", () =>
      Effect.gen(function*() {
        const users = yield* Users.Users
        const a = yield* newRealm
        const b = yield* newRealm
        const user = { realmId: a.id, sub: "s1", username: "Alice", passwordHash: "$argon2id$x", roles: [], disabled: false, version: 1, createdAt: at } as const
        yield* users.insert(user, yield* event(a, "user.created"))
        expect(Option.getOrThrow(yield* users.find(a.id, "s1"))).toEqual(user)
        expect(Option.getOrThrow(yield* users.findByUsername(a.id, "alice"))).toEqual(user)
        expect(Option.isNone(yield* users.findByUsername(b.id, "alice"))).toBe(true)
        const again = yield* Effect.exit(users.insert({ ...user, sub: "s2", username: "ALICE" }, yield* event(a, "user.created")))
        expect(again).toEqual(Exit.fail(expect.objectContaining({ _tag: "AlreadyExists", entity: "user" })))
        expect(Option.isNone(yield* users.find(a.id, "s2"))).toBe(true)
        expect(yield* trail(a)).toEqual(["user.created", "realm.created"])
        yield* users.insert({ ...user, realmId: b.id }, yield* event(b, "user.created"))
      }))

    it.effect("Resources and TrustedIssuers: insert, find, list per realm, duplicates refused", () =>
      Effect.gen(function*() {
        const resources = yield* Resources.Resources
        const issuers = yield* TrustedIssuers.TrustedIssuers
        const a = yield* newRealm
        const b = yield* newRealm
        const resource = { realmId: a.id, id: "00000000-0000-4000-8000-000000000001", version: 1, uri: "https://api.example", scopes: ["read", "pay"], stepUpScopes: ["pay"], createdAt: at }
        yield* resources.insert(resource, yield* event(a, "resource.created"))
        expect(Option.getOrThrow(yield* resources.find(a.id, resource.uri))).toEqual(resource)
        expect(yield* resources.list(b.id)).toEqual([])
        expect(yield* Effect.exit(resources.insert(resource, yield* event(a, "resource.created")))).toEqual(
          Exit.fail(expect.objectContaining({ _tag: "AlreadyExists", entity: "resource" }))
        )
        const trusted = {
          realmId: a.id,
          id: "00000000-0000-4000-8000-000000000002",
          version: 1,
          issuer: "https://idp.example",
          keys: { _tag: "JwksUri" as const, jwksUri: "https://idp.example/jwks" },
          idJag: false,
          provisionUsers: false,
          createdAt: at
        }
        yield* issuers.insert(trusted, yield* event(a, "trusted_issuer.created"))
        expect(Option.getOrThrow(yield* issuers.find(a.id, trusted.issuer))).toEqual(trusted)
        expect(Option.isNone(yield* issuers.find(b.id, trusted.issuer))).toBe(true)
        expect(yield* Effect.exit(issuers.insert(trusted, yield* event(a, "trusted_issuer.created")))).toEqual(
          Exit.fail(expect.objectContaining({ _tag: "AlreadyExists", entity: "trusted_issuer" }))
        )
        expect(yield* trail(a)).toEqual(["trusted_issuer.created", "resource.created", "realm.created"])
      }))

    it.effect("Keys: the ring is replaced only at the expected version, with its event", () =>
      Effect.gen(function*() {
        const keys = yield* Keys.Keys
        const realm = yield* newRealm
        expect(Option.getOrThrow(yield* keys.ring(realm.id))).toEqual(ring)
        const next = { version: 2, keys: ring.keys.slice(1) }
        const stale = yield* Effect.exit(keys.replace(realm.id, 7, next, Option.some(yield* event(realm, "key.rotated"))))
        expect(stale).toEqual(Exit.fail(expect.objectContaining({ _tag: "KeyRingChanged" })))
        expect(Option.getOrThrow(yield* keys.ring(realm.id))).toEqual(ring)
        yield* keys.replace(realm.id, 1, next, Option.some(yield* event(realm, "key.rotated")))
        expect(Option.getOrThrow(yield* keys.ring(realm.id))).toEqual(next)
        yield* keys.replace(realm.id, 2, { ...next, version: 3 }, Option.none())
        expect(yield* trail(realm)).toEqual(["key.rotated", "realm.created"])
        // issue 15 (ADR 0030): no ring and no realm row is the realm gone (a live realm without a ring would be None)
        const unknown = crypto.randomUUID()
        expect(yield* Effect.exit(keys.ring(unknown))).toEqual(Exit.fail(StoreError.realmGone(unknown)))
      }))

    it.effect("JobLock: a job runs where no one else runs it, and is skipped while it is held", () =>
      Effect.gen(function*() {
        const jobs = yield* JobLock.JobLock
        const name = `job-${crypto.randomUUID()}`
        const started = yield* Deferred.make<void>()
        const release = yield* Deferred.make<void>()
        const holder = yield* Effect.fork(
          jobs.tryRun(name, Deferred.succeed(started, undefined).pipe(Effect.zipRight(Deferred.await(release)), Effect.as("held")))
        )
        yield* Deferred.await(started)
        expect(yield* jobs.tryRun(name, Effect.succeed("second"))).toEqual(Option.none())
        yield* Deferred.succeed(release, undefined)
        expect(yield* Fiber.join(holder)).toEqual(Option.some("held"))
        expect(yield* jobs.tryRun(name, Effect.succeed(1))).toEqual(Option.some(1))
      }))

    it.effect("Audit: newest first, every filter, a position cursor and a limit, per realm", () =>
      Effect.gen(function*() {
        const audit = yield* Audit.Audit
        const a = yield* newRealm
        const b = yield* newRealm
        const later = DateTime.add(at, { hours: 1 })
        yield* audit.append(yield* event(a, "login.failed", { subject: "s1", clientId: "c1", result: "failure", reason: "bad password" }))
        yield* audit.append(yield* event(a, "login.succeeded", { subject: "s1", clientId: "c2", at: later, actor: { type: "user", id: "s1" } }))
        yield* audit.append(yield* event(b, "login.succeeded", { subject: "s1" }))
        const all = yield* audit.query(a.id, { limit: 10 })
        expect(all.map((r) => r.event.type)).toEqual(["login.succeeded", "login.failed", "realm.created"])
        expect(all[1]!.event).toMatchObject({ subject: "s1", clientId: "c1", result: "failure", reason: "bad password" })
        const types = (filter: Partial<AuditEvent.Filter>) =>
          Effect.map(audit.query(a.id, { limit: 10, ...filter }), (rows) => rows.map((r) => r.event.type))
        expect(yield* types({ type: "login.failed" })).toEqual(["login.failed"])
        expect(yield* types({ subject: "s1" })).toEqual(["login.succeeded", "login.failed"])
        expect(yield* types({ actor: "s1" })).toEqual(["login.succeeded"])
        expect(yield* types({ clientId: "c1" })).toEqual(["login.failed"])
        expect(yield* types({ since: later })).toEqual(["login.succeeded"])
        expect(yield* types({ until: at })).toEqual(["login.failed", "realm.created"])
        expect(yield* types({ limit: 1 })).toEqual(["login.succeeded"])
        expect(yield* types({ before: all[0]!.seq })).toEqual(["login.failed", "realm.created"])
        expect((yield* audit.query(b.id, { limit: 10 })).map((r) => r.event.type)).toEqual(["login.succeeded", "realm.created"])
        // each realm's events form their own hash chain
        expect(yield* audit.verify(a.id)).toEqual({ ok: true, events: 3 })
        expect(yield* audit.verify(b.id)).toEqual({ ok: true, events: 2 })
        expect(yield* audit.verify(crypto.randomUUID())).toEqual({ ok: true, events: 0 })
      }))
  })
