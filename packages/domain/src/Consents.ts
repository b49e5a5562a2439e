/** The store of remembered consents (`Consent`): per person and client, what they already agreed to. */
import { Context, Effect, HashMap, Layer, Option } from "effect"
import type { AuditEvent } from "./AuditEvent.js"
import type { Consent } from "./Consent.js"
import * as MemoryDb from "./MemoryDb.js"
import type { StoreError } from "./StoreError.js"

export class Consents extends Context.Tag("@tessera/domain/Consents")<Consents, {
  readonly find: (realmId: string, sub: string, clientId: string) => Effect.Effect<Option.Option<Consent>, StoreError>
  /** RFC 9700 §4.11.2: whether any person of the realm has consented to the client (one indexed row at most). */
  readonly approved: (realmId: string, clientId: string) => Effect.Effect<boolean, StoreError>
  readonly save: (consent: Consent, event: AuditEvent) => Effect.Effect<void, StoreError>
}>() {}

/** The memory key of a person's consent to a client (`Grants` withdraws it in the same write as the grant). */
export const consentKey = (realmId: string, sub: string, clientId: string) => MemoryDb.key(realmId, `${sub}\u0000${clientId}`)

/** Inside a `MemoryDb.write`: the resource `uri` leaves every remembered consent of the realm (ADR 0033). */
export const forgetResourceConsentsIn = (state: MemoryDb.State, realmId: string, uri: string): MemoryDb.State => ({
  ...state,
  consents: HashMap.map(state.consents, (consent) =>
    consent.realmId === realmId && consent.resources.includes(uri)
      ? { ...consent, resources: consent.resources.filter((r) => r !== uri) }
      : consent)
})

export const layerMemory = Layer.effect(Consents, Effect.map(MemoryDb.MemoryDb, (db) => Consents.of({
  find: (realmId, sub, clientId) => MemoryDb.read(db, (state) => HashMap.get(state.consents, consentKey(realmId, sub, clientId))),
  approved: (realmId, clientId) =>
    MemoryDb.read(db, (state) => HashMap.some(state.consents, (c) => c.realmId === realmId && c.clientId === clientId)),
  save: (consent, event) =>
    MemoryDb.write(db, (state) =>
      Effect.map(MemoryDb.appendEvent({
        ...state,
        consents: HashMap.set(state.consents, consentKey(consent.realmId, consent.sub, consent.clientId), consent)
      }, event), (written) => [undefined, written] as const))
})))
