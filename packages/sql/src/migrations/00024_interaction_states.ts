/**
 * ADR 0054: the authorization request as a state machine. Each interaction row carries its state and a version that
 * every transition bumps (compare-and-set); a decided interaction stays, finished, until the sweep of expired ones
 * removes it, so a replayed form finds it decided. Rows from before are Requested, or Authenticated when signed in.
 */
import { run } from "./Rls.js"

export default run([
  `ALTER TABLE interactions
     ADD COLUMN state text NOT NULL DEFAULT 'requested',
     ADD COLUMN version integer NOT NULL DEFAULT 0`,
  `UPDATE interactions SET state = 'authenticated' WHERE sid IS NOT NULL`,
  `ALTER TABLE interactions ADD CONSTRAINT interactions_state CHECK (
     state IN ('requested', 'authenticated', 'consented', 'code_issued', 'denied') AND (state = 'requested') = (sid IS NULL))`
])
