/**
 * Issue 13 (ADR 0033): resources and trusted issuers get the admin API's `id` (a uuid, unique in the realm; rows
 * created before get one here), a `version` for ETag compare-and-set, and what CONTRACT §3 adds to each: a resource's
 * `display_name` and `scope_descriptions` (shown on the consent page), a trusted issuer's `id_jag` and
 * `provision_users` flags. `uri` and `issuer` stay the primary key's second column: neither ever changes.
 */
import { run } from "./Rls.js"

export default run([
  `ALTER TABLE resources
     ADD COLUMN id uuid NOT NULL DEFAULT gen_random_uuid(),
     ADD COLUMN version integer NOT NULL DEFAULT 1,
     ADD COLUMN display_name text,
     ADD COLUMN scope_descriptions jsonb NOT NULL DEFAULT '{}'::jsonb`,
  // the application names every new row's id itself
  `ALTER TABLE resources ALTER COLUMN id DROP DEFAULT`,
  `CREATE UNIQUE INDEX resources_id ON resources (realm_id, id)`,
  `ALTER TABLE trusted_issuers
     ADD COLUMN id uuid NOT NULL DEFAULT gen_random_uuid(),
     ADD COLUMN version integer NOT NULL DEFAULT 1,
     ADD COLUMN id_jag boolean NOT NULL DEFAULT false,
     ADD COLUMN provision_users boolean NOT NULL DEFAULT false`,
  `ALTER TABLE trusted_issuers ALTER COLUMN id DROP DEFAULT`,
  `CREATE UNIQUE INDEX trusted_issuers_id ON trusted_issuers (realm_id, id)`
])
