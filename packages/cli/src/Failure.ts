/** How a command fails (CONTRACT §8): a refusal exits 1, bad usage exits 2; each says why on stderr. */
import { Data } from "effect"

/** The server refused (any 4xx/5xx), could not be reached, or no credential was found: exit 1. */
export class Refused extends Data.TaggedError("Refused")<{
  /** The server's `error` code, when it answered one. */
  readonly error?: string
  readonly description: string
}> {}

/** The command line cannot be sent as it is (a bad JSON body, an id that is no path segment, ...): exit 2. */
export class Usage extends Data.TaggedError("Usage")<{ readonly description: string }> {}

export const exitRefused = 1
export const exitUsage = 2
