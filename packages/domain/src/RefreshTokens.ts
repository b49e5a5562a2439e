/**
 * The store of refresh-token families (`RefreshFamily`), each token by its SHA-256 and the generation it was issued
 * as; rotating is compare-and-set on the generation, so a token presented twice advances the family once.
 */
import { Context, Data, Effect, HashMap, Layer, Option } from "effect"
import type { AuditEvent } from "./AuditEvent.js"
import * as MemoryDb from "./MemoryDb.js"
import { RefreshFamily } from "./RefreshFamily.js"
import type { StoreError } from "./StoreError.js"

/** A compare-and-set lost: the family moved on (another request rotated it first). */
export class RefreshChanged extends Data.TaggedError("RefreshChanged")<{}> {}

export interface PresentedRefresh {
  readonly family: RefreshFamily
  readonly generation: number
}

export class RefreshTokens extends Context.Tag("@tessera/domain/RefreshTokens")<RefreshTokens, {
  readonly create: (family: Extract<RefreshFamily, { _tag: "Active" }>, tokenHash: string, event: AuditEvent | undefined) => Effect.Effect<void, StoreError>
  /** The family a token belongs to and the generation it was issued as. */
  readonly find: (realmId: string, tokenHash: string) => Effect.Effect<Option.Option<PresentedRefresh>, StoreError>
  /** Advances the family if it is still at `expectedGeneration`. */
  readonly rotate: (
    next: Extract<RefreshFamily, { _tag: "Active" }>,
    expectedGeneration: number,
    event: AuditEvent | undefined
  ) => Effect.Effect<void, RefreshChanged | StoreError>
  readonly revokeFamily: (realmId: string, familyId: string, reason: string, event: AuditEvent | undefined) => Effect.Effect<void, StoreError>
}>() {}

const k = MemoryDb.key
const done = <S>(state: S) => [undefined, state] as const

export const layerMemory = Layer.effect(RefreshTokens, Effect.map(MemoryDb.MemoryDb, (db) => RefreshTokens.of({
  create: (family, tokenHash, event) =>
    MemoryDb.write(db, (state) =>
      Effect.map(MemoryDb.withEvent({
        ...state,
        refreshFamilies: HashMap.set(state.refreshFamilies, k(family.realmId, family.familyId), family),
        refreshTokens: HashMap.set(state.refreshTokens, k(family.realmId, tokenHash), { familyId: family.familyId, generation: family.generation })
      }, event), done)),
  find: (realmId, tokenHash) =>
    MemoryDb.read(db, (state) =>
      HashMap.get(state.refreshTokens, k(realmId, tokenHash)).pipe(
        Option.flatMap(({ familyId, generation }) =>
          Option.map(HashMap.get(state.refreshFamilies, k(realmId, familyId)), (family) => ({ family, generation })))
      )),
  rotate: (next, expectedGeneration, event) =>
    MemoryDb.write(db, (state) => {
      const current = HashMap.get(state.refreshFamilies, k(next.realmId, next.familyId))
      if (Option.isNone(current) || current.value._tag !== "Active" || current.value.generation !== expectedGeneration) {
        return Effect.fail(new RefreshChanged())
      }
      return Effect.map(MemoryDb.withEvent({
        ...state,
        refreshFamilies: HashMap.set(state.refreshFamilies, k(next.realmId, next.familyId), next),
        refreshTokens: HashMap.set(state.refreshTokens, k(next.realmId, next.currentHash), { familyId: next.familyId, generation: next.generation })
      }, event), done)
    }),
  revokeFamily: (realmId, familyId, reason, event) =>
    MemoryDb.write(db, (state) => {
      const family = HashMap.get(state.refreshFamilies, k(realmId, familyId))
      if (Option.isNone(family) || family.value._tag === "Revoked") return Effect.succeed(done(state))
      const { clientId, grantId } = family.value
      const revoked = RefreshFamily.Revoked({ familyId, realmId, clientId, grantId, reason })
      return Effect.map(MemoryDb.withEvent({ ...state, refreshFamilies: HashMap.set(state.refreshFamilies, k(realmId, familyId), revoked) }, event), done)
    })
})))
