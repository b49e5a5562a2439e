/**
 * An OTLP/HTTP trace receiver inside the test process (OpenTelemetry Protocol, "OTLP/HTTP"): `POST /v1/traces` with
 * the JSON encoding (what @opentelemetry/exporter-trace-otlp-http sends), answered 200 `{}`. Every span that arrives
 * is kept, flattened, with its attributes as a plain object; the raw bodies are kept too, to search them whole.
 */
import * as Http from "node:http"
import type * as Net from "node:net"

export interface ReceivedSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | undefined
  readonly name: string
  /** OTLP `SpanKind`: 1 internal, 2 server, 3 client. */
  readonly kind: number
  readonly attributes: Record<string, unknown>
  readonly service: unknown
}

interface AnyValue {
  readonly stringValue?: string
  readonly intValue?: number | string
  readonly boolValue?: boolean
  readonly doubleValue?: number
}

const valueOf = (v: AnyValue): unknown =>
  v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined) ?? v.boolValue ?? v.doubleValue

const attributesOf = (list: ReadonlyArray<{ readonly key: string; readonly value: AnyValue }> | undefined) =>
  Object.fromEntries((list ?? []).map((a) => [a.key, valueOf(a.value)]))

export const start = async () => {
  const spans: Array<ReceivedSpan> = []
  const bodies: Array<string> = []
  const contentTypes: Array<string | undefined> = []
  const server = Http.createServer((request, response) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8")
      if (request.method !== "POST" || request.url !== "/v1/traces") {
        response.writeHead(404).end()
        return
      }
      bodies.push(body)
      contentTypes.push(request.headers["content-type"])
      const decoded = JSON.parse(body) as {
        resourceSpans?: ReadonlyArray<{
          resource?: { attributes?: ReadonlyArray<{ key: string; value: AnyValue }> }
          scopeSpans?: ReadonlyArray<{ spans?: ReadonlyArray<Record<string, any>> }>
        }>
      }
      for (const resourceSpans of decoded.resourceSpans ?? []) {
        const service = attributesOf(resourceSpans.resource?.attributes)["service.name"]
        for (const scope of resourceSpans.scopeSpans ?? []) {
          for (const span of scope.spans ?? []) {
            spans.push({
              traceId: span["traceId"],
              spanId: span["spanId"],
              parentSpanId: span["parentSpanId"] === "" ? undefined : span["parentSpanId"],
              name: span["name"],
              kind: span["kind"],
              attributes: attributesOf(span["attributes"]),
              service
            })
          }
        }
      }
      response.writeHead(200, { "content-type": "application/json" }).end("{}")
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as Net.AddressInfo
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans,
    bodies,
    contentTypes,
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}
