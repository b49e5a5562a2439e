/**
 * One measured row: autocannon against one endpoint, a warm-up first (not measured), then the measured window, with
 * the server's CPU (and its database's, when it has one) read from /proc right before and right after that window.
 * Every answer is checked: a 2xx whose body is not what the row expects (Request.check) counts as a wrong answer,
 * beside autocannon's errors and non-2xx; a row is clean only when all three are 0.
 *
 * A row whose requests each carry a value used once (a DPoP proof, an authorization code, a refresh token: Request.pool)
 * runs a fixed number of requests instead of a duration, each with the next value of a pool made right before the run
 * (outside the measured window): first a short run of `connections * 10` requests, then a warm-up sized from its rate
 * to last `warmupSeconds`, then the measured run sized from the warm-up's rate to last `seconds` (at most `pool.max`).
 */
import autocannon from "autocannon"
import type { Result } from "autocannon"
import * as Cpu from "./cpu.js"

export interface Settings {
  readonly connections: number
  readonly seconds: number
  readonly warmupSeconds: number
}

/** What one request adds to the row's request: headers and/or the whole body. */
export interface Values {
  readonly headers?: Record<string, string>
  readonly body?: string
}

/** Values that must differ on every request (RFC 9449 §11.1 proofs, RFC 6749 §4.1.2 codes, rotated refresh tokens). */
export interface Pool {
  /** About `count` values (fewer when making them takes too long, see the pool), each for one request, in the order of use. */
  readonly make: (count: number) => Promise<ReadonlyArray<Values>>
  /** At most this many requests in one run. */
  readonly max: number
}

export interface Request {
  readonly url: string
  readonly method: "GET" | "POST"
  readonly headers?: Record<string, string>
  readonly body?: string
  readonly pool?: Pool
  /** What is wrong with a 2xx answer's body, or undefined when it is what the row expects. Runs on every answer. */
  readonly check: (body: string) => string | undefined
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
  /** 2xx answers whose body was not the expected one, and the first such (what was wrong). */
  readonly wrong: number
  readonly firstWrong?: string
  /** Server process CPU per request, in µs. */
  readonly serverCpu: number
  /** The database backends' CPU per request in µs, and how many backends served the window. */
  readonly dbCpu?: { readonly perRequest: number; readonly backends: number }
  /** The measured window on the monotonic clock, in µs (a V8 CPU profile's clock: bench/profile.ts cuts it out). */
  readonly window: { readonly start: number; readonly end: number }
}

const percentile = (sorted: Float64Array, p: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!

type Length = { readonly seconds: number } | { readonly amount: number; readonly values: ReadonlyArray<Values> }

const run = async (request: Request, connections: number, length: Length) => {
  let wrong = 0
  let firstWrong: string | undefined
  const check = (status: number, body: string) => {
    if (status < 200 || status > 299) return
    const problem = request.check(body)
    if (problem === undefined) return
    wrong++
    firstWrong ??= problem
  }
  const values = "values" in length ? length.values : undefined
  let used = 0
  const measured = await new Promise<{ result: Result; latencies: Float64Array }>((resolve, reject) => {
    const latencies: Array<number> = []
    const instance = autocannon({
      url: request.url,
      method: request.method,
      connections,
      ...("amount" in length ? { amount: length.amount } : { duration: length.seconds }),
      ...(request.headers !== undefined ? { headers: request.headers } : {}),
      ...(request.body !== undefined ? { body: request.body } : {}),
      requests: [{
        method: request.method,
        ...(request.headers !== undefined ? { headers: request.headers } : {}),
        ...(request.body !== undefined ? { body: request.body } : {}),
        // each request takes the pool's next value (autocannon builds one ahead per connection, hence the pool's slack)
        ...(values !== undefined
          ? {
            setupRequest: (built) => {
              const next = values[Math.min(used++, values.length - 1)]!
              return { ...built, headers: { ...request.headers, ...next.headers }, ...(next.body !== undefined ? { body: next.body } : {}) }
            }
          }
          : {}),
        onResponse: (status, body) => check(status, body)
      }]
    }, (error, result) => (error ? reject(error) : resolve({ result, latencies: Float64Array.from(latencies).sort() })))
    instance.on("response", (_client, _status, _bytes, responseTime) => void latencies.push(responseTime))
  })
  if (values !== undefined && used > values.length) {
    throw new Error(`${used - values.length} requests found no value of the pool left (a value was used twice)`)
  }
  return { ...measured, wrong, firstWrong }
}

const clamp = (n: number, low: number, high: number) => Math.max(low, Math.min(high, Math.round(n)))

/** A pooled run of about `count` requests: the values made first (not timed), then the run; its rate. */
const pooledRun = async (request: Request, pool: Pool, connections: number, count: number) => {
  const values = await pool.make(count + 2 * connections)
  const amount = values.length - 2 * connections
  if (amount < connections) throw new Error(`the pool made ${values.length} values, too few for a run of ${connections} connections`)
  const started = performance.now()
  const ran = await run(request, connections, { amount, values })
  return { ...ran, perSecond: amount / ((performance.now() - started) / 1000) }
}

export const measure = async (
  request: Request,
  settings: Settings,
  serverPid: number,
  database?: { readonly backends: () => Promise<ReadonlyArray<number>> }
): Promise<Row> => {
  const { connections } = settings
  let measuredLength: Length = { seconds: settings.seconds }
  const pool = request.pool
  if (pool !== undefined) {
    let rate = (await pooledRun(request, pool, connections, connections * 10)).perSecond
    if (settings.warmupSeconds > 0) {
      rate = (await pooledRun(request, pool, connections, clamp(rate * settings.warmupSeconds, connections * 10, pool.max))).perSecond
    }
    const values = await pool.make(clamp(rate * settings.seconds, connections * 20, pool.max) + 2 * connections)
    measuredLength = { amount: values.length - 2 * connections, values }
  } else if (settings.warmupSeconds > 0) {
    await run(request, connections, { seconds: settings.warmupSeconds })
  }
  const db = database === undefined ? undefined : Cpu.windowOver(database.backends)
  await db?.begin()
  const before = Cpu.seconds(serverPid)
  const start = Number(process.hrtime.bigint() / 1000n)
  const started = performance.now()
  const { result, latencies, wrong, firstWrong } = await run(request, connections, measuredLength)
  const elapsed = (performance.now() - started) / 1000
  const end = Number(process.hrtime.bigint() / 1000n)
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
    wrong,
    ...(firstWrong !== undefined ? { firstWrong } : {}),
    serverCpu: perRequest(after - before),
    ...(dbUsed !== undefined ? { dbCpu: { perRequest: perRequest(dbUsed.seconds), backends: dbUsed.processes } } : {}),
    window: { start, end }
  }
}
