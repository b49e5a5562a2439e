/**
 * The whole app as `Live.app` builds it, on a chosen store, a loopback server on a random port, and fixed config.
 *
 * The store is `TESSERA_TEST_STORE` (the vitest projects set it): `memory` (the default: fresh in-memory ports per
 * world), `pglite` or `postgres` (the file's own database on the `DATABASE_URL` server, test/support/Postgres.ts). A
 * SQL store is one database per test file, opened on first use and closed after the file's last test; its worlds
 * share it and keep apart by unique realm names, as many Tessera nodes share one database.
 */
import * as Http from "node:http"
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { SqlClient } from "@effect/sql"
import { Context, Effect, Exit, Layer, Option, Redacted, Scope } from "effect"
import { AuditVerification, Fetcher, JobLock, Mailer, RefreshFamily, SigningKey } from "@tessera/domain"
import * as AppConfig from "@tessera/server-node/AppConfig"
import * as FetcherNode from "@tessera/server-node/FetcherNode"
import * as IpAddress from "@tessera/server-node/IpAddress"
import * as Live from "@tessera/server-node/Live"
import * as Sql from "@tessera/sql"
import { onFileEnd } from "./FileEnd.js"
import { fileDatabase } from "./Postgres.js"

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

const stores: ReadonlyArray<Store> = ["memory", "pglite", "postgres"]

const parseStore = (value: string | undefined): Store => {
  if (value === undefined || value === "") return "memory"
  if ((stores as ReadonlyArray<string>).includes(value)) return value as Store
  throw new Error(`TESSERA_TEST_STORE must be one of ${stores.join(", ")}, not '${value}'`)
}

/** The store this run's suites use. */
export const store: Store = parseStore(process.env["TESSERA_TEST_STORE"])

interface Shared {
  readonly scope: Scope.CloseableScope
  readonly context: Promise<Context.Context<SqlClient.SqlClient>>
}

const shared = new Map<"pglite" | "postgres", Shared>()

/** This file's database: PGlite in memory, or its own on the `DATABASE_URL` server (under CI=true it must be set). */
const openDatabase = (kind: "pglite" | "postgres"): Shared => {
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

/** This file's SQL database, for suites that look at rows themselves (realm-scoped reads go through `Sql.withRealm`). */
export const database = (kind: "pglite" | "postgres") => Effect.promise(() => openDatabase(kind).context)


/**
 * This file's SQL database (`pglite` or `postgres`) as the application sees it: the `tessera_app` role, bound by
 * row-level security (pin a realm with `Sql.Sql.withRealm`), for tests that check rows in the database itself.
 */
export const sqlOf = (kind: "pglite" | "postgres") =>
  Effect.map(Effect.promise(() => openDatabase(kind).context), Context.get(SqlClient.SqlClient))

/** Every store port, whichever store is behind them (the in-memory ports also offer `MemoryDb`). */
export type Ports = Layer.Layer.Success<typeof Sql.ports> | JobLock.JobLock

/** The store ports on `kind`: fresh in-memory ones, or the SQL ports over this file's shared database. */
export const portsOf = (kind: Store): Layer.Layer<Ports, Error> => {
  if (kind === "memory") return Live.MemoryPorts
  const database = Layer.effectContext(Effect.tryPromise({
    try: () => openDatabase(kind).context,
    catch: (error) => error as Error
  }))
  // as Live.StoreLive: advisory locks on PostgreSQL (many nodes), an in-process lock on the embedded store
  return Layer.mergeAll(Sql.ports, kind === "postgres" ? Sql.jobLock : JobLock.layerMemory).pipe(Layer.provide(database))
}

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
  readonly ports?: (ports: Layer.Layer<Ports, Error>) => Layer.Layer<Ports, Error>
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
 * or the file's shared SQL database). Outbound HTTP goes to the memory Fetcher, whose table
 * (`Fetcher.MemoryFetcher`) a test fills and counts, unless `options.fetcher` is `"node"`.
 */
export const make = (overrides: Partial<AppConfig.AppConfigShape> = {}, options: Options = {}) => {
  const { around, server } = frame(overrides)
  const ports = portsOf(options.store ?? store)
  return around(Live.app(server, Layer.merge(options.ports?.(ports) ?? ports, Fetcher.layerMemoryTable), outbound(options), options.mailer))
}

/** A fresh world on in-memory stores whatever the run's store, with `MemoryDb` for tests that look inside. */
export const makeMemory = (overrides: Partial<AppConfig.AppConfigShape> = {}, options: Omit<Options, "store"> = {}) => {
  const { around, server } = frame(overrides)
  return around(Live.app(server, Layer.merge(Live.MemoryPorts, Fetcher.layerMemoryTable), outbound(options), options.mailer))
}

export const TestLive = make()

/** `makeMemory()`, for `layer(...)`. */
export const TestMemory = makeMemory()

/**
 * The SqlClient of this file's database on a SQL store, for tests that look at rows directly (realm isolation
 * checked in the database); `Option.none()` on memory.
 */
export const sqlClient = (kind: Store = store) =>
  kind === "memory"
    ? Effect.succeed(Option.none<SqlClient.SqlClient>())
    : Effect.map(Effect.promise(() => openDatabase(kind).context), (context) => Option.some(Context.unsafeGet(context, SqlClient.SqlClient)))
