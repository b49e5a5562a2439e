/** The trusted issuers (RFC 7523) port: realm-scoped; a row is created with its `trusted_issuer.created` event in one atomic write. */
import { Context, Effect, Layer } from "effect"
import type { Option } from "effect"
import type { AuditEvent } from "./AuditEvent.js"
import type { AlreadyExists } from "./Conflict.js"
import * as MemoryDb from "./MemoryDb.js"
import type { StoreError } from "./StoreError.js"
import type { TrustedIssuer } from "./TrustedIssuer.js"

export class TrustedIssuers extends Context.Tag("@tessera/domain/TrustedIssuers")<TrustedIssuers, {
  readonly insert: (item: TrustedIssuer, event: AuditEvent) => Effect.Effect<void, AlreadyExists | StoreError>
  readonly find: (realmId: string, issuer: string) => Effect.Effect<Option.Option<TrustedIssuer>, StoreError>
  readonly list: (realmId: string) => Effect.Effect<ReadonlyArray<TrustedIssuer>, StoreError>
}>() {}

export const layerMemory = Layer.effect(
  TrustedIssuers,
  Effect.map(MemoryDb.MemoryDb, (db) => TrustedIssuers.of(MemoryDb.realmTable(db, "trustedIssuers", "trusted_issuer", (row) => row.issuer)))
)
