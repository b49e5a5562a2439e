/**
 * CONTRACT §3 invitations, §4 the invitation page (issue 14, ADR 0037): one row per invitation of a realm, the secret
 * only as its SHA-256 (unique), the state Pending/Accepted/Revoked ("expired" is derived from `expires_at`, never
 * stored), and `version` for the compare-and-set of every transition.
 */
import { isolate, run } from "./Rls.js"

export default run([
  // ON DELETE CASCADE: a realm's deletion takes its invitations with it, whatever order it deletes tables in
  `CREATE TABLE invitations (
     realm_id uuid NOT NULL REFERENCES realms (id) ON DELETE CASCADE,
     id text NOT NULL,
     secret_hash text NOT NULL UNIQUE,
     role text NOT NULL CHECK (role IN ('admin', 'member')),
     email text,
     state text NOT NULL CHECK (state IN ('pending', 'accepted', 'revoked')),
     sub text,
     accepted_at timestamptz,
     revoked_at timestamptz,
     expires_at timestamptz NOT NULL,
     created_at timestamptz NOT NULL,
     created_by_type text NOT NULL,
     created_by_id text NOT NULL,
     version integer NOT NULL,
     sort_key text NOT NULL,
     PRIMARY KEY (realm_id, id),
     CHECK ((state = 'accepted') = (sub IS NOT NULL AND accepted_at IS NOT NULL)),
     CHECK ((state = 'revoked') = (revoked_at IS NOT NULL))
   )`,
  `CREATE INDEX invitations_by_sort_key ON invitations (realm_id, sort_key COLLATE "C")`,
  ...isolate("invitations"),
  `GRANT SELECT, INSERT, UPDATE, DELETE ON invitations TO tessera_app`
])
