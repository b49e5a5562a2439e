/**
 * RFC 8628 device authorizations: stored by the device code's SHA-256, found by user code within a realm (unique
 * there), changed only by compare-and-set on `version`; realm-first keys, RLS forced.
 */
import { isolate, run } from "./Rls.js"

const statements = [
  `CREATE TABLE device_authorizations (
     realm_id uuid NOT NULL REFERENCES realms (id),
     device_code_hash text NOT NULL,
     user_code text NOT NULL,
     client_id text NOT NULL,
     scopes text[] NOT NULL,
     resources text[] NOT NULL,
     step_up boolean NOT NULL,
     status text NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'redeemed')),
     interval_seconds integer NOT NULL,
     last_polled_at timestamptz,
     sub text,
     grant_id text,
     version integer NOT NULL,
     created_at timestamptz NOT NULL,
     expires_at timestamptz NOT NULL,
     PRIMARY KEY (realm_id, device_code_hash),
     UNIQUE (realm_id, user_code),
     CHECK ((status = 'pending') = (sub IS NULL)),
     CHECK ((status IN ('approved', 'redeemed')) = (grant_id IS NOT NULL))
   )`,
  ...isolate("device_authorizations"),
  `CREATE INDEX device_authorizations_expiry ON device_authorizations (realm_id, expires_at)`,
  `GRANT SELECT, INSERT, UPDATE, DELETE ON device_authorizations TO tessera_app`
]

export default run(statements)
