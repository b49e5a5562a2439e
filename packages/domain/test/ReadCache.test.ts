import { describe, expect, it } from "@effect/vitest"
import { DateTime, Deferred, Effect, Fiber, Layer, Option, Ref, TestClock } from "effect"
import { AuditEvent, Clients, Entropy, Keys, MemoryDb, Realms, ReadCache, Resources, SigningKey } from "@tessera/domain"
import type { Client, Realm, Resource } from "@tessera/domain"

const counted = (count: Ref.Ref<number>, value: Option.Option<string> = Option.some("v")) =>
  Effect.as(Ref.update(count, (n) => n + 1), value)

/** `(scope, name)`: the values these tests keep. */
const entry = ReadCache.key<Option.Option<string>>("test")

const cacheOf = (options: { readonly ttl?: number; readonly maxEntries?: number } = {}) =>
  ReadCache.make({ ttl: `${options.ttl ?? 1000} millis`, maxEntries: options.maxEntries ?? 100 })

describe("ReadCache (ADR 0015)", () => {
  it.effect("a kept value is read once while fresh, and read again once `ttl` has passed", () =>
    Effect.gen(function*() {
      const cache = yield* cacheOf()
      const loads = yield* Ref.make(0)
      expect(yield* cache.get(entry("r", "k"), counted(loads))).toEqual(Option.some("v"))
      expect(yield* cache.get(entry("r", "k"), counted(loads))).toEqual(Option.some("v"))
      expect(yield* Ref.get(loads)).toBe(1)
      yield* TestClock.adjust("999 millis")
      yield* cache.get(entry("r", "k"), counted(loads))
      expect(yield* Ref.get(loads)).toBe(1)
      yield* TestClock.adjust("1 millis")
      yield* cache.get(entry("r", "k"), counted(loads))
      expect(yield* Ref.get(loads)).toBe(2)
    }))

  it.effect("a value `keep` refuses (a miss) is read every time", () =>
    Effect.gen(function*() {
      const cache = yield* cacheOf()
      const loads = yield* Ref.make(0)
      yield* cache.get(entry("r", "k"), counted(loads, Option.none()), Option.isSome)
      yield* cache.get(entry("r", "k"), counted(loads, Option.none()), Option.isSome)
      expect(yield* Ref.get(loads)).toBe(2)
    }))

  it.effect("invalidate forgets one scope's values and no other's", () =>
    Effect.gen(function*() {
      const cache = yield* cacheOf()
      const loads = yield* Ref.make(0)
      yield* cache.get(entry("a", "k"), counted(loads))
      yield* cache.get(entry("b", "k"), counted(loads))
      yield* cache.invalidate("a")
      yield* cache.get(entry("a", "k"), counted(loads))
      yield* cache.get(entry("b", "k"), counted(loads))
      expect(yield* Ref.get(loads)).toBe(3)
    }))

  it.effect("a load that overlapped an invalidation of its scope is answered but not kept", () =>
    Effect.gen(function*() {
      const cache = yield* cacheOf()
      const loads = yield* Ref.make(0)
      const started = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const slow = Deferred.succeed(started, undefined).pipe(Effect.zipRight(Deferred.await(release)), Effect.zipRight(counted(loads)))
      const fiber = yield* Effect.fork(cache.get(entry("r", "k"), slow))
      yield* Deferred.await(started)
      yield* cache.invalidate("r")
      yield* Deferred.succeed(release, undefined)
      expect(yield* Fiber.join(fiber)).toEqual(Option.some("v"))
      yield* cache.get(entry("r", "k"), counted(loads))
      expect(yield* Ref.get(loads)).toBe(2)
    }))

  it.effect("concurrent misses of one key share one load, and all get its value", () =>
    Effect.gen(function*() {
      const cache = yield* cacheOf()
      const loads = yield* Ref.make(0)
      const release = yield* Deferred.make<void>()
      const slow = Effect.zipRight(Deferred.await(release), counted(loads))
      const fibers = yield* Effect.forEach([1, 2, 3, 4, 5], () => Effect.fork(cache.get(entry("r", "k"), slow)))
      yield* Effect.yieldNow()
      yield* Deferred.succeed(release, undefined)
      expect(yield* Effect.forEach(fibers, Fiber.join)).toEqual(Array.from({ length: 5 }, () => Option.some("v")))
      expect(yield* Ref.get(loads)).toBe(1)
    }))

  it.effect("a shared load that fails fails its waiters once; the next miss loads again", () =>
    Effect.gen(function*() {
      const cache = yield* cacheOf()
      const loads = yield* Ref.make(0)
      const release = yield* Deferred.make<void>()
      const failing = Deferred.await(release).pipe(Effect.zipRight(Ref.update(loads, (n) => n + 1)), Effect.zipRight(Effect.fail("down" as const)))
      const fibers = yield* Effect.forEach([1, 2, 3], () => Effect.fork(Effect.flip(cache.get(entry("r", "k"), failing))))
      yield* Effect.yieldNow()
      yield* Deferred.succeed(release, undefined)
      expect(yield* Effect.forEach(fibers, Fiber.join)).toEqual(["down", "down", "down"])
      expect(yield* Ref.get(loads)).toBe(1)
      expect(yield* cache.get(entry("r", "k"), counted(loads))).toEqual(Option.some("v"))
      expect(yield* Ref.get(loads)).toBe(2)
    }))

  it.effect("when the fiber running a shared load is interrupted, its waiters load for themselves", () =>
    Effect.gen(function*() {
      const cache = yield* cacheOf()
      const loads = yield* Ref.make(0)
      const started = yield* Deferred.make<void>()
      const first = yield* Effect.fork(cache.get(entry("r", "k"), Effect.zipRight(Deferred.succeed(started, undefined), Effect.never)))
      yield* Deferred.await(started)
      const waiter = yield* Effect.fork(cache.get(entry("r", "k"), counted(loads)))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(first)
      expect(yield* Fiber.join(waiter)).toEqual(Option.some("v"))
      expect(yield* Ref.get(loads)).toBe(1)
    }))

  it.effect("a miss after an invalidation does not wait for a load that started before it", () =>
    Effect.gen(function*() {
      const cache = yield* cacheOf()
      const loads = yield* Ref.make(0)
      const started = yield* Deferred.make<void>()
      const stale = yield* Effect.fork(cache.get(entry("r", "k"), Effect.zipRight(Deferred.succeed(started, undefined), Effect.never)))
      yield* Deferred.await(started)
      yield* cache.invalidate("r")
      expect(yield* cache.get(entry("r", "k"), counted(loads, Option.some("fresh")))).toEqual(Option.some("fresh"))
      yield* Fiber.interrupt(stale)
    }))

  it.effect("peek reads, synchronously, the fresh value `get` kept under the same key, and nothing else", () =>
    Effect.gen(function*() {
      const cache = yield* cacheOf()
      expect(cache.peek(entry("r", "k"))).toBeUndefined()
      yield* cache.get(entry("r", "k"), Effect.succeed(Option.some("v")))
      expect(cache.peek(entry("r", "k"))).toEqual(Option.some("v"))
      expect(cache.peek(entry("r", "other"))).toBeUndefined()
      expect(cache.peek(entry("s", "k"))).toBeUndefined()
      // another declaration's key with the same parts is another value
      expect(cache.peek(ReadCache.key<Option.Option<string>>("other")("r", "k"))).toBeUndefined()
      yield* TestClock.adjust("1000 millis")
      expect(cache.peek(entry("r", "k"))).toBeUndefined()
    }))

  it.effect("ADR 0049: a key's value type is declared once; a get, a peek or a key of another type does not compile", () =>
    Effect.gen(function*() {
      const cache = yield* cacheOf()
      // @ts-expect-error a load of another type than the key's declaration
      yield* cache.get(entry("r", "k"), Effect.succeed(42))
      // @ts-expect-error a load of a wider type than the key's declaration
      yield* cache.get(entry("r", "k"), Effect.succeed<Option.Option<string> | undefined>(undefined))
      // @ts-expect-error a value read as another type than the key's declaration
      const asNumber: number | undefined = cache.peek(entry("r", "k"))
      // @ts-expect-error a key is built by a declaration, never written as a string
      const byString = cache.peek("client:c1")
      // @ts-expect-error a realm's client is kept as an Option (a miss is kept as none): not a bare Client
      const bare: Client.Client | undefined = cache.peek(ReadCache.clientById("r", "c1"))
      // @ts-expect-error the ring's declaration holds an Option of the ring, not the resources
      const resources: ReadonlyArray<Resource.Resource> | undefined = cache.peek(ReadCache.keyRing("r"))
      const keyOfOther: ReadCache.Key<Option.Option<string>> = entry("r", "k")
      // @ts-expect-error keys are invariant in their value: a key of Option<string> is not a key of Option<unknown>
      const widened: ReadCache.Key<Option.Option<unknown>> = keyOfOther
      // what the declarations give compiles; at run time the lines above read what was kept (a key names its scope)
      const client: Option.Option<Client.Client> | undefined = cache.peek(ReadCache.clientById("r", "c1"))
      expect([asNumber, byString, bare, resources, client]).toEqual([42, undefined, undefined, undefined, undefined])
      expect(widened).toEqual({ scope: "r", key: "test:k" })
    }))

  it.effect("past `maxEntries` every value is dropped, so unbounded keys cannot grow memory", () =>
    Effect.gen(function*() {
      const cache = yield* cacheOf({ maxEntries: 2 })
      const loads = yield* Ref.make(0)
      yield* cache.get(entry("r", "1"), counted(loads))
      yield* cache.get(entry("r", "2"), counted(loads))
      yield* cache.get(entry("r", "3"), counted(loads))
      yield* cache.get(entry("r", "1"), counted(loads))
      expect(yield* Ref.get(loads)).toBe(4)
    }))
})

// --- the ports through the cache ---

const at = DateTime.unsafeMake("2026-11-29T12:00:00Z")
const sealed: SigningKey.Sealed = { iv: "aXY", ciphertext: "Y2lwaGVy" }
const key = (kid: string, alg: SigningKey.Alg, status: "active" | "next"): SigningKey.SigningKey =>
  SigningKey.SigningKey[status === "active" ? "Active" : "Next"]({ kid, alg, publicJwk: { kty: "EC", kid }, sealedPrivateJwk: sealed, createdAt: at, activatesAt: at })
const ring = (version: number, suffix: string): SigningKey.Ring => ({
  version,
  keys: [key(`a${suffix}`, "ES256", "active"), key(`n${suffix}`, "ES256", "next"), key(`b${suffix}`, "RS256", "active"), key(`m${suffix}`, "RS256", "next")]
})
const event = (realm: Realm.Realm, type: AuditEvent.EventType) =>
  Effect.map(Entropy.uuid, (id): AuditEvent.AuditEvent => ({
    id, at, realmId: realm.id, realm: realm.name, type, actor: AuditEvent.owner, result: "success"
  }))

const Store = Layer.mergeAll(Realms.layerMemory, Clients.layerMemory, Resources.layerMemory, Keys.layerMemory).pipe(
  Layer.provideMerge(MemoryDb.layer)
)

/** The ports as one node sees them: its own cache over the shared store. */
const node = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.context<Realms.Realms | Clients.Clients | Resources.Resources | Keys.Keys>(), (store) =>
    effect.pipe(Effect.provide(ReadCache.layerPorts.pipe(Layer.provideMerge(ReadCache.layer), Layer.provide(Layer.succeedContext(store))))))

const newRealm = Effect.gen(function*() {
  const id = yield* Entropy.uuid
  const realm: Realm.Realm = { id, name: `r-${id.slice(0, 8)}`, dynamicRegistration: false, createdAt: at, version: 1 }
  yield* Effect.flatMap(Realms.Realms, (realms) => Effect.flatMap(event(realm, "realm.created"), (e) => realms.create(realm, ring(1, "1"), e)))
  return realm
})

const resource = (realm: Realm.Realm, uri: string) => ({ realmId: realm.id, id: uri, version: 1, uri, scopes: ["read"], stepUpScopes: [], createdAt: at })

describe("ReadCache.layerPorts: the ports through the cache", () => {
  it.effect("a write through this node's ports is seen by its next read at once (resources, key ring, realm settings)", () =>
    node(Effect.gen(function*() {
      const realm = yield* newRealm
      const resources = yield* Resources.Resources
      const keys = yield* Keys.Keys
      const realms = yield* Realms.Realms
      expect(yield* resources.list(realm.id)).toEqual([])
      yield* resources.insert(resource(realm, "https://api.example/"), yield* event(realm, "resource.created"))
      expect((yield* resources.list(realm.id)).map((r) => r.uri)).toEqual(["https://api.example/"])
      expect(Option.map(yield* keys.ring(realm.id), (r) => r.version)).toEqual(Option.some(1))
      yield* keys.replace(realm.id, 1, ring(2, "2"), Option.none())
      expect(Option.map(yield* keys.ring(realm.id), (r) => r.version)).toEqual(Option.some(2))
      expect(Option.map(yield* realms.findByName(realm.name), (r) => r.dynamicRegistration)).toEqual(Option.some(false))
      yield* realms.update({ ...realm, dynamicRegistration: true, version: 2 }, 1, yield* event(realm, "realm.updated"))
      expect(Option.map(yield* realms.findByName(realm.name), (r) => r.dynamicRegistration)).toEqual(Option.some(true))
    })).pipe(Effect.provide(Layer.merge(Store, Entropy.layer))))

  it.effect("another node's write is seen within `ttl`; a lost compare-and-set forgets the stale ring at once", () =>
    Effect.gen(function*() {
      const realm = yield* newRealm
      const other = yield* Keys.Keys // the store itself: another node writing
      const seen = yield* node(Effect.gen(function*() {
        const keys = yield* Keys.Keys
        const version = () => Effect.map(keys.ring(realm.id), Option.map((r) => r.version))
        const before = yield* version()
        yield* other.replace(realm.id, 1, ring(2, "2"), Option.none())
        const stale = yield* version()
        // this node rotates from its stale ring: the compare-and-set fails, and the ring is read afresh
        const lost = yield* Effect.flip(keys.replace(realm.id, 1, ring(3, "3"), Option.none()))
        const afterConflict = yield* version()
        yield* other.replace(realm.id, 2, ring(3, "3"), Option.none())
        const staleAgain = yield* version()
        yield* TestClock.adjust(ReadCache.ttl)
        const afterTtl = yield* version()
        return { before, stale, lost: lost._tag, afterConflict, staleAgain, afterTtl }
      }))
      expect(seen).toEqual({
        before: Option.some(1),
        stale: Option.some(1),
        lost: "KeyRingChanged",
        afterConflict: Option.some(2),
        staleAgain: Option.some(2),
        afterTtl: Option.some(3)
      })
    }).pipe(Effect.provide(Layer.merge(Store, Entropy.layer))))
})
