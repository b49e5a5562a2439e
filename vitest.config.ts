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
  "test/rfc6749-4.4-client-credentials-wire.test.ts",
  "test/admin-lifecycle-*.test.ts",
  "test/tenancy-*.test.ts",
  "test/id-jag-as-*.test.ts",
  "test/id-jag-idp-*.test.ts",
  "test/id-jag-attacks.test.ts",
  "test/json-depth-attacks.test.ts",
  "test/oidc-logout.test.ts",
  // not a grant suite: the test files' own databases (ADR 0060), on every store
  "test/file-database.test.ts"
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

type Project = "memory" | "pglite" | "postgres"

const onStore = (name: Project, include: Array<string>) => ({
  extends: true as const,
  test: {
    name,
    include,
    exclude: [...configDefaults.exclude, ...(name === "postgres" ? [] : postgresOnly)],
    env: { TESSERA_TEST_STORE: name }
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
     * is closed after its last one by the setup file below (test/support/FileEnd.ts), as with one process per file;
     * that setup file also puts back what @effect/vitest's `layer(...)` changes in the shared `it` (ADR 0051).
     */
    isolate: false,
    /*
     * As many worker processes as the machine has cores, not vitest's cores - 1: on the 2-core CI machine, two files at
     * a time in every project. No two files share a database: each file that uses PostgreSQL gets one of its own on
     * the `DATABASE_URL` server, a copy of the migrated template made once by the global setup (ADR 0051).
     */
    maxWorkers: Math.max(2, Os.availableParallelism()),
    globalSetup: ["test/support/globalSetup.ts"],
    setupFiles: ["test/support/perFile.ts"],
    projects: [
      onStore("memory", ["test/**/*.test.ts", "packages/*/test/**/*.test.ts"]),
      onStore("pglite", grantSuites),
      ...(postgres ? [onStore("postgres", grantSuites)] : [])
    ]
  }
})
