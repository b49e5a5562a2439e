/** The store as `/readyz` sees it (CONTRACT §2): whether it answers, and whether its schema is what this code expects. */
import { Context, Effect, Layer } from "effect"
import type { StoreError } from "./StoreError.js"

/** `current`: every migration this code knows is applied; `behind`: the store lacks some (a restored backup, say). */
export type Schema = "current" | "behind"

export class StoreHealth extends Context.Tag("@tessera/domain/StoreHealth")<StoreHealth, {
  /** One round trip to the store; fails as the store does when it does not answer. */
  readonly check: Effect.Effect<Schema, StoreError>
}>() {}

/** In memory the store is the process itself: it always answers, and it has no schema to migrate. */
export const layerMemory = Layer.succeed(StoreHealth, StoreHealth.of({ check: Effect.succeed("current") }))
