/**
 * The fuzz run: `concurrency` workers, each a fast-check run of `Arbitraries.request` with its own seed (seed + worker
 * index), sending every generated request to the server and recording the answer. A request fails when the answer is
 * a 5xx, or there is no answer while the process is still alive and the request was not over the body limit (a 413
 * may close the connection before the client has sent everything), or the process died. Each failure is replayed
 * afterwards from its worker's seed and run index (fast-check's `path`) and shrunk while it still fails. Meanwhile the
 * server's RSS is sampled; at the end `GET /admin/realms/R/audit/verify` must answer ok for every realm used.
 */
import * as Http from "node:http"
import fc from "fast-check"
import type { FuzzRequest } from "./Arbitraries.js"
import { request as requestArbitrary } from "./Arbitraries.js"
import type { Fixture } from "./Fixture.js"
import type { Outcome, Rendered } from "./Send.js"
import { render, send } from "./Send.js"
import type { LogLine, Target } from "./Target.js"
import { adminToken } from "./Target.js"

export interface Options {
  readonly seed: number
  /** Stop after this many requests (split evenly between the workers)... */
  readonly requests: number
  /** ...or after this many seconds, whichever comes first. */
  readonly seconds?: number | undefined
  readonly concurrency: number
  /** The RSS bound: the run fails when the sampled RSS exceeds the RSS after set-up by more than this (MiB). */
  readonly rssGrowthMib: number
  /** How often to fetch new codes and tokens (ms). */
  readonly refreshMs?: number
  readonly timeoutMs?: number
  /** Progress lines (e.g. console.log); nothing when left out. */
  readonly progress?: (line: string) => void
}

export interface Failure {
  readonly worker: number
  readonly run: number
  /** `--seed <seed> ` and fast-check's replay path for this request. */
  readonly replay: { readonly seed: number; readonly path: string }
  readonly why: string
  readonly request: Printed
  readonly outcome: string
  readonly log: ReadonlyArray<LogLine>
  /** The smallest request fast-check's shrinking found that still fails, when it reproduced. */
  shrunk?: Printed
  shrunkOutcome?: string
}

export interface Printed {
  readonly endpoint: string
  readonly method: string
  readonly path: string
  readonly headers: ReadonlyArray<readonly [string, string]>
  readonly dropped: ReadonlyArray<string>
  readonly body?: string
  readonly bodyBytes?: number
  readonly chunked: boolean
}

export interface Report {
  readonly store: string
  readonly seed: number
  readonly concurrency: number
  readonly requests: number
  readonly seconds: number
  readonly perEndpoint: Record<string, number>
  /** Total milliseconds to the answer, per endpoint (the mean is printed beside the count). */
  readonly msPerEndpoint: Record<string, number>
  readonly statuses: Record<string, number>
  /** Requests with no answer that were not failures (over the body or header limit: the server may close before reading all). */
  readonly noAnswer: Record<string, number>
  readonly failures: ReadonlyArray<Failure>
  readonly rss: { readonly afterSetUpMib: number; readonly peakMib: number; readonly boundMib: number; readonly samples: number }
  readonly exited?: string
  readonly audit: Record<string, unknown>
  readonly refreshErrors: ReadonlyArray<string>
  /** Answers whose headers exceed 16 KiB, which Node's HTTP client (and many proxies) refuse to read: endpoint, size, request. */
  readonly bigHeaders: ReadonlyArray<{ readonly endpoint: string; readonly status: number; readonly headerBytes: number; readonly request: Printed }>
  /** Requests sent again on a new connection because the one they went out on was closed without an answer, with why. */
  readonly staleRetries: ReadonlyArray<string>
  readonly ok: boolean
}

const mib = (kib: number) => Math.round(kib / 102.4) / 10

const printable = (s: string) => (s.length > 600 ? `${s.slice(0, 600)}… (${s.length} characters)` : s)

const print = (request: FuzzRequest, r: Rendered): Printed => ({
  endpoint: request.endpoint,
  method: r.method,
  path: printable(r.path),
  headers: r.headers.map(([n, v]) => [n, printable(v)] as const),
  dropped: r.dropped,
  ...(r.body !== undefined ? { body: printable(JSON.stringify(r.body.toString("latin1")).slice(1, -1)), bodyBytes: r.body.length } : {}),
  chunked: r.chunked
})

const describe = (outcome: Outcome) =>
  outcome._tag === "Answer"
    ? `${outcome.answer.status} ${printable(outcome.answer.body)}`
    : `no answer after ${Math.round(outcome.ms)} ms: ${outcome.error}${outcome.previous !== undefined ? ` (a kept-alive connection; it carried before: ${outcome.previous})` : ""}`

/**
 * Over a limit the server enforces by closing the connection: a body over 64 KiB (413, the rest not read, CONTRACT §2),
 * or a request line and headers over Node's 16 KiB (`maxHeaderSize`: 431 and the connection closed). The client may
 * see the reset before it reads the answer.
 */
const oversized = (r: Rendered) =>
  (r.body !== undefined && r.body.length > 65_536) ||
  r.path.length + r.headers.reduce((n, [name, value]) => n + name.length + value.length + 4, 0) > 16 * 1024 - 512

/** Why a request failed, or undefined when it did not. */
const verdict = (target: Target, r: Rendered, outcome: Outcome): string | undefined => {
  if (target.exited() !== undefined) return `the server process exited (${target.exited()})`
  if (outcome._tag === "Answer") return outcome.answer.status >= 500 ? `answered ${outcome.answer.status}` : undefined
  if (outcome.error.startsWith("not sent")) return undefined
  if (outcome.error.includes("no answer within")) return "no answer (timeout)"
  return oversized(r) ? undefined : `no answer: ${outcome.error}`
}

export const run = async (target: Target, fixture: Fixture, options: Options): Promise<Report> => {
  const base = new URL(target.base)
  const agent = new Http.Agent({ keepAlive: true, maxSockets: options.concurrency })
  const timeoutMs = options.timeoutMs ?? 30_000
  const perEndpoint: Record<string, number> = {}
  const msPerEndpoint: Record<string, number> = {}
  const statuses: Record<string, number> = {}
  const noAnswer: Record<string, number> = {}
  const failures: Array<Failure> = []
  const refreshErrors: Array<string> = []
  const staleRetries: Array<string> = []
  const bigHeaders: Array<Report["bigHeaders"][number]> = []
  let count = 0

  const rssAfterSetUp = target.rssKib() ?? 0
  let peak = rssAfterSetUp
  let samples = 0
  const sampler = setInterval(() => {
    const rss = target.rssKib()
    if (rss !== undefined) {
      samples++
      peak = Math.max(peak, rss)
    }
  }, 200)

  let refreshing = false
  const refresher = setInterval(() => {
    if (refreshing) return
    refreshing = true
    fixture.refresh().catch((error) => refreshErrors.push(String(error).slice(0, 300))).finally(() => (refreshing = false))
  }, options.refreshMs ?? 5_000)

  const started = Date.now()
  const deadline = options.seconds !== undefined ? started + options.seconds * 1000 : Infinity
  const perWorker = Math.ceil(options.requests / options.concurrency)
  let lastProgress = started

  const exchange = async (request: FuzzRequest) => {
    const r = await render(request, fixture, target.base)
    const from = Date.now()
    const first = await send(agent, base, r, timeoutMs)
    // no answer on a connection (a kept-alive one the server had closed, RFC 9112 §9.3.1, or rarely a new one): once
    // more, on a new connection; counted and listed with the first error, a failure only if that gets no answer either
    if (first._tag === "NoAnswer" && !first.error.startsWith("not sent") && !oversized(r) && target.exited() === undefined) {
      staleRetries.push(`${first.error}; ${first.previous !== undefined ? `a kept-alive connection; before: ${first.previous}` : "a new connection"}`)
      const again = await send(undefined, base, r, timeoutMs)
      const outcome: Outcome = again._tag === "NoAnswer"
        ? { ...again, error: `${again.error} on a new connection, after ${first.error} on ${first.previous !== undefined ? `a kept-alive one that carried before: ${first.previous}` : "a new one"}` }
        : again
      return { r, outcome, from }
    }
    return { r, outcome: first, from }
  }

  const worker = async (w: number) => {
    let runIndex = 0
    const property = fc.asyncProperty(requestArbitrary, async (request) => {
      const index = runIndex++
      if (Date.now() > deadline || target.exited() !== undefined) return true
      const { r, outcome, from } = await exchange(request)
      count++
      perEndpoint[request.endpoint] = (perEndpoint[request.endpoint] ?? 0) + 1
      msPerEndpoint[request.endpoint] = (msPerEndpoint[request.endpoint] ?? 0) + (outcome._tag === "Answer" ? outcome.answer.ms : outcome.ms)
      if (outcome._tag === "Answer") {
        statuses[outcome.answer.status] = (statuses[outcome.answer.status] ?? 0) + 1
        if (outcome.answer.headerBytes > 16 * 1024) {
          bigHeaders.push({ endpoint: request.endpoint, status: outcome.answer.status, headerBytes: outcome.answer.headerBytes, request: print(request, r) })
        }
      }
      const why = verdict(target, r, outcome)
      if (why !== undefined) {
        failures.push({
          worker: w, run: index, replay: { seed: options.seed + w, path: String(index) }, why,
          request: print(request, r), outcome: describe(outcome), log: target.logsBetween(from - 100, Date.now() + 100)
        })
      } else if (outcome._tag === "NoAnswer") {
        noAnswer[request.endpoint] = (noAnswer[request.endpoint] ?? 0) + 1
      }
      if (options.progress !== undefined && Date.now() - lastProgress > 10_000) {
        lastProgress = Date.now()
        const s = (Date.now() - started) / 1000
        options.progress(`${count} requests in ${s.toFixed(0)} s (${(count / s).toFixed(0)}/s), ${failures.length} failing, RSS ${mib(target.rssKib() ?? 0)} MiB, ${target.openFiles()} open files`)
      }
      return true
    })
    await fc.check(property, {
      seed: options.seed + w,
      numRuns: perWorker,
      endOnFailure: true,
      ...(options.seconds !== undefined ? { interruptAfterTimeLimit: options.seconds * 1000, markInterruptAsFailure: false } : {})
    })
  }

  try {
    await Promise.all(Array.from({ length: options.concurrency }, (_, w) => worker(w)))
    const seconds = (Date.now() - started) / 1000

    // each failure again, from its seed and path, shrunk while it still fails (a bounded number of attempts)
    for (const failure of failures.slice(0, 20)) {
      if (target.exited() !== undefined) break
      let attempts = 0
      let smallest: { printed: Printed; outcome: string } | undefined
      const replay = fc.asyncProperty(requestArbitrary, async (request) => {
        if (attempts++ > 300 || target.exited() !== undefined) return true
        const { r, outcome } = await exchange(request)
        const why = verdict(target, r, outcome)
        if (why !== undefined) smallest = { printed: print(request, r), outcome: describe(outcome) }
        return why === undefined
      })
      await fc.check(replay, { seed: failure.replay.seed, path: failure.replay.path, numRuns: 1 })
      if (smallest !== undefined) {
        failure.shrunk = smallest.printed
        failure.shrunkOutcome = smallest.outcome
      }
    }

    // the audit chains still hold (CONTRACT §3 audit/verify)
    const audit: Record<string, unknown> = {}
    for (const realm of fixture.realms) {
      if (target.exited() !== undefined) break
      const res = await fetch(`${target.base}/admin/realms/${realm}/audit/verify`, { headers: { authorization: `Bearer ${adminToken}` } })
      audit[realm] = res.status === 200 ? await res.json() : { status: res.status, body: await res.text() }
    }
    const boundKib = rssAfterSetUp + options.rssGrowthMib * 1024
    const exited = target.exited()
    const auditOk = fixture.realms.every((realm) => (audit[realm] as { ok?: unknown } | undefined)?.ok === true)
    return {
      store: target.store,
      seed: options.seed,
      concurrency: options.concurrency,
      requests: count,
      seconds,
      perEndpoint,
      msPerEndpoint,
      statuses,
      noAnswer,
      failures,
      rss: { afterSetUpMib: mib(rssAfterSetUp), peakMib: mib(peak), boundMib: mib(boundKib), samples },
      ...(exited !== undefined ? { exited } : {}),
      audit,
      refreshErrors,
      staleRetries,
      bigHeaders,
      ok: failures.length === 0 && exited === undefined && peak <= boundKib && auditOk
    }
  } finally {
    clearInterval(sampler)
    clearInterval(refresher)
    agent.destroy()
  }
}

/** The report as text: counts, histogram, RSS, audit, and every failing request in full. */
export const format = (report: Report): string => {
  const lines: Array<string> = []
  lines.push(`fuzz on ${report.store}: seed ${report.seed}, concurrency ${report.concurrency}`)
  lines.push(`${report.requests} requests in ${report.seconds.toFixed(1)} s (${(report.requests / report.seconds).toFixed(0)}/s)`)
  lines.push("status histogram: " + Object.entries(report.statuses).sort(([a], [b]) => a.localeCompare(b)).map(([s, n]) => `${s}: ${n}`).join(", "))
  const fives = Object.entries(report.statuses).filter(([s]) => Number(s) >= 500).reduce((n, [, c]) => n + c, 0)
  lines.push(`5xx: ${fives}`)
  lines.push("per endpoint:")
  for (const [endpoint, n] of Object.entries(report.perEndpoint).sort(([a], [b]) => a.localeCompare(b))) {
    const mean = (report.msPerEndpoint[endpoint] ?? 0) / n
    lines.push(`  ${String(n).padStart(7)}  ${mean.toFixed(0).padStart(5)} ms  ${endpoint}${report.noAnswer[endpoint] !== undefined ? ` (${report.noAnswer[endpoint]} closed before answering, over the body or header limit)` : ""}`)
  }
  lines.push(`RSS: ${report.rss.afterSetUpMib} MiB after set-up, peak ${report.rss.peakMib} MiB (bound ${report.rss.boundMib} MiB, ${report.rss.samples} samples)`)
  lines.push(`process: ${report.exited ?? "alive"}`)
  lines.push(`audit/verify: ${JSON.stringify(report.audit)}`)
  if (report.bigHeaders.length > 0) {
    const by: Record<string, number> = {}
    for (const b of report.bigHeaders) by[`${b.endpoint} -> ${b.status}`] = (by[`${b.endpoint} -> ${b.status}`] ?? 0) + 1
    lines.push(`answers with headers over 16 KiB (Node's client limit): ${report.bigHeaders.length}: ${JSON.stringify(by)}`)
    const first = report.bigHeaders[0]!
    lines.push(`  e.g. ${first.headerBytes} bytes for ${JSON.stringify(first.request)}`)
  }
  if (report.staleRetries.length > 0) {
    const fresh = report.staleRetries.filter((retry) => retry.endsWith("a new connection"))
    lines.push(`sent again on a new connection (no answer on the first): ${report.staleRetries.length}, of which ${fresh.length} had gone out on a new connection, e.g.`)
    for (const retry of [...report.staleRetries.slice(0, 3), ...fresh.slice(0, 3)]) lines.push(`  ${printable(retry)}`)
  }
  if (report.refreshErrors.length > 0) lines.push(`fixture refreshes that failed: ${report.refreshErrors.length} (first: ${report.refreshErrors[0]})`)
  lines.push(`failures: ${report.failures.length}`)
  for (const f of report.failures) {
    lines.push(`- ${f.why}: ${f.request.endpoint} (replay: --seed ${f.replay.seed - f.worker} worker ${f.worker}, fast-check seed ${f.replay.seed} path ${f.replay.path})`)
    lines.push(`  request: ${JSON.stringify(f.request)}`)
    lines.push(`  answer: ${f.outcome}`)
    for (const l of f.log) lines.push(`  log ${l.stream}: ${printable(l.line)}`)
    if (f.shrunk !== undefined) {
      lines.push(`  shrunk: ${JSON.stringify(f.shrunk)}`)
      lines.push(`  shrunk answer: ${f.shrunkOutcome}`)
    }
  }
  lines.push(report.ok ? "PASS" : "FAIL")
  return lines.join("\n")
}
