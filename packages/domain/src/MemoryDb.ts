/**
 * The in-memory database behind every `layerMemory`: one Ref holding every table, so that a change and its
 * audit event are one atomic `Ref.modify`, as a Postgres transaction makes them.
 */
import { Chunk, Context, Effect, HashMap, Layer, Ref } from "effect"
import type { AuditEvent, Stored } from "./AuditEvent.js"
import { AlreadyExists } from "./Conflict.js"
import type { Client } from "./Client.js"
import type { Realm } from "./Realm.js"
import type { Resource } from "./Resource.js"
import type { Ring } from "./SigningKey.js"
import type { TrustedIssuer } from "./TrustedIssuer.js"
import type { User } from "./User.js"

export interface State {
  readonly realms: HashMap.HashMap<string, Realm>
  readonly realmIdsByName: HashMap.HashMap<string, string>
  readonly clients: HashMap.HashMap<string, Client>
  readonly users: HashMap.HashMap<string, User>
  readonly usernames: HashMap.HashMap<string, string>
  readonly resources: HashMap.HashMap<string, Resource>
  readonly trustedIssuers: HashMap.HashMap<string, TrustedIssuer>
  readonly keyRings: HashMap.HashMap<string, Ring>
  readonly audit: HashMap.HashMap<string, Chunk.Chunk<Stored>>
}

export const empty: State = {
  realms: HashMap.empty(),
  realmIdsByName: HashMap.empty(),
  clients: HashMap.empty(),
  users: HashMap.empty(),
  usernames: HashMap.empty(),
  resources: HashMap.empty(),
  trustedIssuers: HashMap.empty(),
  keyRings: HashMap.empty(),
  audit: HashMap.empty()
}

export class MemoryDb extends Context.Tag("@tessera/domain/MemoryDb")<MemoryDb, Ref.Ref<State>>() {}

export const layer = Layer.effect(MemoryDb, Ref.make(empty))

/** Realm-scoped key: every memory table is keyed by realm first, as every Postgres key leads with realm_id. */
export const key = (realmId: string, id: string) => `${realmId}\u0000${id}`

/** Appends an event to its realm's trail inside a state transition. */
export const appendEvent = (state: State, event: AuditEvent): State => {
  const trail = HashMap.get(state.audit, event.realmId).pipe((o) => (o._tag === "Some" ? o.value : Chunk.empty<Stored>()))
  return { ...state, audit: HashMap.set(state.audit, event.realmId, Chunk.append(trail, { seq: Chunk.size(trail) + 1, event })) }
}

/** Reads the state. */
export const read = <A>(db: Ref.Ref<State>, f: (state: State) => A) => Effect.map(Ref.get(db), f)

type Table = "clients" | "resources" | "trustedIssuers" | "users"
type Row<K extends Table> = (State[K] extends HashMap.HashMap<string, infer A> ? A : never) & { readonly realmId: string }

/**
 * insert/find/list over one realm-scoped table: an insert fails with `AlreadyExists` when the id (or an
 * extra unique index) is taken, and otherwise lands together with its event.
 */
export const realmTable = <K extends Table>(
  db: Ref.Ref<State>,
  table: K,
  entity: AlreadyExists["entity"],
  idOf: (row: Row<K>) => string,
  unique: (state: State, row: Row<K>) => boolean = () => true,
  alsoIndex: (state: State, row: Row<K>) => State = (state) => state
) => {
  const rowsOf = (state: State) => state[table] as unknown as HashMap.HashMap<string, Row<K>>
  return {
    insert: (row: Row<K>, event: AuditEvent) =>
      Ref.modify(db, (state) => {
        const id = key(row.realmId, idOf(row))
        const rows = rowsOf(state)
        if (HashMap.has(rows, id) || !unique(state, row)) return [false, state] as const
        const inserted = alsoIndex({ ...state, [table]: HashMap.set(rows, id, row) }, row)
        return [true, appendEvent(inserted, event)] as const
      }).pipe(Effect.flatMap((done) => done ? Effect.void : Effect.fail(new AlreadyExists({ entity })))),
    find: (realmId: string, id: string) =>
      read(db, (state) => HashMap.get(rowsOf(state), key(realmId, id))),
    list: (realmId: string) =>
      read(db, (state) =>
        Array.from(HashMap.values(rowsOf(state))).filter((row) => row.realmId === realmId)
      )
  }
}
