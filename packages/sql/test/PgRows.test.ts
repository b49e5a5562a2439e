/**
 * ADR 0053, 0059: `PgRows.entityRow`, the row schema of a table whose columns are its entity's fields under their
 * snake_case names, decoded and encoded without a database (what the driver hands over, what `sql.insert` is given).
 */
import { describe, expect, it } from "@effect/vitest"
import { DateTime, Either, Schema } from "effect"
import { Client } from "@tessera/domain"
import { ClientRow } from "../src/PgClients.js"
import { absentAs, entityRow, Timestamp } from "../src/PgRows.js"

const at = new Date("2026-12-07T12:00:00Z")
const utc = DateTime.unsafeMake(at)

const Entity = Schema.Struct({
  realmId: Schema.String,
  displayName: Schema.optionalWith(Schema.String, { exact: true }),
  createdAt: Schema.DateTimeUtcFromSelf,
  tags: Schema.optionalWith(Schema.Array(Schema.String), { exact: true })
})
const Row = entityRow({
  realm_id: Schema.String,
  display_name: Schema.NullOr(Schema.String),
  created_at: Timestamp,
  tags: absentAs(Schema.Array(Schema.String), [], (tags) => tags.length === 0)
}, Entity)

describe("ADR 0053 rows: entityRow maps columns onto the entity's fields", () => {
  it("a null column is an absent field, and an absent field is written as null", () => {
    const row = { realm_id: "r", display_name: null, created_at: at, tags: [] }
    expect(Schema.decodeUnknownSync(Row)(row)).toEqual({ realmId: "r", createdAt: utc })
    expect(Schema.encodeSync(Row)({ realmId: "r", createdAt: utc })).toEqual(row)
  })

  it("a column present is its field; absentAs names the stored value that stands for absence", () => {
    const row = { realm_id: "r", display_name: "Realm", created_at: at, tags: ["a"] }
    expect(Schema.decodeUnknownSync(Row)(row)).toEqual({ realmId: "r", displayName: "Realm", createdAt: utc, tags: ["a"] })
    expect(Schema.encodeSync(Row)({ realmId: "r", displayName: "Realm", createdAt: utc, tags: ["a"] })).toEqual(row)
  })

  it("a row whose column does not decode is refused, never cast: a missing required column, a wrong type", () => {
    expect(Either.isLeft(Schema.decodeUnknownEither(Row)({ display_name: null, created_at: at, tags: [] }))).toBe(true)
    expect(Either.isLeft(Schema.decodeUnknownEither(Row)({ realm_id: 5, display_name: null, created_at: at, tags: [] }))).toBe(true)
    expect(Either.isLeft(Schema.decodeUnknownEither(Row)({ realm_id: "r", display_name: null, created_at: "noon", tags: [] }))).toBe(true)
  })

  it("a column that names no field of the entity is refused when the schema is built", () => {
    expect(() => entityRow({ realm_id: Schema.String, created: Timestamp }, Entity)).toThrow("column created names no field of its entity")
  })

  it("clients: dynamic false is absent, and a client without a version is written at 1 (Client.versionOf)", () => {
    const metadata: Client.Metadata = {
      redirectUris: [],
      postLogoutRedirectUris: [],
      grantTypes: ["client_credentials"],
      responseTypes: [],
      tokenEndpointAuthMethod: "client_secret_basic",
      frontchannelLogoutSessionRequired: false,
      dpopBoundAccessTokens: false,
      principalType: "app"
    }
    const row = {
      realm_id: "r",
      client_id: "c",
      secret_hash: "h",
      previous_secret_hash: null,
      previous_secret_expires_at: null,
      metadata,
      dynamic: false,
      created_at: at,
      version: 1
    }
    expect(Schema.decodeUnknownSync(ClientRow)(row)).toEqual({ realmId: "r", clientId: "c", secretHash: "h", metadata, createdAt: utc, version: 1 })
    expect(Schema.encodeSync(ClientRow)({ realmId: "r", clientId: "c", secretHash: "h", metadata, createdAt: utc })).toEqual(row)
    expect(Schema.decodeUnknownSync(ClientRow)({ ...row, dynamic: true, version: 3 })).toMatchObject({ dynamic: true, version: 3 })
  })
})
