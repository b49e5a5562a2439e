/**
 * ADR 0026: the authorization endpoint's sweep of expired interactions finds a batch of the oldest by index, instead
 * of scanning every interaction of the realm on each request.
 */
import { run } from "./Rls.js"

export default run([`CREATE INDEX interactions_expiry ON interactions (realm_id, expires_at)`])
