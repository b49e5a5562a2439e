/**
 * The identity links port's contract (ADR 0047), run with the in-memory layers here and with the Postgres and PGlite
 * layers by packages/sql: a link is made with the user it provisions and its events or not at all, one per person
 * and issuer, per realm; the user's deletion removes it.
 */
import { expect, layer } from "@effect/vitest"
import { DateTime, Effect, Exit, Option } from "effect"
import type { Layer } from "effect"
import { Audit, AuditEvent, Entropy, IdentityLink, IdentityLinks, Users } from "@tessera/domain"
import type { Realm } from "@tessera/domain"
import { newRealm } from "./PortContract.js"
import type { Ports as BasePorts } from "./PortContract.js"

export type Ports = BasePorts | IdentityLinks.IdentityLinks

const at = DateTime.unsafeMake("2026-12-07T12:00:00Z")
const issuer = "https://idp.example"

const event = (realm: Realm.Realm, type: AuditEvent.EventType, subject: string) =>
  Effect.map(Entropy.uuid, (id): AuditEvent.AuditEvent => ({
    id, at, realmId: realm.id, realm: realm.name, type, actor: { type: "client", id: "wiki" }, subject, result: "success"
  })).pipe(Effect.provide(Entropy.layer))

const trail = (realm: Realm.Realm) =>
  Effect.flatMap(Audit.Audit, (audit) => audit.query(realm.id, { limit: 1000 })).pipe(Effect.map((rows) => rows.map((r) => r.event.type)))

const person = (realm: Realm.Realm, sub: string, username: string) =>
  IdentityLink.provisionedUser({ realmId: realm.id, sub, username, email: undefined, name: undefined, createdAt: at })

const linkOf = (realm: Realm.Realm, subject: string, sub: string): IdentityLink.IdentityLink =>
  ({ realmId: realm.id, issuer, subject, sub, createdAt: at })

export const suite = (name: string, ports: Layer.Layer<Ports, unknown>) =>
  layer(ports)(`${name}: identity links port contract (ADR 0047)`, (it) => {
    it.effect("provision writes the user, the link and the events together; find answers the link in its realm only", () =>
      Effect.gen(function*() {
        const links = yield* IdentityLinks.IdentityLinks
        const a = yield* newRealm
        const b = yield* newRealm
        const user = person(a, "u-1", "alice@acme.example")
        yield* links.provision(user, linkOf(a, "idp-1", "u-1"), [
          yield* event(a, "user.created", "u-1"), yield* event(a, "user.linked", "u-1"), yield* event(a, "token.issued", "u-1")
        ])
        expect(Option.getOrThrow(yield* links.find(a.id, issuer, "idp-1"))).toEqual(linkOf(a, "idp-1", "u-1"))
        expect(yield* links.ofUser(a.id, "u-1")).toEqual([linkOf(a, "idp-1", "u-1")])
        expect(Option.getOrThrow(yield* Effect.flatMap(Users.Users, (u) => u.find(a.id, "u-1")))).toEqual(user)
        expect(yield* trail(a)).toEqual(["token.issued", "user.linked", "user.created", "realm.created"])
        expect(Option.isNone(yield* links.find(b.id, issuer, "idp-1"))).toBe(true)
        expect(Option.isNone(yield* links.find(a.id, "https://other.example", "idp-1"))).toBe(true)
        expect(yield* links.ofUser(b.id, "u-1")).toEqual([])
      }))

    it.effect("a second link of the person, or a taken username, is AlreadyExists and writes nothing", () =>
      Effect.gen(function*() {
        const links = yield* IdentityLinks.IdentityLinks
        const users = yield* Users.Users
        const a = yield* newRealm
        yield* links.provision(person(a, "u-1", "alice"), linkOf(a, "idp-1", "u-1"), [yield* event(a, "user.linked", "u-1")])
        const again = yield* Effect.exit(
          links.provision(person(a, "u-2", "alice-2"), linkOf(a, "idp-1", "u-2"), [yield* event(a, "user.linked", "u-2")])
        )
        expect(again).toEqual(Exit.fail(expect.objectContaining({ _tag: "AlreadyExists", entity: "identity_link" })))
        expect(Option.getOrThrow(yield* links.find(a.id, issuer, "idp-1")).sub).toBe("u-1")
        // the username compared as usernames are (CONTRACT §3: regardless of case)
        const taken = yield* Effect.exit(
          links.provision(person(a, "u-3", "ALICE"), linkOf(a, "idp-3", "u-3"), [yield* event(a, "user.linked", "u-3")])
        )
        expect(taken).toEqual(Exit.fail(expect.objectContaining({ _tag: "AlreadyExists", entity: "user" })))
        expect(Option.isNone(yield* users.find(a.id, "u-2"))).toBe(true)
        expect(Option.isNone(yield* users.find(a.id, "u-3"))).toBe(true)
        expect(Option.isNone(yield* links.find(a.id, issuer, "idp-3"))).toBe(true)
        expect(yield* trail(a)).toEqual(["user.linked", "realm.created"])
      }))

    it.effect("the user's deletion removes its links; the person may be provisioned anew", () =>
      Effect.gen(function*() {
        const links = yield* IdentityLinks.IdentityLinks
        const users = yield* Users.Users
        const a = yield* newRealm
        yield* links.provision(person(a, "u-1", "alice"), linkOf(a, "idp-1", "u-1"), [yield* event(a, "user.linked", "u-1")])
        yield* users.remove(a.id, "u-1", 1, at, yield* event(a, "user.deleted", "u-1"))
        expect(Option.isNone(yield* links.find(a.id, issuer, "idp-1"))).toBe(true)
        expect(yield* links.ofUser(a.id, "u-1")).toEqual([])
        yield* links.provision(person(a, "u-2", "alice"), linkOf(a, "idp-1", "u-2"), [yield* event(a, "user.linked", "u-2")])
        expect(Option.getOrThrow(yield* links.find(a.id, issuer, "idp-1")).sub).toBe("u-2")
      }))
  })
