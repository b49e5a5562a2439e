/** OAuth 2.1 §4.1.3: a code records whether its authorization request included `redirect_uri`. */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

// codes issued before this migration were all redeemed with a redirect_uri: true keeps requiring it
export default Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql.unsafe(`ALTER TABLE codes ADD COLUMN redirect_uri_given boolean NOT NULL DEFAULT true`))
