/**
 * The throttles on Postgres (migration 00010, ADR 0027): `LoginThrottle` and `UserCodeThrottle` keep one row per key in
 * `throttles` (failures, when the last was counted, and when the row may go). A reservation is one realm
 * transaction: each key's row is created or locked by one upsert (in key order, so two reservations never wait on
 * each other in a cycle), the verdict is decided on the locked counts, and the counts are written back before COMMIT.
 * Of N concurrent reservations on a key, each sees the count the one before it wrote.
 */
import { SqlClient } from "@effect/sql"
import { DateTime, Duration, Effect, Layer, Option, Schema } from "effect"
import { LoginThrottle, UserCodeThrottle } from "@tessera/domain"
import { findOne, single } from "./PgRows.js"
import { on, withRealm } from "./Sql.js"

/** A `throttles` row's count as `LoginThrottle.Count` (issue 18). */
const CountRow = Schema.transform(
  Schema.Struct({ failures: Schema.Number, last_at: Schema.DateFromSelf }),
  LoginThrottle.Count,
  {
    strict: true,
    decode: (row) => ({ failures: row.failures, last: row.last_at.getTime() }),
    encode: (count) => ({ failures: count.failures, last_at: new Date(count.last) })
  }
)

const Key = Schema.Struct({ realmId: Schema.String, key: Schema.String })
const LiveKey = Schema.Struct({ realmId: Schema.String, key: Schema.String, now: Schema.Number })

/** A placeholder row's instant: its count is forgotten at once and it may be dropped by the next purge. */
const epoch = new Date(0)

/** How many expired rows of the realm one reservation drops, skipping rows others hold: the table keeps to live keys. */
const purgeBatch = 16

export const counts = (sql: SqlClient.SqlClient) => {
  // one statement: inserted, or the existing row locked (ON CONFLICT DO UPDATE) and read as it now is
  const upsert = single("throttles", {
    Request: Key,
    Result: CountRow,
    execute: ({ realmId, key }) =>
      sql`INSERT INTO throttles ${sql.insert({ realm_id: realmId, key, failures: 0, last_at: epoch, expires_at: epoch })}
        ON CONFLICT (realm_id, key) DO UPDATE SET failures = throttles.failures RETURNING failures, last_at`
  })
  const live = findOne("throttles", {
    Request: LiveKey,
    Result: CountRow,
    execute: ({ realmId, key, now }) =>
      sql`SELECT failures, last_at FROM throttles WHERE realm_id = ${realmId} AND key = ${key} AND expires_at > ${new Date(now)}`
  })
  /** Locks (creating when missing) each key's row, in key order; the counts in `keys`' order. */
  const lock = (realmId: string, keys: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const locked = new Map<string, LoginThrottle.Count>()
      for (const key of [...new Set(keys)].sort()) {
        locked.set(key, yield* upsert({ realmId, key }))
      }
      return keys.map((key) => locked.get(key)!)
    })
  const write = (realmId: string, key: string, count: LoginThrottle.Count, expiresAt: number) =>
    sql`UPDATE throttles SET failures = ${count.failures}, last_at = ${new Date(count.last)}, expires_at = ${new Date(expiresAt)}
      WHERE realm_id = ${realmId} AND key = ${key}`
  const purge = (realmId: string, now: number) =>
    sql`DELETE FROM throttles WHERE ctid IN (
      SELECT ctid FROM throttles WHERE realm_id = ${realmId} AND expires_at <= ${new Date(now)}
      LIMIT ${purgeBatch} FOR UPDATE SKIP LOCKED)`
  return {
    lock,
    write,
    /** The verdict over `keys` and, when allowed, one failure counted on each (callers run it in a realm transaction). */
    reserve: (realmId: string, keys: LoginThrottle.Keys, now: number) =>
      Effect.gen(function*() {
        yield* purge(realmId, now)
        const current = yield* lock(realmId, keys.map(([key]) => key))
        const { next, verdict } = LoginThrottle.reservation(current, keys, now)
        if (next !== undefined) {
          for (const [i, [key, b]] of keys.entries()) yield* write(realmId, key, next[i]!, LoginThrottle.expiresAt(next[i]!, b))
        }
        return verdict
      }),
    /** One reservation taken back from each of `keys` (locked, as `lock` gives them). */
    release: (realmId: string, keys: LoginThrottle.Keys, current: ReadonlyArray<LoginThrottle.Count>, now: number) =>
      Effect.forEach(keys, ([key, b], i) => {
        const count = LoginThrottle.released(current[i], b, now)
        return write(realmId, key, count, LoginThrottle.expiresAt(count, b))
      }, { discard: true }),
    /** The instant a key's row last counted, if it is a live row. */
    lastOf: (realmId: string, key: string, now: number) =>
      Effect.map(live({ realmId, key, now }), (row) => Option.getOrUndefined(row)?.last)
  }
}

export const layerLoginThrottleWith = (policy: LoginThrottle.Policy) =>
  Layer.effect(LoginThrottle.LoginThrottle, Effect.map(SqlClient.SqlClient, (sql) => {
    const run = on(sql)
    const store = counts(sql)
    const millis = DateTime.toEpochMillis
    /** The attempt's keys, by whether its address is one the username signed in from (read in the same transaction). */
    const keysOf = (attempt: LoginThrottle.Attempt, now: number) =>
      Effect.gen(function*() {
        const known = LoginThrottle.knownKey(attempt)
        const last = known === undefined ? undefined : yield* store.lastOf(attempt.realmId, known, now)
        return LoginThrottle.keysOf(attempt, policy, LoginThrottle.stillKnown(last, policy, now))
      })
    return LoginThrottle.LoginThrottle.of({
      reserve: (attempt, now) =>
        Effect.flatMap(keysOf(attempt, millis(now)), (keys) => store.reserve(attempt.realmId, keys, millis(now))).pipe(
          withRealm(attempt.realmId),
          run
        ),
      succeeded: (attempt, now) =>
        Effect.gen(function*() {
          const at = millis(now)
          const [own, ...others] = yield* keysOf(attempt, at)
          const known = LoginThrottle.knownKey(attempt)
          // every row this changes, locked first and in key order (as a reservation locks them): no lock cycle
          const current = yield* store.lock(attempt.realmId, [...others.map(([key]) => key), own![0], ...(known !== undefined ? [known] : [])])
          yield* store.release(attempt.realmId, others, current, at)
          // the person's own typos from here are forgiven; what others did from elsewhere only loses this reservation
          yield* store.write(attempt.realmId, own![0], { failures: 0, last: at }, at)
          if (known !== undefined) yield* store.write(attempt.realmId, known, { failures: 0, last: at }, at + Duration.toMillis(policy.knownFor))
        }).pipe(withRealm(attempt.realmId), run)
    })
  }))

export const layerUserCodeThrottleWith = (policy: UserCodeThrottle.Policy) =>
  Layer.effect(UserCodeThrottle.UserCodeThrottle, Effect.map(SqlClient.SqlClient, (sql) => {
    const run = on(sql)
    const store = counts(sql)
    return UserCodeThrottle.UserCodeThrottle.of({
      reserve: (realmId, ip, now) =>
        store.reserve(realmId, UserCodeThrottle.keysOf(ip, policy), DateTime.toEpochMillis(now)).pipe(withRealm(realmId), run),
      release: (realmId, ip, now) => {
        const keys = UserCodeThrottle.keysOf(ip, policy)
        return Effect.flatMap(store.lock(realmId, keys.map(([key]) => key)), (current) =>
          store.release(realmId, keys, current, DateTime.toEpochMillis(now))).pipe(withRealm(realmId), run)
      }
    })
  }))

/** Both throttles on the `SqlClient` in context. */
export const layer = Layer.mergeAll(
  layerLoginThrottleWith(LoginThrottle.defaultPolicy),
  layerUserCodeThrottleWith(UserCodeThrottle.defaultPolicy)
)
