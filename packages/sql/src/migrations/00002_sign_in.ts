/** The sign-in stores (issue 4): codes, grants, sessions, consents, refresh families; realm-first keys, RLS forced. */
import { isolate, run } from "./Rls.js"

const statements = [
  `CREATE TABLE grants (
     realm_id uuid NOT NULL REFERENCES realms (id),
     grant_id text NOT NULL,
     client_id text NOT NULL,
     sub text NOT NULL,
     scopes text[] NOT NULL,
     resources text[] NOT NULL,
     auth_time timestamptz NOT NULL,
     acr text NOT NULL,
     amr text[] NOT NULL,
     sid text,
     nonce text,
     created_at timestamptz NOT NULL,
     revoked_at timestamptz,
     PRIMARY KEY (realm_id, grant_id)
   )`,
  ...isolate("grants"),

  // codes are stored by SHA-256 only; a code is consumed under a row lock (SELECT ... FOR UPDATE, then UPDATE)
  `CREATE TABLE codes (
     realm_id uuid NOT NULL REFERENCES realms (id),
     code_hash text NOT NULL,
     client_id text NOT NULL,
     grant_id text NOT NULL,
     redirect_uri text NOT NULL,
     code_challenge text NOT NULL,
     expires_at timestamptz NOT NULL,
     redeemed boolean NOT NULL DEFAULT false,
     PRIMARY KEY (realm_id, code_hash)
   )`,
  ...isolate("codes"),

  `CREATE TABLE sessions (
     realm_id uuid NOT NULL REFERENCES realms (id),
     sid text NOT NULL,
     cookie_hash text NOT NULL,
     sub text NOT NULL,
     auth_time timestamptz NOT NULL,
     acr text NOT NULL,
     amr text[] NOT NULL,
     expires_at timestamptz NOT NULL,
     client_ids text[] NOT NULL,
     ended_at timestamptz,
     PRIMARY KEY (realm_id, sid),
     UNIQUE (realm_id, cookie_hash)
   )`,
  ...isolate("sessions"),

  `CREATE TABLE consents (
     realm_id uuid NOT NULL REFERENCES realms (id),
     sub text NOT NULL,
     client_id text NOT NULL,
     scopes text[] NOT NULL,
     resources text[] NOT NULL,
     granted_at timestamptz NOT NULL,
     PRIMARY KEY (realm_id, sub, client_id)
   )`,
  ...isolate("consents"),

  `CREATE TABLE refresh_families (
     realm_id uuid NOT NULL REFERENCES realms (id),
     family_id text NOT NULL,
     client_id text NOT NULL,
     grant_id text NOT NULL,
     generation integer NOT NULL,
     current_hash text NOT NULL,
     created_at timestamptz NOT NULL,
     last_used_at timestamptz NOT NULL,
     revoked_reason text,
     PRIMARY KEY (realm_id, family_id)
   )`,
  ...isolate("refresh_families"),
  `CREATE INDEX refresh_families_grant ON refresh_families (realm_id, grant_id)`,

  // every generation's token hash, so an old token is recognised as reuse rather than as unknown
  `CREATE TABLE refresh_tokens (
     realm_id uuid NOT NULL REFERENCES realms (id),
     token_hash text NOT NULL,
     family_id text NOT NULL,
     generation integer NOT NULL,
     PRIMARY KEY (realm_id, token_hash)
   )`,
  ...isolate("refresh_tokens"),

  `GRANT SELECT, INSERT, UPDATE, DELETE ON grants, codes, sessions, consents, refresh_families, refresh_tokens TO tessera_app`
]

export default run(statements)
