/** Users on Postgres: realm-scoped rows written with their audit event; changes by compare-and-set on `version`. */
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Schema } from "effect"
import { User, Users } from "@tessera/domain"
import type { Page } from "@tessera/domain"
import { appendEvent } from "./PgAudit.js"
import { entityRow, Timestamp } from "./PgRows.js"
import * as RealmTable from "./RealmTable.js"
import { endSessionsOf, revokeGrantsWhere } from "./PgSignIn.js"
import { toDate } from "./Sql.js"

/** A `users` row as the entity (issue 18): `roles` decodes through `User.Role`. */
export const UserRow = entityRow({
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
}, User.User)
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
  const users = RealmTable.make(sql, { table: "users", entity: "user", Row: UserRow })
  const bySub = users.findOne(BySub, ({ realmId, sub }) =>
    sql`SELECT ${sql.unsafe(userColumns)} FROM users WHERE realm_id = ${realmId} AND sub = ${sub}`)
  const byUsername = users.findOne(ByUsername, ({ realmId, username }) =>
    sql`SELECT ${sql.unsafe(userColumns)} FROM users WHERE realm_id = ${realmId} AND username_key = ${User.usernameKey(username)}`)
  const list = users.findAll(Listing, ({ realmId, prefix, ...window }) => listStatement(sql, realmId, prefix, window))

  return Users.Users.of({
    insert: (user, event) => users.insert(rowOf(user), event),
    find: (realmId, sub) => bySub({ realmId, sub }),
    findByUsername: (realmId, username) => byUsername({ realmId, username }),
    list: (realmId, prefix, window) => list({ realmId, ...(prefix !== undefined ? { prefix } : {}), ...window }),
    update: (user, expectedVersion, cutOff, now, event) =>
      users.compareAndSet(
        { realm_id: user.realmId, sub: user.sub },
        sql`UPDATE users SET
            password_hash = ${user.passwordHash},
            email = ${user.email ?? null},
            email_key = ${user.email !== undefined ? User.emailKey(user.email) : null},
            name = ${user.name ?? null},
            roles = ${user.roles as Array<string>},
            disabled = ${user.disabled},
            version = ${user.version},
            tokens_not_before = ${user.tokensNotBefore !== undefined ? toDate(user.tokensNotBefore) : null}
          WHERE realm_id = ${user.realmId} AND sub = ${user.sub} AND version = ${expectedVersion}
          RETURNING sub`,
        Effect.gen(function*() {
          // CONTRACT §3: cut off in the transaction of the change and its event
          const ended = cutOff ? yield* cutOffOf(sql, user.realmId, user.sub, now) : []
          yield* appendEvent(event)
          return ended
        })
      ),
    remove: (realmId, sub, expectedVersion, now, event) =>
      users.compareAndSet(
        { realm_id: realmId, sub },
        sql`DELETE FROM users WHERE realm_id = ${realmId} AND sub = ${sub} AND version = ${expectedVersion}
          RETURNING sub`,
        Effect.gen(function*() {
          yield* sql`DELETE FROM consents WHERE realm_id = ${realmId} AND sub = ${sub}`
          const ended = yield* cutOffOf(sql, realmId, sub, now)
          yield* appendEvent(event)
          return ended
        })
      )
  })
}))

/** Inside a realm transaction: revokes the person's grants and ends their sessions (answered, for front-channel logout). */
const cutOffOf = (sql: SqlClient.SqlClient, realmId: string, sub: string, now: import("effect").DateTime.Utc) =>
  Effect.zipRight(revokeGrantsWhere(sql, realmId, { sub }, now), endSessionsOf(realmId, sub, now))
