/**
 * The whole app as `Live.app` builds it, on a chosen store, a loopback server on a random port, and fixed config.
 *
 * The store is `TESSERA_TEST_STORE` (the vitest projects set it): `memory` (the default: fresh in-memory ports per
 * world), `pglite` or `postgres` (a database of the file's own on the `DATABASE_URL` server, test/support/Postgres.ts).
 * A SQL store is one database per test file, opened on first use and closed after the file's last test; its worlds
 * share it and keep apart by unique realm names, as many Tessera nodes share one database.
 *
 * A file takes its databases as a layer (ADR 0060): `const it = TestLive.file()` builds `databases` once for the file
 * through @effect/vitest's `layer(...)`, whose scope closes them after the file's last test. `it.effect` runs a test
 * with them (and test services of its own, as @effect/vitest's `it.effect`); a world, made per test
 * (`Effect.provide(TestLive.world())`) or per describe block (`it.layer(TestLive.World)(...)`), takes the file's
 * database from there. `make`, `TestLive`, `portsOf`, `database`, `sqlOf` and `sqlClient` are the same worlds and
 * databases for files not moved yet: opened by this module on first use and closed by FileEnd.
 */
import * as Http from "node:http"
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { SqlClient } from "@effect/sql"
import * as EffectVitest from "@effect/vitest"
import type { Vitest } from "@effect/vitest"
import { Context, DefaultServices, Effect, Exit, Layer, Logger, Option, Redacted, Scope, TestContext } from "effect"
import type { Duration, TestServices } from "effect"
import { AuditVerification, Fetcher, JobLock, Mailer, RefreshFamily, SigningKey } from "@tessera/domain"
import * as AppConfig from "@tessera/server-node/AppConfig"
import * as FetcherNode from "@tessera/server-node/FetcherNode"
import * as IpAddress from "@tessera/server-node/IpAddress"
import * as Live from "@tessera/server-node/Live"
import * as Sql from "@tessera/sql"
import { onFileEnd, restoreEffectVitest } from "./FileEnd.js"
import { fileDatabase, freshDatabase } from "./Postgres.js"

export const adminToken = "test-owner-token-0123456789abcdefghijklmnop"

export const publicUrl = "https://tessera.test"

export const config: AppConfig.AppConfigShape = {
  port: 8080,
  host: "127.0.0.1",
  publicUrl,
  dataDir: "/nonexistent",
  databaseUrl: Option.none(),
  devInsecureCimd: false,
  adminToken: Option.some(Redacted.make(adminToken)),
  kek: Option.some(Redacted.make("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8")),
  keyPolicy: SigningKey.defaultPolicy,
  refreshPolicy: RefreshFamily.defaultPolicy,
  dpopNonceRequired: false,
  trustedProxies: [],
  mail: Option.none(),
  auditVerifyInterval: AuditVerification.defaultInterval,
  metricsPort: Option.none()
}

/**
 * `trustedProxies` naming the test client itself, which connects over loopback: a test's `X-Forwarded-For` then names
 * the client address (CONTRACT §1), so one world can hold many clients.
 */
export const loopbackProxies: AppConfig.AppConfigShape["trustedProxies"] = [IpAddress.parseCidr("127.0.0.1")!, IpAddress.parseCidr("::1")!]

export type Store = "memory" | "pglite" | "postgres"

export type SqlStore = Exclude<Store, "memory">

const stores: ReadonlyArray<Store> = ["memory", "pglite", "postgres"]

const parseStore = (value: string | undefined): Store => {
  if (value === undefined || value === "") return "memory"
  if ((stores as ReadonlyArray<string>).includes(value)) return value as Store
  throw new Error(`TESSERA_TEST_STORE must be one of ${stores.join(", ")}, not '${value}'`)
}

/** The store this run's suites use. */
export const store: Store = parseStore(process.env["TESSERA_TEST_STORE"])

/** This file's SQL databases, as the application sees them: the `tessera_app` role, bound by row-level security. */
export class FileDatabases extends Context.Tag("test/support/TestLive/FileDatabases")<FileDatabases, {
  readonly of: (kind: SqlStore) => Effect.Effect<Context.Context<SqlClient.SqlClient>, Error>
}>() {}

/** `kind`'s database: PGlite in memory, or one of the file's own on the `DATABASE_URL` server, dropped after its pool closes. */
const databaseOn = (kind: SqlStore): Layer.Layer<SqlClient.SqlClient, unknown> =>
  kind === "pglite"
    ? Sql.Database.layerPglite(undefined)
    : Layer.unwrapScoped(Effect.map(
      Effect.acquireRelease(Effect.tryPromise(() => freshDatabase()), ({ drop }) => Effect.promise(drop)),
      ({ url }) => Sql.Database.layerPostgres(Redacted.make(url))
    ))

/**
 * The file's databases, built once per file by `file()`: none is opened until a world or a test asks for it (a file
 * on PGlite makes no PostgreSQL database), each once however many ask at once, on the live clock whatever the asking
 * test's, and closed with this layer's scope (a pool before its database is dropped: last opened, first closed).
 */
export const databases: Layer.Layer<FileDatabases> = Layer.scoped(
  FileDatabases,
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const open = (kind: SqlStore) =>
      Layer.buildWithScope(databaseOn(kind), scope).pipe(
        Effect.catchAllDefect((defect) => Effect.fail(defect)),
        Effect.mapError((cause) => new Error(`the ${kind} test database would not open: ${String(cause)}`)),
        Effect.locally(DefaultServices.currentServices, DefaultServices.liveServices)
      )
    // a failed open is kept too: reported by every world that needs the database
    const pglite = yield* Effect.cached(open("pglite"))
    const postgres = yield* Effect.cached(open("postgres"))
    return { of: (kind: SqlStore) => kind === "pglite" ? pglite : postgres }
  })
)

/** @effect/vitest's own test services for `it.effect` (TestClock and the rest; the default logger removed). */
const testServices = TestContext.TestContext.pipe(Layer.provide(Logger.remove(Logger.defaultLogger)))

/** @effect/vitest's testers on the file's databases (`file()`). */
export interface FileTesters {
  /** `it.effect`: the file's databases, and test services of the test's own (its TestClock starts at 0). */
  readonly effect: Vitest.Test<TestServices.TestServices | FileDatabases>
  /** `it.scoped`, likewise. */
  readonly scoped: Vitest.Test<TestServices.TestServices | Scope.Scope | FileDatabases>
  /** `it.live`: the file's databases and the live clock. */
  readonly live: Vitest.Test<FileDatabases>
  /** `it.scopedLive`, likewise. */
  readonly scopedLive: Vitest.Test<Scope.Scope | FileDatabases>
  /**
   * `layer(...)`: `layer` (a world) built once for a describe block on the file's databases, with test services of the
   * block's own, as a `layer(...)` of its own would have them.
   */
  readonly layer: <R, E>(
    layer: Layer.Layer<R, E, FileDatabases | TestServices.TestServices>,
    options?: { readonly timeout?: Duration.DurationInput }
  ) => (name: string, f: (it: Vitest.MethodsNonLive<R | FileDatabases | TestServices.TestServices, true>) => void) => void
}

/** A test file's `it`: vitest's, with `FileTesters` in place of @effect/vitest's testers. */
export type FileIt = EffectVitest.API & FileTesters

/**
 * This file's `it` (call once, at the top of a test file): `databases` built through @effect/vitest's `layer(...)`
 * before the file's first test and closed after its last one.
 *
 * The testers are kept here rather than read from the `it` that `layer(...)` hands over: @effect/vitest 0.30 assigns
 * each block's testers onto the one `it` every file shares (FileEnd), so a describe body that runs after another
 * block's would otherwise get that block's runtime; that `it` is put back at once.
 */
export const file = (): FileIt => {
  const testers: Array<FileTesters> = []
  EffectVitest.layer(databases, { excludeTestServices: true })(({ effect, layer, scoped }) => {
    testers.push({
      effect: (name, self, timeout) => effect(name, (ctx) => Effect.provide(self(ctx), testServices), timeout),
      scoped: (name, self, timeout) => scoped(name, (ctx) => Effect.provide(self(ctx), testServices), timeout),
      live: effect,
      scopedLive: scoped,
      layer: (world, options) => layer(Layer.provideMerge(Layer.fresh(world), Layer.fresh(testServices)), options)
    })
  })
  restoreEffectVitest()
  const own = testers[0]!
  return new Proxy(EffectVitest.it, {
    get: (target, key, receiver) => Object.hasOwn(own, key) ? own[key as keyof FileTesters] : Reflect.get(target, key, receiver)
  }) as unknown as FileIt
}

/** Every store port, whichever store is behind them (the in-memory ports also offer `MemoryDb`). */
export type Ports = Layer.Layer.Success<typeof Sql.ports> | JobLock.JobLock

/** The store ports on `kind`: fresh in-memory ones, or the SQL ports over this file's database. */
export const portsOn = (kind: Store): Layer.Layer<Ports, Error, FileDatabases> => {
  if (kind === "memory") return Live.MemoryPorts
  const database = Layer.effectContext(Effect.flatMap(FileDatabases, (databases) => databases.of(kind)))
  // as Live.StoreLive: advisory locks on PostgreSQL (many nodes), an in-process lock on the embedded store
  return Layer.mergeAll(Sql.ports, kind === "postgres" ? Sql.jobLock : JobLock.layerMemory).pipe(Layer.provide(database))
}

/** This file's database `kind` as the application sees it, for tests that check rows (pin a realm with `Sql.withRealm`). */
export const sqlOn = (kind: SqlStore) =>
  Effect.flatMap(FileDatabases, (databases) => Effect.map(databases.of(kind), Context.get(SqlClient.SqlClient)))

/** `sqlOn(kind)`, or `Option.none()` on memory. */
export const maybeSqlOn = (kind: Store = store) =>
  kind === "memory" ? Effect.succeed(Option.none<SqlClient.SqlClient>()) : Effect.map(sqlOn(kind), Option.some)

export interface Options {
  /** The store (default: this run's `store`). */
  readonly store?: Store
  /**
   * Outbound HTTP: the memory Fetcher (default), the real one for documents a test serves itself on loopback, or any
   * Fetcher layer (e.g. the Node one over a fake DNS resolver).
   */
  readonly fetcher?: "memory" | "node" | Layer.Layer<Fetcher.Fetcher>
  /** Outgoing mail (default: from the configuration, SMTP or none), e.g. a fake that records or fails. */
  readonly mailer?: Layer.Layer<Mailer.Mailer>
  /** Replaces store ports over the real ones (e.g. a port that holds readers at a barrier, to force a race). */
  readonly ports?: (ports: Layer.Layer<Ports, Error, FileDatabases>) => Layer.Layer<Ports, Error, FileDatabases>
}

/** A loopback server on a random port, the `HttpClient` aimed at it and the configuration, around `app`. */
const frame = (overrides: Partial<AppConfig.AppConfigShape>) => {
  const server = Http.createServer()
  // loopback only: NodeHttpServer.layerTest would listen on every interface
  const Server = NodeHttpServer.layer(() => server, { port: 0, host: "127.0.0.1" })
  const Client = HttpServer.layerTestClient.pipe(Layer.provide(NodeHttpClient.layerUndici), Layer.provideMerge(Server))
  return {
    server,
    around: <A, E, R>(app: Layer.Layer<A, E, R>) =>
      app.pipe(Layer.provideMerge(Client), Layer.provideMerge(AppConfig.layer({ ...config, ...overrides })))
  }
}

/** The memory Fetcher over its table (`Fetcher.MemoryFetcher`, in the world for tests to fill), or another one. */
const outbound = (options: Options) =>
  options.fetcher === "node"
    ? FetcherNode.layer
    : options.fetcher === undefined || options.fetcher === "memory"
    ? Fetcher.layerFromTable.pipe(Layer.provide(Fetcher.layerMemoryTable))
    : options.fetcher

/**
 * A fresh world: a new server on a loopback port, an `HttpClient` aimed at it, and the store (new in-memory stores,
 * or the file's SQL database, from `FileDatabases`). Outbound HTTP goes to the memory Fetcher, whose table
 * (`Fetcher.MemoryFetcher`) a test fills and counts, unless `options.fetcher` is `"node"`.
 */
export const world = (overrides: Partial<AppConfig.AppConfigShape> = {}, options: Options = {}) => {
  const { around, server } = frame(overrides)
  const ports = portsOn(options.store ?? store)
  return around(Live.app(server, Layer.merge(options.ports?.(ports) ?? ports, Fetcher.layerMemoryTable), outbound(options), options.mailer))
}

/** `world()`, for `it.layer(...)`. */
export const World = world()

/** A fresh world on in-memory stores whatever the run's store, with `MemoryDb` for tests that look inside. */
export const makeMemory = (overrides: Partial<AppConfig.AppConfigShape> = {}, options: Omit<Options, "store" | "ports"> = {}) => {
  const { around, server } = frame(overrides)
  return around(Live.app(server, Layer.merge(Live.MemoryPorts, Fetcher.layerMemoryTable), outbound(options), options.mailer))
}

/** `makeMemory()`, for `layer(...)`. */
export const TestMemory = makeMemory()

// Files not moved to `file()` yet (ADR 0060): the database opened here on first use, closed by FileEnd.

interface Shared {
  readonly scope: Scope.CloseableScope
  readonly context: Promise<Context.Context<SqlClient.SqlClient>>
}

const shared = new Map<SqlStore, Shared>()

/** This file's database: PGlite in memory, or its own on the `DATABASE_URL` server (under CI=true it must be set). */
const openDatabase = (kind: SqlStore): Shared => {
  const existing = shared.get(kind)
  if (existing !== undefined) return existing
  // made (and its drop registered) before the pool on it, which is therefore closed first (FileEnd closes LIFO)
  const url = kind === "postgres" ? fileDatabase() : undefined
  const scope = Effect.runSync(Scope.make())
  const database = url === undefined
    ? Sql.Database.layerPglite(undefined)
    : Layer.unwrapEffect(Effect.map(Effect.promise(() => url), (url) => Sql.Database.layerPostgres(Redacted.make(url))))
  const context = Effect.runPromise(Layer.buildWithScope(database, scope).pipe(
    Effect.catchAllDefect((defect) => Effect.fail(defect)),
    Effect.mapError((cause) => new Error(`the ${kind} test database would not open: ${String(cause)}`))
  ))
  // a failed open is reported by every world that needs it; never as an unhandled rejection
  context.catch(() => undefined)
  const opened = { scope, context }
  shared.set(kind, opened)
  // closed after this file's last test (one database per file, whether or not modules are shared between files)
  onFileEnd(async () => {
    shared.delete(kind)
    await Effect.runPromise(Scope.close(scope, Exit.void))
  })
  return opened
}

/** The databases of a file not moved to `file()`. */
const openedHere = Layer.succeed(FileDatabases, {
  of: (kind) => Effect.tryPromise({ try: () => openDatabase(kind).context, catch: (error) => error as Error })
})

/** `world`, on a database this module opens (files not moved to `file()`). */
export const make = (overrides: Partial<AppConfig.AppConfigShape> = {}, options: Options = {}) =>
  world(overrides, options).pipe(Layer.provide(openedHere))

export const TestLive = make()

/** `portsOn`, on a database this module opens (files not moved to `file()`). */
export const portsOf = (kind: Store): Layer.Layer<Ports, Error> => portsOn(kind).pipe(Layer.provide(openedHere))

/** This file's SQL database, for suites that look at rows themselves (realm-scoped reads go through `Sql.withRealm`). */
export const database = (kind: SqlStore) => Effect.promise(() => openDatabase(kind).context)

/** `sqlOn`, on a database this module opens (files not moved to `file()`). */
export const sqlOf = (kind: SqlStore) =>
  Effect.map(Effect.promise(() => openDatabase(kind).context), Context.get(SqlClient.SqlClient))

/** `maybeSqlOn`, on a database this module opens (files not moved to `file()`). */
export const sqlClient = (kind: Store = store) =>
  kind === "memory"
    ? Effect.succeed(Option.none<SqlClient.SqlClient>())
    : Effect.map(sqlOf(kind), Option.some)
