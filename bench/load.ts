/**
 * One measured row: autocannon against one endpoint, a warm-up first (not measured), then the measured window, with
 * the server's CPU (and its database's, when it has one) read from /proc right before and right after that window.
 */
import autocannon from "autocannon"
import type { Result } from "autocannon"
import * as Cpu from "./cpu.js"

export interface Settings {
  readonly connections: number
  readonly seconds: number
  readonly warmupSeconds: number
}

export interface Request {
  readonly url: string
  readonly method: "GET" | "POST"
  readonly headers?: Record<string, string>
  readonly body?: string
  /**
   * Headers that must differ on every request (a DPoP proof, RFC 9449 §11.1): called before each run, warm-up and
   * measured alike, so the values are made outside the measured window; it answers the supplier autocannon calls for
   * every request it sends, and how many it was asked for once the run is over.
   */
  readonly fresh?: (seconds: number) => Promise<{ readonly next: () => Record<string, string>; readonly shortfall: () => number }>
}

export interface Row {
  readonly requests: number
  readonly perSecond: number
  /** Latency percentiles in ms, over every response of the measured window. */
  readonly p50: number
  readonly p99: number
  /** Connection errors and timeouts. */
  readonly errors: number
  readonly non2xx: number
  /** Server process CPU per request, in µs. */
  readonly serverCpu: number
  /** The database backends' CPU per request in µs, and how many backends served the window. */
  readonly dbCpu?: { readonly perRequest: number; readonly backends: number }
}

const percentile = (sorted: Float64Array, p: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!

const run = async (request: Request, connections: number, seconds: number) => {
  const fresh = await request.fresh?.(seconds)
  const measured = await new Promise<{ result: Result; latencies: Float64Array }>((resolve, reject) => {
    const latencies: Array<number> = []
    const instance = autocannon({
      url: request.url,
      method: request.method,
      connections,
      duration: seconds,
      ...(request.headers !== undefined ? { headers: request.headers } : {}),
      ...(request.body !== undefined ? { body: request.body } : {}),
      // one request, rebuilt before every send with its fresh headers
      ...(fresh !== undefined
        ? {
          requests: [{
            method: request.method,
            ...(request.body !== undefined ? { body: request.body } : {}),
            setupRequest: (built) => ({ ...built, headers: { ...request.headers, ...fresh.next() } })
          }]
        }
        : {})
    }, (error, result) => (error ? reject(error) : resolve({ result, latencies: Float64Array.from(latencies).sort() })))
    instance.on("response", (_client, _status, _bytes, responseTime) => void latencies.push(responseTime))
  })
  const shortfall = fresh?.shortfall() ?? 0
  if (shortfall > 0) throw new Error(`${shortfall} requests found no fresh headers left: make more (BENCH_DPOP_PROOFS_PER_SECOND)`)
  return measured
}

export const measure = async (
  request: Request,
  settings: Settings,
  serverPid: number,
  database?: { readonly backends: () => Promise<ReadonlyArray<number>> }
): Promise<Row> => {
  if (settings.warmupSeconds > 0) await run(request, settings.connections, settings.warmupSeconds)
  const db = database === undefined ? undefined : Cpu.windowOver(database.backends)
  await db?.begin()
  const before = Cpu.seconds(serverPid)
  const started = performance.now()
  const { result, latencies } = await run(request, settings.connections, settings.seconds)
  const elapsed = (performance.now() - started) / 1000
  const after = Cpu.seconds(serverPid)
  const dbUsed = await db?.end()
  if (before === undefined || after === undefined) throw new Error(`the server (pid ${serverPid}) exited during the run`)
  const requests = result.requests.total
  const perRequest = (cpuSeconds: number) => (cpuSeconds * 1e6) / Math.max(1, requests)
  return {
    requests,
    perSecond: requests / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    serverCpu: perRequest(after - before),
    ...(dbUsed !== undefined ? { dbCpu: { perRequest: perRequest(dbUsed.seconds), backends: dbUsed.processes } } : {})
  }
}
