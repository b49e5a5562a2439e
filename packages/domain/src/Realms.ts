/**
 * The realms port: a realm is created together with its first key ring and its `realm.created` events (in its own
 * trail and in the owner trail); its settings change by compare-and-set on `version`; deleting it drops every row of
 * the realm together with its `realm.deleted` event in the owner trail (ADR 0030).
 */
import { Context, Effect, HashMap, Layer, Option } from "effect"
import type { AuditEvent } from "./AuditEvent.js"
import type { Client } from "./Client.js"
import { AlreadyExists, NotFound, Stale } from "./Conflict.js"
import * as MemoryDb from "./MemoryDb.js"
import * as Page from "./Page.js"
import type { Realm } from "./Realm.js"
import type { Resource } from "./Resource.js"
import type { Ring } from "./SigningKey.js"
import type { StoreError } from "./StoreError.js"

/** How many rows each table lost when a realm was deleted (tables that lost none are left out). */
export type Deleted = Readonly<Record<string, number>>

/** The rows every realm is born with (ADR 0035: the admin resource and `tessera-cli`), each with its event. */
export interface BuiltIns {
  readonly resource: Resource
  readonly resourceEvent: AuditEvent
  readonly client: Client
  readonly clientEvent: AuditEvent
}

export class Realms extends Context.Tag("@tessera/domain/Realms")<Realms, {
  /**
   * Creates the realm with its ring, its event, (when given) the owner trail's event and its built-in rows with their
   * events, or nothing at all.
   */
  readonly create: (
    realm: Realm,
    ring: Ring,
    event: AuditEvent,
    ownerEvent?: AuditEvent,
    builtIns?: BuiltIns
  ) => Effect.Effect<void, AlreadyExists | StoreError>
  readonly findByName: (name: string) => Effect.Effect<Option.Option<Realm>, StoreError>
  /** Every realm (the key scheduler's walk). */
  readonly list: Effect.Effect<ReadonlyArray<Realm>, StoreError>
  /** A page of realms in name order (CONTRACT §3 lists): at most `limit + 1` with a name after `window.after`. */
  readonly page: (window: Page.Window) => Effect.Effect<ReadonlyArray<Realm>, StoreError>
  /**
   * Stores `realm` (its `version` already the next one) if the stored realm is still at `expectedVersion`, with its
   * event; `Stale` when it moved on, `NotFound` when it is gone.
   */
  readonly update: (realm: Realm, expectedVersion: number, event: AuditEvent) => Effect.Effect<void, NotFound | Stale | StoreError>
  /**
   * Deletes every row of the realm if it is still at `expectedVersion`, and appends the event `describe` makes of what
   * was deleted (to the owner trail), all at once or not at all.
   */
  readonly delete: (
    realm: Realm,
    expectedVersion: number,
    describe: (deleted: Deleted) => AuditEvent
  ) => Effect.Effect<Deleted, NotFound | Stale | StoreError>
}>() {}

const byName = (realm: Realm) => realm.name

/** The realm stored under `id` in a state, if it is at `expectedVersion`. */
const current = (state: MemoryDb.State, id: string, expectedVersion: number): Effect.Effect<Realm, NotFound | Stale> =>
  Option.match(HashMap.get(state.realms, id), {
    onNone: () => Effect.fail(new NotFound({ entity: "realm" })),
    onSome: (stored) => stored.version === expectedVersion ? Effect.succeed(stored) : Effect.fail(new Stale({ entity: "realm" }))
  })

export const layerMemory = Layer.effect(Realms, Effect.map(MemoryDb.MemoryDb, (db) => Realms.of({
  create: (realm, ring, event, ownerEvent, builtIns) =>
    MemoryDb.write(db, (state) =>
      HashMap.has(state.realmIdsByName, realm.name)
        ? Effect.fail(new AlreadyExists({ entity: "realm" }))
        : Effect.gen(function*() {
          let next = yield* MemoryDb.appendEvent({
            ...state,
            realms: HashMap.set(state.realms, realm.id, realm),
            realmIdsByName: HashMap.set(state.realmIdsByName, realm.name, realm.id),
            keyRings: HashMap.set(state.keyRings, realm.id, ring)
          }, event)
          if (builtIns !== undefined) {
            const { client, resource } = builtIns
            next = yield* MemoryDb.appendEvent({
              ...next,
              resources: HashMap.set(next.resources, MemoryDb.key(realm.id, resource.uri), resource)
            }, builtIns.resourceEvent)
            next = yield* MemoryDb.appendEvent({
              ...next,
              clients: HashMap.set(next.clients, MemoryDb.key(realm.id, client.clientId), client)
            }, builtIns.clientEvent)
          }
          return [undefined, yield* MemoryDb.withEvent(next, ownerEvent)] as const
        })),
  findByName: (name) =>
    MemoryDb.read(db, (state) => HashMap.get(state.realmIdsByName, name).pipe(Option.flatMap((id) => HashMap.get(state.realms, id)))),
  list: MemoryDb.read(db, (state) => Array.from(HashMap.values(state.realms))),
  page: (window) => MemoryDb.read(db, (state) => Page.slice(HashMap.values(state.realms), window, byName)),
  update: (realm, expectedVersion, event) =>
    MemoryDb.write(db, (state) =>
      current(state, realm.id, expectedVersion).pipe(
        Effect.zipRight(MemoryDb.appendEvent({ ...state, realms: HashMap.set(state.realms, realm.id, realm) }, event)),
        Effect.map((next) => [undefined, next] as const)
      )),
  delete: (realm, expectedVersion, describe) =>
    MemoryDb.write(db, (state) =>
      current(state, realm.id, expectedVersion).pipe(
        Effect.flatMap(() => {
          const [deleted, next] = MemoryDb.dropRealm(state, realm.id)
          return Effect.map(MemoryDb.appendEvent(next, describe(deleted)), (after) => [deleted, after] as const)
        })
      ))
})))
