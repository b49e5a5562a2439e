/**
 * vitest globalSetup (vitest.config.ts): with `DATABASE_URL`, one migrated template database for the run, which every
 * test file's own database copies (test/support/Postgres.ts); dropped at the end. Copying it took 0.3 s where
 * migrating an empty database took 2.1 s (ADR 0051). It runs in vitest's main process: no `vitest` import here, and
 * test/support/Postgres.ts takes the naming from it.
 */
import { Effect, Layer, Redacted } from "effect"
import type { TestProject } from "vitest/node"
import Pg from "pg"
import { Database } from "@tessera/sql"

/** The prefix of every database a run makes on the server: `<the run's database>__` (.ci/run drops them by it). */
export const prefixOf = (url: string) => `${decodeURIComponent(new URL(url).pathname.slice(1)).slice(0, 40)}__`

/** `url` with another database. */
export const withDatabase = (url: string, name: string) => {
  const other = new URL(url)
  other.pathname = `/${name}`
  return other.toString()
}

/** One statement on the server's maintenance connection (the `DATABASE_URL` database). */
export const onServer = async (url: string, statement: string) => {
  const client = new Pg.Client({ connectionString: url })
  client.on("error", () => undefined)
  await client.connect()
  try {
    await client.query(statement)
  } finally {
    await client.end()
  }
}


export default async function setup(project: TestProject) {
  const server = process.env["DATABASE_URL"]
  if (server === undefined) return
  const name = `${prefixOf(server)}t${process.pid}`
  await onServer(server, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
  await onServer(server, `CREATE DATABASE "${name}"`)
  // migrated as the application migrates (and its role made) before any file runs; the pool is closed after
  await Effect.runPromise(Effect.scoped(Layer.build(Database.layerPostgres(Redacted.make(withDatabase(server, name))))))
  project.provide("postgresTemplate", name)
  return () => onServer(server, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
}
