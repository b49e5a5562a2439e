/** `tessera login --realm R` and `tessera logout --realm R` (CONTRACT §8). Owned by the login work of issue 15. */
import * as Command from "@effect/cli/Command"

/** The login and logout commands, added to `tessera` by main.ts. (Placeholder until the login work lands.) */
export const commands: ReadonlyArray<Command.Command<string, never, never, unknown>> = []
