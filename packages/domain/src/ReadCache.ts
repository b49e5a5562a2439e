/**
 * The hot path's reads of rarely written realm data (a realm by name, its clients, resources and key ring), kept in
 * memory for at most `ttl` (ADR 0015). Every write through this process's ports forgets the realm's values at once;
 * a write by another node sharing the database is seen within `ttl`.
 */
import { Context, Deferred, Duration, Effect, Exit, FiberId, Layer, Option } from "effect"
import type { Types } from "effect"
import type { Client } from "./Client.js"
import { Clients } from "./Clients.js"
import { Keys } from "./Keys.js"
import type { Realm } from "./Realm.js"
import * as RealmPin from "./RealmPin.js"
import { Realms } from "./Realms.js"
import type { Resource } from "./Resource.js"
import { Resources } from "./Resources.js"
import type { Ring } from "./SigningKey.js"

/** How stale a value read here may be when another node changed it (ADR 0015). */
export const ttl = Duration.seconds(1)

/** Past this many values the whole cache is dropped: unbounded input (client ids) must not grow memory. */
export const maxEntries = 10_000

/** The scope of realm names: a realm's own scope is its id. */
export const directory = "directory"

declare const ValueType: unique symbol

/**
 * Where one value is kept (its scope: a realm id, or `directory`; its key within the scope) and the type of that value
 * (ADR 0049). A `Key` is only built by a declaration (`key`), one per kind of value, which every reader and writer of
 * that value calls: a `get` whose load yields another type, or a `peek` read as another type, does not compile.
 */
export interface Key<in out V> {
  readonly scope: string
  readonly key: string
  readonly [ValueType]: Types.Invariant<V>
}

/**
 * Declares a kind of value: its type `V`, and `kind`, the first part of every key it builds (one declaration per kind,
 * as the ones below). The declaration builds the key of one value from its scope and, if there are many values of
 * the kind in a scope, the value's own id. Keys are built on the hot path for every read: no rest parameters, no join.
 */
export const key = <V>(kind: string) => (scope: string, id?: string): Key<V> =>
  ({ scope, key: id === undefined ? kind : `${kind}:${id}` }) as unknown as Key<V>

const realmKey = key<Option.Option<Realm>>("realm")

/** `(name)`: a realm by its name (`Realms.findByName`), in the directory. */
export const realmByName = (name: string) => realmKey(directory, name)

/** `(realmId, clientId)`: a realm's client (`Clients.find`). */
export const clientById = key<Option.Option<Client>>("client")

/** `(realmId, uri)`: a realm's resource (`Resources.find`). */
export const resourceByUri = key<Option.Option<Resource>>("resource")

/** `(realmId)`: every resource of a realm (`Resources.list`). */
export const resourceList = key<ReadonlyArray<Resource>>("resources")

/** `(realmId)`: a realm's key ring (`Keys.ring`). */
export const keyRing = key<Option.Option<Ring>>("ring")

export class ReadCache extends Context.Tag("@tessera/domain/ReadCache")<ReadCache, {
  /**
   * `load`'s value for `key`, from memory while fresh. Only values `keep` accepts are kept (a miss is read again next
   * time). A load that overlapped an invalidation of its scope is not kept. Concurrent misses of one key share one
   * load: the first runs it, the others wait for its outcome (and run their own if it was interrupted). `load` is only
   * run, and so only needs to be built lazily, on a miss.
   */
  readonly get: <V, E, R>(key: Key<V>, load: Effect.Effect<V, E, R>, keep?: (value: V) => boolean) => Effect.Effect<V, E, R>
  /** Forgets every value of `scope` (a realm id, or `directory`). */
  readonly invalidate: (scope: string) => Effect.Effect<void>
  /**
   * The fresh value for `key`, if there is one, synchronously (for code outside any fiber, such as a Node request
   * listener), on the same clock as `get`.
   */
  readonly peek: <V>(key: Key<V>) => V | undefined
}>() {}

/** A load in flight; `undefined` tells its waiters that it was interrupted, so each loads for itself. */
type Loading = Deferred.Deferred<Exit.Exit<unknown, unknown> | undefined>

interface Scope {
  generation: number
  readonly values: Map<string, { readonly value: unknown; readonly until: number }>
  readonly loading: Map<string, Loading>
}

export const make = (options: { readonly ttl: Duration.DurationInput; readonly maxEntries: number }) =>
  Effect.map(Effect.clock, (clock) => {
    const ttlMillis = Duration.toMillis(options.ttl)
    const scopes = new Map<string, Scope>()
    let size = 0
    const scopeOf = (name: string) => {
      let scope = scopes.get(name)
      if (scope === undefined) {
        scope = { generation: 0, values: new Map(), loading: new Map() }
        scopes.set(name, scope)
      }
      return scope
    }
    const cached = function cached<A, E, R>(name: string, key: string, load: Effect.Effect<A, E, R>, keep: (value: A) => boolean): Effect.Effect<A, E, R> {
      return Effect.suspend(() => {
        const now = clock.unsafeCurrentTimeMillis()
        const scope = scopeOf(name)
        const hit = scope.values.get(key)
        if (hit !== undefined && hit.until > now) return Effect.succeed(hit.value as A)
        const pending = scope.loading.get(key)
        if (pending !== undefined) {
          return Effect.flatMap(Deferred.await(pending), (exit) =>
            exit === undefined ? cached(name, key, load, keep) : (exit as Exit.Exit<A, E>))
        }
        const generation = scope.generation
        const loading: Loading = Deferred.unsafeMake(FiberId.none)
        scope.loading.set(key, loading)
        const settle = (exit: Exit.Exit<A, E> | undefined) =>
          Effect.sync(() => {
            if (scope.loading.get(key) === loading) scope.loading.delete(key)
            Deferred.unsafeDone(loading, Exit.succeed(exit))
          })
        const store = (value: A) => {
          if (scope.generation !== generation || scopes.get(name) !== scope || !keep(value)) return
          if (size >= options.maxEntries) {
            for (const s of scopes.values()) s.generation++
            scopes.clear()
            size = 0
            return
          }
          if (!scope.values.has(key)) size++
          scope.values.set(key, { value, until: now + ttlMillis })
        }
        return Effect.exit(load).pipe(
          Effect.onInterrupt(() => settle(undefined)),
          Effect.flatMap((exit) => {
            if (Exit.isSuccess(exit)) store(exit.value)
            return Effect.zipRight(settle(exit), exit)
          })
        )
      })
    }
    return ReadCache.of({
      get: function get<V, E, R>({ key, scope: name }: Key<V>, load: Effect.Effect<V, E, R>, keep: (value: V) => boolean = () => true): Effect.Effect<V, E, R> {
        // issue 14: a fiber pinned to a realm gets nothing from the cache the store would refuse it: another realm's
        // scope is the pin's defect; the directory is read from the store, where it is the pinned realm alone
        return Effect.flatMap(RealmPin.get, (pin) =>
          Option.isNone(pin)
            ? cached(name, key, load, keep)
            : name === directory
            ? load
            : Effect.zipRight(RealmPin.check(name), cached(name, key, load, keep)))
      },
      peek: <V>({ key, scope: name }: Key<V>) => {
        const hit = scopes.get(name)?.values.get(key)
        // the value was kept under this key by a `get` of the same declaration, so of type V
        return hit !== undefined && hit.until > clock.unsafeCurrentTimeMillis() ? hit.value as V : undefined
      },
      invalidate: (name) =>
        Effect.sync(() => {
          const scope = scopes.get(name)
          if (scope === undefined) return
          scope.generation++
          size -= scope.values.size
          scope.values.clear()
          // a load in flight read what the write changed: later misses must not wait for it
          scope.loading.clear()
        })
    })
  })

export const layer = Layer.effect(ReadCache, make({ ttl, maxEntries }))

/**
 * The four ports with their reads through the cache and their writes forgetting what they change (after the write,
 * whether it succeeded or not: a lost compare-and-set means the cached ring is stale). Provide it over the store.
 */
export const layerPorts = Layer.effectContext(Effect.gen(function*() {
  const cache = yield* ReadCache
  const realms = yield* Realms
  const clients = yield* Clients
  const resources = yield* Resources
  const keys = yield* Keys
  const forget = (realmId: string) => cache.invalidate(realmId)
  // a realm's settings are read by name: its write forgets the names too
  const forgetRealm = (realmId: string) => Effect.zipRight(cache.invalidate(directory), forget(realmId))
  return Context.make(Realms, Realms.of({
    ...realms,
    create: (realm, ring, event, ownerEvent, builtIns) =>
      realms.create(realm, ring, event, ownerEvent, builtIns).pipe(Effect.ensuring(forgetRealm(realm.id))),
    findByName: (name) => cache.get(realmByName(name), Effect.suspend(() => realms.findByName(name)), Option.isSome),
    update: (realm, expectedVersion, event) =>
      realms.update(realm, expectedVersion, event).pipe(Effect.ensuring(forgetRealm(realm.id))),
    // ADR 0030: the deleted realm's issuer is 404 on this node at once (its name, and everything cached of it, forgotten)
    delete: (realm, expectedVersion, describe) =>
      realms.delete(realm, expectedVersion, describe).pipe(Effect.ensuring(forgetRealm(realm.id)))
  })).pipe(
    Context.add(Clients, Clients.of({
      ...clients,
      insert: (client, event) => clients.insert(client, event).pipe(Effect.ensuring(forget(client.realmId))),
      update: (client, expectedVersion, event) =>
        clients.update(client, expectedVersion, event).pipe(Effect.ensuring(forget(client.realmId))),
      remove: (realmId, clientId, expectedVersion, at, event) =>
        clients.remove(realmId, clientId, expectedVersion, at, event).pipe(Effect.ensuring(forget(realmId))),
      find: (realmId, clientId) => cache.get(clientById(realmId, clientId), Effect.suspend(() => clients.find(realmId, clientId)), Option.isSome)
    })),
    Context.add(Resources, Resources.of({
      ...resources,
      insert: (resource, event) => resources.insert(resource, event).pipe(Effect.ensuring(forget(resource.realmId))),
      update: (next, expectedVersion, event) =>
        resources.update(next, expectedVersion, event).pipe(Effect.ensuring(forget(next.realmId))),
      // a deletion revokes grants too, which nothing here caches; the realm's resources are forgotten
      remove: (resource, expectedVersion, at, event) =>
        resources.remove(resource, expectedVersion, at, event).pipe(Effect.ensuring(forget(resource.realmId))),
      find: (realmId, uri) => cache.get(resourceByUri(realmId, uri), Effect.suspend(() => resources.find(realmId, uri)), Option.isSome),
      list: (realmId) => cache.get(resourceList(realmId), Effect.suspend(() => resources.list(realmId)))
    })),
    Context.add(Keys, Keys.of({
      ring: (realmId) => cache.get(keyRing(realmId), Effect.suspend(() => keys.ring(realmId)), Option.isSome),
      replace: (realmId, expectedVersion, ring, event) =>
        keys.replace(realmId, expectedVersion, ring, event).pipe(Effect.ensuring(forget(realmId)))
    }))
  )
}))
