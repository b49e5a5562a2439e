/**
 * RFC 8628 device authorizations on Postgres (migration 00005): each transition one compare-and-set UPDATE on
 * `version` with its audit event in the same realm transaction (the user-code throttle is PgThrottles').
 */
import { SqlClient } from "@effect/sql"
import { DateTime, Effect, Layer, Option, Schema } from "effect"
import { DeviceAuthorization, DeviceAuthorizations } from "@tessera/domain"
import { appendEvent } from "./PgAudit.js"
import { on, toDate, withRealm } from "./Sql.js"

const Strings = Schema.Array(Schema.String)
const utc = (date: Date) => DateTime.unsafeMake(date)

const Row = Schema.Struct({
  realm_id: Schema.String,
  device_code_hash: Schema.String,
  user_code: Schema.String,
  client_id: Schema.String,
  scopes: Strings,
  resources: Strings,
  step_up: Schema.Boolean,
  status: Schema.Literal("pending", "approved", "denied", "redeemed"),
  interval_seconds: Schema.Number,
  last_polled_at: Schema.NullOr(Schema.DateFromSelf),
  sub: Schema.NullOr(Schema.String),
  grant_id: Schema.NullOr(Schema.String),
  version: Schema.Number,
  created_at: Schema.DateFromSelf,
  expires_at: Schema.DateFromSelf
})
const decode = Schema.decodeUnknown(Schema.Array(Row))

const { DeviceAuthorization: States } = DeviceAuthorization

const toDevice = (row: typeof Row.Type): DeviceAuthorization.DeviceAuthorization => {
  const common = {
    realmId: row.realm_id,
    deviceCodeHash: row.device_code_hash,
    userCode: row.user_code,
    clientId: row.client_id,
    scopes: row.scopes,
    resources: row.resources,
    stepUp: row.step_up,
    interval: row.interval_seconds,
    ...(row.last_polled_at !== null ? { lastPolledAt: utc(row.last_polled_at) } : {}),
    createdAt: utc(row.created_at),
    expiresAt: utc(row.expires_at),
    version: row.version
  }
  // the table's CHECKs tie sub and grant_id to the status
  switch (row.status) {
    case "pending":
      return States.Pending(common)
    case "approved":
      return States.Approved({ ...common, sub: row.sub!, grantId: row.grant_id! })
    case "denied":
      return States.Denied({ ...common, sub: row.sub! })
    case "redeemed":
      return States.Redeemed({ ...common, sub: row.sub!, grantId: row.grant_id! })
  }
}

/** The columns a transition may change. */
const changes = (device: DeviceAuthorization.DeviceAuthorization) => ({
  status: device._tag.toLowerCase(),
  interval_seconds: device.interval,
  last_polled_at: device.lastPolledAt === undefined ? null : toDate(device.lastPolledAt),
  sub: device._tag === "Pending" ? null : device.sub,
  grant_id: device._tag === "Approved" || device._tag === "Redeemed" ? device.grantId : null,
  version: device.version
})

export const layerDeviceAuthorizations = Layer.effect(DeviceAuthorizations.DeviceAuthorizations, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const run = on(sql)
  const one = (realmId: string, rows: Effect.Effect<ReadonlyArray<unknown>, import("@effect/sql/SqlError").SqlError>) =>
    Effect.flatMap(rows, decode).pipe(
      Effect.map((found) => Option.map(Option.fromNullable(found[0]), toDevice)),
      withRealm(realmId),
      run
    )
  return DeviceAuthorizations.DeviceAuthorizations.of({
    insert: (device) =>
      Effect.gen(function*() {
        // stale authorizations are dropped as new ones arrive, freeing their user codes
        const staleBefore = DateTime.subtractDuration(device.createdAt, DeviceAuthorizations.retention)
        yield* sql`DELETE FROM device_authorizations WHERE realm_id = ${device.realmId} AND expires_at <= ${toDate(staleBefore)}`
        const inserted = yield* sql`INSERT INTO device_authorizations ${sql.insert({
          realm_id: device.realmId,
          device_code_hash: device.deviceCodeHash,
          user_code: device.userCode,
          client_id: device.clientId,
          scopes: device.scopes as Array<string>,
          resources: device.resources as Array<string>,
          step_up: device.stepUp,
          ...changes(device),
          created_at: toDate(device.createdAt),
          expires_at: toDate(device.expiresAt)
        })} ON CONFLICT (realm_id, user_code) DO NOTHING RETURNING device_code_hash`
        if (inserted.length === 0) return yield* new DeviceAuthorizations.UserCodeTaken()
      }).pipe(withRealm(device.realmId), run),
    find: (realmId, deviceCodeHash) =>
      one(realmId, sql`SELECT * FROM device_authorizations WHERE realm_id = ${realmId} AND device_code_hash = ${deviceCodeHash}`),
    findByUserCode: (realmId, userCode) =>
      one(realmId, sql`SELECT * FROM device_authorizations WHERE realm_id = ${realmId} AND user_code = ${userCode}`),
    // one UPDATE guarded by the version: of two racing writers over the same version, the second matches no row
    update: (next, event) =>
      Effect.gen(function*() {
        const c = changes(next)
        const updated = yield* sql`UPDATE device_authorizations
          SET status = ${c.status}, interval_seconds = ${c.interval_seconds}, last_polled_at = ${c.last_polled_at},
              sub = ${c.sub}, grant_id = ${c.grant_id}, version = ${c.version}
          WHERE realm_id = ${next.realmId} AND device_code_hash = ${next.deviceCodeHash} AND version = ${next.version - 1}
          RETURNING device_code_hash`
        if (updated.length === 0) return yield* new DeviceAuthorizations.DeviceAuthorizationChanged()
        if (event !== undefined) yield* appendEvent(event)
      }).pipe(withRealm(next.realmId), run)
  })
}))

/** The device store on the `SqlClient` in context (its throttle: PgThrottles). */
export const layer = layerDeviceAuthorizations
