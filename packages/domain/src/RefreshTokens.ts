/**
 * The store of refresh-token families (`RefreshFamily`), each token by its SHA-256 and the generation it was issued
 * as; rotating is compare-and-set on the generation, so a token presented twice advances the family once.
 */
import { Context, Data, Effect, HashMap, Layer, Option } from "effect"
import { AccessTokens } from "./AccessTokens.js"
import type { Link } from "./AccessTokens.js"
import type { AuditEvent } from "./AuditEvent.js"
import type { GrantRecord } from "./GrantRecord.js"
import * as MemoryDb from "./MemoryDb.js"
import { RefreshFamily } from "./RefreshFamily.js"
import type { StoreError } from "./StoreError.js"

/** A compare-and-set lost: the family moved on (another request rotated it first). */
export class RefreshChanged extends Data.TaggedError("RefreshChanged")<{}> {}

export interface PresentedRefresh {
  readonly family: RefreshFamily
  readonly generation: number
  /** The grant the family belongs to, as it is now (none when it is gone), read with the family (issue 17). */
  readonly grant: Option.Option<GrantRecord>
}

export class RefreshTokens extends Context.Tag("@tessera/domain/RefreshTokens")<RefreshTokens, {
  readonly create: (family: Extract<RefreshFamily, { _tag: "Active" }>, tokenHash: string, event: AuditEvent | undefined) => Effect.Effect<void, StoreError>
  /** The family a token belongs to and the generation it was issued as. */
  readonly find: (realmId: string, tokenHash: string) => Effect.Effect<Option.Option<PresentedRefresh>, StoreError>
  /**
   * Advances the family if it is still at `expectedGeneration`; only then, and in the same write, links the new access
   * token to its grant (`access`) and appends the event.
   */
  readonly rotate: (
    next: Extract<RefreshFamily, { _tag: "Active" }>,
    expectedGeneration: number,
    event: AuditEvent | undefined,
    access: Link | undefined
  ) => Effect.Effect<void, RefreshChanged | StoreError>
  readonly revokeFamily: (realmId: string, familyId: string, reason: string, event: AuditEvent | undefined) => Effect.Effect<void, StoreError>
}>() {}

const k = MemoryDb.key
const done = <S>(state: S) => [undefined, state] as const

/** Inside a `MemoryDb.write`: a new refresh family and the hash of its first token. */
export const createIn = (state: MemoryDb.State, family: Extract<RefreshFamily, { _tag: "Active" }>, tokenHash: string): MemoryDb.State => ({
  ...state,
  refreshFamilies: HashMap.set(state.refreshFamilies, k(family.realmId, family.familyId), family),
  refreshTokens: HashMap.set(state.refreshTokens, k(family.realmId, tokenHash), { familyId: family.familyId, generation: family.generation })
})

/**
 * In memory, an access token's link (`AccessTokens.record`) once the write it belongs to is done, before the tokens
 * are answered: the links live in `AccessTokens`' own table beside MemoryDb.
 */
export const linked = (tokens: AccessTokens["Type"], realmId: string, access: Link | undefined) =>
  access === undefined ? Effect.void : tokens.record(realmId, access.jti, access.grantId, access.expiresAt)

/** In memory; needs `AccessTokens`' memory layer for the links `rotate` writes. */
export const layerMemory = Layer.effect(RefreshTokens, Effect.gen(function*() {
  const db = yield* MemoryDb.MemoryDb
  const tokens = yield* AccessTokens
  return RefreshTokens.of({
    create: (family, tokenHash, event) =>
      MemoryDb.write(db, (state) => Effect.map(MemoryDb.withEvent(createIn(state, family, tokenHash), event), done)),
    find: (realmId, tokenHash) =>
      MemoryDb.read(db, (state) =>
        HashMap.get(state.refreshTokens, k(realmId, tokenHash)).pipe(
          Option.flatMap(({ familyId, generation }) =>
            Option.map(HashMap.get(state.refreshFamilies, k(realmId, familyId)), (family) => ({
              family,
              generation,
              grant: HashMap.get(state.grants, k(realmId, family.grantId))
            })))
        )),
    rotate: (next, expectedGeneration, event, access) =>
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
      }).pipe(Effect.zipLeft(linked(tokens, next.realmId, access))),
    revokeFamily: (realmId, familyId, reason, event) =>
      MemoryDb.write(db, (state) => {
        const family = HashMap.get(state.refreshFamilies, k(realmId, familyId))
        if (Option.isNone(family) || family.value._tag === "Revoked") return Effect.succeed(done(state))
        const { clientId, grantId } = family.value
        const revoked = RefreshFamily.Revoked({ familyId, realmId, clientId, grantId, reason })
        return Effect.map(MemoryDb.withEvent({ ...state, refreshFamilies: HashMap.set(state.refreshFamilies, k(realmId, familyId), revoked) }, event), done)
      })
  })
}))
