/**
 * Used JWT IDs on Postgres (RFC 9449 §11.1, RFC 7523 §3 item 7, ADR 0056): the `remember`s of one realm that arrive
 * while its previous statement runs go together in the next one (group commit, ADR 0022), one statement and one
 * COMMIT per batch instead of per proof, and each caller is answered whether its own `jti` was new.
 */
import { SqlClient } from "@effect/sql"
import { Clock, Data, DateTime, Effect, Layer, Schema } from "effect"
import { JtiCache, RealmPin, StoreError } from "@tessera/domain"
import * as GroupCommit from "./GroupCommit.js"
import * as PgRows from "./PgRows.js"
import { on, withRealm } from "./Sql.js"

/** One `remember`: the issuer and `jti`, until when (epoch ms), and the caller's clock when it asked (epoch ms). */
export interface Use {
  readonly issuer: string
  readonly jti: string
  readonly expiresAt: number
  readonly now: number
}

/** A row the batch's statement writes: one per distinct (issuer, jti). */
export interface Row {
  readonly issuer: string
  readonly jti: string
  readonly expiresAt: number
}

/**
 * What one statement writes for a batch, and how each use is answered from what it says. `rows`: one per distinct
 * (issuer, jti), in order of first use (the database refuses a statement that would write one key twice). `uses`: per
 * use, its row and whether it is new provided its row was (the statement answers for the row): the uses of one `jti`
 * are answered as if they came one after another, a later one new only when the one before it is already forgotten
 * (its expiry at or before `now`), and then the row is remembered until the later one's expiry. `now` is the earliest
 * caller's clock: what is forgotten is so for every caller of the batch.
 */
export interface Plan {
  readonly rows: ReadonlyArray<Row>
  readonly uses: ReadonlyArray<{ readonly row: number; readonly fresh: boolean }>
  readonly now: number
}

/** The key of (issuer, jti): unambiguous, as neither holds U+0000 (`refusal`). */
const keyOf = (issuer: string, jti: string) => `${issuer}\u0000${jti}`

/** Pure: the rows of a batch and how each use is answered (`Plan`). */
export const plan = (uses: ReadonlyArray<Use>): Plan => {
  let now = Number.POSITIVE_INFINITY
  for (const use of uses) if (use.now < now) now = use.now
  const rows: Array<Row> = []
  const answers = new Array<{ readonly row: number; readonly fresh: boolean }>(uses.length)
  const index = new Map<string, number>()
  for (let i = 0; i < uses.length; i++) {
    const use = uses[i]!
    const key = keyOf(use.issuer, use.jti)
    const at = index.get(key)
    if (at === undefined) {
      index.set(key, rows.length)
      answers[i] = { row: rows.length, fresh: true }
      rows.push({ issuer: use.issuer, jti: use.jti, expiresAt: use.expiresAt })
    } else if (rows[at]!.expiresAt <= now) {
      // the batch's earlier use is forgotten already (its JWT is expired): this one is new, and is what is remembered
      rows[at] = { issuer: use.issuer, jti: use.jti, expiresAt: use.expiresAt }
      answers[i] = { row: at, fresh: true }
    } else {
      // RFC 9449 §11.1, RFC 7523 §3: the batch's earlier use of this jti is still remembered, so this one is a replay
      answers[i] = { row: at, fresh: false }
    }
  }
  return { rows, uses: answers, now }
}

/**
 * A value the database cannot hold fails its own `remember` alone, before it can share a batch (one statement: its
 * failure would be every batch-mate's): U+0000 or a lone surrogate (PostgreSQL's text refuses or cannot encode them),
 * or a `jti` longer than `JtiCache.maxLength` (ADR 0047: the index entry has a bound). Callers refuse these first
 * (`Dpop`, `JwtAssertion`); this keeps a caller that forgets from failing others' requests.
 */
export class JtiRefused extends Data.TaggedError("JtiRefused")<{ readonly reason: string }> {
  override get message() {
    return `the replay cache cannot hold this jti: ${this.reason}`
  }
}

const unstorable = /\u0000|\p{Cs}/u

/**
 * The most UTF-8 bytes of issuer and jti together one use may hold: the primary key's b-tree entry (realm_id, issuer,
 * jti) is refused by PostgreSQL over 2 704 bytes ("index row size ... exceeds btree version 4 maximum"), which would
 * fail the whole batch's statement. 2 600 leaves room for the uuid, the tuple header and the two length words.
 * A 255-character jti of three-byte characters is 765 bytes; trusted issuers' URLs have no length bound of their own.
 */
export const maxKeyBytes = 2_600

const encoder = new TextEncoder()

const refusal = (issuer: string, jti: string): JtiRefused | undefined =>
  jti.length > JtiCache.maxLength
    ? new JtiRefused({ reason: `longer than ${JtiCache.maxLength} characters` })
    : encoder.encode(issuer).length + encoder.encode(jti).length > maxKeyBytes
    ? new JtiRefused({ reason: `issuer and jti longer than ${maxKeyBytes} bytes together` })
    : unstorable.test(jti) || unstorable.test(issuer)
    ? new JtiRefused({ reason: "U+0000 or a lone surrogate" })
    : undefined

/** How many expired jtis a statement drops per use it writes: more than one, so the table shrinks after a burst. */
export const purgePerUse = 16

/** At most this many `remember`s per statement. */
export const maxBatch = 256

/** What the statement returns: the (issuer, jti) of each row it inserted or replaced, that is each row that was new. */
const Written = Schema.Struct({ issuer: Schema.String, jti: Schema.String })

/** A batch as the statement takes it: the realm, the earliest caller's now, how many to purge, the rows as JSON. */
const Batch = Schema.Struct({ realmId: Schema.String, now: Schema.DateFromSelf, purge: Schema.Number, rows: Schema.String })

/**
 * One statement for a batch of one realm, run in the realm's transaction: the rows are inserted, an expired one
 * replaced; a live one is a replay (no row returned). In order of (issuer, jti), so that two nodes' batches that share
 * jtis take their row locks in one order (no deadlock: the second waits, then finds the first's row live). Every DPoP
 * proof leaves a row (RFC 9449 §11.1), so the same statement drops a few expired ones of the realm, skipping rows
 * another transaction holds and the batch's own keys (which ON CONFLICT deals with): the table stays the size of the
 * live window without a sweeper or lock waits.
 */
const write = (sql: SqlClient.SqlClient) =>
  PgRows.findAll("seen_jtis", {
    Request: Batch,
    Result: Written,
    execute: (batch) =>
      sql`WITH batch AS (
          SELECT b.issuer, b.jti, b.expires_at
            FROM jsonb_to_recordset(${batch.rows}::jsonb) AS b (issuer text, jti text, expires_at timestamptz)
        ), purged AS (
          DELETE FROM seen_jtis WHERE ctid IN (
            SELECT s.ctid FROM seen_jtis s WHERE s.realm_id = ${batch.realmId} AND s.expires_at <= ${batch.now}
              AND NOT EXISTS (SELECT 1 FROM batch WHERE batch.issuer = s.issuer AND batch.jti = s.jti)
            LIMIT ${batch.purge} FOR UPDATE SKIP LOCKED))
        INSERT INTO seen_jtis (realm_id, issuer, jti, expires_at)
          SELECT ${batch.realmId}::uuid, issuer, jti, expires_at FROM batch ORDER BY issuer, jti
          ON CONFLICT (realm_id, issuer, jti) DO UPDATE SET expires_at = EXCLUDED.expires_at
          WHERE seen_jtis.expires_at <= ${batch.now}
        RETURNING issuer, jti`
  })

/** One use on its own, `write`'s statement for a single row: simpler to plan (on PGlite, in WebAssembly, that shows). */
const One = Schema.Struct({
  realmId: Schema.String, now: Schema.DateFromSelf, purge: Schema.Number, issuer: Schema.String, jti: Schema.String, expiresAt: Schema.DateFromSelf
})

const writeOne = (sql: SqlClient.SqlClient) =>
  PgRows.findAll("seen_jtis", {
    Request: One,
    Result: Written,
    execute: (use) =>
      sql`WITH purged AS (
          DELETE FROM seen_jtis WHERE ctid IN (
            SELECT ctid FROM seen_jtis WHERE realm_id = ${use.realmId} AND expires_at <= ${use.now}
              AND NOT (issuer = ${use.issuer} AND jti = ${use.jti})
            LIMIT ${use.purge} FOR UPDATE SKIP LOCKED))
        INSERT INTO seen_jtis ${sql.insert({ realm_id: use.realmId, issuer: use.issuer, jti: use.jti, expires_at: use.expiresAt })}
          ON CONFLICT (realm_id, issuer, jti) DO UPDATE SET expires_at = EXCLUDED.expires_at
          WHERE seen_jtis.expires_at <= ${use.now} RETURNING issuer, jti`
  })

/**
 * Remembers a batch of one realm's uses in one statement and answers each (`Plan`): exported for the store's proofs,
 * which give it a batch of their choosing.
 */
export const rememberAll = (realmId: string, uses: ReadonlyArray<Use>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const { now, rows, uses: answers } = plan(uses)
    const json = rows.length === 1 ? "" : JSON.stringify(rows.map((row) => ({ issuer: row.issuer, jti: row.jti, expires_at: new Date(row.expiresAt).toISOString() })))
    const written = rows.length === 1
      ? yield* writeOne(sql)({ realmId, now: new Date(now), purge: purgePerUse, issuer: rows[0]!.issuer, jti: rows[0]!.jti, expiresAt: new Date(rows[0]!.expiresAt) })
      : yield* write(sql)({ realmId, now: new Date(now), purge: purgePerUse * rows.length, rows: json })
    const fresh = new Set<string>()
    for (const row of written) fresh.add(keyOf(row.issuer, row.jti))
    return answers.map(({ fresh: first, row }) => first && fresh.has(keyOf(rows[row]!.issuer, rows[row]!.jti)))
  }).pipe(withRealm(realmId))

export const layer = Layer.scoped(JtiCache.JtiCache, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const run = on(sql)
  // ADR 0056: per realm, the uses arriving while a statement is in flight go together in the next one
  const group = yield* GroupCommit.makeAnswering({
    maxBatch,
    flush: (realmId: string, uses: ReadonlyArray<Use>) => run(rememberAll(realmId, uses))
  })
  return JtiCache.JtiCache.of({
    remember: (realmId, issuer, jti, expiresAt) =>
      Effect.gen(function*() {
        // issue 14: the statement runs in the layer's fibers, which no request pinned; the caller's pin is checked here
        yield* RealmPin.check(realmId)
        const refused = refusal(issuer, jti)
        if (refused !== undefined) return yield* new StoreError.StoreError({ cause: refused })
        const now = yield* Clock.currentTimeMillis
        return yield* group.submit(realmId, { issuer, jti, expiresAt: DateTime.toEpochMillis(expiresAt), now })
      })
  })
}))
