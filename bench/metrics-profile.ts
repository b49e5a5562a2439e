/**
 * What share of a Tessera server's CPU its metrics take (ADR 0040), from V8 CPU profiles, not from times: a share of
 * samples holds on a loaded machine where the CPU time per request swings by half between identical runs.
 *
 *   BENCH_CPU_PROF=<dir> BENCH_COMPARE=metrics BENCH_SERVERS=postgres BENCH_ENDPOINTS=token DATABASE_URL=... npm run bench
 *   node --import tsx bench/metrics-profile.ts <dir>/*.cpuprofile
 *
 * Per main-thread profile (a worker's has no TokenRoute samples and is skipped): the samples from the first to the
 * last in the TokenRoute (the token run, warm-up included; start-up, fixtures and the audit check after are left out),
 * and of those not idle, the share in metric code: Effect's Metric internals, the OpenTelemetry producer, SDK and
 * Prometheus exporter, packages/domain/src/Metrics.ts (where the HTTP kernel records each answer, ADR 0052),
 * server-node's MetricsListener.ts, and SigningKeys.recordAges, counted with everything they call. It is split by
 * what the outermost metric frame was called for: a request (the routes, the audit commit), a scrape (the listener,
 * the producer, the key ages), or Effect's own fiber metrics (`effect_fiber_*`, which Effect records in every fiber, metrics on or off).
 * The garbage collector's share is printed beside it (the collector's samples cannot be attributed to a caller), and
 * module loading's (a module loaded late, e.g. by the first scrape, is start-up, not metric code per request).
 */
import * as Fs from "node:fs"
import type { Node, Profile } from "./profile.js"


const metricCode = /effect\/dist\/.*internal\/metric|@effect\/opentelemetry|@opentelemetry\/(sdk-metrics|exporter-prometheus|resources|core)\/|domain\/src\/Metrics\.ts|MetricsListener\.ts/
const isMetric = (frame: Node["callFrame"]) =>
  metricCode.test(frame.url) || (/SigningKeys\.ts/.test(frame.url) && frame.functionName === "recordAges")
const forScrape = /MetricsListener\.ts|exporter-prometheus|sdk-metrics|@effect\/opentelemetry|SigningKeys\.ts/

type Kind = "idle" | "gc" | "loading" | "request" | "scrape" | "fiber" | "other"

export const analyse = (profile: Profile) => {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const stack = (id: number) => {
    const frames: Array<Node["callFrame"]> = []
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) frames.push(byId.get(at)!.callFrame)
    return frames
  }
  const kinds = new Map<number, Kind>()
  const kindOf = (id: number): Kind => {
    const known = kinds.get(id)
    if (known !== undefined) return known
    const frames = stack(id)
    const name = frames[0]!.functionName
    let kind: Kind = "other"
    if (name === "(idle)") kind = "idle"
    else if (name === "(garbage collector)") kind = "gc"
    // a module loaded late (the exporter's, at the first scrape) is start-up, paid once
    else if (frames.some((frame) => frame.url.startsWith("node:internal/modules"))) kind = "loading"
    else {
      const outermost = frames.findLastIndex(isMetric)
      if (outermost >= 0) {
        const callers = frames.slice(outermost)
        kind = callers.some((frame) => forScrape.test(frame.url)) ? "scrape"
          : callers.some((frame) => frame.functionName === "reportExitValue" || frame.functionName === "FiberRuntime") ? "fiber"
          : "request"
      }
    }
    kinds.set(id, kind)
    return kind
  }
  const inEdge = (id: number) => stack(id).some((frame) => /TokenRoute\.ts/.test(frame.url))
  const times: Array<number> = []
  let t = profile.startTime
  for (const delta of profile.timeDeltas) times.push(t += delta)
  let first: number | undefined
  let last: number | undefined
  profile.samples.forEach((id, i) => {
    if (inEdge(id)) {
      first ??= times[i]!
      last = times[i]!
    }
  })
  const micros: Record<Kind, number> = { idle: 0, gc: 0, loading: 0, request: 0, scrape: 0, fiber: 0, other: 0 }
  if (first === undefined || last === undefined) return undefined
  profile.samples.forEach((id, i) => {
    if (times[i]! >= first! && times[i]! <= last!) micros[kindOf(id)] += profile.timeDeltas[i]!
  })
  const busy = micros.gc + micros.loading + micros.request + micros.scrape + micros.fiber + micros.other
  const share = (n: number) => (100 * n) / busy
  return {
    seconds: (last - first) / 1e6,
    busyMs: busy / 1000,
    metric: share(micros.request + micros.scrape + micros.fiber),
    request: share(micros.request),
    scrape: share(micros.scrape),
    fiber: share(micros.fiber),
    gc: share(micros.gc),
    loading: share(micros.loading)
  }
}

if (process.argv[1]?.endsWith("metrics-profile.ts")) {
  for (const file of process.argv.slice(2)) {
    const result = analyse(JSON.parse(Fs.readFileSync(file, "utf8")) as Profile)
    if (result === undefined) continue
    const pct = (n: number) => `${n.toFixed(2)}%`
    console.log(
      `${file.replace(/.*\//, "")}: ${result.seconds.toFixed(1)} s of token run, ${result.busyMs.toFixed(0)} ms busy; ` +
        `metric code ${pct(result.metric)} (requests ${pct(result.request)}, scrapes ${pct(result.scrape)}, ` +
        `Effect's fiber metrics ${pct(result.fiber)}); garbage collector ${pct(result.gc)}; module loading ${pct(result.loading)}`
    )
  }
}
