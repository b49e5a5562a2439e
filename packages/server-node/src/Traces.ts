/**
 * CONTRACT §1 `OTEL_EXPORTER_OTLP_ENDPOINT`: when set, spans (each request, grant, store transaction and outbound
 * fetch) exported over OTLP/HTTP; when unset, no tracer and no request span (ADR 0024, ADR 0041).
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpTraceContext from "@effect/platform/HttpTraceContext"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
import { BatchSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Config, ConfigError, Context, Effect, Either, Exit, FiberRef, Layer, Option } from "effect"
import { Tracing } from "@tessera/domain"
import * as Logs from "./Logs.js"

/**
 * The OpenTelemetry specification (Protocol Exporter, "Endpoint URLs for OTLP/HTTP"): the traces of a base endpoint
 * go to `{endpoint}/v1/traces`, appended to whatever path the endpoint has.
 */
export const tracesUrl = (endpoint: URL): string => `${endpoint.origin}${endpoint.pathname.replace(/\/+$/, "")}/v1/traces`

const invalid = (why: string) => ConfigError.InvalidData(["OTEL_EXPORTER_OTLP_ENDPOINT"], why)

/** CONTRACT §1: unset or empty, no traces; else an http or https URL with no query or fragment. */
export const config: Config.Config<Option.Option<string>> = Config.string("OTEL_EXPORTER_OTLP_ENDPOINT").pipe(
  Config.withDefault(""),
  Config.mapOrFail((raw) => {
    if (raw === "") return Either.right(Option.none())
    let url: URL
    try {
      url = new URL(raw)
    } catch {
      return Either.left(invalid("must be an absolute http or https URL"))
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") return Either.left(invalid("must be an http or https URL"))
    if (url.search !== "" || url.hash !== "" || raw.includes("#") || raw.includes("?")) return Either.left(invalid("must not have a query or fragment"))
    return Either.right(Option.some(tracesUrl(url)))
  })
)

/**
 * Whether spans are exported: the request span and Tessera's own spans (the domain's steps included) are made only
 * then (ADR 0024, ADR 0041). One flag, the domain's, which its steps read.
 */
export const enabled: FiberRef.FiberRef<boolean> = Tracing.exported

/** The service name every span carries (its `service.name` resource attribute; `OTEL_SERVICE_NAME` overrides it). */
export const serviceName = "tessera"

/**
 * The OpenTelemetry SDK behind Effect's tracer: batched (OTEL_BSP_* tune it), sampled as OTEL_TRACES_SAMPLER says
 * (parent-based, always on by default), exported as OTLP/HTTP JSON to `url`. Closing the layer flushes what is
 * pending, so SIGTERM loses no finished span.
 */
export const layer = (url: string): Layer.Layer<never> =>
  Layer.mergeAll(
    NodeSdk.layer(() => ({
      resource: { serviceName },
      spanProcessor: new BatchSpanProcessor(new OTLPTraceExporter({ url })),
      shutdownTimeout: "5 seconds"
    })).pipe(Layer.discard),
    Layer.locallyScoped(enabled, true)
  )

/**
 * Unset: nothing exports spans, so the spans the libraries make themselves (@effect/sql's `sql.transaction` and one
 * `sql.execute` per statement, with their attributes and events) are made as Effect's no-op spans (issue 17).
 */
export const layerOff: Layer.Layer<never> = Layer.setTracerEnabled(false)

export const layerConfig = Layer.unwrapEffect(Effect.map(config, Option.match({ onNone: () => layerOff, onSome: layer })))

/** `effect` inside a span `name`, only while spans are exported; as is otherwise (no span is made). */
export const span = Tracing.span

/**
 * A span per request that reaches the router (ADR 0041): named `METHOD route` (OpenTelemetry HTTP semantic
 * conventions), child of an incoming W3C `traceparent`. Its attributes are a fixed list (method, route pattern,
 * status, realm): never the path, query, headers or body, which may hold codes, secrets, cookies and proofs.
 */
export const requestSpan = HttpMiddleware.make((app) =>
  Effect.withFiberRuntime((fiber) => {
    if (!fiber.getFiberRef(enabled)) return app
    const request = Context.unsafeGet(fiber.currentContext, HttpServerRequest.HttpServerRequest)
    const realm = Logs.realmOf(request.url)
    // the HTTP kernel routes before this runs (ADR 0052): the matched pattern is known, and names the span
    const route = Option.getOrUndefined(Context.getOption(fiber.currentContext, HttpRouter.RouteContext))?.route.path
    return Effect.useSpan(
      route === undefined ? request.method : `${request.method} ${route}`,
      {
        parent: Option.getOrUndefined(HttpTraceContext.fromHeaders(request.headers)),
        kind: "server",
        captureStackTrace: false,
        attributes: {
          "http.request.method": request.method,
          ...(route !== undefined ? { "http.route": route } : {}),
          ...(realm !== undefined ? { "tessera.realm": realm } : {})
        }
      },
      (span) =>
        Effect.map(Effect.exit(Effect.withParentSpan(app, span)), (exit) => {
          span.attribute("http.response.status_code", Exit.isSuccess(exit) ? exit.value.status : HttpServerError.exitResponse(exit).status)
          return exit
        }).pipe(Effect.flatten)
    )
  }))
