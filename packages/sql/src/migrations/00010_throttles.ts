/**
 * The throttles' progressive delay (issue 12 items 5-6, ADR 0027): one row per key (failures, when the last was
 * counted, when the row may be dropped), locked by the reservation that counts on it. It replaces 00003's
 * `login_failures` (a row per failure, checked and written in separate transactions), whose counts are dropped:
 * throttles start afresh on upgrade.
 */
import { isolate, run } from "./Rls.js"

export default run([
  `CREATE TABLE throttles (
     realm_id uuid NOT NULL REFERENCES realms (id),
     key text NOT NULL,
     failures integer NOT NULL,
     last_at timestamptz NOT NULL,
     expires_at timestamptz NOT NULL,
     PRIMARY KEY (realm_id, key)
   )`,
  ...isolate("throttles"),
  `CREATE INDEX throttles_expiry ON throttles (realm_id, expires_at)`,
  `GRANT SELECT, INSERT, UPDATE, DELETE ON throttles TO tessera_app`,
  `DROP TABLE login_failures`
])
