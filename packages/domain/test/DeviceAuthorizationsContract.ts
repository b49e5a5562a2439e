/**
 * The contract of the RFC 8628 stores (device authorizations and the user-code throttle): run on memory here, and
 * on PGlite and Postgres by packages/sql. Times are fixed and passed in, so the suite never moves a shared clock.
 */
import { expect, layer } from "@effect/vitest"
import { Cause, DateTime, Duration, Effect, Exit, Option } from "effect"
import type { Layer } from "effect"
import { Audit, AuditEvent, DeviceAuthorization, DeviceAuthorizations, Entropy, LoginThrottle, UserCodeThrottle } from "@tessera/domain"
import type { Realm } from "@tessera/domain"
import { newRealm, type Ports } from "./PortContract.js"

export type DevicePorts = Ports | DeviceAuthorizations.DeviceAuthorizations | UserCodeThrottle.UserCodeThrottle | LoginThrottle.LoginThrottle

const at = DateTime.unsafeMake("2026-11-29T12:00:00Z")
const later = (d: Duration.DurationInput) => DateTime.addDuration(at, d)
const { DeviceAuthorization: States } = DeviceAuthorization

const random = Entropy.token(32).pipe(Effect.provide(Entropy.layer))

/** A Pending request of client c1 in `realm`, created at `createdAt`, with a random device-code hash. */
const pendingOf = (realm: Realm.Realm, userCode: string, createdAt: DateTime.Utc = at) =>
  Effect.map(random, (deviceCodeHash): DeviceAuthorization.Pending =>
    States.Pending({
      realmId: realm.id,
      deviceCodeHash,
      userCode,
      clientId: "c1",
      scopes: ["openid", "read"],
      resources: ["https://api.example"],
      stepUp: false,
      interval: DeviceAuthorization.initialInterval,
      createdAt,
      expiresAt: DateTime.addDuration(createdAt, DeviceAuthorization.lifetime),
      version: 1
    }))

const approvedEvent = (realm: Realm.Realm) =>
  Effect.map(Entropy.uuid.pipe(Effect.provide(Entropy.layer)), (id): AuditEvent.AuditEvent => ({
    id, at, realmId: realm.id, realm: realm.name, type: "device.approved", actor: { type: "user", id: "s1" }, subject: "s1",
    clientId: "c1", scope: "openid read", resource: "https://api.example", result: "success"
  }))

const trail = (realm: Realm.Realm) =>
  Effect.flatMap(Audit.Audit, (audit) => audit.query(realm.id, { limit: 100 })).pipe(Effect.map((rows) => rows.map((r) => r.event.type)))

const failureTag = <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.exit(effect), (exit) =>
    Exit.isSuccess(exit) ? "succeeded" : Option.match(Cause.failureOption(exit.cause), { onNone: () => "defect", onSome: (e) => e._tag }))

export const suite = (name: string, ports: Layer.Layer<DevicePorts, unknown>) =>
  layer(ports)(`${name}: device authorization store contract (RFC 8628)`, (it) => {
    it.effect("insert, then find by device-code hash and by user code, within the realm only", () =>
      Effect.gen(function*() {
        const store = yield* DeviceAuthorizations.DeviceAuthorizations
        const realm = yield* newRealm
        const other = yield* newRealm
        const device = yield* pendingOf(realm, "BCDFGHJK")
        yield* store.insert(device)
        expect(yield* store.find(realm.id, device.deviceCodeHash)).toEqual(Option.some(device))
        expect(yield* store.findByUserCode(realm.id, "BCDFGHJK")).toEqual(Option.some(device))
        // another realm sees neither, and may hold the same user code itself
        expect(yield* store.find(other.id, device.deviceCodeHash)).toEqual(Option.none())
        expect(yield* store.findByUserCode(other.id, "BCDFGHJK")).toEqual(Option.none())
        const twin = yield* pendingOf(other, "BCDFGHJK")
        yield* store.insert(twin)
        expect(yield* store.findByUserCode(other.id, "BCDFGHJK")).toEqual(Option.some(twin))
        expect(yield* store.findByUserCode(realm.id, "BCDFGHJK")).toEqual(Option.some(device))
        expect(yield* store.findByUserCode(realm.id, "BCDFGHJL")).toEqual(Option.none())
        // nothing was audited by storing a request
        expect(yield* trail(realm)).toEqual(["realm.created"])
      }))

    it.effect("a user code the realm holds is UserCodeTaken, and nothing of the second request is written", () =>
      Effect.gen(function*() {
        const store = yield* DeviceAuthorizations.DeviceAuthorizations
        const realm = yield* newRealm
        const first = yield* pendingOf(realm, "MNPQRSTV")
        yield* store.insert(first)
        const second = yield* pendingOf(realm, "MNPQRSTV")
        expect(yield* failureTag(store.insert(second))).toBe("UserCodeTaken")
        expect(yield* store.find(realm.id, second.deviceCodeHash)).toEqual(Option.none())
        expect(yield* store.findByUserCode(realm.id, "MNPQRSTV")).toEqual(Option.some(first))
      }))

    it.effect("every state reads back as written: Pending polled, Approved, Denied, Redeemed", () =>
      Effect.gen(function*() {
        const store = yield* DeviceAuthorizations.DeviceAuthorizations
        const realm = yield* newRealm
        const polled = yield* pendingOf(realm, "WXZBCDFG")
        yield* store.insert(polled)
        const states: ReadonlyArray<DeviceAuthorization.DeviceAuthorization> = [
          States.Pending({ ...polled, interval: 10, lastPolledAt: later("7 seconds"), version: 2 }),
          States.Approved({ ...polled, interval: 10, lastPolledAt: later("7 seconds"), sub: "s1", grantId: "g1", version: 3 }),
          States.Redeemed({ ...polled, interval: 10, lastPolledAt: later("20 seconds"), sub: "s1", grantId: "g1", version: 4 })
        ]
        for (const state of states) {
          yield* store.update(state, undefined)
          expect(yield* store.find(realm.id, polled.deviceCodeHash)).toEqual(Option.some(state))
        }
        const denied = yield* pendingOf(realm, "HJKLMNPQ")
        yield* store.insert(denied)
        const next = States.Denied({ ...denied, sub: "s2", version: 2 })
        yield* store.update(next, undefined)
        expect(yield* store.findByUserCode(realm.id, "HJKLMNPQ")).toEqual(Option.some(next))
      }))

    it.effect("update is compare-and-set on the version: a stale write changes nothing and writes no event", () =>
      Effect.gen(function*() {
        const store = yield* DeviceAuthorizations.DeviceAuthorizations
        const realm = yield* newRealm
        const device = yield* pendingOf(realm, "RSTVWXZB")
        yield* store.insert(device)
        const approved = States.Approved({ ...device, sub: "s1", grantId: "g1", version: 2 })
        yield* store.update(approved, yield* approvedEvent(realm))
        expect(yield* trail(realm)).toEqual(["device.approved", "realm.created"])
        // a second decision computed from version 1 lost: it is refused, with its event
        const denied = States.Denied({ ...device, sub: "s2", version: 2 })
        expect(yield* failureTag(store.update(denied, yield* approvedEvent(realm)))).toBe("DeviceAuthorizationChanged")
        // a version from the future is refused too, and so is an unknown authorization
        expect(yield* failureTag(store.update(States.Redeemed({ ...approved, version: 4 }), undefined))).toBe("DeviceAuthorizationChanged")
        const unknown = yield* pendingOf(realm, "ZBCDFGHJ")
        expect(yield* failureTag(store.update(States.Denied({ ...unknown, sub: "s1", version: 2 }), undefined))).toBe("DeviceAuthorizationChanged")
        expect(yield* store.find(realm.id, device.deviceCodeHash)).toEqual(Option.some(approved))
        expect(yield* trail(realm)).toEqual(["device.approved", "realm.created"])
        // another realm cannot write it
        const other = yield* newRealm
        expect(yield* failureTag(store.update(States.Redeemed({ ...approved, realmId: other.id, version: 3 }), undefined)))
          .toBe("DeviceAuthorizationChanged")
        expect(yield* store.find(realm.id, device.deviceCodeHash)).toEqual(Option.some(approved))
      }))

    it.effect("single redemption: of 20 concurrent Approved -> Redeemed writes, exactly one wins", () =>
      Effect.gen(function*() {
        const store = yield* DeviceAuthorizations.DeviceAuthorizations
        const realm = yield* newRealm
        const device = yield* pendingOf(realm, "FGHJKLMN")
        yield* store.insert(device)
        const approved = States.Approved({ ...device, sub: "s1", grantId: "g1", version: 2 })
        yield* store.update(approved, undefined)
        const redeemed = States.Redeemed({ ...approved, version: 3 })
        const results = yield* Effect.all(Array.from({ length: 20 }, () => failureTag(store.update(redeemed, undefined))), {
          concurrency: "unbounded"
        })
        expect(results.filter((r) => r === "succeeded")).toHaveLength(1)
        expect(results.filter((r) => r === "DeviceAuthorizationChanged")).toHaveLength(19)
        expect(yield* store.find(realm.id, device.deviceCodeHash)).toEqual(Option.some(redeemed))
      }))

    it.effect("an authorization is kept an hour past its expiry (a late poll is expired_token), then dropped as new ones arrive", () =>
      Effect.gen(function*() {
        const store = yield* DeviceAuthorizations.DeviceAuthorizations
        const realm = yield* newRealm
        const old = yield* pendingOf(realm, "KLMNPQRS")
        yield* store.insert(old)
        // 10 minutes of life, then an hour of retention: at 1 h 9 min it is still there
        yield* store.insert(yield* pendingOf(realm, "LMNPQRST", later("69 minutes")))
        expect(yield* store.find(realm.id, old.deviceCodeHash)).toEqual(Option.some(old))
        // at 1 h 10 min it is dropped, with its user code
        const fresh = yield* pendingOf(realm, "KLMNPQRS", later("70 minutes"))
        yield* store.insert(fresh)
        expect(yield* store.find(realm.id, old.deviceCodeHash)).toEqual(Option.none())
        expect(yield* store.findByUserCode(realm.id, "KLMNPQRS")).toEqual(Option.some(fresh))
      }))

    it.effect("UserCodeThrottle, issue 12 items 5-6: 20 concurrent codes from one address admit exactly 5; other addresses and realms go on", () =>
      Effect.gen(function*() {
        const throttle = yield* UserCodeThrottle.UserCodeThrottle
        const realm = yield* newRealm
        const verdicts = yield* Effect.all(Array.from({ length: 20 }, () => throttle.reserve(realm.id, "192.0.2.1", at)), { concurrency: "unbounded" })
        expect(verdicts.filter((v) => v._tag === "Allowed")).toHaveLength(5)
        expect(verdicts.filter((v) => v._tag === "Throttled")).toEqual(Array(15).fill(LoginThrottle.Verdict.Throttled({ retryAfterSeconds: 1 })))
        // no realm-wide count: 100 addresses each entering a wrong code do not slow the 101st down
        for (let i = 0; i < 100; i++) expect(yield* throttle.reserve(realm.id, `198.51.100.${i}`, at)).toEqual(LoginThrottle.Verdict.Allowed())
        expect(yield* throttle.reserve(realm.id, "192.0.2.2", at)).toEqual(LoginThrottle.Verdict.Allowed())
        const other = yield* newRealm
        expect(yield* throttle.reserve(other.id, "192.0.2.1", at)).toEqual(LoginThrottle.Verdict.Allowed())
        // sign-in failures and user-code failures count apart: the same address may still sign in
        expect(yield* Effect.flatMap(LoginThrottle.LoginThrottle, (t) => t.reserve({ realmId: realm.id, username: "ada", ip: "192.0.2.1" }, at)))
          .toEqual(LoginThrottle.Verdict.Allowed())
      }))

    it.effect("UserCodeThrottle, ADR 0027: past 5 codes each wrong one doubles the address's wait; a right code takes its reservation back", () =>
      Effect.gen(function*() {
        const throttle = yield* UserCodeThrottle.UserCodeThrottle
        const realm = yield* newRealm
        for (let i = 0; i < 5; i++) expect(yield* throttle.reserve(realm.id, "192.0.2.1", at)).toEqual(LoginThrottle.Verdict.Allowed())
        expect(yield* throttle.reserve(realm.id, "192.0.2.1", at)).toEqual(LoginThrottle.Verdict.Throttled({ retryAfterSeconds: 1 }))
        expect(yield* throttle.reserve(realm.id, "192.0.2.1", later("1 second"))).toEqual(LoginThrottle.Verdict.Allowed())
        expect(yield* throttle.reserve(realm.id, "192.0.2.1", later("1 second"))).toEqual(LoginThrottle.Verdict.Throttled({ retryAfterSeconds: 2 }))
        // the sixth was a right code: back to five, 1 s after the last
        yield* throttle.release(realm.id, "192.0.2.1", later("1 second"))
        expect(yield* throttle.reserve(realm.id, "192.0.2.1", later("1 second"))).toEqual(LoginThrottle.Verdict.Throttled({ retryAfterSeconds: 1 }))
        expect(yield* throttle.reserve(realm.id, "192.0.2.1", later("2 seconds"))).toEqual(LoginThrottle.Verdict.Allowed())
        // without an address, all unknown addresses share one count
        for (let i = 0; i < 5; i++) yield* throttle.reserve(realm.id, undefined, at)
        expect(yield* throttle.reserve(realm.id, undefined, at)).toEqual(LoginThrottle.Verdict.Throttled({ retryAfterSeconds: 1 }))
        // a quiet day and it is forgotten
        expect(yield* throttle.reserve(realm.id, "192.0.2.1", later("26 hours"))).toEqual(LoginThrottle.Verdict.Allowed())
      }))
  })
