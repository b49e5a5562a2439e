/** OAuth 2.1 §4.1.3: a code records whether its authorization request included `redirect_uri`. */
import { run } from "./Rls.js"

// codes issued before this migration were all redeemed with a redirect_uri: true keeps requiring it
export default run([`ALTER TABLE codes ADD COLUMN redirect_uri_given boolean NOT NULL DEFAULT true`])
