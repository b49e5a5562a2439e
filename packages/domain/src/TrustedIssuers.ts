/**
 * The trusted issuers (RFC 7523) port: realm-scoped; every write (creation, change, deletion) lands with its audit
 * event in one atomic write, and a change or deletion only while the row is at the version the caller read.
 */
import { Context, Effect, HashMap, Layer, Option } from "effect"
import type { AuditEvent } from "./AuditEvent.js"
import { NotFound, Stale } from "./Conflict.js"
import type { AlreadyExists } from "./Conflict.js"
import * as MemoryDb from "./MemoryDb.js"
import * as Page from "./Page.js"
import type { StoreError } from "./StoreError.js"
import type { TrustedIssuer } from "./TrustedIssuer.js"

export class TrustedIssuers extends Context.Tag("@tessera/domain/TrustedIssuers")<TrustedIssuers, {
  readonly insert: (item: TrustedIssuer, event: AuditEvent) => Effect.Effect<void, AlreadyExists | StoreError>
  /** By `iss` (the JWT-bearer grant's lookup). */
  readonly find: (realmId: string, issuer: string) => Effect.Effect<Option.Option<TrustedIssuer>, StoreError>
  readonly list: (realmId: string) => Effect.Effect<ReadonlyArray<TrustedIssuer>, StoreError>
  /** By the admin API's id. */
  readonly findById: (realmId: string, id: string) => Effect.Effect<Option.Option<TrustedIssuer>, StoreError>
  /** One page in the order of `id`: the first `limit + 1` after `window.after`. */
  readonly page: (realmId: string, window: Page.Window) => Effect.Effect<ReadonlyArray<TrustedIssuer>, StoreError>
  /** Replaces the row `next` names (same realm, id and issuer) if it is still at `expectedVersion`. */
  readonly update: (next: TrustedIssuer, expectedVersion: number, event: AuditEvent) => Effect.Effect<void, NotFound | Stale | StoreError>
  /** Deletes the row if it is still at `expectedVersion`. */
  readonly remove: (trusted: TrustedIssuer, expectedVersion: number, event: AuditEvent) => Effect.Effect<void, NotFound | Stale | StoreError>
}>() {}

export const layerMemory = Layer.effect(
  TrustedIssuers,
  Effect.map(MemoryDb.MemoryDb, (db) => {
    const table = MemoryDb.realmTable(db, "trustedIssuers", "trusted_issuer", (row) => row.issuer)
    const current = (state: MemoryDb.State, trusted: TrustedIssuer, expectedVersion: number): Effect.Effect<void, NotFound | Stale> => {
      const row = HashMap.get(state.trustedIssuers, MemoryDb.key(trusted.realmId, trusted.issuer))
      if (Option.isNone(row) || row.value.id !== trusted.id) return Effect.fail(new NotFound({ entity: "trusted_issuer" }))
      if (row.value.version !== expectedVersion) return Effect.fail(new Stale({ entity: "trusted_issuer" }))
      return Effect.void
    }
    const inRealm = (realmId: string) => (state: MemoryDb.State) =>
      Array.from(HashMap.values(state.trustedIssuers)).filter((row) => row.realmId === realmId)
    const writeWith = (trusted: TrustedIssuer, expectedVersion: number, event: AuditEvent, change: (rows: MemoryDb.State["trustedIssuers"]) => MemoryDb.State["trustedIssuers"]) =>
      MemoryDb.write<void, NotFound | Stale | StoreError>(db, (state) =>
        Effect.zipRight(
          current(state, trusted, expectedVersion),
          Effect.map(MemoryDb.appendEvent({ ...state, trustedIssuers: change(state.trustedIssuers) }, event), (after) => [undefined, after] as const)
        ))
    return TrustedIssuers.of({
      ...table,
      findById: (realmId, id) => MemoryDb.read(db, (state) => Option.fromNullable(inRealm(realmId)(state).find((row) => row.id === id))),
      page: (realmId, window) => MemoryDb.read(db, (state) => Page.slice(inRealm(realmId)(state), window, (row) => row.id)),
      update: (next, expectedVersion, event) =>
        writeWith(next, expectedVersion, event, HashMap.set(MemoryDb.key(next.realmId, next.issuer), next)),
      remove: (trusted, expectedVersion, event) =>
        writeWith(trusted, expectedVersion, event, HashMap.remove(MemoryDb.key(trusted.realmId, trusted.issuer)))
    })
  })
)
