/**
 * The row-level security every realm-scoped table gets, shared by the migrations. Migrations are history: never
 * change what these produce; a different policy is a new helper used by a new migration.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/** The realm a transaction is pinned to (`set_config('app.realm_id', $1, true)`); NULLIF: a reused connection has ''. */
export const realm = "NULLIF(current_setting('app.realm_id', true), '')::uuid"

/** ENABLE + FORCE (the owner too) and the one realm policy, for reads and writes. */
export const isolate = (table: string) => [
  `ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`,
  `ALTER TABLE ${table} FORCE ROW LEVEL SECURITY`,
  `CREATE POLICY ${table}_realm ON ${table} USING (realm_id = ${realm}) WITH CHECK (realm_id = ${realm})`
]

/** A migration that runs its statements in order (inside the migrator's transaction). */
export const run = (statements: ReadonlyArray<string>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => Effect.forEach(statements, (s) => sql.unsafe(s), { discard: true }))
