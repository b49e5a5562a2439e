/** The schema: every realm-scoped table leads with realm_id, has RLS enabled and forced, and is reached by tessera_app only. */
import { isolate, realm, run } from "./Rls.js"

const statements = [
  // the application role: no login, no BYPASSRLS, owns nothing; connections SET ROLE to it. Roles and memberships
  // belong to the cluster, not the database: another database's first migration may create them at the same moment
  `DO $$ BEGIN
     IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tessera_app') THEN
       CREATE ROLE tessera_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOBYPASSRLS;
     END IF;
   EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
   END $$`,
  `DO $$ BEGIN
     GRANT tessera_app TO CURRENT_USER;
   EXCEPTION WHEN unique_violation THEN NULL;
   END $$`,
  `GRANT USAGE ON SCHEMA public TO tessera_app`,

  `CREATE TABLE realms (
     id uuid PRIMARY KEY,
     name text NOT NULL UNIQUE,
     display_name text,
     dynamic_registration boolean NOT NULL,
     created_at timestamptz NOT NULL
   )`,
  `ALTER TABLE realms ENABLE ROW LEVEL SECURITY`,
  `ALTER TABLE realms FORCE ROW LEVEL SECURITY`,
  // a realm sees its own row; the directory (name -> id, and the scheduler's list) is an explicit mode
  `CREATE POLICY realms_realm ON realms
     USING (id = ${realm} OR current_setting('app.directory', true) = 'on')
     WITH CHECK (id = ${realm})`,

  `CREATE TABLE clients (
     realm_id uuid NOT NULL REFERENCES realms (id),
     client_id text NOT NULL,
     secret_hash text,
     metadata jsonb NOT NULL,
     created_at timestamptz NOT NULL,
     PRIMARY KEY (realm_id, client_id)
   )`,
  ...isolate("clients"),

  `CREATE TABLE users (
     realm_id uuid NOT NULL REFERENCES realms (id),
     sub text NOT NULL,
     username text NOT NULL,
     username_key text NOT NULL,
     password_hash text NOT NULL,
     email text,
     name text,
     created_at timestamptz NOT NULL,
     PRIMARY KEY (realm_id, sub),
     UNIQUE (realm_id, username_key)
   )`,
  ...isolate("users"),

  `CREATE TABLE resources (
     realm_id uuid NOT NULL REFERENCES realms (id),
     uri text NOT NULL,
     scopes text[] NOT NULL,
     step_up_scopes text[] NOT NULL,
     created_at timestamptz NOT NULL,
     PRIMARY KEY (realm_id, uri)
   )`,
  ...isolate("resources"),

  `CREATE TABLE trusted_issuers (
     realm_id uuid NOT NULL REFERENCES realms (id),
     issuer text NOT NULL,
     keys jsonb NOT NULL,
     created_at timestamptz NOT NULL,
     PRIMARY KEY (realm_id, issuer)
   )`,
  ...isolate("trusted_issuers"),

  // the key ring as one document, changed by compare-and-set on version; private keys inside are sealed
  `CREATE TABLE key_rings (
     realm_id uuid PRIMARY KEY REFERENCES realms (id),
     version integer NOT NULL,
     keys jsonb NOT NULL
   )`,
  ...isolate("key_rings"),

  // the head of each realm's hash chain: locked FOR UPDATE by every append, so writers serialize per realm
  `CREATE TABLE audit_heads (
     realm_id uuid PRIMARY KEY REFERENCES realms (id),
     seq bigint NOT NULL,
     hash text NOT NULL
   )`,
  ...isolate("audit_heads"),

  `CREATE TABLE audit_events (
     realm_id uuid NOT NULL REFERENCES realms (id),
     seq bigint NOT NULL,
     id uuid NOT NULL,
     at timestamptz NOT NULL,
     realm text NOT NULL,
     type text NOT NULL,
     actor_type text NOT NULL,
     actor_id text NOT NULL,
     subject text,
     client_id text,
     grant_type text,
     resource text,
     scope text,
     act jsonb,
     result text NOT NULL,
     reason text,
     ip text,
     user_agent text,
     prev_hash text NOT NULL,
     hash text NOT NULL,
     PRIMARY KEY (realm_id, seq),
     UNIQUE (realm_id, id)
   )`,
  ...isolate("audit_events"),
  `CREATE INDEX audit_events_type ON audit_events (realm_id, type, seq)`,
  `CREATE INDEX audit_events_subject ON audit_events (realm_id, subject, seq)`,
  `CREATE INDEX audit_events_actor ON audit_events (realm_id, actor_id, seq)`,
  `CREATE INDEX audit_events_client ON audit_events (realm_id, client_id, seq)`,
  `CREATE INDEX audit_events_at ON audit_events (realm_id, at)`,

  // least privilege: audit rows are append-only for the application
  `GRANT SELECT, INSERT, UPDATE ON realms TO tessera_app`,
  `GRANT SELECT, INSERT, UPDATE, DELETE ON clients, users, resources, trusted_issuers, key_rings TO tessera_app`,
  `GRANT SELECT, INSERT, UPDATE ON audit_heads TO tessera_app`,
  `GRANT SELECT, INSERT ON audit_events TO tessera_app`
]

export default run(statements)
