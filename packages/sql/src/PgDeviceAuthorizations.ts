/**
 * RFC 8628 device authorizations on Postgres (migration 00005): each transition one compare-and-set UPDATE on
 * `version` with its audit event in the same realm transaction (the user-code throttle is PgThrottles').
 */
import { SqlClient } from "@effect/sql"
import { DateTime, Effect, Layer, ParseResult, Schema } from "effect"
import { DeviceAuthorization, DeviceAuthorizations } from "@tessera/domain"
import { appendEvent } from "./PgAudit.js"
import { present, Strings, Timestamp } from "./PgRows.js"
import * as RealmTable from "./RealmTable.js"
import { on, toDate, withRealm } from "./Sql.js"


const Columns = Schema.Struct({
  realm_id: Schema.String,
  device_code_hash: Schema.String,
  user_code: Schema.String,
  client_id: Schema.String,
  scopes: Strings,
  resources: Strings,
  step_up: Schema.Boolean,
  status: Schema.Literal("pending", "approved", "denied", "redeemed"),
  interval_seconds: Schema.Number,
  last_polled_at: Schema.NullOr(Timestamp),
  sub: Schema.NullOr(Schema.String),
  grant_id: Schema.NullOr(Schema.String),
  version: Schema.Number,
  created_at: Timestamp,
  expires_at: Timestamp
})

const { DeviceAuthorization: States } = DeviceAuthorization

/**
 * A `device_authorizations` row as the entity (issue 18): the status column picks the state; the table's CHECKs tie
 * sub and grant_id to it, and a row that breaks them does not decode.
 */
const DeviceRow = Schema.transformOrFail(Columns, DeviceAuthorization.schema, {
  strict: true,
  decode: (row, _, ast) => {
    const common = {
      realmId: row.realm_id,
      deviceCodeHash: row.device_code_hash,
      userCode: row.user_code,
      clientId: row.client_id,
      scopes: row.scopes,
      resources: row.resources,
      stepUp: row.step_up,
      interval: row.interval_seconds,
      ...present("lastPolledAt", row.last_polled_at),
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      version: row.version
    }
    const { sub, grant_id: grantId } = row
    if (row.status === "pending") return ParseResult.succeed(States.Pending(common))
    if (row.status === "denied" && sub !== null) return ParseResult.succeed(States.Denied({ ...common, sub }))
    if (sub !== null && grantId !== null) {
      return ParseResult.succeed(
        row.status === "approved" ? States.Approved({ ...common, sub, grantId }) : States.Redeemed({ ...common, sub, grantId })
      )
    }
    return ParseResult.fail(new ParseResult.Type(ast, row, `a device authorization ${row.status} without its columns`))
  },
  encode: (device) =>
    ParseResult.succeed({
      realm_id: device.realmId,
      device_code_hash: device.deviceCodeHash,
      user_code: device.userCode,
      client_id: device.clientId,
      scopes: device.scopes,
      resources: device.resources,
      step_up: device.stepUp,
      status: device._tag === "Pending" ? "pending" as const : device._tag === "Approved" ? "approved" as const
        : device._tag === "Denied" ? "denied" as const : "redeemed" as const,
      interval_seconds: device.interval,
      last_polled_at: device.lastPolledAt ?? null,
      sub: device._tag === "Pending" ? null : device.sub,
      grant_id: device._tag === "Approved" || device._tag === "Redeemed" ? device.grantId : null,
      version: device.version,
      created_at: device.createdAt,
      expires_at: device.expiresAt
    })
})

/** The row a device authorization is written as, with the timestamps as Dates. */
const rowOf = Schema.encodeSync(DeviceRow)

const ByDeviceCode = Schema.Struct({ realmId: Schema.String, deviceCodeHash: Schema.String })
const ByUserCode = Schema.Struct({ realmId: Schema.String, userCode: Schema.String })

export const layerDeviceAuthorizations = Layer.effect(DeviceAuthorizations.DeviceAuthorizations, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const run = on(sql)
  const devices = RealmTable.rows(sql, "device_authorizations", DeviceRow)
  const byDeviceCode = devices.findOne(ByDeviceCode, ({ realmId, deviceCodeHash }) =>
    sql`SELECT * FROM device_authorizations WHERE realm_id = ${realmId} AND device_code_hash = ${deviceCodeHash}`)
  const byUserCode = devices.findOne(ByUserCode, ({ realmId, userCode }) =>
    sql`SELECT * FROM device_authorizations WHERE realm_id = ${realmId} AND user_code = ${userCode}`)
  return DeviceAuthorizations.DeviceAuthorizations.of({
    insert: (device) =>
      Effect.gen(function*() {
        // stale authorizations are dropped as new ones arrive, freeing their user codes
        const staleBefore = DateTime.subtractDuration(device.createdAt, DeviceAuthorizations.retention)
        yield* sql`DELETE FROM device_authorizations WHERE realm_id = ${device.realmId} AND expires_at <= ${toDate(staleBefore)}`
        const row = rowOf(device)
        const inserted = yield* sql`INSERT INTO device_authorizations ${
          sql.insert({ ...row, scopes: row.scopes as Array<string>, resources: row.resources as Array<string> })
        } ON CONFLICT (realm_id, user_code) DO NOTHING RETURNING device_code_hash`
        if (inserted.length === 0) return yield* new DeviceAuthorizations.UserCodeTaken()
      }).pipe(withRealm(device.realmId), run),
    find: (realmId, deviceCodeHash) => byDeviceCode({ realmId, deviceCodeHash }),
    findByUserCode: (realmId, userCode) => byUserCode({ realmId, userCode }),
    // one UPDATE guarded by the version: of two racing writers over the same version, the second matches no row
    update: (next, event) =>
      Effect.gen(function*() {
        const c = rowOf(next)
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
