import { describe, expect, it } from "@effect/vitest"
import { DateTime, Duration, Effect, Option, TestClock } from "effect"
import * as Jose from "jose"
import { Jwt, Keys, Provisioning, SigningKey, SigningKeys } from "@tessera/domain"
import { eventually } from "./support/Eventually.js"
import { admin, createRealm, get } from "./support/Http.js"
import * as TestLive from "./support/TestLive.js"

/** One day between rotations keeps the scheduler's one-minute passes few under TestClock. */
const policy: SigningKey.Policy = {
  rotateEvery: Duration.days(1),
  jwksMaxAge: Duration.minutes(10),
  maxTokenLifetime: Duration.hours(1)
}

const world = () => TestLive.make({ keyPolicy: policy })

interface KeyView {
  kid: string
  alg: string
  status: "next" | "active" | "retired"
  created_at: string
  activates_at?: string
  expires_at?: string
}

const keysOf = (realm: string) => Effect.map(admin.get(`/admin/realms/${realm}/keys`), (res) => res.json.keys as Array<KeyView>)
const jwksKids = (realm: string) =>
  Effect.map(get(`/realms/${realm}/jwks`), (res) => (res.json.keys as Array<{ kid: string }>).map((k) => k.kid).sort())
const kidsWith = (keys: Array<KeyView>, status: KeyView["status"]) => keys.filter((k) => k.status === status).map((k) => k.kid).sort()

const nowIso = Effect.map(DateTime.now, DateTime.formatIso)

describe("DESIGN signing key: Next -> Active -> Retired -> Deleted", () => {
  it.effect("a new realm has exactly one active and one next key per alg (ES256 and RS256), all in the JWKS", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const keys = yield* keysOf(realm.name)
      const at = yield* nowIso
      expect(keys.map(({ alg, status }) => `${alg}/${status}`).sort()).toEqual(["ES256/active", "ES256/next", "RS256/active", "RS256/next"])
      for (const key of keys) {
        expect(key.created_at).toBe(at)
        expect(key.activates_at).toBe(key.status === "active" ? at : DateTime.formatIso(DateTime.addDuration(DateTime.unsafeMake(at), policy.rotateEvery)))
        expect(key.expires_at).toBeUndefined()
      }
      expect(yield* jwksKids(realm.name)).toEqual(keys.map((k) => k.kid).sort())
    }).pipe(Effect.provide(world())))

  it.effect("the scheduler rotates when the next key falls due, not before, and audits key.rotated as the scheduler", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const before = yield* keysOf(realm.name)
      yield* TestClock.adjust(Duration.subtract(policy.rotateEvery, Duration.minutes(2)))
      expect(yield* keysOf(realm.name)).toEqual(before)

      yield* TestClock.adjust(Duration.minutes(3))
      // the pass TestClock woke generates keys in real time
      const after = yield* eventually(keysOf(realm.name), (keys) => keys.some((k) => k.status === "retired"))
      expect(kidsWith(after, "active")).toEqual(kidsWith(before, "next"))
      expect(kidsWith(after, "retired")).toEqual(kidsWith(before, "active"))
      expect(kidsWith(after, "next")).toHaveLength(2)
      expect(kidsWith(after, "next").some((kid) => before.some((k) => k.kid === kid))).toBe(false)

      const audit = yield* admin.get(`/admin/realms/${realm.name}/audit?type=key.rotated`)
      expect(audit.json.events).toHaveLength(1)
      expect(audit.json.events[0]).toMatchObject({
        type: "key.rotated",
        realm: realm.name,
        actor: { type: "owner", id: "tessera:scheduler" },
        result: "success"
      })
    }).pipe(Effect.provide(world())))

  it.effect("a next key is published at least 2 x the JWKS max-age before it signs", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const jwks = yield* get(`/realms/${realm.name}/jwks`)
      const maxAge = Number(/max-age=(\d+)/.exec(jwks.headers["cache-control"] ?? "")?.[1])
      expect(maxAge).toBe(Duration.toSeconds(policy.jwksMaxAge))
      const next = kidsWith(yield* keysOf(realm.name), "next")
      // each next key is in the JWKS now, and does not sign until after 2 x max-age has passed
      expect((yield* jwksKids(realm.name))).toEqual(expect.arrayContaining(next))
      yield* TestClock.adjust(Duration.seconds(2 * maxAge))
      expect(kidsWith(yield* keysOf(realm.name), "next")).toEqual(next)
    }).pipe(Effect.provide(world())))

  it.effect("a retired key stays in the JWKS until the longest token lifetime has passed, then leaves", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const { id } = yield* Provisioning.findRealm(realm.name)
      // a token signed by the active key just before rotation
      const signer = yield* SigningKeys.signer(id, "ES256")
      const issuedAt = Math.floor(DateTime.toEpochMillis(yield* DateTime.now) / 1000)
      const token = yield* Jwt.sign(
        { sub: "someone", iat: issuedAt, exp: issuedAt + Duration.toSeconds(policy.maxTokenLifetime) }, signer, "at+jwt"
      )
      const rotated = yield* admin.post(`/admin/realms/${realm.name}/keys/rotate`)
      expect(rotated.status).toBe(200)
      const retired = rotated.json.keys.find((k: KeyView) => k.kid === signer.kid)
      expect(retired).toEqual({
        kid: signer.kid,
        alg: "ES256",
        status: "retired",
        created_at: expect.any(String),
        expires_at: DateTime.formatIso(DateTime.addDuration(yield* DateTime.now, policy.maxTokenLifetime))
      })

      const verify = Effect.gen(function*() {
        const set = Jose.createLocalJWKSet((yield* get(`/realms/${realm.name}/jwks`)).json)
        const currentDate = new Date(DateTime.toEpochMillis(yield* DateTime.now))
        return yield* Effect.promise(() => Jose.jwtVerify(token, set, { currentDate }).then(() => "valid", (e) => e.code as string))
      })
      yield* TestClock.adjust(Duration.subtract(policy.maxTokenLifetime, Duration.seconds(1)))
      expect(yield* verify).toBe("valid")
      expect(yield* jwksKids(realm.name)).toContain(signer.kid)

      yield* TestClock.adjust(Duration.seconds(1))
      expect(yield* jwksKids(realm.name)).not.toContain(signer.kid)
      expect(yield* verify).toBe("ERR_JWKS_NO_MATCHING_KEY")
      expect((yield* keysOf(realm.name)).map((k) => k.kid)).not.toContain(signer.kid)
      // the scheduler wakes at the expiry and deletes the key from the store (its sealed private key included)
      const ring = yield* eventually(
        Effect.map(Effect.flatMap(Keys.Keys, (keys) => keys.ring(id)), Option.getOrThrow),
        (ring) => !ring.keys.some((k) => k.kid === signer.kid)
      )
      expect(ring.keys.map((k) => k.kid)).not.toContain(signer.kid)
    }).pipe(Effect.provide(world())))

  it.effect("POST keys/rotate: next becomes active, a new next is made, the old active is retired; audited as the owner", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const before = yield* keysOf(realm.name)
      const res = yield* admin.post(`/admin/realms/${realm.name}/keys/rotate`)
      expect(res.status).toBe(200)
      expect(res.headers["cache-control"]).toBe("no-store")
      const after = res.json.keys as Array<KeyView>
      expect(after).toEqual(yield* keysOf(realm.name))
      expect(kidsWith(after, "active")).toEqual(kidsWith(before, "next"))
      expect(kidsWith(after, "retired")).toEqual(kidsWith(before, "active"))
      expect(kidsWith(after, "next")).toHaveLength(2)
      const events = (yield* admin.get(`/admin/realms/${realm.name}/audit?type=key.rotated`)).json.events
      expect(events).toHaveLength(1)
      expect(events[0].actor).toEqual({ type: "owner", id: "owner" })
    }).pipe(Effect.provide(world())))

  it.effect("the ring stays whole across many rotations, scheduled and manual", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const { id } = yield* Provisioning.findRealm(realm.name)
      const rotations = Effect.map(admin.get(`/admin/realms/${realm.name}/audit?type=key.rotated`), (res) => res.json.events.length)
      for (let i = 0; i < 3; i++) {
        yield* admin.post(`/admin/realms/${realm.name}/keys/rotate`)
        yield* TestClock.adjust(Duration.sum(policy.rotateEvery, Duration.minutes(1)))
        expect(yield* eventually(rotations, (n) => n === 2 * (i + 1))).toBe(2 * (i + 1))
        const ring = Option.getOrThrow(yield* Effect.flatMap(Keys.Keys, (keys) => keys.ring(id)))
        expect(SigningKey.isWhole(ring)).toBe(true)
        // retired keys older than the longest token lifetime are gone
        expect(ring.keys.filter((k) => k.status === "retired").length).toBeLessThanOrEqual(2)
      }
    }).pipe(Effect.provide(world())))
})

describe("signing key policy", () => {
  it("refuses a rotation interval shorter than twice the JWKS max-age", () => {
    expect(SigningKey.checkPolicy({ ...policy, rotateEvery: Duration.minutes(19) })._tag).toBe("Left")
    expect(SigningKey.checkPolicy({ ...policy, rotateEvery: Duration.minutes(20) })._tag).toBe("Right")
  })
})
