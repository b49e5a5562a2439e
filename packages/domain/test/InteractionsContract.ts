/**
 * The pending-authorization and login-throttle stores' contract: run on memory here, and on PGlite and Postgres by
 * packages/sql when it implements them. Realms come from `PortContract.newRealm` so foreign keys hold on SQL.
 */
import { expect, layer } from "@effect/vitest"
import { DateTime, Duration, Effect, Either, Option } from "effect"
import type { Layer } from "effect"
import { Interactions, LoginThrottle } from "@tessera/domain"
import type { Realm } from "@tessera/domain"
import { newRealm, type Ports } from "./PortContract.js"

export type FlowPorts = Ports | Interactions.Interactions | LoginThrottle.LoginThrottle

const at = DateTime.unsafeMake("2026-11-29T12:00:00Z")

const throttled = (retryAfterSeconds: number) => LoginThrottle.Verdict.Throttled({ retryAfterSeconds })

const interactionOf = (realm: Realm.Realm, id: string, changes: Partial<Interactions.Request> = {}) => Interactions.Interaction.Requested({
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
  expiresAt: DateTime.addDuration(at, Interactions.lifetime),
  version: 0
})

export const suite = (name: string, ports: Layer.Layer<FlowPorts, unknown>) =>
  layer(ports)(`${name}: interactions and login throttle contract`, (it) => {
    it.effect("Interactions: create, find (realm-scoped), apply a transition over the version it was computed from", () =>
      Effect.gen(function*() {
        const interactions = yield* Interactions.Interactions
        const realm = yield* newRealm
        const full = interactionOf(realm, "i-full")
        yield* interactions.create(full)
        expect(yield* interactions.find(realm.id, "i-full")).toEqual(Option.some(full))
        // optional fields stay absent
        const { state: _s, nonce: _n, maxAge: _m, loginHint: _l, ...bare } = full.request
        const minimal = Interactions.Interaction.Requested({ ...interactionOf(realm, "i-min"), request: { ...bare, prompt: [], acrValues: [], resources: [] } })
        yield* interactions.create(minimal)
        expect(yield* interactions.find(realm.id, "i-min")).toEqual(Option.some(minimal))
        const other = yield* newRealm
        expect(yield* interactions.find(other.id, "i-full")).toEqual(Option.none())
        const signedIn = Either.getOrThrow(Interactions.authenticate(full, "sid-1", at))
        yield* interactions.apply(signedIn)
        expect(yield* interactions.find(realm.id, "i-full")).toEqual(Option.some(signedIn))
        const again = Either.getOrThrow(Interactions.authenticate(signedIn, "sid-2", at))
        yield* interactions.apply(again)
        expect(yield* interactions.find(realm.id, "i-full")).toEqual(Option.some(again))
        // a transition computed from a version no longer stored, another realm's, or an unknown one: nothing written
        expect(yield* Effect.flip(interactions.apply(signedIn))).toEqual(new Interactions.InteractionChanged())
        expect(yield* Effect.flip(interactions.apply({ ...again, realmId: other.id, version: 3 }))).toEqual(new Interactions.InteractionChanged())
        expect(yield* Effect.flip(interactions.apply(Interactions.Interaction.Requested({ ...minimal, id: "unknown", version: 1 }))))
          .toEqual(new Interactions.InteractionChanged())
        expect(yield* interactions.find(realm.id, "i-full")).toEqual(Option.some(again))
        // a session known at the start: created Authenticated
        const known = Interactions.start({ ...interactionOf(realm, "i-known") }, "sid-0")
        yield* interactions.create(known)
        expect(yield* interactions.find(realm.id, "i-known")).toEqual(Option.some(known))
      }))

    it.effect("Interactions, RFC 6749 §4.1.2: of 20 concurrent code issues of one interaction exactly one applies; it stays CodeIssued", () =>
      Effect.gen(function*() {
        const interactions = yield* Interactions.Interactions
        const realm = yield* newRealm
        const signedIn = Interactions.start({ ...interactionOf(realm, "i-once") }, "sid-1")
        yield* interactions.create(signedIn)
        const issued = Either.getOrThrow(Interactions.issueCode(signedIn, at))
        const results = yield* Effect.all(
          Array.from({ length: 20 }, () => Effect.either(interactions.apply(issued))),
          { concurrency: "unbounded" }
        )
        expect(results.filter(Either.isRight)).toHaveLength(1)
        expect(results.filter(Either.isLeft).map((r) => r.left)).toEqual(Array.from({ length: 19 }, () => new Interactions.InteractionChanged()))
        expect(yield* interactions.find(realm.id, "i-once")).toEqual(Option.some(issued))
        // §10.5 single use: a replay of the form finds the interaction finished
        expect(Interactions.issueCode(issued, at)).toEqual(Either.left(new Interactions.InteractionRefused({ reason: "finished" })))
      }))

    it.effect("Interactions: a consent and a denial racing on one interaction: exactly one decides it", () =>
      Effect.gen(function*() {
        const interactions = yield* Interactions.Interactions
        const realm = yield* newRealm
        const signedIn = Interactions.start({ ...interactionOf(realm, "i-race") }, "sid-1")
        yield* interactions.create(signedIn)
        const consented = Either.getOrThrow(Interactions.consent(signedIn, at))
        const denied = Either.getOrThrow(Interactions.deny(signedIn, at))
        const results = yield* Effect.all(
          Array.from({ length: 10 }, (_, i) => Effect.either(interactions.apply(i % 2 === 0 ? consented : denied))),
          { concurrency: "unbounded" }
        )
        expect(results.filter(Either.isRight)).toHaveLength(1)
        const stored = Option.getOrThrow(yield* interactions.find(realm.id, "i-race"))
        expect([consented, denied]).toContainEqual(stored)
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

    it.effect("Interactions: ADR 0026 a create sweeps at most a batch of the realm's expired interactions, oldest first", () =>
      Effect.gen(function*() {
        const interactions = yield* Interactions.Interactions
        const realm = yield* newRealm
        const other = yield* newRealm
        const second = (n: number) => DateTime.addDuration(at, Duration.seconds(n))
        const startedAt = (base: Interactions.Requested, created: DateTime.Utc) =>
          Interactions.Interaction.Requested({ ...base, createdAt: created, expiresAt: DateTime.addDuration(created, Interactions.lifetime) })
        const count = Interactions.sweepBatch + 5
        for (let i = 0; i < count; i++) yield* interactions.create(startedAt(interactionOf(realm, `old-${i}`), second(i)))
        yield* interactions.create(startedAt(interactionOf(other, "other-old"), at))
        const later = DateTime.addDuration(at, Duration.minutes(30))
        yield* interactions.create(startedAt(interactionOf(realm, "new-1"), later))
        const left = yield* Effect.forEach(Array.from({ length: count }, (_, i) => `old-${i}`), (id) =>
          Effect.map(interactions.find(realm.id, id), Option.isSome))
        // the oldest sweepBatch went; the 5 youngest wait for the next create; another realm's are not touched
        expect(left).toEqual([...Array.from({ length: Interactions.sweepBatch }, () => false), true, true, true, true, true])
        expect(Option.isSome(yield* interactions.find(other.id, "other-old"))).toBe(true)
        expect(Option.isSome(yield* interactions.find(realm.id, "new-1"))).toBe(true)
        yield* interactions.create(startedAt(interactionOf(realm, "new-2"), later))
        expect(Option.isSome(yield* interactions.find(realm.id, `old-${count - 1}`))).toBe(false)
        // live ones are never swept
        expect(Option.isSome(yield* interactions.find(realm.id, "new-1"))).toBe(true)
      }))

    it.effect("LoginThrottle, issue 12 item 5: 20 concurrent reservations for one username and address admit exactly the burst of 5", () =>
      Effect.gen(function*() {
        const throttle = yield* LoginThrottle.LoginThrottle
        const realm = yield* newRealm
        const attempt = { realmId: realm.id, username: "Ada", ip: "192.0.2.1" }
        const verdicts = yield* Effect.all(Array.from({ length: 20 }, () => throttle.reserve(attempt, at)), { concurrency: "unbounded" })
        expect(verdicts.filter((v) => v._tag === "Allowed")).toHaveLength(5)
        expect(verdicts.filter((v) => v._tag === "Throttled")).toEqual(Array(15).fill(throttled(1)))
        // usernames compare as User.usernameKey
        expect(yield* throttle.reserve({ ...attempt, username: "ADA" }, at)).toEqual(throttled(1))
        // the same username from another address: its own count, and 5 of the username's 10 from unknown addresses
        expect(yield* throttle.reserve({ ...attempt, ip: "192.0.2.2" }, at)).toEqual(LoginThrottle.Verdict.Allowed())
        // another username from the address, and the username in another realm, are not affected
        expect(yield* throttle.reserve({ ...attempt, username: "grace" }, at)).toEqual(LoginThrottle.Verdict.Allowed())
        const other = yield* newRealm
        expect(yield* throttle.reserve({ ...attempt, realmId: other.id }, at)).toEqual(LoginThrottle.Verdict.Allowed())
      }))

    it.effect("LoginThrottle, ADR 0027: past the burst each failure doubles the wait (1 s, 2 s, 4 s ... 15 min); a success clears it", () =>
      Effect.gen(function*() {
        const throttle = yield* LoginThrottle.LoginThrottle
        const realm = yield* newRealm
        const attempt = { realmId: realm.id, username: "ada", ip: "192.0.2.1" }
        let now = at
        for (let i = 0; i < 5; i++) expect(yield* throttle.reserve(attempt, now)).toEqual(LoginThrottle.Verdict.Allowed())
        const waits: Array<number> = []
        for (let i = 0; i < 12; i++) {
          const verdict = yield* throttle.reserve(attempt, now)
          if (verdict._tag === "Allowed") return yield* Effect.dieMessage(`attempt ${i} was not throttled`)
          waits.push(verdict.retryAfterSeconds)
          // a throttled attempt counts nothing: the wait is what it was
          expect(yield* throttle.reserve(attempt, DateTime.addDuration(now, Duration.millis(1)))).toEqual(throttled(verdict.retryAfterSeconds))
          now = DateTime.addDuration(now, Duration.seconds(verdict.retryAfterSeconds))
          expect(yield* throttle.reserve(attempt, now)).toEqual(LoginThrottle.Verdict.Allowed())
        }
        expect(waits).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900])
        // the person signs in: their failures from this address are forgiven
        yield* throttle.succeeded(attempt, now)
        for (let i = 0; i < 5; i++) expect(yield* throttle.reserve(attempt, now)).toEqual(LoginThrottle.Verdict.Allowed())
        expect(yield* throttle.reserve(attempt, now)).toEqual(throttled(1))
        // a day without failures and the count is forgotten
        expect(yield* throttle.reserve(attempt, DateTime.addDuration(now, Duration.hours(24)))).toEqual(LoginThrottle.Verdict.Allowed())
      }))

    it.effect("LoginThrottle, ADR 0027: guesses from many addresses slow the username down, never from an address it signed in from", () =>
      Effect.gen(function*() {
        const throttle = yield* LoginThrottle.LoginThrottle
        const realm = yield* newRealm
        const from = (ip: string) => ({ realmId: realm.id, username: "ada", ip })
        // the person signs in from home
        expect(yield* throttle.reserve(from("203.0.113.1"), at)).toEqual(LoginThrottle.Verdict.Allowed())
        yield* throttle.succeeded(from("203.0.113.1"), at)
        // 10 guesses from 10 addresses: the username's burst from unknown addresses
        for (let i = 0; i < 10; i++) expect(yield* throttle.reserve(from(`198.51.100.${i}`), at)).toEqual(LoginThrottle.Verdict.Allowed())
        expect(yield* throttle.reserve(from("198.51.100.200"), at)).toEqual(throttled(1))
        // home is exempt: the guesser cannot slow the person down there
        expect(yield* throttle.reserve(from("203.0.113.1"), at)).toEqual(LoginThrottle.Verdict.Allowed())
        yield* throttle.succeeded(from("203.0.113.1"), at)
        // and the success there takes back only its own reservation: the guessers still wait
        expect(yield* throttle.reserve(from("198.51.100.201"), at)).toEqual(throttled(1))
        // an address stays known for 30 days after its last sign-in
        const later = DateTime.addDuration(at, Duration.days(30))
        for (let i = 0; i < 10; i++) yield* throttle.reserve(from(`192.0.2.${i}`), later)
        expect(yield* throttle.reserve(from("203.0.113.1"), later)).toEqual(throttled(1))
      }))

    it.effect("LoginThrottle, CONTRACT §2: a username no store can hold (U+0000, an unpaired surrogate, 64 KiB) is throttled under one key of its own", () =>
      Effect.gen(function*() {
        const throttle = yield* LoginThrottle.LoginThrottle
        const realm = yield* newRealm
        const impossible = ["ada\u0000", "\uD800ada", "a".repeat(65_536), "a b"]
        for (let i = 0; i < 5; i++) {
          expect(yield* throttle.reserve({ realmId: realm.id, username: impossible[i % 4]!, ip: "192.0.2.1" }, at)).toEqual(LoginThrottle.Verdict.Allowed())
        }
        expect(yield* throttle.reserve({ realmId: realm.id, username: "\u0000", ip: "192.0.2.1" }, at)).toEqual(throttled(1))
        yield* throttle.succeeded({ realmId: realm.id, username: "\u0000", ip: "192.0.2.1" }, at)
        // the real username is its own key
        expect(yield* throttle.reserve({ realmId: realm.id, username: "ada", ip: "192.0.2.1" }, at)).toEqual(LoginThrottle.Verdict.Allowed())
      }))

    it.effect("LoginThrottle, ADR 0027: 30 attempts per address across usernames, then the address waits; a success does not clear it", () =>
      Effect.gen(function*() {
        const throttle = yield* LoginThrottle.LoginThrottle
        const realm = yield* newRealm
        for (let i = 0; i < 30; i++) {
          expect(yield* throttle.reserve({ realmId: realm.id, username: `u${i}`, ip: "203.0.113.9" }, at)).toEqual(LoginThrottle.Verdict.Allowed())
        }
        const fresh = { realmId: realm.id, username: "someone-else", ip: "203.0.113.9" }
        expect(yield* throttle.reserve(fresh, at)).toEqual(throttled(1))
        yield* throttle.succeeded({ realmId: realm.id, username: "u0", ip: "203.0.113.9" }, at)
        // the success took back its own reservation only: 29 + this one
        expect(yield* throttle.reserve(fresh, at)).toEqual(LoginThrottle.Verdict.Allowed())
        expect(yield* throttle.reserve(fresh, at)).toEqual(throttled(1))
        expect(yield* throttle.reserve({ ...fresh, ip: "203.0.113.10" }, at)).toEqual(LoginThrottle.Verdict.Allowed())
      }))
  })
