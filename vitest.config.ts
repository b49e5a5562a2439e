import * as Os from "node:os"
import { configDefaults, defineConfig } from "vitest/config"

/**
 * The HTTP grant conformance suites and the agent story: they run on every store (`TESSERA_TEST_STORE`, read by
 * test/support/TestLive.ts). A new suite whose name matches joins all three projects by itself.
 */
const grantSuites = [
  "test/rfc6749-*.test.ts",
  "test/rfc7591-dynamic-*.test.ts",
  "test/rfc7009-*.test.ts",
  "test/rfc7523-*.test.ts",
  "test/rfc7662-*.test.ts",
  "test/rfc8628-*.test.ts",
  "test/rfc8693-*.test.ts",
  "test/rfc8707-*.test.ts",
  "test/rfc9449-*.test.ts",
  "test/e2e-agent-*.test.ts",
  "test/mcp-client-id-*.test.ts",
  "test/mcp-authorization-*.test.ts",
  "test/token-edge.test.ts",
  "test/admin-lifecycle-*.test.ts",
  "test/tenancy-*.test.ts",
  "test/id-jag-as-*.test.ts",
  "test/id-jag-idp-*.test.ts",
  "test/id-jag-attacks.test.ts"
]

/**
 * PostgreSQL when `DATABASE_URL` is set; under CI=true also without it, so that the project runs and fails
 * (test/support/Postgres.ts) rather than quietly leaving the grant suites untested on PostgreSQL.
 */
const postgres = process.env["DATABASE_URL"] !== undefined || process.env["CI"] === "true"

/**
 * Suites that only mean something on PostgreSQL and start their own server processes against it: they run once, in
 * the postgres project (which exists whenever DATABASE_URL is set, and under CI=true), never on memory or PGlite.
 */
const postgresOnly = ["test/admin-lifecycle-realm-crash.test.ts"]

/**
 * Memory-project suites that use the one PostgreSQL database of `DATABASE_URL` themselves (directly, or through the
 * server processes they start): they run one file at a time (project `memory-serial`), as every `postgres` file does,
 * so that no two files migrate, fill or rotate keys in that shared database at once. Every other file of the memory
 * and PGlite projects has a world of its own (in-memory ports, its own PGlite, a free port and data directory for a
 * process it starts) and runs beside another (ADR 0051). One exception: test/key-lifecycle.test.ts uses the database
 * in one block but stays in `memory`, whose files never share it (all others are here, and run after): in the serial
 * worker, after PostgresProofs, its TestClock tests failed (`testClock.adjust is not a function`, a leak between files
 * of one worker not yet found; alone, or after other files, it passes).
 */
const sharedPostgres = [
  "packages/sql/test/AuditGroupCommit.test.ts",
  "packages/sql/test/AuditQuery.test.ts",
  "packages/sql/test/AuditVerification.test.ts",
  "packages/sql/test/Postgres.test.ts",
  "packages/sql/test/PostgresProofs.test.ts",
  "test/cli-login.test.ts",
  "test/cli-usage.test.ts",
  "test/e2e-dpop-oauth4webapi.test.ts",
  "test/e2e-openid-client.test.ts",
  "test/fuzz.test.ts",
  "test/login-throttle.test.ts",
  "test/operations-health.test.ts",
  "test/operations-metrics.test.ts",
  "test/process.test.ts",
  "test/store-faults.test.ts",
  "test/tenancy-story.test.ts"
]

type Project = "memory" | "memory-serial" | "pglite" | "postgres"

const onStore = (name: Project, include: Array<string>, exclude: Array<string> = []) => ({
  extends: true as const,
  test: {
    name,
    include,
    exclude: [...configDefaults.exclude, ...exclude, ...(name === "postgres" ? [] : postgresOnly)],
    env: { TESSERA_TEST_STORE: name === "memory-serial" ? "memory" : name },
    // one worker process runs all of a serial project's files, one after another (ADR 0051)
    ...(name === "memory-serial" || name === "postgres" ? { poolOptions: { forks: { singleFork: true } } } : {})
  }
})

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    /*
     * One worker process runs many files of a project, keeping the modules they share (effect, the app, the
     * support modules) instead of importing them again for each file: measured on the 2-core CI machine, this is most
     * of a file's fixed cost (ADR 0039). Projects still get fresh workers (vitest recycles them between projects, so
     * TESSERA_TEST_STORE is read afresh), each test file is evaluated anew, and what a file opens for all its tests
     * is closed after its last one by the setup file below (test/support/FileEnd.ts), as with one process per file.
     */
    isolate: false,
    /*
     * As many worker processes as the machine has cores, not vitest's cores - 1: on the 2-core CI machine that is two
     * files of the memory and PGlite projects at a time instead of one, while the serial projects keep one (ADR 0051).
     */
    maxWorkers: Math.max(2, Os.availableParallelism()),
    setupFiles: ["test/support/perFile.ts"],
    projects: [
      onStore("memory", ["test/**/*.test.ts", "packages/*/test/**/*.test.ts"], sharedPostgres),
      onStore("memory-serial", sharedPostgres),
      onStore("pglite", grantSuites),
      ...(postgres ? [onStore("postgres", grantSuites)] : [])
    ]
  }
})
