/**
 * CONTRACT §3: disabling a person or setting their password kills every token issued before, grant-less ones
 * (JWT-bearer, exchanges) included, and enabling them again does not revive those (`User.tokensNotBefore`).
 */
import { run } from "./Rls.js"

export default run([
  `ALTER TABLE users ADD COLUMN tokens_not_before timestamptz`
])
