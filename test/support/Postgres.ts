/**
 * Which PostgreSQL the suites may use, and a database of its own for each test file (ADR 0051). Without
 * `DATABASE_URL` (a fresh clone with no Postgres) the Postgres tests are skipped; with `CI=true` they are never
 * skipped: they run and fail, so CI cannot pass without Postgres.
 *
 * `DATABASE_URL` names the server (and the run's own database, which no test writes to). A file's database is made on
 * that server the first time the file asks for it (`fileDatabase`), as a copy of the migrated template that
 * test/support/globalSetup.ts makes once per run, and dropped after the file's last test (FileEnd). Its name starts
 * with `<the DATABASE_URL database>__`, so `.ci/run` can drop whatever a killed run left behind, and holds the worker's
 * pid, so two files running at once never share one. Support modules are evaluated once per worker
 * (vitest.config.ts `isolate: false`): the file's database is per-file state, reset by test/support/perFile.ts.
 */
import { inject } from "vitest"
import { onFileEnd } from "./FileEnd.js"
import { onServer, prefixOf, withDatabase } from "./globalSetup.js"

declare module "vitest" {
  export interface ProvidedContext {
    /** The migrated template database test/support/globalSetup.ts made for this run (absent without DATABASE_URL). */
    readonly postgresTemplate?: string
  }
}

/** The server every file's database is made on: the same for the whole run, so read once. */
const serverUrl = process.env["DATABASE_URL"]

/** Skip only outside CI, and only when there is no Postgres to run against. */
export const skipWithoutPostgres = serverUrl === undefined && process.env["CI"] !== "true"

/** The server's URL, or (under CI=true without one) a failure that says why. */
const requireServer = (): string => {
  if (serverUrl === undefined) throw new Error("CI=true but DATABASE_URL is unset: the Postgres tests must run in CI")
  return serverUrl
}

let made = 0

/**
 * A new database on the `DATABASE_URL` server: a copy of the run's migrated template (`migrated`, the default) or an
 * empty one (for tests of the migrations themselves); `drop` removes it (WITH (FORCE): connections still open are
 * ended). Most files want `fileDatabase`; this is for a test that needs more than one.
 */
export const freshDatabase = async (options: { readonly migrated?: boolean } = {}) => {
  const server = requireServer()
  const name = `${prefixOf(server)}f${process.pid}_${++made}`
  const template = options.migrated === false ? undefined : inject("postgresTemplate")
  // STRATEGY WAL_LOG (PostgreSQL 15's default) copies the small template in about 0.3 s; FILE_COPY checkpoints (5 s)
  await onServer(server, `CREATE DATABASE "${name}"${template === undefined ? "" : ` TEMPLATE "${template}"`}`)
  return { url: withDatabase(server, name), drop: () => onServer(server, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) }
}

let current: Promise<string> | undefined

/**
 * This file's database (made on first call, migrated, dropped after the file's last test); under CI=true without
 * `DATABASE_URL` it rejects, saying why.
 */
export const fileDatabase = (): Promise<string> => {
  if (current !== undefined) return current
  const made = freshDatabase()
  current = made.then(({ url }) => url)
  // a failure is reported where the URL is awaited, never as an unhandled rejection
  current.catch(() => undefined)
  // the database is dropped after the server processes and pools the file's own afterAll closed (LIFO, FileEnd)
  onFileEnd(async () => {
    current = undefined
    await made.then(({ drop }) => drop(), () => undefined)
  })
  return current
}

/** `fileDatabase`, or `undefined` without `DATABASE_URL` (suites that then skip, or fail under CI=true). */
export const fileDatabaseIfAny = (): Promise<string | undefined> => serverUrl === undefined ? Promise.resolve(undefined) : fileDatabase()

/** A new file starts: nothing of the last file's database is this file's (perFile.ts). */
export const fileStarts = () => {
  current = undefined
}
