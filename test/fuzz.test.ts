/**
 * Issue 12 "A fuzzer that keeps looking", the fixed-seed pass CI runs: the real server process (fuzz/Target.ts), a realm
 * set up through the admin API (fuzz/Fixture.ts), and a few thousand generated hostile requests (fuzz/Arbitraries.ts)
 * to every endpoint and page. Passes when no answer is a 5xx, at most 3 requests went unanswered (F2), the process never died, its RSS
 * stayed within 512 MiB of what it was after set-up, and `audit/verify` answers ok for both realms used. On PGlite, and
 * on PostgreSQL when DATABASE_URL is set. The whole report is printed when it fails (every failing request, shrunk).
 */
import { afterAll, describe, expect, it } from "vitest"
import * as Fixture from "../fuzz/Fixture.js"
import * as Fuzz from "../fuzz/Fuzz.js"
import * as Target from "../fuzz/Target.js"
import { fileDatabase, skipWithoutPostgres } from "./support/Postgres.js"

const seed = 12
const requests = 2_000

const targets: Array<Target.Target> = []
afterAll(async () => {
  await Promise.all(targets.map((t) => t.stop()))
})

const fuzz = (databaseUrl: string | undefined) => async () => {
  const target = await Target.start({ databaseUrl })
  targets.push(target)
  const fixture = await Fixture.setUp(target.base, `ci-${seed}-${process.pid}-${Date.now().toString(36)}`)
  const report = await Fuzz.run(target, fixture, { seed, requests, concurrency: 8, rssGrowthMib: 512 })
  const text = Fuzz.format(report)
  // the report names every failing request with its answer and the server's log lines: print it, then judge
  if (!report.ok) console.log(text)
  // F2 in docs/security.md (open): rarely, a request's connection is closed without an answer twice, on a new
  // connection each time, and the same request is answered in the next run; CI tolerates at most 3 of them in 2 000
  // (listed above), so a route that drops its requests still fails it. `npm run fuzz` fails on every one.
  const unanswered = report.failures.filter((f) => f.why.startsWith("no answer: "))
  expect(unanswered.length).toBeLessThanOrEqual(3)
  expect({
    requests: report.requests,
    fiveHundreds: Object.entries(report.statuses).filter(([status]) => Number(status) >= 500),
    failures: report.failures.filter((f) => !unanswered.includes(f)).map((f) => `${f.why}: ${f.request.method} ${f.request.path} -> ${f.outcome}`),
    exited: report.exited,
    rssWithinBound: report.rss.peakMib <= report.rss.boundMib,
    audit: Object.values(report.audit).map((verdict) => (verdict as { ok?: unknown }).ok)
  }).toEqual({ requests, fiveHundreds: [], failures: [], exited: undefined, rssWithinBound: true, audit: [true, true] })
  // every endpoint and page was reached (a generator that stopped reaching one would pass the rest by accident)
  const routes = new Set(Object.keys(report.perEndpoint).map((endpoint) => endpoint.replace(/^\S+ /, "").replace(/ \(oversized\)$/, "")))
  for (const route of [
    "/realms/:realm/token", "/realms/:realm/introspect", "/realms/:realm/revoke", "/realms/:realm/userinfo",
    "/realms/:realm/device_authorization", "/realms/:realm/authorize", "/realms/:realm/login", "/realms/:realm/consent",
    "/realms/:realm/device", "/realms/:realm/logout", "/realms/:realm/register", "/admin/realms", "/realms/:realm/jwks",
    "/realms/:realm/.well-known/openid-configuration", "(noise)"
  ]) expect(routes).toContain(route)
  // and answered with more than refusals: the fixture's real values reached the deep code
  expect(report.statuses["200"]).toBeGreaterThan(50)
  await target.stop()
}

describe("issue 12: the fuzzer's fixed-seed pass (no 5xx, the process lives, RSS bounded, audit chain intact)", () => {
  it("on the embedded store (PGlite)", { timeout: 240_000 }, fuzz(undefined))
  // skipped only without DATABASE_URL outside CI; under CI=true it fails instead
  it.skipIf(skipWithoutPostgres)("on PostgreSQL", { timeout: 240_000 }, async () => fuzz(await fileDatabase())())
})
