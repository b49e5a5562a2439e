/**
 * ADR 0060: a test file's databases are a layer built once for the file through @effect/vitest's `layer(...)`
 * (`TestLive.file()`), which every world of the file takes its database from, per test or per describe block, and
 * whose scope closes them after the file's last test; each test, and each block's world, keeps test services of its
 * own (a TestClock at 0), as @effect/vitest's own `it.effect` and `layer(...)` give them.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect } from "@effect/vitest"
import { Clock, Context, Duration, Effect, Exit, Layer, Option, Scope, TestClock } from "effect"
import Pg from "pg"
import { createRealm, get } from "./support/Http.js"
import * as TestLive from "./support/TestLive.js"

const it = TestLive.file()

/** What the file's tests saw of its database on a SQL store: one client, whichever world asked. */
const clients = new Set<SqlClient.SqlClient>()
const seen = Effect.map(TestLive.maybeSqlOn(), Option.map((sql) => clients.add(sql)))

/** A realm made by the first test's own world, looked up by the worlds after it. */
let first: string | undefined

const discoveryOf = (name: string) => Effect.map(get(`/realms/${name}/.well-known/openid-configuration`), (res) => res.status)

it.effect("a test's own world is on the file's database; its TestClock starts at 0", () =>
  Effect.gen(function*() {
    expect(yield* Clock.currentTimeMillis).toBe(0)
    first = (yield* createRealm()).name
    expect(yield* discoveryOf(first)).toBe(200)
    yield* seen
    yield* TestClock.adjust(Duration.days(1))
    expect(yield* Clock.currentTimeMillis).toBe(86_400_000)
  }).pipe(Effect.provide(TestLive.world())))

it.layer(TestLive.World)("a describe block's world", (it) => {
  it.effect("is on the file's database (a SQL store's realms are there; in memory each world is new)", () =>
    Effect.gen(function*() {
      expect(yield* discoveryOf(first!)).toBe(TestLive.store === "memory" ? 404 : 200)
      yield* seen
      expect(clients.size).toBe(TestLive.store === "memory" ? 0 : 1)
    }))

  it.effect("has test services of the block's own: its TestClock started at 0, not at the first test's day", () =>
    Effect.gen(function*() {
      expect(yield* Clock.currentTimeMillis).toBe(0)
      yield* TestClock.adjust(Duration.hours(1))
    }))

  it.effect("which its tests share, as a layer(...) of its own gives", () =>
    Effect.map(Clock.currentTimeMillis, (now) => expect(now).toBe(3_600_000)))
})

describe("a describe block without a world of its own, after one with", () => {
  it.effect("runs on the file's database with a TestClock of the test's own, not on the block before (its world closed, its clock at 1 h)", () =>
    Effect.gen(function*() {
      expect(yield* Clock.currentTimeMillis).toBe(0)
      yield* seen
      expect(clients.size).toBe(TestLive.store === "memory" ? 0 : 1)
      expect(yield* discoveryOf(first!).pipe(Effect.provide(TestLive.world()))).toBe(TestLive.store === "memory" ? 404 : 200)
    }))
})

it.live("it.live: the file's database on the live clock", () =>
  Effect.gen(function*() {
    expect(yield* Clock.currentTimeMillis).toBeGreaterThan(Date.parse("2026-01-01"))
    yield* seen
    expect(clients.size).toBe(TestLive.store === "memory" ? 0 : 1)
  }))

// Only on a SQL store: on memory the file has no database to close (each world is new); this block runs in the
// pglite and postgres projects, which every CI run has (vitest.config.ts).
describe.skipIf(TestLive.store === "memory")("the layer's scope", () => {
  it.live("closes the database it opened when it closes: the client is refused; on PostgreSQL the database is dropped", () =>
    Effect.gen(function*() {
      const kind = TestLive.store as TestLive.SqlStore
      const scope = yield* Scope.make()
      const databases = yield* TestLive.databases.pipe(Layer.buildWithScope(scope), Effect.map(Context.get(TestLive.FileDatabases)))
      const sql = Context.get(yield* databases.of(kind), SqlClient.SqlClient)
      const name = (yield* sql<{ name: string }>`SELECT current_database() AS name`)[0]!.name
      yield* sql`SELECT 1`
      yield* Scope.close(scope, Exit.void)
      expect(Exit.isFailure(yield* Effect.exit(sql`SELECT 1`))).toBe(true)
      if (kind === "postgres") {
        const rows = yield* Effect.promise(async () => {
          const client = new Pg.Client({ connectionString: process.env["DATABASE_URL"] })
          await client.connect()
          try {
            return (await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name])).rowCount
          } finally {
            await client.end()
          }
        })
        expect(rows).toBe(0)
      }
    }))
})
