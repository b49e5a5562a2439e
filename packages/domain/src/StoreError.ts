/** Infrastructure failure of a store port: the cause is for logs, never for the wire. */
import { Data } from "effect"

export class StoreError extends Data.TaggedError("StoreError")<{ readonly cause: unknown }> {}
