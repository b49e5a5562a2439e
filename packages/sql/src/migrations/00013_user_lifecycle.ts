/**
 * CONTRACT §3 users (issue 13, ADR 0031): roles, disabled and a version per user; the user list ordered by username
 * key and searched by username or email prefix through indexes; a session's start; a person's sessions and grants
 * found by index. `COLLATE "C"` orders by code point, the order the list's cursor compares in (and lets a prefix be
 * an index range whatever the database's default collation).
 */
import { run } from "./Rls.js"

export default run([
  `ALTER TABLE users ADD COLUMN roles text[] NOT NULL DEFAULT '{}'`,
  `ALTER TABLE users ADD COLUMN disabled boolean NOT NULL DEFAULT false`,
  `ALTER TABLE users ADD COLUMN version integer NOT NULL DEFAULT 1`,
  // User.emailKey, written by the application; rows from before take the SQL approximation of it
  `ALTER TABLE users ADD COLUMN email_key text`,
  `UPDATE users SET email_key = lower(email) WHERE email IS NOT NULL`,
  `CREATE INDEX users_by_username_key ON users (realm_id, username_key COLLATE "C")`,
  `CREATE INDEX users_by_email_key ON users (realm_id, email_key COLLATE "C") WHERE email_key IS NOT NULL`,

  `ALTER TABLE sessions ADD COLUMN created_at timestamptz`,
  // every session so far began with the sign-in that made it
  `UPDATE sessions SET created_at = auth_time`,
  `ALTER TABLE sessions ALTER COLUMN created_at SET NOT NULL`,
  `CREATE INDEX sessions_by_sub ON sessions (realm_id, sub, created_at, sid COLLATE "C")`,
  `CREATE INDEX grants_by_sub ON grants (realm_id, sub, created_at, grant_id COLLATE "C")`
])
