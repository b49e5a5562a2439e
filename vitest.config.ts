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

const onStore = (store: "memory" | "pglite" | "postgres", include: Array<string>) => ({
  extends: true as const,
  test: {
    name: store,
    include,
    ...(store === "postgres" ? {} : { exclude: [...configDefaults.exclude, ...postgresOnly] }),
    env: { TESSERA_TEST_STORE: store }
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
    setupFiles: ["test/support/perFile.ts"],
    projects: [
      onStore("memory", ["test/**/*.test.ts", "packages/*/test/**/*.test.ts"]),
      onStore("pglite", grantSuites),
      ...(postgres ? [onStore("postgres", grantSuites)] : [])
    ]
  }
})
