/** Key rings on Postgres: one JSON document per realm (private keys inside stay sealed), compare-and-set on version. */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Layer, Option, Schema } from "effect"
import { Conflict, Keys, SigningKey, StoreError } from "@tessera/domain"
import { appendEvent } from "./PgAudit.js"
import * as PgRows from "./PgRows.js"
import { lockRealm, on, withRealm } from "./Sql.js"

const KeysJson = Schema.Array(SigningKey.Stored)

/** A ring's row: its version and its keys (jsonb, decoded into their states, ADR 0054). */
const Row = Schema.Struct({ version: Schema.Number, keys: KeysJson })

/** The row form of a ring: `keys` as JSON text for the jsonb column. */
export const encodeRing = (ring: SigningKey.Ring) => ({
  version: ring.version,
  keys: JSON.stringify(Schema.encodeSync(KeysJson)(ring.keys))
})

export const layer = Layer.effect(Keys.Keys, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const run = on(sql)
  const ringOf = PgRows.findOne("key_rings", {
    Request: Schema.String,
    Result: Row,
    execute: (realmId) => sql`SELECT version, keys FROM key_rings WHERE realm_id = ${realmId}`
  })
  return Keys.Keys.of({
    // issue 15 (ADR 0030): no ring is the realm gone only when the realm row is gone too (the port's `ring`)
    ring: (realmId) =>
      ringOf(realmId).pipe(
        Effect.flatMap((ring): Effect.Effect<Option.Option<SigningKey.Ring>, StoreError.StoreError | SqlError> =>
          Option.isSome(ring) ? Effect.succeed(ring) : Effect.flatMap(
            sql`SELECT 1 FROM realms WHERE id = ${realmId}`,
            (rows) => rows.length === 1 ? Effect.succeed(ring) : Effect.fail(StoreError.realmGone(realmId))
          )
        ),
        withRealm(realmId),
        run
      ),
    replace: (realmId, expectedVersion, ring, event) =>
      Effect.gen(function*() {
        // the realm row first, then the ring, then the trail head (`lockRealm`); a realm deleted meanwhile has no ring
        if (!(yield* lockRealm(realmId))) return yield* new Conflict.KeyRingChanged()
        const row = encodeRing(ring)
        const updated = yield* sql`
          UPDATE key_rings SET version = ${row.version}, keys = ${row.keys}::jsonb
          WHERE realm_id = ${realmId} AND version = ${expectedVersion} RETURNING version`
        if (updated.length === 0) return yield* new Conflict.KeyRingChanged()
        if (Option.isSome(event)) yield* appendEvent(event.value)
      }).pipe(withRealm(realmId), run)
  })
}))
