/**
 * CONTRACT §1, §8: Prometheus metrics at `http://$TESSERA_HOST:$TESSERA_METRICS_PORT/metrics`, on a listener of their
 * own (never the public port), only when `TESSERA_METRICS_PORT` is set (ADR 0040). Effect's `Metric` registry is read
 * at each scrape by @effect/opentelemetry's producer into the OpenTelemetry Prometheus exporter, which writes the text
 * format; nothing is collected between scrapes. The signing keys' ages are computed just before (`recordAges`).
 */
import * as Http from "node:http"
import { Context, Data, Effect, Layer, Option, Runtime } from "effect"
import { Metrics, SigningKeys } from "@tessera/domain"
import { AppConfig } from "./AppConfig.js"

export class MetricsListener extends Context.Tag("@tessera/server-node/MetricsListener")<MetricsListener, {
  /** The port it listens on; none when `TESSERA_METRICS_PORT` is unset. */
  readonly port: Option.Option<number>
}>() {}

/** The metrics port could not be listened on (in use, not allowed): the start fails with one line (main.ts). */
export class MetricsListenError extends Data.TaggedError("MetricsListenError")<{ readonly cause: unknown }> {
  override get message() {
    return `cannot listen on TESSERA_METRICS_PORT: ${(this.cause as Error | undefined)?.message ?? String(this.cause)}`
  }
}

/** The one path served; everything else is 404. */
export const path = "/metrics"

const listen = (server: Http.Server, port: number, host: string) =>
  Effect.async<number, MetricsListenError>((resume) => {
    const failed = (cause: unknown) => resume(Effect.fail(new MetricsListenError({ cause })))
    server.once("error", failed)
    server.listen(port, host, () => {
      server.off("error", failed)
      resume(Effect.succeed((server.address() as { readonly port: number }).port))
    })
  })

const close = (server: Http.Server) =>
  Effect.async<void>((resume) => {
    server.close(() => resume(Effect.void))
    server.closeAllConnections()
  })

const listening = (port: number, host: string) =>
  Effect.gen(function*() {
    // loaded only when metrics are on: a server without them never imports the OpenTelemetry SDK for them
    const [{ PrometheusExporter }, OtelMetrics, OtelResource] = yield* Effect.promise(() =>
      Promise.all([import("@opentelemetry/exporter-prometheus"), import("@effect/opentelemetry/Metrics"), import("@effect/opentelemetry/Resource")])
    )
    const exporter = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true })
    const producer = yield* OtelMetrics.makeProducer.pipe(Effect.provide(OtelResource.layer({ serviceName: "tessera" })))
    yield* OtelMetrics.registerProducer(producer, () => exporter)
    // ADR 0040: the series are recorded only while a listener exports them
    yield* Metrics.recording
    const runtime = yield* Effect.runtime<Effect.Effect.Context<typeof SigningKeys.recordAges>>()
    // a store that does not answer leaves the last ages; the rest of the scrape is still worth answering
    const ages = SigningKeys.recordAges.pipe(Effect.catchAllCause((cause) => Effect.logWarning("signing key ages not refreshed", cause)))
    const server = Http.createServer((request, response) => {
      const url = request.url ?? ""
      const query = url.indexOf("?")
      if ((request.method !== "GET" && request.method !== "HEAD") || (query < 0 ? url : url.slice(0, query)) !== path) {
        response.writeHead(404, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" })
        return void response.end("not found\n")
      }
      Runtime.runCallback(runtime)(ages, { onExit: () => exporter.getMetricsRequestHandler(request, response) })
    })
    const bound = yield* Effect.acquireRelease(listen(server, port, host), () => close(server))
    return { port: Option.some(bound) }
  })

/** CONTRACT §1: a listener when `TESSERA_METRICS_PORT` is set (on `TESSERA_HOST`), else none at all. */
export const layer = Layer.scoped(MetricsListener, Effect.gen(function*() {
  const config = yield* AppConfig
  return yield* Option.match(config.metricsPort, {
    onNone: () => Effect.succeed({ port: Option.none<number>() }),
    onSome: (port) => listening(port, config.host)
  })
}))
