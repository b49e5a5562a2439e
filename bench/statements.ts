/**
 * Issue 17: the SQL statements one code exchange and one refresh send, counted from PostgreSQL's own log. Starts
 * Tessera on the database `STATEMENTS_DB` (default `h_roundtrips`, created if absent, never dropped) of the
 * `DATABASE_URL` server with `log_statement = 'all'` set on it (the caller is superuser), makes a code and a refresh
 * token by the real flow (bench/flows.ts), sends one of each to warm the ReadCache, then two more of each between
 * marker statements, and prints what the log (`STATEMENTS_LOG`, default Debian's PostgreSQL 15 log) holds between
 * the markers: statements on the wire, BEGINs among them. The second pair finds the ReadCache's entries more than
 * a second old (ADR 0015), so it shows the cold reads too.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres node --import tsx bench/statements.ts
 */
import * as Fs from "node:fs"
import Pg from "pg"
import * as Postgres from "./postgres.js"
import * as Servers from "./servers.js"

const url = process.env["DATABASE_URL"]!
const dbName = process.env["STATEMENTS_DB"] ?? "h_roundtrips"
const log = process.env["STATEMENTS_LOG"] ?? "/var/log/postgresql/postgresql-15-main.log"
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const main = async () => {
  const cleanup: Array<() => Promise<void>> = []
  try {
    const db = await Postgres.kept(url, dbName)
    cleanup.push(() => db.drop())
    const marker = new Pg.Client({ connectionString: db.url })
    await marker.connect()
    cleanup.push(() => marker.end())
    const psql = (statement: string) => marker.query(statement)
    await psql(`ALTER DATABASE "${dbName}" SET log_statement = 'all'`)
    await psql("SET log_statement = 'all'")
    const o = { settings: { seconds: 1, warmupSeconds: 1, connections: 1 }, proofsPerSecond: 10, poolMax: 10 }
    const t = await Servers.tessera(o, "tessera/postgres", db, cleanup)
    const code = await t.prepare("code")
    const refresh = await t.prepare("refresh")
    if (typeof code === "string" || typeof refresh === "string") throw new Error("no code or refresh row")
    const bodies = { code: await code.request.pool!.make(4), refresh: await refresh.request.pool!.make(4) }
    const send = async (row: "code" | "refresh", i: number) => {
      const r = row === "code" ? code : refresh
      const res = await fetch(r.request.url, { method: "POST", headers: r.request.headers ?? {}, body: bodies[row][i]!.body! })
      if (res.status !== 200) throw new Error(`${row}: ${res.status} ${await res.text()}`)
    }
    const from = Fs.statSync(log).size
    for (const row of ["code", "refresh"] as const) {
      // warm: right after a request of the same kind
      await send(row, 0)
      await psql(`SELECT 'MARK ${row} 1 begin'`)
      await send(row, 1)
      await sleep(300)
      await psql(`SELECT 'MARK ${row} 1 end'`)
    }
    for (const row of ["code", "refresh"] as const) {
      await sleep(1500)
      await psql(`SELECT 'MARK ${row} 2 begin'`)
      await send(row, 2)
      await sleep(300)
      await psql(`SELECT 'MARK ${row} 2 end'`)
    }
    await sleep(500)
    const text = Fs.readFileSync(log).subarray(from).toString("utf8")
    for (const [i, what] of [[1, "warm"], [2, "cold: ReadCache entries older than 1 s"]] as const) {
      for (const row of ["code", "refresh"] as const) {
        const between = text.slice(text.indexOf("\n", text.indexOf(`MARK ${row} ${i} begin`)), text.indexOf(`MARK ${row} ${i} end`))
        const statements = [...between.matchAll(/LOG: {2}(?:statement|execute [^:]*): ([^\n]*)/g)].map((m) => m[1]!)
          .filter((s) => !s.startsWith("SELECT 'MARK") && s !== "SELECT '")
        console.log(`${row} (${what}): ${statements.length} statements, ${statements.filter((s) => s === "BEGIN").length} BEGIN`)
        for (const s of statements) console.log(`  ${s.slice(0, 110)}`)
      }
    }
  } finally {
    for (const c of cleanup.reverse()) await c().catch(() => undefined)
  }
}
main().then(() => process.exit(0), (e) => {
  console.error(e)
  process.exit(1)
})
