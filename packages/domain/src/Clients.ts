/**
 * The clients port: realm-scoped; a row is created, changed and deleted with its event in one atomic write, a change
 * and a deletion only while the row is still at the version the caller read (CONTRACT §3 `If-Match`).
 */
import { Context, Effect, HashMap, Layer, Option } from "effect"
import type { DateTime } from "effect"
import type { AuditEvent } from "./AuditEvent.js"
import * as Client from "./Client.js"
import { NotFound, Stale } from "./Conflict.js"
import type { AlreadyExists } from "./Conflict.js"
import * as MemoryDb from "./MemoryDb.js"
import * as Page from "./Page.js"
import { revokeGrantsIn } from "./Grants.js"
import type { StoreError } from "./StoreError.js"

export class Clients extends Context.Tag("@tessera/domain/Clients")<Clients, {
  readonly insert: (item: Client.Client, event: AuditEvent) => Effect.Effect<void, AlreadyExists | StoreError>
  readonly find: (realmId: string, clientId: string) => Effect.Effect<Option.Option<Client.Client>, StoreError>
  readonly list: (realmId: string) => Effect.Effect<ReadonlyArray<Client.Client>, StoreError>
  /** The realm's clients in `client_id` order, the first `limit + 1` after `window.after` (`Page`). */
  readonly page: (realmId: string, window: Page.Window) => Effect.Effect<ReadonlyArray<Client.Client>, StoreError>
  /**
   * Replaces the row with `next` (metadata, secret hashes, and `version` = `expectedVersion + 1`) with its event,
   * if the row is still at `expectedVersion`.
   */
  readonly update: (
    next: Client.Client,
    expectedVersion: number,
    event: AuditEvent
  ) => Effect.Effect<void, NotFound | Stale | StoreError>
  /**
   * Deletes the row if it is still at `expectedVersion`, and in the same write revokes every grant of the client with
   * its refresh families and removes its consents (CONTRACT §3: "deleting revokes every grant and token of the client").
   */
  readonly remove: (
    realmId: string,
    clientId: string,
    expectedVersion: number,
    at: DateTime.Utc,
    event: AuditEvent
  ) => Effect.Effect<void, NotFound | Stale | StoreError>
}>() {}

/** Client ids compare as JavaScript strings (code units), as `COLLATE "C"` orders them on PostgreSQL. */
export const sortKey = (client: Client.Client) => client.clientId

const entity = "client" as const

/** Inside a `MemoryDb.write`: the row `clientId` if it is at `expectedVersion` (else why not). */
const current = (
  state: MemoryDb.State,
  realmId: string,
  clientId: string,
  expectedVersion: number
): Effect.Effect<Client.Client, NotFound | Stale> => {
  const row = HashMap.get(state.clients, MemoryDb.key(realmId, clientId))
  if (Option.isNone(row)) return Effect.fail(new NotFound({ entity }))
  if (Client.versionOf(row.value) !== expectedVersion) return Effect.fail(new Stale({ entity }))
  return Effect.succeed(row.value)
}

export const layerMemory = Layer.effect(
  Clients,
  Effect.map(MemoryDb.MemoryDb, (db) => {
    const table = MemoryDb.realmTable(db, "clients", "client", (row) => row.clientId)
    return Clients.of({
      ...table,
      page: (realmId, window) =>
        MemoryDb.read(db, (state) =>
          Page.slice(Array.from(HashMap.values(state.clients)).filter((c) => c.realmId === realmId), window, sortKey)),
      update: (next, expectedVersion, event) =>
        MemoryDb.write(db, (state) =>
          Effect.flatMap(current(state, next.realmId, next.clientId, expectedVersion), () =>
            Effect.map(
              MemoryDb.appendEvent({ ...state, clients: HashMap.set(state.clients, MemoryDb.key(next.realmId, next.clientId), next) }, event),
              (written) => [undefined, written] as const
            ))),
      remove: (realmId, clientId, expectedVersion, at, event) =>
        MemoryDb.write(db, (state) =>
          Effect.flatMap(current(state, realmId, clientId, expectedVersion), () => {
            const [revoked] = revokeGrantsIn(
              { ...state, clients: HashMap.remove(state.clients, MemoryDb.key(realmId, clientId)) },
              realmId,
              { clientId },
              at
            )
            const consents = HashMap.filter(revoked.consents, (c) => !(c.realmId === realmId && c.clientId === clientId))
            return Effect.map(MemoryDb.appendEvent({ ...revoked, consents }, event), (written) => [undefined, written] as const)
          }))
    })
  })
)
