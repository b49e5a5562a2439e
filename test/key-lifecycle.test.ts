import { describe, expect, it } from "@effect/vitest"
import { DateTime, Duration, Effect, Exit, HashMap, Logger, Option, Ref, TestClock } from "effect"
import * as Jose from "jose"
import { AuditEvent, Conflict, Jwt, Keys, MemoryDb, Provisioning, ReadCache, SigningKey, SigningKeys, StoreError } from "@tessera/domain"
import { SqlClient } from "@effect/sql"
import { Sql } from "@tessera/sql"
import { eventually } from "./support/Eventually.js"
import type { WireResponse } from "./support/Http.js"
import { admin, createRealm, get, request } from "./support/Http.js"
import { skipWithoutPostgres } from "./support/Postgres.js"
import * as TestLive from "./support/TestLive.js"
import * as T from "./support/TokenFixtures.js"
import { queuedBehindTrailHead } from "./support/TrailHead.js"

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
        expect(ring.keys.filter((k) => k._tag === "Retired").length).toBeLessThanOrEqual(2)
      }
    }).pipe(Effect.provide(world())))
})

// ---------------------------------------------------------------------------------------------------------------
// Issue 15's fuzzer finding: POST keys/rotate answered 503 temporarily_unavailable while other requests changed the
// same realm on PostgreSQL. The store had answered 40P01 deadlock_detected: the rotation locked the key ring and the
// trail head, then (inserting its key.rotated event) the realm row's KEY SHARE through the foreign key, while a realm
// PATCH or DELETE held the realm row FOR UPDATE and waited for the trail head (or, deleting, for the ring).

/** CONTRACT §3: rotation's answers: 200 with the keys, or 409 `conflict` when the ring kept changing under it. */
const conflict = { error: "conflict", error_description: "the keys changed meanwhile; try again" }
const rotationAnswer = (res: WireResponse) => (res.status === 200 ? [200, { keys: expect.any(Array) }] : [409, conflict])

/** The shortest rotation the policy allows (2 x the JWKS max-age): a short TestClock jump makes the scheduler's pass due. */
const shortPolicy: SigningKey.Policy = { ...policy, rotateEvery: Duration.minutes(20) }

const rotations = 6

/**
 * `rotations` rotations of one realm, as many realm PATCHes and the scheduler's pass, all at once: each rotation is 200
 * or 409, never a 5xx; each PATCH 200; the ring stays whole; the trail holds one key.rotated per 200 (and the
 * scheduler's, if its pass got there first) and still verifies.
 */
const concurrentRotations = Effect.gen(function*() {
  const realm = yield* createRealm()
  const { id } = yield* Provisioning.findRealm(realm.name)
  // the realm's next keys fall due: the scheduler wakes, and its pass rotates (in real time) beside the calls below
  yield* TestClock.adjust(Duration.sum(shortPolicy.rotateEvery, Duration.minutes(1)))
  const answers = yield* Effect.all([
    ...Array.from({ length: rotations }, () => admin.post(`/admin/realms/${realm.name}/keys/rotate`)),
    ...Array.from({ length: rotations }, (_, i) => admin.patch(`/admin/realms/${realm.name}`, { display_name: `Acme ${i}` }))
  ], { concurrency: "unbounded" })
  const rotated = answers.slice(0, rotations)
  const patched = answers.slice(rotations)
  expect(rotated.map((res) => [res.status, res.json])).toEqual(rotated.map(rotationAnswer))
  expect(patched.map((res) => [res.status, res.json])).toEqual(patched.map((_, i) => [
    200, { name: realm.name, issuer: realm.issuer, display_name: `Acme ${i}`, dynamic_registration: false }
  ]))
  const succeeded = rotated.filter((res) => res.status === 200).length
  expect(succeeded).toBeGreaterThan(0)
  const ring = Option.getOrThrow(yield* Effect.flatMap(Keys.Keys, (keys) => keys.ring(id)))
  expect(SigningKey.isWhole(ring)).toBe(true)
  const events = (yield* admin.get(`/admin/realms/${realm.name}/audit?type=key.rotated&limit=200`)).json.events as Array<{ actor: unknown }>
  const byOwner = events.filter((e) => (e.actor as { id: string }).id === "owner").length
  expect({ byOwner, scheduled: events.length - byOwner <= 1 }).toEqual({ byOwner: succeeded, scheduled: true })
  const verified = yield* admin.get(`/admin/realms/${realm.name}/audit/verify`)
  expect([verified.status, verified.json]).toEqual([200, { ok: true, events: expect.any(Number) }])
})

/** A new realm as a request that found it holds it, after the realm's deletion (204). */
const foundThenDeleted = Effect.gen(function*() {
  const realm = yield* createRealm()
  const found = yield* Provisioning.findRealm(realm.name)
  const deleted = yield* request("DELETE", `/admin/realms/${realm.name}?confirm=${realm.name}`, {
    headers: { authorization: `Bearer ${TestLive.adminToken}` }
  })
  expect([deleted.status, deleted.text]).toEqual([204, ""])
  return found
})

/**
 * A rotation that starts after its realm was deleted (the realm read before the deletion, as a request that resolved
 * the realm's name just before does): CONTRACT §3's answer for a realm that does not exist, not a defect (it died with
 * "realm has no key ring", a 500, before).
 */
const rotationAfterDeletion = Effect.gen(function*() {
  const found = yield* foundThenDeleted
  const rotated = yield* Effect.exit(SigningKeys.rotate(found, AuditEvent.owner, "test"))
  expect(rotated).toEqual(Exit.fail(new Conflict.NotFound({ entity: "realm" })))
})

const rotationAfterDeletionName = "CONTRACT §3: a rotation of a realm deleted since it was read fails NotFound (the 404 unknown realm), not a defect"

/**
 * Issue 15: the signer, the JWKS and the key list of a realm deleted since it was read (as a token request, a JWKS or
 * an admin key list that found the realm just before): the realm gone (the edge's unknown realm, CONTRACT §2, §3), not
 * a defect ("realm has no key ring", a 500, before).
 */
const keysAfterDeletion = Effect.gen(function*() {
  const found = yield* foundThenDeleted
  const gone = Exit.fail(StoreError.realmGone(found.id))
  expect(yield* Effect.exit(SigningKeys.signer(found.id, "ES256"))).toEqual(gone)
  expect(yield* Effect.exit(SigningKeys.signer(found.id, "RS256"))).toEqual(gone)
  expect(yield* Effect.exit(SigningKeys.jwks(found.id))).toEqual(gone)
  expect(yield* Effect.exit(SigningKeys.list(found.id))).toEqual(gone)
})

const keysAfterDeletionName = "CONTRACT §2: the signer, JWKS and key list of a realm deleted since it was read fail as the realm gone, not a defect"

const concurrentName = `CONTRACT §3 POST keys/rotate: ${rotations} at once with realm PATCHes and the scheduler's pass: 200 or 409, never a 5xx`

describe("CONTRACT §3 key rotation under concurrency (issue 15 fuzzer finding)", () => {
  it.effect(`${concurrentName}, memory`, () =>
    concurrentRotations.pipe(Effect.provide(TestLive.make({ keyPolicy: shortPolicy }, { store: "memory" }))), { timeout: 120_000 })

  it.effect(`${concurrentName}, PGlite`, () =>
    concurrentRotations.pipe(Effect.provide(TestLive.make({ keyPolicy: shortPolicy }, { store: "pglite" }))), { timeout: 120_000 })

  it.effect(`${rotationAfterDeletionName}, memory`, () =>
    rotationAfterDeletion.pipe(Effect.provide(TestLive.make({ keyPolicy: policy }, { store: "memory" }))), { timeout: 120_000 })

  it.effect(`${rotationAfterDeletionName}, PGlite`, () =>
    rotationAfterDeletion.pipe(Effect.provide(TestLive.make({ keyPolicy: policy }, { store: "pglite" }))), { timeout: 120_000 })

  it.effect(`${keysAfterDeletionName}, memory`, () =>
    keysAfterDeletion.pipe(Effect.provide(TestLive.make({ keyPolicy: policy }, { store: "memory" }))), { timeout: 120_000 })

  it.effect(`${keysAfterDeletionName}, PGlite`, () =>
    keysAfterDeletion.pipe(Effect.provide(TestLive.make({ keyPolicy: policy }, { store: "pglite" }))), { timeout: 120_000 })
})

const dropRing = (realmId: string, alsoRealm: boolean) =>
  Effect.gen(function*() {
    const db = yield* MemoryDb.MemoryDb
    yield* Ref.update(db.state, (state) => ({
      ...state,
      keyRings: HashMap.remove(state.keyRings, realmId),
      realms: alsoRealm ? HashMap.remove(state.realms, realmId) : state.realms
    }))
    yield* Effect.flatMap(Effect.serviceOption(ReadCache.ReadCache), Option.match({
      onNone: () => Effect.void,
      onSome: (cache) => cache.invalidate(realmId)
    }))
  })

describe("CONTRACT §2 a live realm whose key ring is missing is a store fault, a deleted realm's is an unknown realm (issue 15, ADR 0030)", () => {
  it.effect("§2: a live realm without a ring (partial restore, manual edit): token endpoint, JWKS, admin key list and logout page answer the store failure (503), not 404", () =>
    Effect.gen(function*() {
      const w = yield* T.world
      const client = yield* T.registerClient(w, { grant_types: ["client_credentials"] })
      yield* dropRing(w.realmId, false)
      const token = yield* T.post(w, "token", T.authOf(client), { grant_type: "client_credentials", scope: "read" })
      expect([token.status, token.headers["retry-after"], token.json])
        .toEqual([503, "1", { error: "temporarily_unavailable" }])
      const jwks = yield* get(`/realms/${w.name}/jwks`)
      expect([jwks.status, jwks.headers["retry-after"], jwks.json]).toEqual([503, "1", { error: "temporarily_unavailable" }])
      const keys = yield* admin.get(`/admin/realms/${w.name}/keys`)
      expect([keys.status, keys.headers["retry-after"], keys.json]).toEqual([503, "1", { error: "temporarily_unavailable" }])
      const logout = yield* get(`/realms/${w.name}/logout?id_token_hint=a.b.c`)
      expect([logout.status, logout.headers["retry-after"], logout.headers["content-type"]?.startsWith("text/html")]).toEqual([503, "1", true])
    }).pipe(Effect.provide(TestLive.makeMemory({ keyPolicy: policy }))), { timeout: 120_000 })

  it.effect("§2: the missing ring of a live realm is an error log naming the realm; a realm gone with its ring is RealmGone, not logged", () =>
    Effect.gen(function*() {
      const lines: Array<{ message: unknown; level: string; annotations: Record<string, unknown> }> = []
      const capture = Logger.make(({ annotations, logLevel, message }) => {
        lines.push({ message, level: logLevel.label, annotations: Object.fromEntries(HashMap.toEntries(annotations)) })
      })
      const live = yield* T.world
      yield* dropRing(live.realmId, false)
      const missing = yield* Effect.flip(SigningKeys.jwks(live.realmId)).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, capture)))
      expect([missing._tag, StoreError.isRealmGone(missing)]).toEqual(["StoreError", false])
      expect(lines.map((l) => [l.level, l.annotations.realm])).toEqual([["ERROR", live.realmId]])
      lines.length = 0
      const gone = yield* T.world
      yield* dropRing(gone.realmId, true)
      const deleted = yield* Effect.flip(SigningKeys.jwks(gone.realmId)).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, capture)))
      expect([deleted._tag, StoreError.isRealmGone(deleted)]).toEqual(["StoreError", true])
      expect(lines).toEqual([])
    }).pipe(Effect.provide(TestLive.makeMemory({ keyPolicy: policy }))), { timeout: 120_000 })
  it.effect("§2: PGlite: a live realm whose key_rings row is gone: the JWKS answers the store failure (503), the store says no ring (not the realm gone), an error log names the realm", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const found = yield* Provisioning.findRealm(realm.name)
      const sql = Option.getOrThrow(yield* TestLive.sqlClient("pglite"))
      yield* sql`DELETE FROM key_rings WHERE realm_id = ${found.id}`.pipe(Sql.withRealm(found.id), Effect.provideService(SqlClient.SqlClient, sql), Effect.orDie)
      yield* Effect.flatMap(Effect.serviceOption(ReadCache.ReadCache), Option.match({ onNone: () => Effect.void, onSome: (cache) => cache.invalidate(found.id) }))
      expect(yield* Effect.flatMap(Keys.Keys, (keys) => keys.ring(found.id))).toEqual(Option.none())
      const jwks = yield* get(`/realms/${realm.name}/jwks`)
      expect([jwks.status, jwks.headers["retry-after"], jwks.json]).toEqual([503, "1", { error: "temporarily_unavailable" }])
      const lines: Array<readonly [string, unknown]> = []
      const capture = Logger.make(({ annotations, logLevel }) => {
        lines.push([logLevel.label, Object.fromEntries(HashMap.toEntries(annotations)).realm])
      })
      const missing = yield* Effect.flip(SigningKeys.jwks(found.id)).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, capture)))
      expect([missing._tag, StoreError.isRealmGone(missing), lines]).toEqual(["StoreError", false, [["ERROR", found.id]]])
    }).pipe(Effect.provide(TestLive.make({ keyPolicy: policy }, { store: "pglite" }))), { timeout: 120_000 })

})

// Skipped only on a fresh clone without DATABASE_URL (no PostgreSQL to run against); under CI=true it never skips but
// fails without one (test/support/Postgres.ts). The same cases run on memory and PGlite above.
describe.skipIf(skipWithoutPostgres)("CONTRACT §3 key rotation under concurrency on PostgreSQL (issue 15 fuzzer finding)", () => {
  const onPostgres = () => TestLive.make({ keyPolicy: shortPolicy }, { store: "postgres" })

  it.effect(`${concurrentName}, PostgreSQL`, () => concurrentRotations.pipe(Effect.provide(onPostgres())), { timeout: 120_000 })

  it.effect("a rotation and a realm PATCH queued behind the realm's trail head: both 200 (was 503 on a deadlock, 40P01)", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const { id } = yield* Provisioning.findRealm(realm.name)
      const [rotation, patch] = yield* queuedBehindTrailHead(id, [
        admin.post(`/admin/realms/${realm.name}/keys/rotate`),
        admin.patch(`/admin/realms/${realm.name}`, { display_name: "Acme" })
      ])
      expect([rotation!.status, rotation!.json]).toEqual([200, (yield* admin.get(`/admin/realms/${realm.name}/keys`)).json])
      expect([patch!.status, patch!.json]).toEqual([
        200, { name: realm.name, issuer: realm.issuer, display_name: "Acme", dynamic_registration: false }
      ])
      const verified = yield* admin.get(`/admin/realms/${realm.name}/audit/verify`)
      expect([verified.status, verified.json]).toEqual([200, { ok: true, events: expect.any(Number) }])
    }).pipe(Effect.provide(onPostgres())), { timeout: 120_000 })

  it.effect("a rotation and the realm's deletion queued behind the realm's trail head: 200, then 204 (was 503 on a deadlock, 40P01)", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const { id } = yield* Provisioning.findRealm(realm.name)
      const owner = { authorization: `Bearer ${TestLive.adminToken}` }
      const [rotation, deletion] = yield* queuedBehindTrailHead(id, [
        admin.post(`/admin/realms/${realm.name}/keys/rotate`),
        request("DELETE", `/admin/realms/${realm.name}?confirm=${realm.name}`, { headers: owner })
      ])
      expect([rotation!.status, rotation!.json]).toEqual([200, { keys: expect.any(Array) }])
      expect([deletion!.status, deletion!.text]).toEqual([204, ""])
      const gone = yield* admin.get(`/admin/realms/${realm.name}/keys`)
      expect([gone.status, gone.json]).toEqual([404, { error: "not_found", error_description: "unknown realm" }])
    }).pipe(Effect.provide(onPostgres())), { timeout: 120_000 })

  it.effect(`${rotationAfterDeletionName}, PostgreSQL`, () =>
    rotationAfterDeletion.pipe(Effect.provide(TestLive.make({ keyPolicy: policy }, { store: "postgres" }))), { timeout: 120_000 })

  it.effect(`${keysAfterDeletionName}, PostgreSQL`, () =>
    keysAfterDeletion.pipe(Effect.provide(TestLive.make({ keyPolicy: policy }, { store: "postgres" }))), { timeout: 120_000 })

  it.effect("the realm's deletion, then a rotation, queued behind the realm's trail head: 204, then 404 unknown realm (was 500: the realm has no key ring)", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const { id } = yield* Provisioning.findRealm(realm.name)
      const owner = { authorization: `Bearer ${TestLive.adminToken}` }
      const [deletion, rotation] = yield* queuedBehindTrailHead(id, [
        request("DELETE", `/admin/realms/${realm.name}?confirm=${realm.name}`, { headers: owner }),
        admin.post(`/admin/realms/${realm.name}/keys/rotate`)
      ])
      expect([deletion!.status, deletion!.text]).toEqual([204, ""])
      expect([rotation!.status, rotation!.json]).toEqual([404, { error: "not_found", error_description: "unknown realm" }])
    }).pipe(Effect.provide(onPostgres())), { timeout: 120_000 })
})

describe("signing key policy", () => {
  it("refuses a rotation interval shorter than twice the JWKS max-age", () => {
    expect(SigningKey.checkPolicy({ ...policy, rotateEvery: Duration.minutes(19) })._tag).toBe("Left")
    expect(SigningKey.checkPolicy({ ...policy, rotateEvery: Duration.minutes(20) })._tag).toBe("Right")
  })
})
