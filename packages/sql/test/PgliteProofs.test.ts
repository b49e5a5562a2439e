import { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import { Database, ports } from "@tessera/sql"
import * as Proofs from "./Proofs.js"

const database = Database.layerPglite(undefined)

/**
 * PGlite's one session logs in as the superuser `postgres`, which ran the migrations and owns the tables; the
 * application only SET ROLE'd away from it, so the owner is one `SET LOCAL ROLE` away (stack notes §4 caveat).
 */
const owner = Layer.effect(Proofs.Owner, Effect.map(SqlClient.SqlClient, (sql) =>
  Proofs.Owner.of({
    run: (realmId, text, params = []) =>
      sql.withTransaction(
        sql`SET LOCAL ROLE postgres`.pipe(
          Effect.zipRight(sql`SELECT set_config('app.realm_id', ${realmId}, true)`),
          Effect.zipRight(sql.unsafe<Record<string, unknown>>(text, params))
        )
      )
  })))

Proofs.suite({
  name: "PGlite",
  store: Layer.mergeAll(ports, owner).pipe(Layer.provideMerge(database)),
  single: database, // one connection by construction
  sessionUser: "postgres"
})
