/**
 * What the metrics cost in themselves (ADR 0040), in this process, no server: one update of each kind Tessera makes
 * per request (a labelled counter, the request histogram), the updates of one client credentials token (the route's
 * counter and the kernel's histogram, ADR 0052; the audit batch histogram once per commit, shared by the batch), and
 * one scrape (collect and serialize) with `realms` realms' series in the registry, through @effect/opentelemetry's
 * producer and the OpenTelemetry Prometheus exporter, as server-node/src/MetricsListener.ts does it. Realm names are
 * made before timing, as the server's come from its realms: the loop times the updates, not making strings.
 *
 *   npm run bench:metrics [-- <realms, default 100>]
 */
import * as Os from "node:os"
import * as OtelMetrics from "@effect/opentelemetry/Metrics"
import * as OtelResource from "@effect/opentelemetry/Resource"
import { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus"
import { Effect } from "effect"
import { Metrics } from "@tessera/domain"

const realms = Number(process.argv[2] ?? 100)
const updates = 1_000_000
const routes = ["/realms/:realm/token", "/realms/:realm/jwks", "/realms/:realm/.well-known/openid-configuration", "/healthz", "*"]
const names = Array.from({ length: realms }, (_, r) => `realm-${r}`)

const perUpdate = (update: (i: number) => void) => {
  for (let i = 0; i < 50_000; i++) update(i)
  const started = process.hrtime.bigint()
  for (let i = 0; i < updates; i++) update(i)
  return Number(process.hrtime.bigint() - started) / updates
}

const main = Effect.gen(function*() {
  console.log(`node ${process.version}, ${Os.cpus().length} CPUs, load average ${Os.loadavg().map((l) => l.toFixed(2)).join(" ")}`)
  const exporter = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true })
  const producer = yield* OtelMetrics.makeProducer.pipe(Effect.provide(OtelResource.layer({ serviceName: "tessera" })))
  yield* OtelMetrics.registerProducer(producer, () => exporter)
  yield* Metrics.recording
  const counter = perUpdate((i) => Metrics.unsafe.tokenIssued(names[i % realms]!, "client_credentials"))
  const histogram = perUpdate((i) => Metrics.unsafe.httpResponse(routes[i % routes.length]!, 200, 0.0001 * (i % 100)))
  // a token's answer: the route's token counter and the kernel's request histogram
  const edgeToken = perUpdate((i) => {
    Metrics.unsafe.tokenIssued(names[i % realms]!, "client_credentials")
    Metrics.unsafe.httpResponse(routes[0]!, 200, 0.0001 * (i % 100))
  })
  const batch = perUpdate((i) => Metrics.unsafe.auditBatch(1 + (i % 16)))
  for (let r = 0; r < realms; r++) {
    Metrics.unsafe.tokenRefused(names[r]!, "invalid_client")
    Metrics.unsafe.tokenIssued(names[r]!, "authorization_code")
    for (const alg of ["ES256", "RS256"]) yield* Metrics.signingKeyAgeOf(names[r]!, alg, r)
  }
  const serializer = new PrometheusSerializer(undefined, false, undefined, false, true)
  const scrape = async () => serializer.serialize((await exporter.collect()).resourceMetrics)
  for (let i = 0; i < 20; i++) yield* Effect.promise(scrape)
  const started = process.hrtime.bigint()
  let bytes = 0
  for (let i = 0; i < 100; i++) bytes = (yield* Effect.promise(scrape)).length
  const scrapeMs = Number(process.hrtime.bigint() - started) / 100 / 1e6
  console.log(`one update, labelled counter (realm, grant_type): ${counter.toFixed(0)} ns`)
  console.log(`one update, request histogram (route, status):    ${histogram.toFixed(0)} ns`)
  console.log(`one update, audit commit batch size:              ${batch.toFixed(0)} ns`)
  console.log(`a client credentials token (2 updates):           ${edgeToken.toFixed(0)} ns, plus the batch update once per commit`)
  console.log(`one scrape with ${realms} realms (${bytes} bytes of text): ${scrapeMs.toFixed(2)} ms`)
})

await Effect.runPromise(Effect.scoped(main))
