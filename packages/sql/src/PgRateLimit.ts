/**
 * The fixed windows of `RateLimit` on Postgres (ADR 0055, 0059; migration 00026): one row per rule and key in
 * `rate_limit_windows`, so that every node counts against the same windows. A take is one statement, atomic under the
 * row's lock: of N concurrent takes on a key, each sees the count the one before it wrote.
 */
import { SqlClient } from "@effect/sql"
import { DateTime, Effect, Layer, Schema } from "effect"
import { RateLimit } from "@tessera/domain"
import { single } from "./PgRows.js"
import { on } from "./Sql.js"

/** A row as the port's `Window`: the count is at most the limit plus one (a refused take is not counted). */
const WindowRow = Schema.transform(
  Schema.Struct({ started_at: Schema.DateFromSelf, count: Schema.Number }),
  Schema.Struct({ start: Schema.Number, count: Schema.Number }),
  {
    strict: true,
    decode: (row) => ({ start: row.started_at.getTime(), count: row.count }),
    encode: (window) => ({ started_at: new Date(window.start), count: window.count })
  }
)

const Take = Schema.Struct({ name: Schema.String, key: Schema.String, limit: Schema.Number, windowMillis: Schema.Number, now: Schema.DateFromSelf })

/** How many ended windows of the rule one take drops, skipping rows others hold: the table keeps to live keys. */
const purgeBatch = 16

export const layer = Layer.effect(RateLimit.RateLimit, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const run = on(sql)
  const window = (millis: number) => sql`(${millis} * interval '1 millisecond')`
  // one statement: the key's window opened (a new key, or its window ended), or counted in, up to limit + 1; a few
  // ended windows of the rule are dropped on the way (not this key's: ON CONFLICT decides it)
  const taken = single("rate_limit_windows", {
    Request: Take,
    Result: WindowRow,
    execute: ({ key, limit, name, now, windowMillis }) =>
      sql`WITH purged AS (
          DELETE FROM rate_limit_windows WHERE ctid IN (
            SELECT ctid FROM rate_limit_windows WHERE rule = ${name} AND started_at <= ${now}::timestamptz - ${window(windowMillis)}
              AND key <> ${key}
            LIMIT ${purgeBatch} FOR UPDATE SKIP LOCKED))
        INSERT INTO rate_limit_windows AS w ${sql.insert({ rule: name, key, started_at: now, count: 1 })}
        ON CONFLICT (rule, key) DO UPDATE SET
          started_at = CASE WHEN ${now}::timestamptz - w.started_at >= ${window(windowMillis)} THEN EXCLUDED.started_at ELSE w.started_at END,
          count = CASE WHEN ${now}::timestamptz - w.started_at >= ${window(windowMillis)} THEN 1 ELSE LEAST(w.count + 1, ${limit + 1}::bigint) END
        RETURNING started_at, count`
  })
  return RateLimit.RateLimit.of({
    take: (rule, key, now) =>
      taken({ name: rule.name, key, limit: rule.limit, windowMillis: rule.windowMillis, now: DateTime.toDate(now) }).pipe(
        // over the limit: the verdict on the window as it was counted (RateLimit.take, the wait until it ends)
        Effect.map((counted) =>
          counted.count <= rule.limit ? RateLimit.Verdict.Allowed() : RateLimit.take(rule, counted, DateTime.toEpochMillis(now))[0]
        ),
        run
      ),
    // a refused take was not counted: the count past the limit stands for none
    refund: (rule, key, now) =>
      sql`UPDATE rate_limit_windows SET count = LEAST(count, ${rule.limit}::bigint) - 1
        WHERE rule = ${rule.name} AND key = ${key} AND count > 0
          AND ${DateTime.toDate(now)}::timestamptz - started_at < ${window(rule.windowMillis)}`.pipe(Effect.asVoid, run)
  })
}))
