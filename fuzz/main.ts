/**
 * `npm run fuzz`: starts Tessera as a child process (PGlite; PostgreSQL too when DATABASE_URL is set), sets up a realm
 * through the admin API, and sends generated hostile requests to every endpoint and page (fuzz/Arbitraries.ts) for a
 * fixed count or time. Exits 1 unless: no 5xx, the process never died, RSS stayed within the bound, and
 * audit/verify answers ok for the realms used.
 *
 *   npm run fuzz -- --seed 12 --requests 100000 --concurrency 8
 *   npm run fuzz -- --seconds 60                  (the count is then a ceiling: 10 000 000 unless given)
 *   npm run fuzz -- --store pglite|postgres|both  (default: pglite, and postgres as well when DATABASE_URL is set)
 *   npm run fuzz -- --rss-growth-mib 512          (the RSS bound above the RSS after set-up)
 */
import { parseArgs } from "node:util"
import * as Fixture from "./Fixture.js"
import * as Fuzz from "./Fuzz.js"
import * as Target from "./Target.js"

const { values } = parseArgs({
  options: {
    seed: { type: "string" },
    requests: { type: "string" },
    seconds: { type: "string" },
    concurrency: { type: "string", default: "8" },
    store: { type: "string" },
    "rss-growth-mib": { type: "string", default: "512" }
  }
})

const number = (name: string, value: string | undefined) => {
  const n = Number(value)
  if (value === undefined || !Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number, not ${value}`)
  return n
}

const seed = values.seed !== undefined ? number("seed", values.seed) : Date.now() % 1_000_000
const seconds = values.seconds !== undefined ? number("seconds", values.seconds) : undefined
const requests = values.requests !== undefined ? number("requests", values.requests) : seconds !== undefined ? 10_000_000 : 10_000
const databaseUrl = process.env["DATABASE_URL"]
const stores = values.store === "both" ? ["pglite", "postgres"] : values.store !== undefined ? [values.store] : databaseUrl !== undefined ? ["pglite", "postgres"] : ["pglite"]

let ok = true
for (const store of stores) {
  if (store === "postgres" && databaseUrl === undefined) throw new Error("--store postgres needs DATABASE_URL")
  if (store !== "pglite" && store !== "postgres") throw new Error(`--store must be pglite, postgres or both, not ${store}`)
  console.log(`starting Tessera on ${store}…`)
  const target = await Target.start({ databaseUrl: store === "postgres" ? databaseUrl : undefined })
  try {
    const fixture = await Fixture.setUp(target.base, `${seed}-${Date.now().toString(36)}`)
    console.log(`fuzzing ${target.base} (pid ${target.pid}): seed ${seed}, ${seconds !== undefined ? `${seconds} s or ` : ""}${requests} requests, concurrency ${values.concurrency}`)
    const report = await Fuzz.run(target, fixture, {
      seed,
      requests,
      seconds,
      concurrency: number("concurrency", values.concurrency),
      rssGrowthMib: number("rss-growth-mib", values["rss-growth-mib"]),
      progress: (line) => console.log(line)
    })
    console.log(Fuzz.format(report))
    ok &&= report.ok
  } finally {
    await target.stop()
  }
}
process.exit(ok ? 0 : 1)
