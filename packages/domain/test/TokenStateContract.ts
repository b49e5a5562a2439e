/**
 * The contract of the token-state ports (seen client-assertion jtis, access-token links and revocations): run on
 * memory here, and by packages/sql on PGlite and Postgres once it implements them. Expiry is tested with times
 * already past, so the suite never moves a shared clock.
 */
import { expect, layer } from "@effect/vitest"
import { Clock, DateTime, Effect, Option } from "effect"
import type { Layer } from "effect"
import { AccessTokens, Audit, AuditEvent, Clients, Delegation, Delegations, Entropy, JtiCache, Grants, Users } from "@tessera/domain"
import type { Client, Realm, User } from "@tessera/domain"
import { newRealm, type Ports } from "./PortContract.js"

export type TokenStatePorts = Ports | JtiCache.JtiCache | AccessTokens.AccessTokens | Grants.Grants | Delegations.Delegations

const documentClient = "https://app.example/client.json"

const event = (realm: Realm.Realm, type: AuditEvent.EventType) =>
  Effect.map(id, (eventId): AuditEvent.AuditEvent => ({
    id: eventId, at: DateTime.unsafeMake("2026-11-29T12:00:00Z"), realmId: realm.id, realm: realm.name, type,
    actor: AuditEvent.owner, result: "success"
  }))

const agent = (realm: Realm.Realm): Client.Client => ({
  realmId: realm.id,
  clientId: "agent-1",
  metadata: {
    redirectUris: ["https://app.example/cb"], postLogoutRedirectUris: [], grantTypes: ["authorization_code"], responseTypes: ["code"],
    tokenEndpointAuthMethod: "none", frontchannelLogoutSessionRequired: false, dpopBoundAccessTokens: false, principalType: "agent"
  },
  createdAt: DateTime.unsafeMake("2026-11-29T12:00:00Z")
})

const person = (realm: Realm.Realm, sub = "u1", disabled = false): User.User => ({
  realmId: realm.id, sub, username: sub, passwordHash: "$argon2id$x", roles: [], disabled, version: 1,
  createdAt: DateTime.unsafeMake("2026-11-29T12:00:00Z")
})

const id = Entropy.uuid.pipe(Effect.provide(Entropy.layer))
const now = Effect.map(Clock.currentTimeMillis, (ms) => DateTime.unsafeMake(ms))
const inAMinute = Effect.map(now, (t) => DateTime.add(t, { minutes: 1 }))
const aSecondAgo = Effect.map(now, (t) => DateTime.subtract(t, { seconds: 1 }))

const revokedEvent = (realm: Realm.Realm) =>
  Effect.map(id, (eventId): AuditEvent.AuditEvent => ({
    id: eventId, at: DateTime.unsafeMake("2026-11-29T12:00:00Z"), realmId: realm.id, realm: realm.name, type: "token.revoked",
    actor: { type: "client", id: "c1" }, clientId: "c1", result: "success"
  }))

export const suite = (name: string, ports: Layer.Layer<TokenStatePorts, unknown>) =>
  layer(ports)(`${name}: token state contract`, (it) => {
    it.effect("JtiCache: RFC 7523 §3 a jti is accepted once; of 30 concurrent uses exactly one wins", () =>
      Effect.gen(function*() {
        const seen = yield* JtiCache.JtiCache
        const realm = yield* newRealm
        const until = yield* inAMinute
        const results = yield* Effect.all(
          Array.from({ length: 30 }, () => seen.remember(realm.id, "client-1", "jti-1", until)),
          { concurrency: "unbounded" }
        )
        expect(results.filter(Boolean)).toHaveLength(1)
        expect(yield* seen.remember(realm.id, "client-1", "jti-1", until)).toBe(false)
      }))

    it.effect("JtiCache: per realm and per issuer; an entry past its expiry is forgotten", () =>
      Effect.gen(function*() {
        const seen = yield* JtiCache.JtiCache
        const realm = yield* newRealm
        const other = yield* newRealm
        const until = yield* inAMinute
        expect(yield* seen.remember(realm.id, "client-1", "jti-2", until)).toBe(true)
        expect(yield* seen.remember(other.id, "client-1", "jti-2", until)).toBe(true)
        expect(yield* seen.remember(realm.id, "client-2", "jti-2", until)).toBe(true)
        const past = yield* aSecondAgo
        expect(yield* seen.remember(realm.id, "client-1", "jti-3", past)).toBe(true)
        expect(yield* seen.remember(realm.id, "client-1", "jti-3", past)).toBe(true)
      }))

    it.effect("JtiCache (RFC 9449 §11.1, ADR 0056): 40 concurrent uses of distinct jtis are each new; used again at once, each is a replay", () =>
      Effect.gen(function*() {
        const seen = yield* JtiCache.JtiCache
        const realm = yield* newRealm
        const until = yield* inAMinute
        const jtis = Array.from({ length: 40 }, (_, i) => `distinct-${i}`)
        const useAll = Effect.all(jtis.map((jti) => seen.remember(realm.id, "client-1", jti, until)), { concurrency: "unbounded" })
        expect(yield* useAll).toEqual(jtis.map(() => true))
        expect(yield* useAll).toEqual(jtis.map(() => false))
      }))

    it.effect("JtiCache (RFC 9449 §11.1, RFC 7523 §3): of concurrent uses of 10 jtis, 4 each, interleaved, exactly one use of each is new; another issuer's same jti is its own", () =>
      Effect.gen(function*() {
        const seen = yield* JtiCache.JtiCache
        const realm = yield* newRealm
        const until = yield* inAMinute
        // interleaved, so that a SQL store's batches hold several uses of one jti
        const uses = [
          ...Array.from({ length: 40 }, (_, i) => ({ issuer: "client-1", jti: `mixed-${i % 10}` })),
          ...Array.from({ length: 10 }, (_, i) => ({ issuer: "client-2", jti: `mixed-${i}` }))
        ]
        const results = yield* Effect.all(uses.map((u) => seen.remember(realm.id, u.issuer, u.jti, until)), { concurrency: "unbounded" })
        const wins = new Map<string, number>()
        uses.forEach((u, i) => wins.set(`${u.issuer} ${u.jti}`, (wins.get(`${u.issuer} ${u.jti}`) ?? 0) + (results[i] ? 1 : 0)))
        expect([...wins.values()]).toEqual(Array.from({ length: 20 }, () => 1))
        expect(yield* seen.remember(realm.id, "client-2", "mixed-3", until)).toBe(false)
      }))

    it.effect("JtiCache (ADR 0047): a jti of maxLength characters, 3-byte or surrogate pairs in UTF-8, is remembered once beside others", () =>
      Effect.gen(function*() {
        const seen = yield* JtiCache.JtiCache
        const realm = yield* newRealm
        const until = yield* inAMinute
        const euros = "€".repeat(JtiCache.maxLength)
        const faces = `${"😀".repeat((JtiCache.maxLength - 1) / 2)}x`
        expect([euros.length, faces.length]).toEqual([JtiCache.maxLength, JtiCache.maxLength])
        const jtis = [euros, "beside-1", faces, euros, "beside-2", faces]
        const results = yield* Effect.all(jtis.map((jti) => seen.remember(realm.id, "client-1", jti, until)), { concurrency: "unbounded" })
        const wins = (a: number, b: number) => [results[a], results[b]].filter(Boolean).length
        expect([wins(0, 3), wins(2, 5), results[1], results[4]]).toEqual([1, 1, true, true])
        expect(yield* seen.remember(realm.id, "client-1", euros, until)).toBe(false)
        expect(yield* seen.remember(realm.id, "client-1", faces, until)).toBe(false)
      }))

    it.effect("JtiCache (RFC 9449 §11.1): nothing is remembered past its expiry, even among concurrent uses; a live one then is", () =>
      Effect.gen(function*() {
        const seen = yield* JtiCache.JtiCache
        const realm = yield* newRealm
        const past = yield* aSecondAgo
        const expired = yield* Effect.all(Array.from({ length: 6 }, () => seen.remember(realm.id, "client-1", "jti-4", past)), {
          concurrency: "unbounded"
        })
        expect(expired).toEqual(Array.from({ length: 6 }, () => true))
        const until = yield* inAMinute
        const live = yield* Effect.all(Array.from({ length: 6 }, () => seen.remember(realm.id, "client-1", "jti-4", until)), {
          concurrency: "unbounded"
        })
        expect(live.filter(Boolean)).toHaveLength(1)
        expect(yield* seen.remember(realm.id, "client-1", "jti-4", until)).toBe(false)
      }))

    it.effect("AccessTokens: a recorded token names its grant; revoking keeps the link and writes the event", () =>
      Effect.gen(function*() {
        const tokens = yield* AccessTokens.AccessTokens
        const realm = yield* newRealm
        const until = yield* inAMinute
        yield* tokens.record(realm.id, "at-1", "g1", until)
        expect(yield* tokens.find(realm.id, "at-1")).toEqual(Option.some({ grantId: "g1", revoked: false, expiresAt: until }))
        const event = yield* revokedEvent(realm)
        yield* tokens.revoke(realm.id, "at-1", until, event)
        expect(yield* tokens.find(realm.id, "at-1")).toEqual(Option.some({ grantId: "g1", revoked: true, expiresAt: until }))
        const trail = yield* Effect.flatMap(Audit.Audit, (audit) => audit.query(realm.id, { type: "token.revoked", limit: 10 }))
        expect(trail.map((stored) => stored.event)).toEqual([event])
      }))

    it.effect("AccessTokens: a token revoked without a record; other realms see nothing; expired records are gone", () =>
      Effect.gen(function*() {
        const tokens = yield* AccessTokens.AccessTokens
        const realm = yield* newRealm
        const other = yield* newRealm
        const until = yield* inAMinute
        yield* tokens.revoke(realm.id, "at-2", until, undefined)
        expect(yield* tokens.find(realm.id, "at-2")).toEqual(Option.some({ revoked: true, expiresAt: until }))
        expect(yield* tokens.find(other.id, "at-2")).toEqual(Option.none())
        yield* tokens.record(realm.id, "at-3", "g1", yield* aSecondAgo)
        expect(yield* tokens.find(realm.id, "at-3")).toEqual(Option.none())
        expect(yield* tokens.find(realm.id, "never-recorded")).toEqual(Option.none())
      }))

    it.effect("AccessTokens.active (isActive): revoked token, revoked or missing grant, a token with no record, per realm", () =>
      Effect.gen(function*() {
        const tokens = yield* AccessTokens.AccessTokens
        const grants = yield* Grants.Grants
        const realm = yield* newRealm
        const at = DateTime.unsafeMake("2026-11-29T12:00:00Z")
        yield* grants.insert({
          realmId: realm.id, grantId: "g-live", clientId: "c1", sub: "u1", scopes: ["read"], resources: [],
          authTime: at, acr: "urn:tessera:acr:password", amr: ["pwd"], createdAt: at
        }, undefined)
        // a client ID metadata document's own token: no client row to look for, no person
        const own = (jti: string): AccessTokens.Presented => ({ jti, sub: documentClient, clientId: documentClient, issuedAt: 0 })
        const until = yield* inAMinute
        yield* tokens.record(realm.id, "at-live", "g-live", until)
        expect(yield* AccessTokens.isActive(realm.id, own("at-live"))).toBe(true)
        expect(yield* AccessTokens.isActive(realm.id, own("at-unrecorded"))).toBe(true)
        yield* tokens.record(realm.id, "at-missing-grant", "g-none", until)
        expect(yield* AccessTokens.isActive(realm.id, own("at-missing-grant"))).toBe(false)
        yield* grants.revoke(realm.id, "g-live", at, undefined)
        expect(yield* AccessTokens.isActive(realm.id, own("at-live"))).toBe(false)
        yield* tokens.revoke(realm.id, "at-unrecorded", until, undefined)
        expect(yield* AccessTokens.isActive(realm.id, own("at-unrecorded"))).toBe(false)
        // per realm: another realm's token of the same jti, and another realm's grant of the same id, are not these
        const other = yield* newRealm
        expect(yield* tokens.active(other.id, own("at-unrecorded"))).toBe(true)
        yield* tokens.record(other.id, "at-live", "g-live", until)
        expect(yield* tokens.active(other.id, own("at-live"))).toBe(false)
        // a record past its expiry is forgotten (the JWT's exp refuses the token anyway)
        yield* tokens.revoke(realm.id, "at-expired", yield* aSecondAgo, undefined)
        expect(yield* tokens.active(realm.id, own("at-expired"))).toBe(true)
      }))

    it.effect("AccessTokens.active: the client must be registered, the person a user, the delegation not revoked since iat", () =>
      Effect.gen(function*() {
        const tokens = yield* AccessTokens.AccessTokens
        const realm = yield* newRealm
        const other = yield* newRealm
        yield* Effect.flatMap(Clients.Clients, (clients) => Effect.flatMap(event(realm, "client.created"), (e) => clients.insert(agent(realm), e)))
        yield* Effect.flatMap(Users.Users, (users) => Effect.flatMap(event(realm, "user.created"), (e) => users.insert(person(realm), e)))
        const now = yield* Clock.currentTimeMillis
        const iat = Math.floor(now / 1000)
        const forPerson: AccessTokens.Presented = { jti: "at-p", sub: "u1", clientId: "agent-1", issuedAt: iat }
        const clientOwn: AccessTokens.Presented = { jti: "at-c", sub: "agent-1", clientId: "agent-1", issuedAt: iat }
        expect(yield* tokens.active(realm.id, forPerson)).toBe(true)
        expect(yield* tokens.active(realm.id, clientOwn)).toBe(true)
        // another realm has neither the client nor the person
        expect(yield* tokens.active(other.id, forPerson)).toBe(false)
        expect(yield* tokens.active(other.id, clientOwn)).toBe(false)
        expect(yield* tokens.active(realm.id, { ...forPerson, sub: "nobody" })).toBe(false)
        // a disabled person's tokens are inactive (CONTRACT §3)
        yield* Effect.flatMap(Users.Users, (users) => Effect.flatMap(event(realm, "user.created"), (e) => users.insert(person(realm, "u2", true), e)))
        expect(yield* tokens.active(realm.id, { ...forPerson, sub: "u2" })).toBe(false)
        expect(yield* tokens.active(realm.id, { ...forPerson, clientId: "deleted-client" })).toBe(false)
        // a revocation of the delegation reaches the agent's tokens for that person issued until then (whole seconds)
        const delegations = yield* Delegations.Delegations
        const use = { realmId: realm.id, clientId: "agent-1", sub: "u1", resource: "https://api.example", scopes: ["read"], subjectIssuedAt: iat }
        yield* delegations.exchanged({ ...use, at: DateTime.unsafeMake(now) }, yield* event(realm, "token.exchanged"))
        yield* delegations.revoke(realm.id, "agent-1", "u1", DateTime.unsafeMake(now), yield* event(realm, "delegation.revoked"))
        expect(yield* tokens.active(realm.id, forPerson)).toBe(false)
        expect(yield* tokens.active(realm.id, clientOwn)).toBe(true)
        expect(yield* tokens.active(realm.id, { ...forPerson, issuedAt: iat + 1 })).toBe(true)
        // a subject token issued by then is not exchanged again; a newer one starts the delegation again
        const refused = yield* Effect.flip(delegations.exchanged({ ...use, at: DateTime.unsafeMake(now) }, yield* event(realm, "token.exchanged")))
        expect(refused).toEqual(new Delegation.SubjectRejected({ reason: "revoked" }))
        yield* delegations.exchanged({ ...use, subjectIssuedAt: iat + 1, at: DateTime.unsafeMake(now + 1000) }, yield* event(realm, "token.exchanged"))
        expect(yield* delegations.list(realm.id, { limit: 10 })).toEqual([{
          clientId: "agent-1",
          delegations: [{ sub: "u1", resources: ["https://api.example"], scopes: ["read"], firstAt: DateTime.unsafeMake(now + 1000), lastAt: DateTime.unsafeMake(now + 1000) }]
        }])
        expect(yield* tokens.active(realm.id, forPerson)).toBe(false)
        const trail = yield* Effect.flatMap(Audit.Audit, (audit) => audit.query(realm.id, { limit: 10 }))
        expect(trail.map((stored) => stored.event.type)).toEqual(["token.exchanged", "delegation.revoked", "token.exchanged", "user.created", "user.created", "client.created", "realm.created"])
      }))
  })
