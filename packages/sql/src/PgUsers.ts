/** Users on Postgres: realm-scoped rows written with their audit event; changes by compare-and-set on `version`. */
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Schema } from "effect"
import { Conflict, User, Users } from "@tessera/domain"
import type { Page } from "@tessera/domain"
import { appendEvent } from "./PgAudit.js"
import { findAll, findOne, insertWithEvent, present, Timestamp } from "./PgRows.js"
import { endSessionsOf, revokeGrantsWhere } from "./PgSignIn.js"
import { on, realmFirst, toDate, withRealm } from "./Sql.js"

/** A `users` row as the entity (issue 18): `roles` decodes through `User.Role`. */
export const UserRow = Schema.transform(
  Schema.Struct({
    realm_id: Schema.String,
    sub: Schema.String,
    username: Schema.String,
    password_hash: Schema.String,
    email: Schema.NullOr(Schema.String),
    name: Schema.NullOr(Schema.String),
    roles: Schema.Array(User.Role),
    disabled: Schema.Boolean,
    version: Schema.Number,
    tokens_not_before: Schema.NullOr(Timestamp),
    created_at: Timestamp
  }),
  User.User,
  {
    strict: true,
    decode: (row) => ({
      realmId: row.realm_id,
      sub: row.sub,
      username: row.username,
      passwordHash: row.password_hash,
      ...present("email", row.email),
      ...present("name", row.name),
      roles: row.roles,
      disabled: row.disabled,
      version: row.version,
      ...present("tokensNotBefore", row.tokens_not_before),
      createdAt: row.created_at
    }),
    encode: (user) => ({
      realm_id: user.realmId,
      sub: user.sub,
      username: user.username,
      password_hash: user.passwordHash,
      email: user.email ?? null,
      name: user.name ?? null,
      roles: user.roles,
      disabled: user.disabled,
      version: user.version,
      tokens_not_before: user.tokensNotBefore ?? null,
      created_at: user.createdAt
    })
  }
)
const userColumns = "realm_id, sub, username, password_hash, email, name, roles, disabled, version, tokens_not_before, created_at"

const BySub = Schema.Struct({ realmId: Schema.String, sub: Schema.String })
const ByUsername = Schema.Struct({ realmId: Schema.String, username: Schema.String })
const Listing = Schema.Struct({
  realmId: Schema.String,
  prefix: Schema.optionalWith(Schema.String, { exact: true }),
  limit: Schema.Number,
  after: Schema.optionalWith(Schema.String, { exact: true })
})

/**
 * The first string after every string that starts with `prefix`, in code point order (`COLLATE "C"`): its last code
 * point plus one (skipping the surrogates); none when that is past U+10FFFF.
 */
const prefixEnd = (prefix: string): string | undefined => {
  const points = Array.from(prefix)
  const last = points.pop()?.codePointAt(0)
  if (last === undefined || last >= 0x10FFFF) return undefined
  return points.join("") + String.fromCodePoint(last + 1 === 0xD800 ? 0xE000 : last + 1)
}

/** A username-key or email-key prefix as an index range, checked exactly by `starts_with`. */
const startsWith = (sql: SqlClient.SqlClient, column: "username_key" | "email_key", prefix: string) => {
  const end = prefixEnd(prefix)
  return sql`(${sql(column)} COLLATE "C" >= ${prefix} ${end !== undefined ? sql`AND ${sql(column)} COLLATE "C" < ${end}` : sql``}
    AND starts_with(${sql(column)}, ${prefix}))`
}

/**
 * CONTRACT §3 user list (ADR 0031): users_by_username_key orders the page; with a prefix, users_by_email_key and it
 * answer the two ranges. Exported for the test that asks the planner which indexes it uses.
 */
export const listStatement = (sql: SqlClient.SqlClient, realmId: string, prefix: string | undefined, window: Page.Window) => {
  const key = prefix === undefined ? undefined : User.usernameKey(prefix)
  return sql`SELECT ${sql.unsafe(userColumns)} FROM users WHERE realm_id = ${realmId}
    ${window.after !== undefined ? sql`AND username_key COLLATE "C" > ${window.after}` : sql``}
    ${key !== undefined ? sql`AND (${startsWith(sql, "username_key", key)} OR ${startsWith(sql, "email_key", key)})` : sql``}
    ORDER BY username_key COLLATE "C" LIMIT ${window.limit + 1}`
}

/** A new user's row (also inserted by an invitation's acceptance, PgInvitations). */
export const rowOf = (user: User.User) => ({
  realm_id: user.realmId,
  sub: user.sub,
  username: user.username,
  username_key: User.usernameKey(user.username),
  password_hash: user.passwordHash,
  email: user.email ?? null,
  email_key: user.email !== undefined ? User.emailKey(user.email) : null,
  name: user.name ?? null,
  roles: user.roles as Array<string>,
  disabled: user.disabled,
  version: user.version,
  created_at: toDate(user.createdAt)
})

export const layerUsers = Layer.effect(Users.Users, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const run = on(sql)
  const bySub = findOne("users", {
    Request: BySub,
    Result: UserRow,
    execute: ({ realmId, sub }) => sql`SELECT ${sql.unsafe(userColumns)} FROM users WHERE realm_id = ${realmId} AND sub = ${sub}`
  })
  const byUsername = findOne("users", {
    Request: ByUsername,
    Result: UserRow,
    execute: ({ realmId, username }) =>
      sql`SELECT ${sql.unsafe(userColumns)} FROM users WHERE realm_id = ${realmId} AND username_key = ${User.usernameKey(username)}`
  })
  const list = findAll("users", {
    Request: Listing,
    Result: UserRow,
    execute: ({ realmId, prefix, ...window }) => listStatement(sql, realmId, prefix, window)
  })

  /** Inside the realm transaction: the row is at `expectedVersion`, or it is `NotFound` / `Stale`. */
  const refused = (realmId: string, sub: string) =>
    Effect.flatMap(
      sql`SELECT 1 FROM users WHERE realm_id = ${realmId} AND sub = ${sub}`,
      (rows): Effect.Effect<never, Conflict.NotFound | Conflict.Stale> =>
        Effect.fail(rows.length === 0 ? new Conflict.NotFound({ entity: "user" }) : new Conflict.Stale({ entity: "user" }))
    )

  return Users.Users.of({
    insert: (user, event) => insertWithEvent(sql, "users", "user", rowOf(user), event),
    find: (realmId, sub) => bySub({ realmId, sub }).pipe(withRealm(realmId), run),
    findByUsername: (realmId, username) => byUsername({ realmId, username }).pipe(withRealm(realmId), run),
    list: (realmId, prefix, window) =>
      list({ realmId, ...(prefix !== undefined ? { prefix } : {}), ...window }).pipe(withRealm(realmId), run),
    update: (user, expectedVersion, cutOff, now, event) =>
      Effect.gen(function*() {
        yield* realmFirst(user.realmId)
        const updated = yield* sql`UPDATE users SET
            password_hash = ${user.passwordHash},
            email = ${user.email ?? null},
            email_key = ${user.email !== undefined ? User.emailKey(user.email) : null},
            name = ${user.name ?? null},
            roles = ${user.roles as Array<string>},
            disabled = ${user.disabled},
            version = ${user.version},
            tokens_not_before = ${user.tokensNotBefore !== undefined ? toDate(user.tokensNotBefore) : null}
          WHERE realm_id = ${user.realmId} AND sub = ${user.sub} AND version = ${expectedVersion}
          RETURNING sub`
        if (updated.length === 0) return yield* refused(user.realmId, user.sub)
        // CONTRACT §3: cut off in the transaction of the change and its event
        const ended = cutOff ? yield* cutOffOf(sql, user.realmId, user.sub, now) : []
        yield* appendEvent(event)
        return ended
      }).pipe(withRealm(user.realmId), run),
    remove: (realmId, sub, expectedVersion, now, event) =>
      Effect.gen(function*() {
        yield* realmFirst(realmId)
        const deleted = yield* sql`DELETE FROM users WHERE realm_id = ${realmId} AND sub = ${sub} AND version = ${expectedVersion}
          RETURNING sub`
        if (deleted.length === 0) return yield* refused(realmId, sub)
        yield* sql`DELETE FROM consents WHERE realm_id = ${realmId} AND sub = ${sub}`
        const ended = yield* cutOffOf(sql, realmId, sub, now)
        yield* appendEvent(event)
        return ended
      }).pipe(withRealm(realmId), run)
  })
}))

/** Inside a realm transaction: revokes the person's grants and ends their sessions (answered, for front-channel logout). */
const cutOffOf = (sql: SqlClient.SqlClient, realmId: string, sub: string, now: import("effect").DateTime.Utc) =>
  Effect.zipRight(revokeGrantsWhere(sql, realmId, { sub }, now), endSessionsOf(sql, realmId, sub, now))
