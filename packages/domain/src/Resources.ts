/** The protected resources (RFC 8707) port: realm-scoped; a row is created with its `resource.created` event in one atomic write. */
import { Context, Effect, Layer } from "effect"
import type { Option } from "effect"
import type { AuditEvent } from "./AuditEvent.js"
import type { AlreadyExists } from "./Conflict.js"
import * as MemoryDb from "./MemoryDb.js"
import type { StoreError } from "./StoreError.js"
import type { Resource } from "./Resource.js"

export class Resources extends Context.Tag("@tessera/domain/Resources")<Resources, {
  readonly insert: (item: Resource, event: AuditEvent) => Effect.Effect<void, AlreadyExists | StoreError>
  readonly find: (realmId: string, uri: string) => Effect.Effect<Option.Option<Resource>, StoreError>
  readonly list: (realmId: string) => Effect.Effect<ReadonlyArray<Resource>, StoreError>
}>() {}

export const layerMemory = Layer.effect(
  Resources,
  Effect.map(MemoryDb.MemoryDb, (db) => Resources.of(MemoryDb.realmTable(db, "resources", "resource", (row) => row.uri)))
)
