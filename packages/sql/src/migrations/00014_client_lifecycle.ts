/**
 * CONTRACT §3 clients (ADR 0032): a version per row for `If-Match` compare-and-set, and the secret a rotation replaced
 * (SHA-256 only, as the current one) with the end of its overlap window.
 */
import { run } from "./Rls.js"

export default run([
  `ALTER TABLE clients ADD COLUMN version integer NOT NULL DEFAULT 1`,
  `ALTER TABLE clients ADD COLUMN previous_secret_hash text`,
  `ALTER TABLE clients ADD COLUMN previous_secret_expires_at timestamptz`
])
