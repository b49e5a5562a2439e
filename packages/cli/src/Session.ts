/**
 * A tenant admin's session: the tokens `tessera login --realm R` obtained (device flow with the built-in
 * `tessera-cli` client), kept in a 0600 file under the user's configuration directory and refreshed when they
 * expire. Owned by the login work of issue 15; the commands ask it for a realm's access token.
 */
import { Effect, Option } from "effect"

/**
 * The access token of the stored session for `realm` at `baseUrl`, refreshed first when it has expired; none when
 * nobody logged in there. (Placeholder until the login work lands: it finds no session.)
 */
export const tenantToken = (_baseUrl: string, _realm: string): Effect.Effect<Option.Option<string>> => Effect.succeed(Option.none())
