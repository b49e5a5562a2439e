/**
 * RFC 9700 §4.11.2 (CONTRACT §4, ADR 0026): which clients registered themselves (RFC 7591), and an index that says
 * cheaply whether any person of a realm has consented to a client.
 */
import { run } from "./Rls.js"

export default run([
  `ALTER TABLE clients ADD COLUMN dynamic boolean NOT NULL DEFAULT false`,
  // clients registered dynamically before this migration: their client.created event has the client as actor
  // (the owner role bypasses row-level security only while it is not forced, so it is lifted for this statement)
  `ALTER TABLE clients NO FORCE ROW LEVEL SECURITY`,
  `ALTER TABLE audit_events NO FORCE ROW LEVEL SECURITY`,
  `UPDATE clients c SET dynamic = true WHERE EXISTS (
     SELECT 1 FROM audit_events a
      WHERE a.realm_id = c.realm_id AND a.client_id = c.client_id AND a.type = 'client.created' AND a.actor_type = 'client'
   )`,
  `ALTER TABLE clients FORCE ROW LEVEL SECURITY`,
  `ALTER TABLE audit_events FORCE ROW LEVEL SECURITY`,
  `CREATE INDEX consents_client ON consents (realm_id, client_id)`
])
