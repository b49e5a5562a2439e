/**
 * The store of RFC 8628 device authorizations: found by device-code hash (the token endpoint) or by user code (the
 * verification page), always within one realm; every state change is a compare-and-set on `version`, written with
 * its audit event.
 */
import { Context, Data, DateTime, Duration, Effect, HashMap, Option } from "effect"
import { Layer } from "effect"
import type { AuditEvent } from "./AuditEvent.js"
import type { DeviceAuthorization, Pending } from "./DeviceAuthorization.js"
import * as MemoryDb from "./MemoryDb.js"
import type { StoreError } from "./StoreError.js"

/** The realm already has this user code (live or recently expired): the caller draws another. */
export class UserCodeTaken extends Data.TaggedError("UserCodeTaken")<{}> {}

/** A compare-and-set lost: the authorization moved on (a poll or a decision came first). */
export class DeviceAuthorizationChanged extends Data.TaggedError("DeviceAuthorizationChanged")<{}> {}

/**
 * How long an authorization is kept past its expiry, so that a late poll is told expired_token (RFC 8628 §3.5) rather
 * than invalid_grant; older ones are dropped as new ones arrive.
 */
export const retention = Duration.hours(1)

/** Whether a stored authorization may be dropped at `now`. */
export const isStale = (device: DeviceAuthorization, now: DateTime.Utc) =>
  DateTime.lessThanOrEqualTo(DateTime.addDuration(device.expiresAt, retention), now)

export class DeviceAuthorizations extends Context.Tag("@tessera/domain/DeviceAuthorizations")<DeviceAuthorizations, {
  /** Stores a new request; `UserCodeTaken` when the realm holds its user code already (nothing is written). */
  readonly insert: (device: Pending) => Effect.Effect<void, UserCodeTaken | StoreError>
  readonly find: (realmId: string, deviceCodeHash: string) => Effect.Effect<Option.Option<DeviceAuthorization>, StoreError>
  /** By the normalized user code (`UserCode.normalize`), in this realm only. */
  readonly findByUserCode: (realmId: string, userCode: string) => Effect.Effect<Option.Option<DeviceAuthorization>, StoreError>
  /**
   * Writes `next` over the stored state if that is still at `next.version - 1`, with `event` in the same
   * transaction; otherwise `DeviceAuthorizationChanged` and nothing is written.
   */
  readonly update: (next: DeviceAuthorization, event: AuditEvent | undefined) => Effect.Effect<void, DeviceAuthorizationChanged | StoreError>
}>() {}

const k = MemoryDb.key

export const layerMemory = Layer.effect(DeviceAuthorizations, Effect.map(MemoryDb.MemoryDb, (db) => DeviceAuthorizations.of({
  insert: (device) =>
    MemoryDb.write(db, (state) => {
      // stale authorizations are dropped as new ones arrive, with their user codes
      const stale = HashMap.filter(state.deviceAuthorizations, (d) => isStale(d, device.createdAt))
      let deviceAuthorizations = state.deviceAuthorizations
      let deviceUserCodes = state.deviceUserCodes
      for (const [id, d] of stale) {
        deviceAuthorizations = HashMap.remove(deviceAuthorizations, id)
        deviceUserCodes = HashMap.remove(deviceUserCodes, k(d.realmId, d.userCode))
      }
      if (HashMap.has(deviceUserCodes, k(device.realmId, device.userCode))) return Effect.fail(new UserCodeTaken())
      return Effect.succeed([undefined, {
        ...state,
        deviceAuthorizations: HashMap.set(deviceAuthorizations, k(device.realmId, device.deviceCodeHash), device),
        deviceUserCodes: HashMap.set(deviceUserCodes, k(device.realmId, device.userCode), device.deviceCodeHash)
      }] as const)
    }),
  find: (realmId, deviceCodeHash) => MemoryDb.read(db, (state) => HashMap.get(state.deviceAuthorizations, k(realmId, deviceCodeHash))),
  findByUserCode: (realmId, userCode) =>
    MemoryDb.read(db, (state) =>
      HashMap.get(state.deviceUserCodes, k(realmId, userCode)).pipe(
        Option.flatMap((hash) => HashMap.get(state.deviceAuthorizations, k(realmId, hash)))
      )),
  update: (next, event) =>
    MemoryDb.write(db, (state) => {
      const id = k(next.realmId, next.deviceCodeHash)
      const current = HashMap.get(state.deviceAuthorizations, id)
      if (Option.isNone(current) || current.value.version !== next.version - 1) return Effect.fail(new DeviceAuthorizationChanged())
      return Effect.map(
        MemoryDb.withEvent({ ...state, deviceAuthorizations: HashMap.set(state.deviceAuthorizations, id, next) }, event),
        (after) => [undefined, after] as const
      )
    })
})))
