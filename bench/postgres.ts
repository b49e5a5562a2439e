/**
 * The PostgreSQL side of the token benchmark: a scratch database on the `DATABASE_URL`'s server (created through its
 * `postgres` database and dropped afterwards; the database the URL names is never touched), and the process ids of
 * the backends serving it, whose CPU is the database's cost per request.
 */
import Pg from "pg"

export const withDatabase = (url: string, database: string) => {
  const u = new URL(url)
  u.pathname = `/${encodeURIComponent(database)}`
  return u.toString()
}

/** A connection to the server's `postgres` database, for administration and monitoring. */
export const connect = async (url: string) => {
  const client = new Pg.Client({ connectionString: withDatabase(url, "postgres"), connectionTimeoutMillis: 5000 })
  client.on("error", () => undefined)
  await client.connect()
  return client
}

export interface Scratch {
  readonly name: string
  readonly url: string
  /** Process ids of the backends connected to the scratch database right now. */
  readonly backends: () => Promise<ReadonlyArray<number>>
  /** What a COMMIT waits for on this server. */
  readonly durability: string
  readonly version: string
  readonly drop: () => Promise<void>
}

export const scratch = (url: string): Promise<Scratch> => open(url, `tessera_bench_run_${process.pid}`, true)

/** The database `name` on the URL's server, created if absent and never dropped (`drop` only disconnects). */
export const kept = (url: string, name: string): Promise<Scratch> => open(url, name, false)

const open = async (url: string, name: string, temporary: boolean): Promise<Scratch> => {
  const admin = await connect(url)
  const exists = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [name])
  if (temporary || exists.rowCount === 0) await admin.query(`CREATE DATABASE "${name}"`)
  const settings = await admin.query<{ fsync: string; synchronous_commit: string; version: string }>(
    "SELECT current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS synchronous_commit, current_setting('server_version') AS version"
  )
  const s = settings.rows[0]!
  return {
    name,
    url: withDatabase(url, name),
    backends: async () =>
      (await admin.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = $1", [name])).rows.map((r) => r.pid),
    durability: `fsync=${s.fsync}, synchronous_commit=${s.synchronous_commit}`,
    version: s.version,
    drop: async () => {
      try {
        if (temporary) await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
      } finally {
        await admin.end()
      }
    }
  }
}
