/**
 * The protected resources (RFC 8707) port: realm-scoped; every write (creation, change, deletion) lands with its
 * audit event in one atomic write, and a change or deletion only while the row is at the version the caller read.
 */
import { Context, Data, Effect, HashMap, Layer, Option } from "effect"
import type { DateTime } from "effect"
import type { AuditEvent } from "./AuditEvent.js"
import { NotFound, Stale } from "./Conflict.js"
import type { AlreadyExists } from "./Conflict.js"
import { forgetResourceConsentsIn } from "./Consents.js"
import { revokeGrantsNamingIn } from "./Grants.js"
import * as MemoryDb from "./MemoryDb.js"
import * as Page from "./Page.js"
import type { Resource } from "./Resource.js"
import type { StoreError } from "./StoreError.js"

/** ADR 0033: a resource some client's registration lists explicitly in `resources` is not deleted under it. */
export class ResourceInUse extends Data.TaggedError("ResourceInUse")<{
  /** The clients that list it (at most a few, for the error text). */
  readonly clientIds: ReadonlyArray<string>
}> {}

/** What a deletion did beside removing the row (ADR 0033). */
export interface Removed {
  /** Live grants that named the resource, revoked with their refresh tokens. */
  readonly revokedGrants: number
}

export class Resources extends Context.Tag("@tessera/domain/Resources")<Resources, {
  readonly insert: (item: Resource, event: AuditEvent) => Effect.Effect<void, AlreadyExists | StoreError>
  /** By resource indicator (the token path; cached). */
  readonly find: (realmId: string, uri: string) => Effect.Effect<Option.Option<Resource>, StoreError>
  /** Every resource of the realm (the token path; cached). */
  readonly list: (realmId: string) => Effect.Effect<ReadonlyArray<Resource>, StoreError>
  /** By the admin API's id. */
  readonly findById: (realmId: string, id: string) => Effect.Effect<Option.Option<Resource>, StoreError>
  /** One page in the order of `id`: the first `limit + 1` after `window.after`. */
  readonly page: (realmId: string, window: Page.Window) => Effect.Effect<ReadonlyArray<Resource>, StoreError>
  /** Replaces the row `next` names (same realm, id and uri) if it is still at `expectedVersion`; `next.version` is the new one. */
  readonly update: (next: Resource, expectedVersion: number, event: AuditEvent) => Effect.Effect<void, NotFound | Stale | StoreError>
  /**
   * Deletes the row if it is still at `expectedVersion` and no client lists it in `resources` (ADR 0033), and in the
   * same write revokes every live grant naming it (and their refresh tokens) and drops it from remembered consents.
   */
  readonly remove: (
    resource: Resource,
    expectedVersion: number,
    at: DateTime.Utc,
    event: (removed: Removed) => AuditEvent
  ) => Effect.Effect<Removed, NotFound | Stale | ResourceInUse | StoreError>
}>() {}

/** How many client ids an in-use refusal names. */
export const namedClients = 5

export const layerMemory = Layer.effect(
  Resources,
  Effect.map(MemoryDb.MemoryDb, (db) => {
    const table = MemoryDb.realmTable(db, "resources", "resource", (row) => row.uri)
    const current = (state: MemoryDb.State, resource: Resource, expectedVersion: number): Effect.Effect<void, NotFound | Stale> => {
      const row = HashMap.get(state.resources, MemoryDb.key(resource.realmId, resource.uri))
      if (Option.isNone(row) || row.value.id !== resource.id) return Effect.fail(new NotFound({ entity: "resource" }))
      if (row.value.version !== expectedVersion) return Effect.fail(new Stale({ entity: "resource" }))
      return Effect.void
    }
    const inRealm = (realmId: string) => (state: MemoryDb.State) =>
      Array.from(HashMap.values(state.resources)).filter((row) => row.realmId === realmId)
    return Resources.of({
      ...table,
      findById: (realmId, id) => MemoryDb.read(db, (state) => Option.fromNullable(inRealm(realmId)(state).find((row) => row.id === id))),
      page: (realmId, window) => MemoryDb.read(db, (state) => Page.slice(inRealm(realmId)(state), window, (row) => row.id)),
      update: (next, expectedVersion, event) =>
        MemoryDb.write(db, (state) =>
          Effect.zipRight(
            current(state, next, expectedVersion),
            Effect.map(
              MemoryDb.appendEvent({ ...state, resources: HashMap.set(state.resources, MemoryDb.key(next.realmId, next.uri), next) }, event),
              (after) => [undefined, after] as const
            )
          )),
      remove: (resource, expectedVersion, at, event) =>
        MemoryDb.write(db, (state) =>
          Effect.gen(function*() {
            yield* current(state, resource, expectedVersion)
            const listing = Array.from(HashMap.values(state.clients))
              .filter((client) => client.realmId === resource.realmId && (client.metadata.resources ?? []).includes(resource.uri))
              .map((client) => client.clientId)
              .sort()
            if (listing.length > 0) return yield* new ResourceInUse({ clientIds: listing.slice(0, namedClients) })
            const withoutRow = { ...state, resources: HashMap.remove(state.resources, MemoryDb.key(resource.realmId, resource.uri)) }
            const [revoked, revokedGrants] = revokeGrantsNamingIn(withoutRow, resource.realmId, resource.uri, at)
            const forgotten = forgetResourceConsentsIn(revoked, resource.realmId, resource.uri)
            const removed: Removed = { revokedGrants }
            return [removed, yield* MemoryDb.appendEvent(forgotten, event(removed))] as const
          }))
    })
  })
)
