/** The realms port: a realm is created together with its first key ring and its `realm.created` event. */
import { Context, Effect, HashMap, Layer, Option } from "effect"
import type { AuditEvent } from "./AuditEvent.js"
import { AlreadyExists } from "./Conflict.js"
import * as MemoryDb from "./MemoryDb.js"
import type { Realm } from "./Realm.js"
import type { Ring } from "./SigningKey.js"
import type { StoreError } from "./StoreError.js"

export class Realms extends Context.Tag("@tessera/domain/Realms")<Realms, {
  readonly create: (realm: Realm, ring: Ring, event: AuditEvent) => Effect.Effect<void, AlreadyExists | StoreError>
  readonly findByName: (name: string) => Effect.Effect<Option.Option<Realm>, StoreError>
  readonly list: Effect.Effect<ReadonlyArray<Realm>, StoreError>
  readonly update: (realm: Realm, event: AuditEvent) => Effect.Effect<void, StoreError>
}>() {}

export const layerMemory = Layer.effect(Realms, Effect.map(MemoryDb.MemoryDb, (db) => Realms.of({
  create: (realm, ring, event) =>
    MemoryDb.write(db, (state) =>
      HashMap.has(state.realmIdsByName, realm.name)
        ? Effect.fail(new AlreadyExists({ entity: "realm" }))
        : Effect.map(MemoryDb.appendEvent({
          ...state,
          realms: HashMap.set(state.realms, realm.id, realm),
          realmIdsByName: HashMap.set(state.realmIdsByName, realm.name, realm.id),
          keyRings: HashMap.set(state.keyRings, realm.id, ring)
        }, event), (next) => [undefined, next] as const)),
  findByName: (name) =>
    MemoryDb.read(db, (state) => HashMap.get(state.realmIdsByName, name).pipe(Option.flatMap((id) => HashMap.get(state.realms, id)))),
  list: MemoryDb.read(db, (state) => Array.from(HashMap.values(state.realms))),
  update: (realm, event) =>
    MemoryDb.write(db, (state) =>
      Effect.map(MemoryDb.appendEvent({ ...state, realms: HashMap.set(state.realms, realm.id, realm) }, event), (next) => [undefined, next] as const))
})))
