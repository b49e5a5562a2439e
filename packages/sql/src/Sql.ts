/** Realm-scoped transactions for row-level security, and store failures as the domain's `StoreError`. */
import { SqlClient } from "@effect/sql"
import { SqlError } from "@effect/sql/SqlError"
import { Effect, Option, Predicate } from "effect"
import { Conflict, RealmPin, StoreError } from "@tessera/domain"

/**
 * `sql.withTransaction`, with a failed COMMIT or ROLLBACK as the `SqlError` it is: @effect/sql turns those into
 * defects, so a connection lost mid-transaction would otherwise surface as a crash rather than as `StoreError`.
 */
const transaction = <A, E, R>(sql: SqlClient.SqlClient, effect: Effect.Effect<A, E, R>) =>
  sql.withTransaction(effect).pipe(
    Effect.catchSomeDefect((defect) => (Predicate.isTagged(defect, "SqlError") ? Option.some(Effect.fail(defect as SqlError)) : Option.none()))
  )

/**
 * Runs `effect` in a transaction pinned to `realmId`: `set_config(..., true)` is transaction-local, so a pooled
 * connection never carries a realm into the next transaction (SET LOCAL takes no parameters). Issue 14: inside a
 * fiber pinned to another realm (a tenant admin's request, `RealmPin`) the transaction is refused before it starts, a
 * defect: the owner trail's realm id is another realm too.
 */
export const withRealm = (realmId: string) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.zipRight(
    RealmPin.check(realmId),
    Effect.flatMap(SqlClient.SqlClient, (sql) =>
      transaction(sql, sql`SELECT set_config('app.realm_id', ${realmId}, true)`.pipe(Effect.zipRight(effect))).pipe(
        realmGoneOnForeignKey(realmId)
      ))
  )

/**
 * Issue 17 (ADR 0063): `effect` is one statement that pins its own transaction to the realm (a function of migration
 * 00027, as `audit_append` does), sent alone: one round trip instead of BEGIN, set_config, the statements and COMMIT.
 * Refused before it starts in a fiber pinned to another realm, as `withRealm` refuses; a write that failed a foreign
 * key because the realm is gone answers `RealmGone`, as in `withRealm`.
 */
export const inRealm = (realmId: string) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.zipRight(RealmPin.check(realmId), realmGoneOnForeignKey(realmId)(effect))

/** SQLSTATE 23503 foreign_key_violation, as the driver's error (the `SqlError`'s cause) carries it. */
const isForeignKeyViolation = (e: unknown): e is SqlError =>
  Predicate.isTagged(e, "SqlError") && Predicate.isObject((e as SqlError).cause) &&
  ((e as SqlError).cause as { code?: unknown }).code === "23503"

/**
 * Issue 15: a write that failed a foreign key (23503) in a realm that is gone answers `RealmGone` (the edge's unknown
 * realm, ADR 0030) instead of the violation (503). A write that comes after its realm's deletion, or waited for it
 * (an insert's KEY SHARE on the realm row), finds no realm row. Asked afterwards, in a transaction of its own (the
 * failed one is aborted): only when the realm row is gone; any other foreign key failure, or a failed check, stays
 * the violation it was.
 */
export const realmGoneOnForeignKey = (realmId: string) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R | SqlClient.SqlClient> =>
  Effect.catchAll(effect, (violation) =>
    !isForeignKeyViolation(violation) ? Effect.fail(violation) : Effect.flatMap(
      Effect.flatMap(SqlClient.SqlClient, (sql) =>
        transaction(sql, sql`SELECT set_config('app.realm_id', ${realmId}, true)`.pipe(
          Effect.zipRight(sql`SELECT 1 FROM realms WHERE id = ${realmId}`)
        ))).pipe(Effect.map((rows) => rows.length === 1), Effect.orElseSucceed(() => true)),
      (exists): Effect.Effect<never, E | SqlError> =>
        Effect.fail(
          exists ? violation : new SqlError({ cause: new StoreError.RealmGone({ realmId }), message: `realm ${realmId} is gone` })
        )
    ))

/**
 * Takes the realm row's KEY SHARE lock, in a transaction pinned to the realm, and answers whether the realm is still
 * there. Lock order: a write that changes a realm's rows without inserting any first (its first row lock would
 * otherwise be the key ring or the trail head) takes this before anything else, as every insert does through its
 * foreign key. A realm's PATCH and its deletion hold the realm row FOR UPDATE and then take the trail head (deletion:
 * every row of the realm); a write that held the ring or the trail head and only then asked for the realm row (its
 * audit event's foreign key) closed a cycle with them: a deadlock, SQLSTATE 40P01, answered 503 (issue 15).
 */
export const lockRealm = (realmId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(sql`SELECT 1 FROM realms WHERE id = ${realmId} FOR KEY SHARE`, (rows) => rows.length === 1))

/**
 * `lockRealm` as the first statement of a change of a realm's own rows (a user's or client's UPDATE or DELETE, issue
 * 15): the lock order is the realm row, then the row changed, then the trail head. A change that locked its row first
 * and the realm row only with its event closed a cycle with a deletion that began between the two (the deletion holds
 * the realm row and then deletes that row): a deadlock, 40P01, answered 503. A realm deleted meanwhile is `NotFound`
 * realm (CONTRACT §3's 404 unknown realm), with nothing written.
 */
export const realmFirst = (realmId: string) =>
  Effect.flatMap(lockRealm(realmId), (found) => found ? Effect.void : Effect.fail(new Conflict.NotFound({ entity: "realm" })))

/**
 * Runs `effect` in a transaction that may read the realm directory (names to ids), and nothing realm-scoped. Issue 14:
 * in a pinned fiber the directory is the pinned realm's row alone (the `realms` policy without `app.directory`), so
 * another realm's name finds nothing, exactly as a realm that does not exist.
 */
export const withDirectory = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(RealmPin.get, (pin) =>
    Effect.flatMap(SqlClient.SqlClient, (sql) =>
      transaction(
        sql,
        (Option.isSome(pin)
          ? sql`SELECT set_config('app.realm_id', ${pin.value}, true)`
          : sql`SELECT set_config('app.directory', 'on', true)`).pipe(Effect.zipRight(effect))
      )))

/** Failures of the store itself: SQL, a value that does not decode, a row that does not (`PgRows.RowRejected`). */
type Failure = { readonly _tag: "SqlError" | "ParseError" | "RowRejected" }

/** SQL and decoding failures become `StoreError` at the port; domain failures pass through. */
export const orStoreError = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(
    Effect.catchIf(
      (e): e is Extract<E, Failure> =>
        typeof e === "object" && e !== null && "_tag" in e &&
        (e._tag === "SqlError" || e._tag === "ParseError" || e._tag === "RowRejected"),
      (cause) => Effect.fail(new StoreError.StoreError({ cause }))
    )
  ) as Effect.Effect<A, Exclude<E, Failure> | StoreError.StoreError, R>

/** Runs a port method on the layer's client: SQL and decoding failures become `StoreError`. */
export const on = (sql: SqlClient.SqlClient) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  orStoreError(Effect.provideService(effect, SqlClient.SqlClient, sql))

/** Postgres `timestamptz` comes back as a JS Date; the domain speaks DateTime. */
export const toDate = (at: { readonly epochMillis: number }) => new Date(at.epochMillis)
