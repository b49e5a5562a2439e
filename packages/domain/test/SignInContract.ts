/**
 * The sign-in stores' contract: run on memory here, and on PGlite and Postgres by packages/sql. Realms come from
 * `PortContract.newRealm` so foreign keys hold on SQL.
 */
import { expect, layer } from "@effect/vitest"
import { DateTime, Effect, Exit, Option } from "effect"
import type { Layer } from "effect"
import {
  AccessTokens, Audit, AuditEvent, AuthorizationCode, Entropy, RefreshFamily, Session, Codes, Consents, Grants, RefreshTokens, Sessions
} from "@tessera/domain"
import type { Realm } from "@tessera/domain"
import { newRealm, type Ports, trail } from "./PortContract.js"

export type SignInPorts =
  | Ports | Codes.Codes | Grants.Grants | Sessions.Sessions | Consents.Consents | RefreshTokens.RefreshTokens | AccessTokens.AccessTokens

const at = DateTime.unsafeMake("2026-11-29T12:00:00Z")
const id = Entropy.uuid.pipe(Effect.provide(Entropy.layer))

const event = (realm: Realm.Realm, type: AuditEvent.EventType) =>
  Effect.map(id, (eventId): AuditEvent.AuditEvent => ({
    id: eventId, at, realmId: realm.id, realm: realm.name, type, actor: { type: "user", id: "u1" }, result: "success"
  }))

const grantOf = (realm: Realm.Realm, grantId: string) => ({
  realmId: realm.id, grantId, clientId: "c1", sub: "u1", scopes: ["openid", "read"], resources: ["https://api.example"],
  authTime: at, acr: "urn:tessera:acr:password", amr: ["pwd"], sid: "s1", nonce: "n1", createdAt: at
})

export const suite = (name: string, ports: Layer.Layer<SignInPorts, unknown>) =>
  layer(ports)(`${name}: sign-in store contract`, (it) => {
    it.effect("Codes: RFC 6749 §4.1.2 single use: of 50 concurrent consumes exactly one sees Issued", () =>
      Effect.gen(function*() {
        const codes = yield* Codes.Codes
        const grants = yield* Grants.Grants
        const realm = yield* newRealm
        yield* grants.insert(grantOf(realm, "g1"), undefined)
        const code = AuthorizationCode.AuthorizationCode.Issued({
          realmId: realm.id, clientId: "c1", grantId: "g1", redirectUri: "https://app.example/cb", redirectUriGiven: true,
          codeChallenge: "x",
          expiresAt: DateTime.add(at, { seconds: 60 })
        })
        yield* codes.insert("hash-1", code)
        const results = yield* Effect.all(Array.from({ length: 50 }, () => codes.consume(realm.id, "hash-1")), { concurrency: "unbounded" })
        const issued = results.filter((r) => Option.isSome(r) && r.value.code._tag === "Issued")
        const redeemed = results.filter((r) => Option.isSome(r) && r.value.code._tag === "Redeemed")
        expect(issued).toHaveLength(1)
        expect(redeemed).toHaveLength(49)
        // the code as it was, and its grant read with it
        expect(Option.getOrThrow(issued[0]!)).toEqual({ code, grant: Option.some(grantOf(realm, "g1")) })
        expect(yield* codes.consume(realm.id, "unknown")).toEqual(Option.none())
        // another realm cannot consume it
        const other = yield* newRealm
        expect(yield* codes.consume(other.id, "hash-1")).toEqual(Option.none())
      }))

    it.effect("Grants: insert, find, revoke once (revoking its refresh families), per realm", () =>
      Effect.gen(function*() {
        const grants = yield* Grants.Grants
        const refresh = yield* RefreshTokens.RefreshTokens
        const realm = yield* newRealm
        const grant = grantOf(realm, "g2")
        yield* grants.insert(grant, yield* event(realm, "consent.granted"))
        expect(Option.getOrThrow(yield* grants.find(realm.id, "g2"))).toEqual(grant)
        const family = RefreshFamily.RefreshFamily.Active({
          familyId: "f2", realmId: realm.id, clientId: "c1", grantId: "g2", generation: 1, currentHash: "rt1", createdAt: at, lastUsedAt: at
        })
        yield* refresh.create(family, "rt1", undefined)
        yield* grants.revoke(realm.id, "g2", at, yield* event(realm, "token.revoked"))
        expect(Option.getOrThrow(yield* grants.find(realm.id, "g2")).revokedAt).toEqual(at)
        expect(Option.getOrThrow(yield* refresh.find(realm.id, "rt1")).family._tag).toBe("Revoked")
        const other = yield* newRealm
        expect(yield* grants.find(other.id, "g2")).toEqual(Option.none())
      }))

    it.effect("Grants: revokeWhere reaches every live grant of a person, of a client, or of both, in its realm only", () =>
      Effect.gen(function*() {
        const grants = yield* Grants.Grants
        const refresh = yield* RefreshTokens.RefreshTokens
        const realm = yield* newRealm
        const other = yield* newRealm
        const rows = [
          { ...grantOf(realm, "w1"), sub: "alice", clientId: "app" },
          { ...grantOf(realm, "w2"), sub: "alice", clientId: "agent" },
          { ...grantOf(realm, "w3"), sub: "bob", clientId: "agent" },
          { ...grantOf(other, "w1"), sub: "alice", clientId: "app" }
        ]
        for (const grant of rows) yield* grants.insert(grant, undefined)
        yield* refresh.create(RefreshFamily.RefreshFamily.Active({
          familyId: "fw2", realmId: realm.id, clientId: "agent", grantId: "w2", generation: 1, currentHash: "rtw2", createdAt: at, lastUsedAt: at
        }), "rtw2", undefined)
        const revokedAt = (realmId: string, grantId: string) =>
          Effect.map(grants.find(realmId, grantId), (g) => Option.getOrThrow(g).revokedAt)
        expect(yield* grants.revokeWhere(realm.id, { sub: "alice", clientId: "agent" }, at, yield* event(realm, "delegation.revoked"))).toBe(1)
        expect(yield* revokedAt(realm.id, "w2")).toEqual(at)
        expect(Option.getOrThrow(yield* refresh.find(realm.id, "rtw2")).family._tag).toBe("Revoked")
        expect(yield* revokedAt(realm.id, "w1")).toBeUndefined()
        expect(yield* grants.revokeWhere(realm.id, { clientId: "agent" }, at, undefined)).toBe(1)
        expect(yield* revokedAt(realm.id, "w3")).toEqual(at)
        expect(yield* grants.revokeWhere(realm.id, { sub: "alice" }, at, undefined)).toBe(1)
        expect(yield* revokedAt(realm.id, "w1")).toEqual(at)
        expect(yield* revokedAt(other.id, "w1")).toBeUndefined()
      }))

    it.effect("Sessions: created with login.succeeded, found by cookie hash, clients added once, ended", () =>
      Effect.gen(function*() {
        const sessions = yield* Sessions.Sessions
        const realm = yield* newRealm
        const session = Session.Session.Active({
          realmId: realm.id, sid: "sid-1", cookieHash: "cookie-1", sub: "u1", createdAt: at, authTime: at, acr: "urn:tessera:acr:password",
          amr: ["pwd"], expiresAt: DateTime.add(at, { hours: 12 }), clientIds: []
        })
        yield* sessions.create(session, yield* event(realm, "login.succeeded"))
        expect(Option.getOrThrow(yield* sessions.findByCookie(realm.id, "cookie-1"))).toEqual(session)
        yield* sessions.addClient(realm.id, "sid-1", "c1")
        yield* sessions.addClient(realm.id, "sid-1", "c1")
        yield* sessions.addClient(realm.id, "sid-1", "c2")
        expect(Option.getOrThrow(yield* sessions.find(realm.id, "sid-1")).clientIds).toEqual(["c1", "c2"])
        yield* sessions.end(realm.id, "sid-1", at, undefined)
        expect(Option.getOrThrow(yield* sessions.find(realm.id, "sid-1")))
          .toEqual(Session.Session.Ended({ ...session, clientIds: ["c1", "c2"], endedAt: at }))
        const other = yield* newRealm
        expect(yield* sessions.findByCookie(other.id, "cookie-1")).toEqual(Option.none())
      }))

    it.effect("Sessions: RP-Initiated Logout 1.0 §2 end is compare-and-set: one event per session ended, the first endedAt kept, none for an unknown sid", () =>
      Effect.gen(function*() {
        const sessions = yield* Sessions.Sessions
        const realm = yield* newRealm
        const session = Session.Session.Active({
          realmId: realm.id, sid: "s1", cookieHash: "cookie-s1", sub: "u1", createdAt: at, authTime: at, acr: "urn:tessera:acr:password",
          amr: ["pwd"], expiresAt: DateTime.add(at, { hours: 12 }), clientIds: []
        })
        yield* sessions.create(session, yield* event(realm, "login.succeeded"))
        const later = DateTime.add(at, { minutes: 5 })
        expect(yield* sessions.end(realm.id, "s1", at, yield* event(realm, "logout.succeeded"))).toBe(true)
        expect(yield* sessions.end(realm.id, "s1", later, yield* event(realm, "logout.succeeded"))).toBe(false)
        expect(yield* sessions.end(realm.id, "unknown", at, yield* event(realm, "logout.succeeded"))).toBe(false)
        expect(Option.getOrThrow(yield* sessions.find(realm.id, "s1"))).toEqual(Session.Session.Ended({ ...session, endedAt: at }))
        expect(yield* trail(realm)).toEqual(["logout.succeeded", "login.succeeded", "realm.created"])
      }))

    it.effect("Sessions: of 20 concurrent ends of one session exactly one ends it and writes its event", () =>
      Effect.gen(function*() {
        const sessions = yield* Sessions.Sessions
        const realm = yield* newRealm
        yield* sessions.create(Session.Session.Active({
          realmId: realm.id, sid: "s2", cookieHash: "cookie-s2", sub: "u1", createdAt: at, authTime: at, acr: "urn:tessera:acr:password",
          amr: ["pwd"], expiresAt: DateTime.add(at, { hours: 12 }), clientIds: []
        }), yield* event(realm, "login.succeeded"))
        const ends = yield* Effect.forEach(Array.from({ length: 20 }), () => event(realm, "logout.succeeded"))
        const results = yield* Effect.all(ends.map((e) => sessions.end(realm.id, "s2", at, e)), { concurrency: "unbounded" })
        expect(results.filter((ended) => ended)).toHaveLength(1)
        expect(yield* trail(realm)).toEqual(["logout.succeeded", "login.succeeded", "realm.created"])
      }))

    it.effect("Consents: saved with consent.granted and found per person and client", () =>
      Effect.gen(function*() {
        const consents = yield* Consents.Consents
        const realm = yield* newRealm
        const consent = { realmId: realm.id, sub: "u1", clientId: "c1", scopes: ["openid"], resources: ["https://api.example"], grantedAt: at }
        yield* consents.save(consent, yield* event(realm, "consent.granted"))
        expect(Option.getOrThrow(yield* consents.find(realm.id, "u1", "c1"))).toEqual(consent)
        yield* consents.save({ ...consent, scopes: ["openid", "email"] }, yield* event(realm, "consent.granted"))
        expect(Option.getOrThrow(yield* consents.find(realm.id, "u1", "c1")).scopes).toEqual(["openid", "email"])
        expect(yield* consents.find(realm.id, "u1", "c2")).toEqual(Option.none())
      }))

    it.effect("Consents: RFC 9700 §4.11.2 approved once any person of the realm consented to the client", () =>
      Effect.gen(function*() {
        const consents = yield* Consents.Consents
        const realm = yield* newRealm
        const other = yield* newRealm
        expect(yield* consents.approved(realm.id, "c9")).toBe(false)
        const consent = { realmId: realm.id, sub: "u2", clientId: "c9", scopes: ["openid"], resources: [], grantedAt: at }
        yield* consents.save(consent, yield* event(realm, "consent.granted"))
        expect(yield* consents.approved(realm.id, "c9")).toBe(true)
        // another client, and the same client id in another realm, are not approved by it
        expect(yield* consents.approved(realm.id, "c8")).toBe(false)
        expect(yield* consents.approved(other.id, "c9")).toBe(false)
      }))

    it.effect("RefreshTokens: rotation is compare-and-set; old tokens still name their generation; revocation sticks", () =>
      Effect.gen(function*() {
        const refresh = yield* RefreshTokens.RefreshTokens
        const grants = yield* Grants.Grants
        const realm = yield* newRealm
        yield* grants.insert(grantOf(realm, "g3"), undefined)
        const family = RefreshFamily.RefreshFamily.Active({
          familyId: "f3", realmId: realm.id, clientId: "c1", grantId: "g3", generation: 1, currentHash: "a", createdAt: at, lastUsedAt: at
        })
        yield* refresh.create(family, "a", yield* event(realm, "token.issued"))
        const next = RefreshFamily.RefreshFamily.Active({ ...family, generation: 2, currentHash: "b" })
        // of 20 racing rotations from generation 1, exactly one wins
        const exits = yield* Effect.all(Array.from({ length: 20 }, () => Effect.exit(refresh.rotate(next, 1, undefined, undefined))), { concurrency: "unbounded" })
        expect(exits.filter(Exit.isSuccess)).toHaveLength(1)
        const grant = Option.some(grantOf(realm, "g3"))
        expect(Option.getOrThrow(yield* refresh.find(realm.id, "b"))).toEqual({ family: next, generation: 2, grant })
        expect(Option.getOrThrow(yield* refresh.find(realm.id, "a"))).toEqual({ family: next, generation: 1, grant })
        yield* refresh.revokeFamily(realm.id, "f3", "reuse", yield* event(realm, "refresh.reuse_detected"))
        const revoked = Option.getOrThrow(yield* refresh.find(realm.id, "b")).family
        expect(revoked).toEqual(RefreshFamily.RefreshFamily.Revoked({ familyId: "f3", realmId: realm.id, clientId: "c1", grantId: "g3", reason: "reuse" }))
        expect(yield* Effect.exit(refresh.rotate({ ...next, generation: 3, currentHash: "c" }, 2, undefined, undefined))).toEqual(
          Exit.fail(expect.objectContaining({ _tag: "RefreshChanged" }))
        )
        expect(yield* refresh.find(realm.id, "c")).toEqual(Option.none())
      }))

    it.effect("RFC 9449 §10 and §5: a code keeps its dpop_jkt; a family keeps its key through rotation, and gains one", () =>
      Effect.gen(function*() {
        const codes = yield* Codes.Codes
        const refresh = yield* RefreshTokens.RefreshTokens
        const grants = yield* Grants.Grants
        const realm = yield* newRealm
        yield* grants.insert(grantOf(realm, "g4"), undefined)
        const jkt = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        const code = AuthorizationCode.AuthorizationCode.Issued({
          realmId: realm.id, clientId: "c1", grantId: "g4", redirectUri: "https://app.example/cb", redirectUriGiven: true,
          codeChallenge: "x", dpopJkt: jkt, expiresAt: DateTime.add(at, { seconds: 60 })
        })
        yield* codes.insert("hash-dpop", code)
        expect(Option.getOrThrow(yield* codes.consume(realm.id, "hash-dpop")).code).toEqual(code)
        const bound = RefreshFamily.RefreshFamily.Active({
          familyId: "f4", realmId: realm.id, clientId: "c1", grantId: "g4", generation: 1, currentHash: "d1", createdAt: at, lastUsedAt: at,
          dpopJkt: jkt
        })
        yield* refresh.create(bound, "d1", undefined)
        const grant = Option.some(grantOf(realm, "g4"))
        expect(Option.getOrThrow(yield* refresh.find(realm.id, "d1"))).toEqual({ family: bound, generation: 1, grant })
        const next = RefreshFamily.RefreshFamily.Active({ ...bound, generation: 2, currentHash: "d2" })
        yield* refresh.rotate(next, 1, undefined, undefined)
        expect(Option.getOrThrow(yield* refresh.find(realm.id, "d2"))).toEqual({ family: next, generation: 2, grant })
        // an unbound family bound on its next use
        const unbound = RefreshFamily.RefreshFamily.Active({
          familyId: "f5", realmId: realm.id, clientId: "c1", grantId: "g4", generation: 1, currentHash: "e1", createdAt: at, lastUsedAt: at
        })
        yield* refresh.create(unbound, "e1", undefined)
        expect(Option.getOrThrow(yield* refresh.find(realm.id, "e1"))).toEqual({ family: unbound, generation: 1, grant })
        const boundNow = RefreshFamily.RefreshFamily.Active({ ...unbound, generation: 2, currentHash: "e2", dpopJkt: jkt })
        yield* refresh.rotate(boundNow, 1, undefined, undefined)
        expect(Option.getOrThrow(yield* refresh.find(realm.id, "e2"))).toEqual({ family: boundNow, generation: 2, grant })
      }))

    it.effect("RefreshTokens: OAuth 2.1 §4.3.1 of 20 racing rotations one wins, and only its access token's link and event are written", () =>
      Effect.gen(function*() {
        const refresh = yield* RefreshTokens.RefreshTokens
        const grants = yield* Grants.Grants
        const tokens = yield* AccessTokens.AccessTokens
        const realm = yield* newRealm
        yield* grants.insert(grantOf(realm, "g6"), undefined)
        const family = RefreshFamily.RefreshFamily.Active({
          familyId: "f6", realmId: realm.id, clientId: "c1", grantId: "g6", generation: 1, currentHash: "r1", createdAt: at, lastUsedAt: at
        })
        yield* refresh.create(family, "r1", undefined)
        const expiresAt = DateTime.add(DateTime.unsafeNow(), { minutes: 15 })
        const exits = yield* Effect.all(
          Array.from({ length: 20 }, (_, i) =>
            Effect.flatMap(event(realm, "token.refreshed"), (refreshed) =>
              Effect.exit(refresh.rotate(
                RefreshFamily.RefreshFamily.Active({ ...family, generation: 2, currentHash: `r2-${i}` }),
                1,
                { ...refreshed, reason: `racer ${i}` },
                { jti: `jti-${i}`, grantId: "g6", expiresAt }
              )))),
          { concurrency: "unbounded" }
        )
        const winners = exits.flatMap((exit, i) => (Exit.isSuccess(exit) ? [i] : []))
        expect(winners).toHaveLength(1)
        const links = yield* Effect.all(Array.from({ length: 20 }, (_, i) => tokens.find(realm.id, `jti-${i}`)))
        expect(links.flatMap((link, i) => (Option.isSome(link) ? [i] : []))).toEqual(winners)
        expect(Option.getOrThrow(links[winners[0]!]!)).toEqual({ grantId: "g6", revoked: false, expiresAt })
        const events = yield* Effect.flatMap(Audit.Audit, (audit) => audit.query(realm.id, { limit: 100, type: "token.refreshed" }))
        expect(events.map((e) => e.event.reason)).toEqual([`racer ${winners[0]}`])
        // the winner's token is the family's current one; no loser's hash is stored
        expect(Option.getOrThrow(yield* refresh.find(realm.id, `r2-${winners[0]}`)).generation).toBe(2)
        const losers = Array.from({ length: 20 }, (_, i) => i).filter((i) => i !== winners[0])
        expect((yield* Effect.all(losers.map((i) => refresh.find(realm.id, `r2-${i}`)))).filter(Option.isSome)).toEqual([])
      }))

    it.effect("Grants: a grant's first token set (access token's link, refresh family, the client in its session) is written with its event", () =>
      Effect.gen(function*() {
        const refresh = yield* RefreshTokens.RefreshTokens
        const grants = yield* Grants.Grants
        const sessions = yield* Sessions.Sessions
        const tokens = yield* AccessTokens.AccessTokens
        const realm = yield* newRealm
        const session = Session.Session.Active({
          realmId: realm.id, sid: "s1", cookieHash: "cookie-s1", sub: "u1", createdAt: at, authTime: at, acr: "urn:tessera:acr:password",
          amr: ["pwd"], expiresAt: DateTime.add(at, { hours: 12 }), clientIds: ["c0"]
        })
        yield* sessions.create(session, yield* event(realm, "login.succeeded"))
        yield* grants.insert(grantOf(realm, "g7"), undefined)
        const family = RefreshFamily.RefreshFamily.Active({
          familyId: "f7", realmId: realm.id, clientId: "c1", grantId: "g7", generation: 1, currentHash: "t1", createdAt: at, lastUsedAt: at
        })
        const expiresAt = DateTime.add(DateTime.unsafeNow(), { minutes: 15 })
        const issued = yield* event(realm, "token.issued")
        yield* grants.firstTokens({
          realmId: realm.id,
          access: { jti: "jti-g7", grantId: "g7", expiresAt },
          refresh: { family, tokenHash: "t1" },
          session: { sid: "s1", clientId: "c1" }
        }, issued)
        expect(Option.getOrThrow(yield* tokens.find(realm.id, "jti-g7"))).toEqual({ grantId: "g7", revoked: false, expiresAt })
        expect(Option.getOrThrow(yield* refresh.find(realm.id, "t1"))).toEqual({ family, generation: 1, grant: Option.some(grantOf(realm, "g7")) })
        expect(Option.getOrThrow(yield* sessions.find(realm.id, "s1")).clientIds).toEqual(["c0", "c1"])
        expect(yield* trail(realm)).toEqual(["token.issued", "login.succeeded", "realm.created"])
        // without a refresh token or a session: the link and the event; a client already in the session is not added twice
        yield* grants.firstTokens({
          realmId: realm.id,
          access: { jti: "jti-g7b", grantId: "g7", expiresAt },
          refresh: undefined,
          session: { sid: "s1", clientId: "c1" }
        }, yield* event(realm, "token.issued"))
        expect(Option.getOrThrow(yield* tokens.find(realm.id, "jti-g7b")).grantId).toBe("g7")
        expect(Option.getOrThrow(yield* sessions.find(realm.id, "s1")).clientIds).toEqual(["c0", "c1"])
        expect(yield* trail(realm)).toEqual(["token.issued", "token.issued", "login.succeeded", "realm.created"])
      }))
  })
