/**
 * Which PostgreSQL the suites may use. Without `DATABASE_URL` (a fresh clone with no Postgres) the Postgres tests are
 * skipped; with `CI=true` they are never skipped: they run and fail, so CI cannot pass without Postgres.
 */
export const databaseUrl = process.env["DATABASE_URL"]

/** Skip only outside CI, and only when there is no Postgres to run against. */
export const skipWithoutPostgres = databaseUrl === undefined && process.env["CI"] !== "true"

/** The URL, or (under CI=true without one) a failure that says why. */
export const requirePostgres = (): string => {
  if (databaseUrl === undefined) throw new Error("CI=true but DATABASE_URL is unset: the Postgres tests must run in CI")
  return databaseUrl
}
