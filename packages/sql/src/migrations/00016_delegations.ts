/**
 * ADR 0034: what each agent's token exchanges for each person left (resources, scopes, first and last use) and its
 * revocation, one row per realm, agent and person; and the grants of a client by person, which the agents list and a
 * delegation's revocation read.
 */
import { isolate, run } from "./Rls.js"

export default run([
  // ON DELETE CASCADE: a realm's deletion takes its delegations with it, whatever order it deletes tables in
  `CREATE TABLE delegations (
     realm_id uuid NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
     client_id text NOT NULL,
     sub text NOT NULL,
     resources text[] NOT NULL,
     scopes text[] NOT NULL,
     first_at timestamptz NOT NULL,
     last_at timestamptz NOT NULL,
     revoked_at timestamptz,
     not_before timestamptz,
     PRIMARY KEY (realm_id, client_id, sub)
   )`,
  ...isolate("delegations"),
  `GRANT SELECT, INSERT, UPDATE, DELETE ON delegations TO tessera_app`,
  `CREATE INDEX grants_client_sub ON grants (realm_id, client_id, sub)`
])
