import { describe, expect, it } from "@effect/vitest"
import { DateTime, Duration, Effect, Layer, Option, TestClock } from "effect"
import { Audit, AuditEvent, Entropy, Kek, Keys, MemoryDb, PasswordHasher, Provisioning, Realms, SigningKey, SigningKeys } from "@tessera/domain"

/** A realm listed whose ring is gone: what the pass sees when a realm is deleted between its two reads. */
const ghost = { id: "ghost-realm-id", name: "ghost", dynamicRegistration: false, createdAt: DateTime.unsafeMake(0), version: 1 }

const RealmsWithGhost = Layer.effect(Realms.Realms, Effect.gen(function*() {
  const realms = yield* Realms.Realms
  return Realms.Realms.of({ ...realms, list: Effect.map(realms.list, (list) => [ghost, ...list]) })
})).pipe(Layer.provide(Realms.layerMemory))

const worldWith = (realms: Layer.Layer<Realms.Realms, never, MemoryDb.MemoryDb>) => Layer.mergeAll(
  realms, Keys.layerMemory, Audit.layerMemory, Entropy.layer, Kek.layer(new Uint8Array(32).fill(7)),
  SigningKeys.layerPolicy(SigningKey.defaultPolicy),
  Layer.succeed(PasswordHasher.PasswordHasher, PasswordHasher.PasswordHasher.of({ hash: Effect.succeed, verify: () => Effect.succeed(false) }))
).pipe(Layer.provideMerge(MemoryDb.layer))

describe("DESIGN signing key: the scheduler's pass over every realm", () => {
  it.effect("a realm deleted between the list and its ring is skipped; every other realm still rotates when due", () =>
    Effect.gen(function*() {
      const realm = yield* Provisioning.createRealm(`t-${crypto.randomUUID().slice(0, 8)}`, "https://tessera.test")
      const before = yield* SigningKeys.list(realm.id)
      const due = yield* SigningKeys.nextChange
      expect(Option.map(due, DateTime.formatIso)).toEqual(Option.some(DateTime.formatIso(before.find((k) => SigningKey.status(k) === "next")!.activatesAt)))
      yield* TestClock.adjust(Duration.sum(SigningKey.defaultPolicy.rotateEvery, Duration.seconds(1)))
      yield* SigningKeys.rotateDue
      const after = yield* SigningKeys.list(realm.id)
      expect(after.filter((k) => SigningKey.status(k) === "active").map((k) => k.kid).sort())
        .toEqual(before.filter((k) => SigningKey.status(k) === "next").map((k) => k.kid).sort())
    }).pipe(Effect.provide(worldWith(RealmsWithGhost))))

  it.effect("a realm whose ring breaks the invariants (no active key) is logged and skipped; the others still rotate", () =>
    Effect.gen(function*() {
      const broken = yield* Provisioning.createRealm(`t-${crypto.randomUUID().slice(0, 8)}`, "https://tessera.test")
      const keys = yield* Keys.Keys
      const ring = Option.getOrThrow(yield* keys.ring(broken.id))
      yield* keys.replace(broken.id, ring.version, { ...ring, keys: ring.keys.filter((k) => SigningKey.status(k) !== "active") }, Option.none())
      const realm = yield* Provisioning.createRealm(`t-${crypto.randomUUID().slice(0, 8)}`, "https://tessera.test")
      const before = yield* SigningKeys.list(realm.id)
      yield* TestClock.adjust(Duration.sum(SigningKey.defaultPolicy.rotateEvery, Duration.seconds(1)))
      yield* SigningKeys.rotateDue
      const after = yield* SigningKeys.list(realm.id)
      expect(after.filter((k) => SigningKey.status(k) === "active").map((k) => k.kid).sort())
        .toEqual(before.filter((k) => SigningKey.status(k) === "next").map((k) => k.kid).sort())
    }).pipe(Effect.provide(worldWith(Realms.layerMemory))))
})

/** The realm deleted the moment the rotation's write commits: what a deletion queued behind that write does next. */
const KeysThenDeletion = Layer.effect(Keys.Keys, Effect.gen(function*() {
  const keys = yield* Keys.Keys
  const realms = yield* Realms.Realms
  return Keys.Keys.of({
    ...keys,
    replace: (realmId, expectedVersion, ring, event) =>
      Effect.tap(keys.replace(realmId, expectedVersion, ring, event), () =>
        Effect.flatMap(realms.list, (list) => {
          const realm = list.find((r) => r.id === realmId)!
          return realms.delete(realm, realm.version, () => Option.getOrThrow(event)).pipe(Effect.orDie)
        }))
  })
})).pipe(Layer.provide(Layer.merge(Keys.layerMemory, Realms.layerMemory)))

describe("CONTRACT §3 POST /admin/realms/{realm}/keys/rotate", () => {
  it.effect("answers the keys its own write stored, even when the realm is deleted right after that write commits", () =>
    Effect.gen(function*() {
      const realm = yield* Provisioning.createRealm(`t-${crypto.randomUUID().slice(0, 8)}`, "https://tessera.test")
      const before = yield* SigningKeys.list(realm.id)
      const published = yield* SigningKeys.rotate(realm, AuditEvent.scheduler, "requested by the owner")
      expect(published.filter((k) => SigningKey.status(k) === "active").map((k) => k.kid).sort())
        .toEqual(before.filter((k) => SigningKey.status(k) === "next").map((k) => k.kid).sort())
      expect(yield* Effect.flip(SigningKeys.list(realm.id))).toMatchObject({ _tag: "StoreError" })
    }).pipe(Effect.provide(Layer.mergeAll(
      KeysThenDeletion, Realms.layerMemory, Audit.layerMemory, Entropy.layer, Kek.layer(new Uint8Array(32).fill(7)),
      SigningKeys.layerPolicy(SigningKey.defaultPolicy),
      Layer.succeed(PasswordHasher.PasswordHasher, PasswordHasher.PasswordHasher.of({ hash: Effect.succeed, verify: () => Effect.succeed(false) }))
    ).pipe(Layer.provideMerge(MemoryDb.layer)))))
})
