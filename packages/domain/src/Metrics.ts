/**
 * Tessera's operational metrics (CONTRACT §8), as Effect `Metric`s: the code that observes a thing updates its
 * metric here; the exporter (server-node, on `TESSERA_METRICS_PORT`) publishes whatever is recorded. Names are the
 * Prometheus names the contract promises. Labels (ADR 0040) only ever take values from bounded sets: realm names that
 * exist, grant types and error codes Tessera knows, route patterns, statuses; never a raw path or a client's text.
 */
import { Effect, Metric, MetricBoundaries, MetricLabel } from "effect"

/** CONTRACT §8 `tessera_tokens_issued_total{realm,grant_type}`: every token response with an access token. */
export const tokensIssued = Metric.counter("tessera_tokens_issued_total", {
  description: "Token responses that issued an access token, by realm and grant type",
  incremental: true
})

/** CONTRACT §8 `tessera_token_refusals_total{realm,error}`: every token endpoint error response, by its `error`. */
export const tokenRefusals = Metric.counter("tessera_token_refusals_total", {
  description: "Token endpoint error responses, by realm and OAuth error code",
  incremental: true
})

/** CONTRACT §8 `tessera_http_request_duration_seconds{route,status}`: one observation per HTTP response. */
export const httpRequestDuration = Metric.histogram(
  "tessera_http_request_duration_seconds",
  MetricBoundaries.fromIterable([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]),
  "HTTP request duration in seconds, by route pattern and status"
)

/** CONTRACT §8 `tessera_audit_commit_batch_size`: events linked and committed together (ADR 0022 group commit). */
export const auditCommitBatchSize = Metric.histogram(
  "tessera_audit_commit_batch_size",
  MetricBoundaries.fromIterable([1, 2, 4, 8, 16, 32, 64, 128, 256]),
  "Audit events committed in one transaction"
)

/** CONTRACT §8 `tessera_signing_key_age_seconds{realm,alg}`: how long the realm's active signing key has signed. */
export const signingKeyAge = Metric.gauge("tessera_signing_key_age_seconds", {
  description: "Age of each realm's active signing key in seconds, by realm and algorithm"
})

/** Issue 15: the periodic audit verification's last verdict per realm (1 intact, 0 broken). */
export const auditVerifyOk = Metric.gauge("tessera_audit_verify_ok", {
  description: "1 when the realm's audit chain verified intact at the last periodic check, 0 when broken"
})

/** Issue 15: when the periodic audit verification last completed for the realm (Unix seconds). */
export const auditVerifyLastRun = Metric.gauge("tessera_audit_verify_last_run_timestamp_seconds", {
  description: "Unix time of the realm's last completed periodic audit verification"
})

/**
 * Whether this process records the series above through `record`: only while a metrics listener exports them
 * (`TESSERA_METRICS_PORT`, ADR 0040), so that a server without one spends nothing on them. Counted, so that listeners
 * of several worlds in one test process overlap safely.
 */
let listeners = 0

/** Records from now until the scope closes (the metrics listener's lifetime). */
export const recording = Effect.acquireRelease(Effect.sync(() => void listeners++), () => Effect.sync(() => void listeners--))

export const isRecording = () => listeners > 0

/**
 * The label arrays of a two-label series, one per distinct pair of values, built on first use and kept: Effect keeps
 * a series' hook per label array (a WeakMap), so passing the same array finds the series without building or hashing
 * a key. Two levels of maps keyed by the values themselves, so that finding a pair allocates nothing (no joined
 * string, no rest array): what one update costs is two map reads and the update itself (bench/metrics.ts).
 */
const labelPairs = <B extends string | number>(first: string, second: string) => {
  const sets = new Map<string, Map<B, ReadonlyArray<MetricLabel.MetricLabel>>>()
  return (a: string, b: B): ReadonlyArray<MetricLabel.MetricLabel> => {
    let inner = sets.get(a)
    if (inner === undefined) {
      inner = new Map()
      sets.set(a, inner)
    }
    let labels = inner.get(b)
    if (labels === undefined) {
      labels = [MetricLabel.make(first, a), MetricLabel.make(second, String(b))]
      inner.set(b, labels)
    }
    return labels
  }
}

const issuedLabels = labelPairs<string>("realm", "grant_type")
const refusedLabels = labelPairs<string>("realm", "error")
const responseLabels = labelPairs<number>("route", "status")
const keyAgeLabels = labelPairs<string>("realm", "alg")
const noLabels: ReadonlyArray<MetricLabel.MetricLabel> = []

/** The updates, synchronous: for Node listeners and loops outside any fiber. Each does nothing while not `isRecording`. */
export const unsafe = {
  /** A token response with an access token, of a realm that exists, for a grant type Tessera serves. */
  tokenIssued: (realm: string, grantType: string): void => {
    if (listeners > 0) tokensIssued.unsafeUpdate(1, issuedLabels(realm, grantType))
  },
  /** A token endpoint error response of a realm that exists, by its OAuth `error` code. */
  tokenRefused: (realm: string, error: string): void => {
    if (listeners > 0) tokenRefusals.unsafeUpdate(1, refusedLabels(realm, error))
  },
  /** An HTTP response: `route` is the pattern that answered (`/realms/:realm/token`), never the request's path. */
  httpResponse: (route: string, status: number, seconds: number): void => {
    if (listeners > 0) httpRequestDuration.unsafeUpdate(seconds, responseLabels(route, status))
  },
  /** A commit of `events` audit events together. */
  auditBatch: (events: number): void => {
    if (listeners > 0) auditCommitBatchSize.unsafeUpdate(events, noLabels)
  }
}

/** CONTRACT §8 `tessera_signing_key_age_seconds{realm,alg}`: set at each scrape (SigningKeys.recordAges), whoever asks. */
export const signingKeyAgeOf = (realm: string, alg: string, seconds: number) =>
  Effect.sync(() => signingKeyAge.unsafeUpdate(seconds, keyAgeLabels(realm, alg)))

export const tokenIssuedFor = (realm: string, grantType: string) => Effect.sync(() => unsafe.tokenIssued(realm, grantType))
export const tokenRefusedFor = (realm: string, error: string) => Effect.sync(() => unsafe.tokenRefused(realm, error))
export const auditBatchOf = (events: number) => Effect.sync(() => unsafe.auditBatch(events))
