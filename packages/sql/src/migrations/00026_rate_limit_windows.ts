/**
 * ADR 0055, 0059: the fixed windows of `RateLimit`, shared by every node. Not realm-scoped (the document-host rules span
 * realms; the per-realm rules carry the realm id in their key), so no realm policy: the application role reads and
 * writes its rows, as it does its own.
 */
import { run } from "./Rls.js"

export default run([
  `CREATE TABLE rate_limit_windows (
     rule text NOT NULL,
     key text NOT NULL,
     started_at timestamptz NOT NULL,
     count integer NOT NULL CHECK (count >= 0),
     PRIMARY KEY (rule, key)
   )`,
  `CREATE INDEX rate_limit_windows_ended ON rate_limit_windows (rule, started_at)`,
  `GRANT SELECT, INSERT, UPDATE, DELETE ON rate_limit_windows TO tessera_app`
])
