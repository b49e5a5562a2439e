/**
 * ADR 0047: a person at a trusted issuer (an ID-JAG's `iss` and `sub`) linked to one user of the realm. The user's
 * deletion takes its links (ON DELETE CASCADE); the trusted issuer's deletion does not (the links wait, unused, for
 * the issuer's registration again); the realm's deletion takes everything.
 */
import { isolate, run } from "./Rls.js"

export default run([
  `CREATE TABLE identity_links (
     realm_id uuid NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
     issuer text NOT NULL,
     subject text NOT NULL,
     sub text NOT NULL,
     created_at timestamptz NOT NULL,
     PRIMARY KEY (realm_id, issuer, subject),
     FOREIGN KEY (realm_id, sub) REFERENCES users (realm_id, sub) ON DELETE CASCADE
   )`,
  `CREATE INDEX identity_links_by_user ON identity_links (realm_id, sub)`,
  ...isolate("identity_links"),
  `GRANT SELECT, INSERT, DELETE ON identity_links TO tessera_app`
])
