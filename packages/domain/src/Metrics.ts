/**
 * Tessera's operational metrics (CONTRACT §8), as Effect `Metric`s: the code that observes a thing updates its
 * metric here; the exporter (server-node, on `TESSERA_METRICS_PORT`) publishes whatever is recorded. Names are the
 * Prometheus names the contract promises; labels are added with `Metric.tagged` where the value is known.
 */
import { Metric, MetricBoundaries } from "effect"

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
