/** Users on Postgres: realm-scoped rows written with their audit event. */
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Option, Schema } from "effect"
import { User, Users } from "@tessera/domain"
import { at, first, insertWithEvent, select } from "./PgRows.js"
import { toDate } from "./Sql.js"

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
