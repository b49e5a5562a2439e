/**
 * ADR 0042: signed checkpoints of the audit trail, one row per verified position of a trail (a realm's or the owner
 * trail's). The MAC is made with a key derived from the KEK, which is not in the database: these rows can be read
 * and written by whoever has database rights, and forged by no one without the key. Like the audit rows, the
 * application may only insert and read them (a checkpoint is history too); `realm_delete` (00012) removes a deleted
 * realm's with the rest of its rows, as it finds every table with a `realm_id` column.
 */
import { isolate, run } from "./Rls.js"

export default run([
  `CREATE TABLE audit_checkpoints (
     realm_id uuid NOT NULL REFERENCES realms (id),
     seq bigint NOT NULL,
     event_id uuid NOT NULL,
     hash text NOT NULL,
     events bigint NOT NULL,
     at timestamptz NOT NULL,
     mac text NOT NULL,
     PRIMARY KEY (realm_id, seq)
   )`,
  ...isolate("audit_checkpoints"),
  `GRANT SELECT, INSERT ON audit_checkpoints TO tessera_app`
])
