/** Clients, users, resources and trusted issuers on Postgres: realm-scoped rows inserted with their audit event. */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { DateTime, Effect, Layer, Option, Schema } from "effect"
import type { ParseError } from "effect/ParseResult"
import { Clients, Conflict, Resources, TrustedIssuers, User, Users } from "@tessera/domain"
import type { AuditEvent, Client, Resource, TrustedIssuer } from "@tessera/domain"
import { appendEvent } from "./PgAudit.js"
import { on, toDate, withRealm } from "./Sql.js"

/** Inserts a row and its event in one realm transaction; a taken key (any unique index) is `AlreadyExists`. */
const insertWithEvent = (
  sql: SqlClient.SqlClient,
  table: string,
  entity: Conflict.AlreadyExists["entity"],
  row: Record<string, unknown> & { readonly realm_id: string },
  event: AuditEvent.AuditEvent
) =>
  Effect.gen(function*() {
    const inserted = yield* sql`INSERT INTO ${sql(table)} ${sql.insert(row)} ON CONFLICT DO NOTHING RETURNING realm_id`
    if (inserted.length === 0) return yield* new Conflict.AlreadyExists({ entity })
    yield* appendEvent(event)
  }).pipe(withRealm(row.realm_id), on(sql))

/** Each row schema's array decoder, made once (building it per read showed in the token endpoint's profile). */
const decoders = new WeakMap<Schema.Schema.Any, (rows: unknown) => Effect.Effect<ReadonlyArray<unknown>, ParseError>>()
const arrayDecoder = <A, I>(schema: Schema.Schema<A, I>) => {
  let decode = decoders.get(schema)
  if (decode === undefined) {
    decode = Schema.decodeUnknown(Schema.Array(schema))
    decoders.set(schema, decode)
  }
  return decode as (rows: unknown) => Effect.Effect<ReadonlyArray<A>, ParseError>
}

/** Reads rows of one realm through a schema. */
const select = <A, I>(
  sql: SqlClient.SqlClient,
  realmId: string,
  schema: Schema.Schema<A, I>,
  query: Effect.Effect<ReadonlyArray<unknown>, SqlError>
) => Effect.flatMap(query, arrayDecoder(schema)).pipe(withRealm(realmId), on(sql))

const first = <A>(rows: ReadonlyArray<A>) => Option.fromNullable(rows[0])

const at = (date: Date) => DateTime.unsafeMake(date)

const ClientRow = Schema.Struct({
  realm_id: Schema.String,
  client_id: Schema.String,
  secret_hash: Schema.NullOr(Schema.String),
  metadata: Schema.Unknown,
  dynamic: Schema.Boolean,
  created_at: Schema.DateFromSelf
})
const toClient = (row: typeof ClientRow.Type): Client.Client => ({
  realmId: row.realm_id,
  clientId: row.client_id,
  ...(row.secret_hash !== null ? { secretHash: row.secret_hash } : {}),
  metadata: row.metadata as Client.Metadata,
  ...(row.dynamic ? { dynamic: true } : {}),
  createdAt: at(row.created_at)
})

export const layerClients = Layer.effect(Clients.Clients, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  return Clients.Clients.of({
    insert: (client, event) =>
      insertWithEvent(sql, "clients", "client", {
        realm_id: client.realmId,
        client_id: client.clientId,
        secret_hash: client.secretHash ?? null,
        metadata: JSON.stringify(client.metadata),
        dynamic: client.dynamic === true,
        created_at: toDate(client.createdAt)
      }, event),
    find: (realmId, clientId) =>
      select(sql, realmId, ClientRow, sql`SELECT * FROM clients WHERE realm_id = ${realmId} AND client_id = ${clientId}`)
        .pipe(Effect.map((rows) => Option.map(first(rows), toClient))),
    list: (realmId) =>
      select(sql, realmId, ClientRow, sql`SELECT * FROM clients WHERE realm_id = ${realmId} ORDER BY created_at, client_id`)
        .pipe(Effect.map((rows) => rows.map(toClient)))
  })
}))

const UserRow = Schema.Struct({
  realm_id: Schema.String,
  sub: Schema.String,
  username: Schema.String,
  password_hash: Schema.String,
  email: Schema.NullOr(Schema.String),
  name: Schema.NullOr(Schema.String),
  created_at: Schema.DateFromSelf
})
const toUser = (row: typeof UserRow.Type): User.User => ({
  realmId: row.realm_id,
  sub: row.sub,
  username: row.username,
  passwordHash: row.password_hash,
  ...(row.email !== null ? { email: row.email } : {}),
  ...(row.name !== null ? { name: row.name } : {}),
  createdAt: at(row.created_at)
})
const userColumns = "realm_id, sub, username, password_hash, email, name, created_at"

export const layerUsers = Layer.effect(Users.Users, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  return Users.Users.of({
    insert: (user, event) =>
      insertWithEvent(sql, "users", "user", {
        realm_id: user.realmId,
        sub: user.sub,
        username: user.username,
        username_key: User.usernameKey(user.username),
        password_hash: user.passwordHash,
        email: user.email ?? null,
        name: user.name ?? null,
        created_at: toDate(user.createdAt)
      }, event),
    find: (realmId, sub) =>
      select(sql, realmId, UserRow, sql`SELECT ${sql.unsafe(userColumns)} FROM users WHERE realm_id = ${realmId} AND sub = ${sub}`)
        .pipe(Effect.map((rows) => Option.map(first(rows), toUser))),
    findByUsername: (realmId, username) =>
      select(
        sql,
        realmId,
        UserRow,
        sql`SELECT ${sql.unsafe(userColumns)} FROM users WHERE realm_id = ${realmId} AND username_key = ${User.usernameKey(username)}`
      ).pipe(Effect.map((rows) => Option.map(first(rows), toUser)))
  })
}))

const ResourceRow = Schema.Struct({
  realm_id: Schema.String,
  uri: Schema.String,
  scopes: Schema.Array(Schema.String),
  step_up_scopes: Schema.Array(Schema.String),
  created_at: Schema.DateFromSelf
})
const toResource = (row: typeof ResourceRow.Type): Resource.Resource => ({
  realmId: row.realm_id,
  uri: row.uri,
  scopes: row.scopes,
  stepUpScopes: row.step_up_scopes,
  createdAt: at(row.created_at)
})

export const layerResources = Layer.effect(Resources.Resources, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  return Resources.Resources.of({
    insert: (resource, event) =>
      insertWithEvent(sql, "resources", "resource", {
        realm_id: resource.realmId,
        uri: resource.uri,
        scopes: resource.scopes as Array<string>,
        step_up_scopes: resource.stepUpScopes as Array<string>,
        created_at: toDate(resource.createdAt)
      }, event),
    find: (realmId, uri) =>
      select(sql, realmId, ResourceRow, sql`SELECT * FROM resources WHERE realm_id = ${realmId} AND uri = ${uri}`)
        .pipe(Effect.map((rows) => Option.map(first(rows), toResource))),
    list: (realmId) =>
      select(sql, realmId, ResourceRow, sql`SELECT * FROM resources WHERE realm_id = ${realmId} ORDER BY uri`)
        .pipe(Effect.map((rows) => rows.map(toResource)))
  })
}))

const TrustedIssuerRow = Schema.Struct({
  realm_id: Schema.String,
  issuer: Schema.String,
  keys: Schema.Unknown,
  created_at: Schema.DateFromSelf
})
const toTrustedIssuer = (row: typeof TrustedIssuerRow.Type): TrustedIssuer.TrustedIssuer => ({
  realmId: row.realm_id,
  issuer: row.issuer,
  keys: row.keys as TrustedIssuer.TrustedIssuer["keys"],
  createdAt: at(row.created_at)
})

export const layerTrustedIssuers = Layer.effect(TrustedIssuers.TrustedIssuers, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  return TrustedIssuers.TrustedIssuers.of({
    insert: (trusted, event) =>
      insertWithEvent(sql, "trusted_issuers", "trusted_issuer", {
        realm_id: trusted.realmId,
        issuer: trusted.issuer,
        keys: JSON.stringify(trusted.keys),
        created_at: toDate(trusted.createdAt)
      }, event),
    find: (realmId, issuer) =>
      select(sql, realmId, TrustedIssuerRow, sql`SELECT * FROM trusted_issuers WHERE realm_id = ${realmId} AND issuer = ${issuer}`)
        .pipe(Effect.map((rows) => Option.map(first(rows), toTrustedIssuer))),
    list: (realmId) =>
      select(sql, realmId, TrustedIssuerRow, sql`SELECT * FROM trusted_issuers WHERE realm_id = ${realmId} ORDER BY issuer`)
        .pipe(Effect.map((rows) => rows.map(toTrustedIssuer)))
  })
}))
