/** Short-lived sign-in state (issue 4): pending interactions, login failures, access-token status, used JWT ids. */
import { isolate, run } from "./Rls.js"

const statements = [
  `CREATE TABLE interactions (
     realm_id uuid NOT NULL REFERENCES realms (id),
     id text NOT NULL,
     request jsonb NOT NULL,
     csrf_hash text NOT NULL,
     sid text,
     created_at timestamptz NOT NULL,
     expires_at timestamptz NOT NULL,
     PRIMARY KEY (realm_id, id)
   )`,
  ...isolate("interactions"),

  `CREATE TABLE login_failures (
     realm_id uuid NOT NULL REFERENCES realms (id),
     key text NOT NULL,
     at timestamptz NOT NULL
   )`,
  ...isolate("login_failures"),
  `CREATE INDEX login_failures_key ON login_failures (realm_id, key, at)`,

  `CREATE TABLE access_tokens (
     realm_id uuid NOT NULL REFERENCES realms (id),
     jti text NOT NULL,
     grant_id text,
     revoked boolean NOT NULL,
     expires_at timestamptz NOT NULL,
     PRIMARY KEY (realm_id, jti)
   )`,
  ...isolate("access_tokens"),

  `CREATE TABLE seen_jtis (
     realm_id uuid NOT NULL REFERENCES realms (id),
     issuer text NOT NULL,
     jti text NOT NULL,
     expires_at timestamptz NOT NULL,
     PRIMARY KEY (realm_id, issuer, jti)
   )`,
  ...isolate("seen_jtis"),

  `GRANT SELECT, INSERT, UPDATE, DELETE ON interactions, login_failures, access_tokens, seen_jtis TO tessera_app`
]

export default run(statements)
