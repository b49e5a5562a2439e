/** Schema migrations, run by the owner role before the application connects (ids strictly increasing). */
import * as Migrator from "@effect/sql/Migrator"
import { Effect } from "effect"
import m00001 from "./migrations/00001_schema.js"
import m00002 from "./migrations/00002_sign_in.js"
import m00003 from "./migrations/00003_sign_in_state.js"
import m00004 from "./migrations/00004_code_redirect_given.js"
import m00005 from "./migrations/00005_device_authorizations.js"
import m00006 from "./migrations/00006_dpop.js"
import m00007 from "./migrations/00007_audit_append.js"
import m00008 from "./migrations/00008_audit_append_batch.js"
import m00009 from "./migrations/00009_self_registered_clients.js"
import m00010 from "./migrations/00010_throttles.js"
import m00011 from "./migrations/00011_interaction_expiry.js"
import m00012 from "./migrations/00012_realm_lifecycle.js"
import m00013 from "./migrations/00013_user_lifecycle.js"
import m00014 from "./migrations/00014_client_lifecycle.js"
import m00015 from "./migrations/00015_resource_and_issuer_ids.js"
import m00016 from "./migrations/00016_delegations.js"
import m00017 from "./migrations/00017_user_tokens_not_before.js"
import m00018 from "./migrations/00018_invitations.js"
import m00019 from "./migrations/00019_audit_checkpoints.js"
import m00020 from "./migrations/00020_identity_links.js"
import m00021 from "./migrations/00021_audit_time_bounds.js"
import m00022 from "./migrations/00022_audit_realm_lock.js"
import m00024 from "./migrations/00024_interaction_states.js"
import m00026 from "./migrations/00026_rate_limit_windows.js"
import m00027 from "./migrations/00027_token_round_trips.js"

/**
 * Migrator runs only ids above the highest applied: a new migration always takes the next number. 00023 and 00025
 * were assigned to work that needed none; they stay unused for good (a database at 00024 or later would never run a
 * migration numbered below it).
 */
export const loader = Migrator.fromRecord({
  "00001_schema": m00001,
  "00002_sign_in": m00002,
  "00003_sign_in_state": m00003,
  "00004_code_redirect_given": m00004,
  "00005_device_authorizations": m00005,
  "00006_dpop": m00006,
  "00007_audit_append": m00007,
  "00008_audit_append_batch": m00008,
  "00009_self_registered_clients": m00009,
  "00010_throttles": m00010,
  "00011_interaction_expiry": m00011,
  "00012_realm_lifecycle": m00012,
  "00013_user_lifecycle": m00013,
  "00014_client_lifecycle": m00014,
  "00015_resource_and_issuer_ids": m00015,
  "00016_delegations": m00016,
  "00017_user_tokens_not_before": m00017,
  "00018_invitations": m00018,
  "00019_audit_checkpoints": m00019,
  "00020_identity_links": m00020,
  "00021_audit_time_bounds": m00021,
  "00022_audit_realm_lock": m00022,
  "00024_interaction_states": m00024,
  "00026_rate_limit_windows": m00026,
  "00027_token_round_trips": m00027
})

/** Where the migrator records what it applied (one row per migration id). */
export const table = "tessera_migrations"

export const run = Migrator.make({})({ loader, table })

/** The highest migration id this code knows: the schema is current when the store has applied it. */
export const head = loader.pipe(Effect.map((migrations) => migrations.reduce((max, [id]) => Math.max(max, id), 0)), Effect.orDie)
