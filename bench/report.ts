/** The token benchmark's tables: every row measured, then the ratios to oidc-provider with issue 17's targets. */
import type * as Load from "./load.js"
import type { Endpoint } from "./servers.js"

export interface Result {
  readonly server: string
  readonly endpoint: Endpoint
  readonly row: Load.Row
}

export const table = (rows: ReadonlyArray<ReadonlyArray<string>>) => {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)))
  const line = (row: ReadonlyArray<string>) => row.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ")
  return [line(rows[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)].join("\n")
}

/** A row counts only if every request was answered 2xx with the expected body, and some were. */
export const clean = (row: Load.Row) => row.errors === 0 && row.non2xx === 0 && row.wrong === 0 && row.requests > 0

export const rows = (results: ReadonlyArray<Result>) =>
  table([
    ["server", "endpoint", "requests", "req/s", "p50 ms", "p99 ms", "errors", "non-2xx", "wrong", "server CPU µs/req", "DB CPU µs/req"],
    ...results.map(({ server, endpoint, row }) => [
      server,
      endpoint,
      String(row.requests),
      row.perSecond.toFixed(0),
      row.p50.toFixed(2),
      row.p99.toFixed(2),
      String(row.errors),
      String(row.non2xx),
      String(row.wrong),
      row.serverCpu.toFixed(0),
      row.dbCpu === undefined ? "" : `${row.dbCpu.perRequest.toFixed(0)} (${row.dbCpu.backends} backends)`
    ])
  ])

/** Issue 17's targets: Tessera's server CPU per request ÷ oidc-provider's, in the same run. */
export const targets: Record<string, Partial<Record<Endpoint, number>>> = {
  "tessera/postgres": { token: 0.6, "token-dpop": 1.0, refresh: 1.0, code: 1.0, introspect: 0.5, jwks: 0.5, discovery: 0.5 },
  "tessera/pglite": { token: 2.0 }
}

const said = (met: boolean) => (met ? "met" : "MISSED")

/** One line per Tessera row with a peer row: the ratio, and the target's verdict where issue 17 sets one. */
export const ratios = (results: ReadonlyArray<Result>, endpoints: ReadonlyArray<Endpoint>) => {
  const find = (server: string, endpoint: Endpoint) => results.find((r) => r.server === server && r.endpoint === endpoint)?.row
  const lines: Array<string> = []
  for (const endpoint of endpoints) {
    const peerRow = find("oidc-provider", endpoint)
    if (peerRow === undefined) continue
    for (const server of ["tessera/postgres", "tessera/pglite"]) {
      const row = find(server, endpoint)
      if (row === undefined) continue
      const ratio = row.serverCpu / peerRow.serverCpu
      const target = targets[server]?.[endpoint]
      let verdict = ""
      if (!clean(row) || !clean(peerRow)) verdict = "  ROW HAS ERRORS: no verdict"
      else if (target !== undefined) {
        verdict = `  target <= ${target.toFixed(1)}x: ${said(ratio <= target)}` +
          (endpoint === "token" && server === "tessera/postgres"
            ? `; p99 ${row.p99.toFixed(2)} ms, target <= the peer's ${peerRow.p99.toFixed(2)} ms: ${said(row.p99 <= peerRow.p99)}`
            : "")
      }
      lines.push(`${endpoint.padEnd(10)} ${server.padEnd(16)} ÷ oidc-provider, server CPU per request: ${ratio.toFixed(2)}x${verdict}`)
      if (row.dbCpu !== undefined && !["jwks", "discovery"].includes(endpoint)) {
        lines.push(`${"".padEnd(10)} ${server.padEnd(16)} ÷ oidc-provider, server + database CPU:       ${((row.serverCpu + row.dbCpu.perRequest) / peerRow.serverCpu).toFixed(2)}x`)
      }
    }
  }
  if (endpoints.includes("introspect") && find("oidc-provider", "introspect") !== undefined) {
    lines.push("introspect: oidc-provider's token is opaque (it refuses to introspect JWTs), looked up in its in-memory adapter; Tessera's is its JWT.")
  }
  if (endpoints.includes("exchange")) lines.push("exchange:  no ratio, oidc-provider does not do RFC 8693 token exchange out of the box.")
  return lines.join("\n")
}

/** RFC 9449: what a proof adds to the bearer token request, server (and database) CPU per request. */
export const dpopCost = (results: ReadonlyArray<Result>, verification: number) => {
  const lines: Array<string> = []
  for (const server of ["tessera/postgres", "tessera/pglite", "oidc-provider"]) {
    const bearer = results.find((r) => r.server === server && r.endpoint === "token")?.row
    const dpop = results.find((r) => r.server === server && r.endpoint === "token-dpop")?.row
    if (bearer === undefined || dpop === undefined) continue
    const extra = dpop.serverCpu - bearer.serverCpu
    const dbExtra = dpop.dbCpu !== undefined && bearer.dbCpu !== undefined ? dpop.dbCpu.perRequest - bearer.dbCpu.perRequest : undefined
    const db = dbExtra === undefined ? "" : `; database ${dbExtra >= 0 ? "+" : ""}${dbExtra.toFixed(0)} µs`
    lines.push(`token-dpop ${server.padEnd(16)} server CPU per request ${dpop.serverCpu.toFixed(0)} µs vs bearer ${bearer.serverCpu.toFixed(0)} µs: ` +
      `${extra >= 0 ? "+" : ""}${extra.toFixed(0)} µs (${(extra / verification).toFixed(1)} signature verifications)${db}`)
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n(one ES256 signature verification in this process: ${verification.toFixed(0)} µs)`
}
