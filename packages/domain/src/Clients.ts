/** The clients port: realm-scoped; a row is created with its `client.created` event in one atomic write. */
import { Context, Effect, Layer } from "effect"
import type { Option } from "effect"
import type { AuditEvent } from "./AuditEvent.js"
import type { AlreadyExists } from "./Conflict.js"
import * as MemoryDb from "./MemoryDb.js"
import type { StoreError } from "./StoreError.js"
import type { Client } from "./Client.js"

export class Clients extends Context.Tag("@tessera/domain/Clients")<Clients, {
  readonly insert: (item: Client, event: AuditEvent) => Effect.Effect<void, AlreadyExists | StoreError>
  readonly find: (realmId: string, clientId: string) => Effect.Effect<Option.Option<Client>, StoreError>
  readonly list: (realmId: string) => Effect.Effect<ReadonlyArray<Client>, StoreError>
}>() {}

export const layerMemory = Layer.effect(
  Clients,
  Effect.map(MemoryDb.MemoryDb, (db) => Clients.of(MemoryDb.realmTable(db, "clients", "client", (row) => row.clientId)))
)
