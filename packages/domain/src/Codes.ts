/**
 * The store of authorization codes (RFC 6749 §4.1.2: single use, short lived), by the SHA-256 of the code; consuming
 * one is compare-and-set, so of two racing redemptions only one sees it Issued.
 */
import { Context, Effect, HashMap, Layer, Option } from "effect"
import { AuthorizationCode } from "./AuthorizationCode.js"
import type { GrantRecord } from "./GrantRecord.js"
import * as MemoryDb from "./MemoryDb.js"
import type { StoreError } from "./StoreError.js"

/** A consumed code as it was stored before, and the grant it names as it is now (none when the grant is gone). */
export interface Consumed {
  readonly code: AuthorizationCode
  readonly grant: Option.Option<GrantRecord>
}

export class Codes extends Context.Tag("@tessera/domain/Codes")<Codes, {
  readonly insert: (hash: string, code: AuthorizationCode) => Effect.Effect<void, StoreError>
  /**
   * Atomically marks the code Redeemed and returns what was stored before (two racing calls: one sees Issued), with
   * its grant read in the same step (issue 17: one round trip).
   */
  readonly consume: (realmId: string, hash: string) => Effect.Effect<Option.Option<Consumed>, StoreError>
}>() {}

const k = MemoryDb.key

export const layerMemory = Layer.effect(Codes, Effect.map(MemoryDb.MemoryDb, (db) => Codes.of({
  insert: (hash, code) =>
    MemoryDb.write(db, (state) => Effect.succeed([undefined, { ...state, codes: HashMap.set(state.codes, k(code.realmId, hash), code) }] as const)),
  consume: (realmId, hash) =>
    MemoryDb.write(db, (state) => {
      const id = k(realmId, hash)
      const before = HashMap.get(state.codes, id)
      const consumed = Option.map(before, (code): Consumed => ({ code, grant: HashMap.get(state.grants, k(realmId, code.grantId)) }))
      if (Option.isNone(before) || before.value._tag === "Redeemed") return Effect.succeed([consumed, state] as const)
      const { realmId: r, clientId, grantId } = before.value
      const redeemed = AuthorizationCode.Redeemed({ realmId: r, clientId, grantId })
      return Effect.succeed([consumed, { ...state, codes: HashMap.set(state.codes, id, redeemed) }] as const)
    })
})))
