/**
 * The pending-authorization and login-throttle stores' contract: run on memory here, and on PGlite and Postgres by
 * packages/sql when it implements them. Realms come from `PortContract.newRealm` so foreign keys hold on SQL.
 */
import { expect, layer } from "@effect/vitest"
import { DateTime, Duration, Effect, Option } from "effect"
import type { Layer } from "effect"
import { Interactions, LoginThrottle } from "@tessera/domain"
import type { Realm } from "@tessera/domain"
import { newRealm, type Ports } from "./PortContract.js"

export type FlowPorts = Ports | Interactions.Interactions | LoginThrottle.LoginThrottle

const at = DateTime.unsafeMake("2026-11-29T12:00:00Z")

const interactionOf = (realm: Realm.Realm, id: string, changes: Partial<Interactions.Request> = {}): Interactions.Interaction => ({
  realmId: realm.id,
  id,
  request: {
    clientId: "c1",
    redirectUri: "http://127.0.0.1:53124/cb",
    redirectUriGiven: true,
    scopes: ["openid", "mcp:tools"],
    resources: ["https://mcp.example/mcp"],
    state: "<state>",
    nonce: "n-1",
    codeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    responseMode: "form_post",
    prompt: ["login", "consent"],
    maxAge: 300,
    acrValues: ["urn:tessera:acr:password"],
    loginHint: "ada",
    stepUp: false,
    ...changes
  },
  csrfHash: "hash-of-csrf",
  createdAt: at,
  expiresAt: DateTime.addDuration(at, Interactions.lifetime)
})

export const suite = (name: string, ports: Layer.Layer<FlowPorts, unknown>) =>
  layer(ports)(`${name}: interactions and login throttle contract`, (it) => {
    it.effect("Interactions: create, find (realm-scoped), update the sid", () =>
      Effect.gen(function*() {
        const interactions = yield* Interactions.Interactions
        const realm = yield* newRealm
        const full = interactionOf(realm, "i-full")
        yield* interactions.create(full)
        expect(yield* interactions.find(realm.id, "i-full")).toEqual(Option.some(full))
        // optional fields stay absent
        const { state: _s, nonce: _n, maxAge: _m, loginHint: _l, ...bare } = full.request
        const minimal = { ...interactionOf(realm, "i-min"), request: { ...bare, prompt: [], acrValues: [], resources: [] } }
        yield* interactions.create(minimal)
        expect(yield* interactions.find(realm.id, "i-min")).toEqual(Option.some(minimal))
        const other = yield* newRealm
        expect(yield* interactions.find(other.id, "i-full")).toEqual(Option.none())
        yield* interactions.update(realm.id, "i-full", "sid-1")
        expect(yield* interactions.find(realm.id, "i-full")).toEqual(Option.some({ ...full, sid: "sid-1" }))
        yield* interactions.update(realm.id, "i-full", "sid-2")
        expect(Option.getOrThrow(yield* interactions.find(realm.id, "i-full")).sid).toBe("sid-2")
        // another realm cannot update it; an unknown one is a no-op
        yield* interactions.update(other.id, "i-full", "sid-x")
        yield* interactions.update(realm.id, "unknown", "sid-x")
        expect(Option.getOrThrow(yield* interactions.find(realm.id, "i-full")).sid).toBe("sid-2")
      }))

    it.effect("Interactions: consume is single use: of 20 concurrent consumes exactly one gets it", () =>
      Effect.gen(function*() {
        const interactions = yield* Interactions.Interactions
        const realm = yield* newRealm
        const interaction = interactionOf(realm, "i-once")
        yield* interactions.create(interaction)
        const other = yield* newRealm
        expect(yield* interactions.consume(other.id, "i-once")).toEqual(Option.none())
        const results = yield* Effect.all(Array.from({ length: 20 }, () => interactions.consume(realm.id, "i-once")), { concurrency: "unbounded" })
        expect(results.filter(Option.isSome)).toEqual([Option.some(interaction)])
        expect(yield* interactions.find(realm.id, "i-once")).toEqual(Option.none())
        expect(yield* interactions.consume(realm.id, "i-once")).toEqual(Option.none())
      }))

    it.effect("Interactions: an expired interaction is still found (the caller checks isLive)", () =>
      Effect.gen(function*() {
        const interactions = yield* Interactions.Interactions
        const realm = yield* newRealm
        const interaction = interactionOf(realm, "i-old")
        yield* interactions.create(interaction)
        expect(Interactions.isLive(interaction, DateTime.addDuration(at, Duration.minutes(9)))).toBe(true)
        expect(Interactions.isLive(interaction, DateTime.addDuration(at, Duration.minutes(10)))).toBe(false)
        expect(Option.isSome(yield* interactions.find(realm.id, "i-old"))).toBe(true)
      }))

    it.effect("LoginThrottle: 5 failures per username in 15 minutes, then retry after the oldest leaves the window", () =>
      Effect.gen(function*() {
        const throttle = yield* LoginThrottle.LoginThrottle
        const realm = yield* newRealm
        const attempt = { realmId: realm.id, username: "Ada", ip: "192.0.2.1" }
        const minute = (n: number) => DateTime.addDuration(at, Duration.minutes(n))
        for (let i = 0; i < 5; i++) {
          expect(yield* throttle.check(attempt, minute(i))).toEqual(LoginThrottle.Verdict.Allowed())
          yield* throttle.recordFailure(attempt, minute(i))
        }
        // the oldest failure (minute 0) leaves the window at minute 15
        expect(yield* throttle.check(attempt, minute(5))).toEqual(LoginThrottle.Verdict.Throttled({ retryAfterSeconds: 600 }))
        // usernames compare as User.usernameKey
        expect(yield* throttle.check({ ...attempt, username: "ADA", ip: "198.51.100.7" }, minute(5)))
          .toEqual(LoginThrottle.Verdict.Throttled({ retryAfterSeconds: 600 }))
        expect(yield* throttle.check(attempt, minute(15))).toEqual(LoginThrottle.Verdict.Allowed())
        // another username from the same address, and the same username in another realm, are not affected
        expect(yield* throttle.check({ ...attempt, username: "grace" }, minute(5))).toEqual(LoginThrottle.Verdict.Allowed())
        const other = yield* newRealm
        expect(yield* throttle.check({ ...attempt, realmId: other.id }, minute(5))).toEqual(LoginThrottle.Verdict.Allowed())
        // a success clears the username's count
        yield* throttle.reset(realm.id, "ada")
        expect(yield* throttle.check(attempt, minute(5))).toEqual(LoginThrottle.Verdict.Allowed())
      }))

    it.effect("LoginThrottle: 20 failures per address across usernames; reset does not clear the address", () =>
      Effect.gen(function*() {
        const throttle = yield* LoginThrottle.LoginThrottle
        const realm = yield* newRealm
        for (let i = 0; i < 20; i++) yield* throttle.recordFailure({ realmId: realm.id, username: `u${i}`, ip: "203.0.113.9" }, at)
        const fresh = { realmId: realm.id, username: "someone-else", ip: "203.0.113.9" }
        expect(yield* throttle.check(fresh, at)).toEqual(LoginThrottle.Verdict.Throttled({ retryAfterSeconds: 900 }))
        yield* throttle.reset(realm.id, "u0")
        expect(yield* throttle.check(fresh, at)).toEqual(LoginThrottle.Verdict.Throttled({ retryAfterSeconds: 900 }))
        expect(yield* throttle.check({ ...fresh, ip: "203.0.113.10" }, at)).toEqual(LoginThrottle.Verdict.Allowed())
        // without an address only the username counts
        expect(yield* throttle.check({ realmId: realm.id, username: "someone-else" }, at)).toEqual(LoginThrottle.Verdict.Allowed())
      }))
  })
