/**
 * DPoP (RFC 9449): the key a code is bound to by `dpop_jkt` (§10), the key a public client's refresh family is bound to
 * (§5), and an index so the replay cache (`seen_jtis`, every proof's `jti` until its window closes, §11.1) can drop
 * expired rows as it goes.
 */
import { run } from "./Rls.js"

export default run([
  `ALTER TABLE codes ADD COLUMN dpop_jkt text`,
  `ALTER TABLE refresh_families ADD COLUMN dpop_jkt text`,
  `CREATE INDEX seen_jtis_expiry ON seen_jtis (realm_id, expires_at)`
])
