/** Starts Tessera: configuration, then the server; a bad value is one line and exit 1; SIGTERM drains and exits 0. */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { ConfigError, Console, Effect, Layer } from "effect"
import * as AppConfig from "./AppConfig.js"
import { HttpLive } from "./Live.js"

const program = Layer.launch(HttpLive.pipe(Layer.provide(AppConfig.layerConfig))).pipe(
  Effect.catchIf(ConfigError.isConfigError, (error) =>
    Console.error(AppConfig.describe(error)).pipe(Effect.zipRight(Effect.sync(() => process.exit(1))))),
  Effect.catchTag("ServeError", (error) =>
    Console.error(`tessera: cannot listen: ${String((error.cause as Error | undefined)?.message ?? error.cause)}`).pipe(
      Effect.zipRight(Effect.sync(() => process.exit(1)))
    ))
)

NodeRuntime.runMain(program)
