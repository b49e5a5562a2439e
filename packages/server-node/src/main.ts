/** Starts Tessera: configuration, then the server; a bad value is one line and exit 1; SIGTERM drains and exits 0. */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { ConfigError, Console, Effect, Layer } from "effect"
import * as AppConfig from "./AppConfig.js"
import { HttpLive } from "./Live.js"
import * as Logs from "./Logs.js"
import * as Traces from "./Traces.js"

/** One line on stderr, then exit 1: a start that cannot succeed says why and stops. */
const stop = (line: string) => Console.error(line).pipe(Effect.zipRight(Effect.sync(() => process.exit(1))))

// ADR 0041: the logger and the tracer are built first and closed last, so the stop is logged and its spans flushed
const program = Layer.launch(HttpLive.pipe(Layer.provide(AppConfig.layerConfig), Layer.provide(Layer.mergeAll(Logs.layerConfig, Traces.layerConfig)))).pipe(
  Effect.catchIf(ConfigError.isConfigError, (error) =>
    Console.error(AppConfig.describe(error)).pipe(Effect.zipRight(Effect.sync(() => process.exit(1))))),
  Effect.catchTags({
    DatabaseUnavailable: (error) => stop(`tessera: ${error.message}`),
    DataDirLocked: (error) => stop(`tessera: ${error.message}`),
    MetricsListenError: (error) => stop(`tessera: ${error.message}`)
  }),
  Effect.catchTag("ServeError", (error) =>
    Console.error(`tessera: cannot listen: ${String((error.cause as Error | undefined)?.message ?? error.cause)}`).pipe(
      Effect.zipRight(Effect.sync(() => process.exit(1)))
    ))
)

NodeRuntime.runMain(program)
