/** The one place that composes layers: ports, services, routes, the key scheduler and the HTTP server. */
import * as Http from "node:http"
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Duration, Effect, FiberRef, FiberRefs, Layer, LogLevel, Option } from "effect"
import * as Sql from "@tessera/sql"
import {
  Audit, AuditCheckpoints, AuditVerification, CheckpointKey, Clients, Entropy, Fetcher, IdentityLinks, JobLock, RemoteJwks, Keys, MemoryDb, Realms, Resources, Codes, Consents, Grants, RefreshTokens, Sessions, SigningKeys, Tokens, TrustedIssuers, Users
} from "@tessera/domain"
import { Provisioning } from "@tessera/domain"
import { AccessTokens, JtiCache, ReadCache } from "@tessera/domain"
import { DeviceAuthorizations, Interactions, LoginThrottle, UserCodeThrottle } from "@tessera/domain"
import { DpopNonces, RateLimit } from "@tessera/domain"
import { Delegations, Invitations } from "@tessera/domain"
import { Mailer } from "@tessera/domain"
import { StoreHealth } from "@tessera/domain"
import { AppConfig } from "./AppConfig.js"
import { ClientDocuments } from "./ClientDocuments.js"
import * as FetcherNode from "./FetcherNode.js"
import * as HealthRoute from "./http/HealthRoute.js"
import * as Logs from "./Logs.js"
import * as Traces from "./Traces.js"
import * as AdminRoute from "./http/AdminRoute.js"
import * as AuthorizeRoute from "./http/AuthorizeRoute.js"
import * as ConsentRoute from "./http/ConsentRoute.js"
import * as DeviceAuthorizationRoute from "./http/DeviceAuthorizationRoute.js"
import * as DeviceVerificationRoute from "./http/DeviceVerificationRoute.js"
import * as DiscoveryRoute from "./http/DiscoveryRoute.js"
import * as IntrospectionRoute from "./http/IntrospectionRoute.js"
import * as InvitationRoute from "./http/InvitationRoute.js"
import * as LoginRoute from "./http/LoginRoute.js"
import * as LogoutRoute from "./http/LogoutRoute.js"
import * as MetricsListener from "./MetricsListener.js"
import * as NotFoundRoute from "./http/NotFoundRoute.js"
import * as RegistrationRoute from "./http/RegistrationRoute.js"
import * as Kernel from "./http/Kernel.js"
import * as RevocationRoute from "./http/RevocationRoute.js"
import * as TokenRoute from "./http/TokenRoute.js"
import * as UserinfoRoute from "./http/UserinfoRoute.js"
import * as MailerSmtp from "./MailerSmtp.js"
import * as NodeCrypto from "./NodeCrypto.js"
import * as PasswordHasherArgon2 from "./PasswordHasherArgon2.js"
import * as Readiness from "./Readiness.js"
import * as Secrets from "./Secrets.js"

/** The store ports, in memory (the Postgres and PGlite layers replace exactly this). */
export const MemoryPorts = Layer.mergeAll(
  Realms.layerMemory,
  Clients.layerMemory,
  Users.layerMemory,
  Resources.layerMemory,
  TrustedIssuers.layerMemory,
  IdentityLinks.layerMemory,
  Keys.layerMemory,
  Audit.layerMemory,
  AuditCheckpoints.layerMemory,
  JobLock.layerMemory,
  JtiCache.layerMemory,
  Interactions.layerMemory,
  LoginThrottle.layerMemory,
  Codes.layerMemory,
  // ADR 0063: Grants and RefreshTokens write an access token's link with its token set
  Layer.mergeAll(Grants.layerMemory, RefreshTokens.layerMemory).pipe(Layer.provideMerge(AccessTokens.layerMemory)),
  Sessions.layerMemory,
  Consents.layerMemory,
  DeviceAuthorizations.layerMemory,
  UserCodeThrottle.layerMemory,
  Delegations.layerMemory,
  Invitations.layerMemory,
  StoreHealth.layerMemory
).pipe(Layer.provideMerge(MemoryDb.layer))

/**
 * The store behind the ports: PostgreSQL when `DATABASE_URL` is set (advisory locks for periodic jobs, so many
 * nodes may share it), else the embedded PGlite in the data directory (one process, so an in-process job lock).
 */
export const StoreLive = Layer.unwrapEffect(Effect.map(AppConfig, (config) =>
  Option.match(config.databaseUrl, {
    onSome: (url) => Layer.mergeAll(Sql.ports, Sql.jobLock).pipe(Layer.provide(Sql.Database.layerPostgres(url))),
    onNone: () => Layer.mergeAll(Sql.ports, JobLock.layerMemory).pipe(Layer.provide(Sql.Database.layerPglite(config.dataDir)))
  })
))

const KeyPolicyLive = Layer.unwrapEffect(Effect.map(AppConfig, (config) => SigningKeys.layerPolicy(config.keyPolicy)))

/** CONTRACT §1: invitation mail over SMTP when `TESSERA_SMTP_URL` and `TESSERA_MAIL_FROM` are set; else none. */
const MailerLive = Layer.unwrapEffect(Effect.map(AppConfig, (config) =>
  Option.match(config.mail, { onNone: () => Mailer.layerNone, onSome: MailerSmtp.layer })))

/**
 * Services every route may use, built from configuration; `fetcher` is the outbound HTTP (tests pass the memory one),
 * `mailer` the outgoing mail (by default from configuration: SMTP, or `Mailer.layerNone`; tests may pass a fake).
 */
export const services = (fetcher: Layer.Layer<Fetcher.Fetcher>, mailer: Layer.Layer<Mailer.Mailer, never, AppConfig> = MailerLive) => Layer.mergeAll(
  Entropy.layer,
  mailer,
  NodeCrypto.layer,
  RemoteJwks.layer.pipe(Layer.provideMerge(fetcher)),
  ClientDocuments.Default.pipe(Layer.provide(fetcher)),
  PasswordHasherArgon2.layer(),
  Secrets.layerKek,
  // ADR 0042: audit checkpoints signed under a key derived from the KEK (outside the database)
  Layer.unwrapEffect(Effect.map(Secrets.Secrets, (secrets) => CheckpointKey.layer(secrets.kek))),
  KeyPolicyLive,
  Readiness.layer,
  Layer.unwrapEffect(Effect.map(AppConfig, (config) => Tokens.layerPolicy({ refresh: config.refreshPolicy }))),
  // ADR 0017: stateless nonces keyed from the KEK, so every node that shares it accepts every node's nonces
  Layer.unwrapEffect(Effect.map(Effect.all([AppConfig, Secrets.Secrets]), ([config, secrets]) =>
    DpopNonces.layer({ secret: secrets.kek, required: config.dpopNonceRequired })))
).pipe(Layer.provideMerge(Secrets.layer), Layer.provideMerge(RateLimit.layerMemory))

export const Services = services(FetcherNode.layer)

export const Routes = Layer.mergeAll(
  HealthRoute.Routes,
  DiscoveryRoute.Routes,
  AdminRoute.Routes,
  UserinfoRoute.Routes,
  TokenRoute.Routes,
  IntrospectionRoute.Routes,
  RevocationRoute.Routes,
  RegistrationRoute.Routes,
  AuthorizeRoute.Routes,
  LoginRoute.Routes,
  ConsentRoute.Routes,
  DeviceAuthorizationRoute.Routes,
  DeviceVerificationRoute.Routes,
  InvitationRoute.Routes,
  LogoutRoute.Routes,
  NotFoundRoute.Routes
)

/**
 * ADR 0035: before the server listens, every realm has its built-in admin resource (under this start's public URL)
 * and `tessera-cli`; realms made before them, or under another public URL, get them now, with their events.
 */
const BuiltIns = Layer.effectDiscard(Effect.gen(function*() {
  const ensured = yield* Provisioning.ensureBuiltIns((yield* AppConfig).publicUrl)
  for (const { created, gone, realm, updated } of ensured) {
    // issue 15: a realm deleted during the pass is said so, not left looking done
    if (gone === true) yield* Effect.logInfo(`realm ${realm}: deleted during the built-ins pass, left as it is`)
    else if (created.length > 0 || updated.length > 0) {
      yield* Effect.logInfo(`realm ${realm}: built-ins ${[...created.map((c) => `${c} created`), ...updated.map((u) => `${u} updated`)].join(", ")}`)
    }
  }
}))

/** Rotates keys on schedule for as long as the server runs; its first pass makes the keys ready (CONTRACT §2 `/readyz`). */
const Scheduler = Layer.scopedDiscard(
  Effect.flatMap(Readiness.Readiness, (readiness) => Effect.forkScoped(SigningKeys.runSchedulerWith(readiness.keysLoaded)))
)

/** Verifies every audit trail from its checkpoint, on schedule, for as long as the server runs (ADR 0042). */
const AuditScheduler = Layer.scopedDiscard(
  Effect.flatMap(AppConfig, (config) => Effect.forkScoped(AuditVerification.runScheduler(config.auditVerifyInterval)))
)

/** How long SIGTERM waits for in-flight requests before closing what is left. */
const drainTimeout = Duration.seconds(10)

/**
 * Serves the routes on `server` through the HTTP kernel (ADR 0052): the route table and the runtime built once, then
 * one fiber per request. On shutdown the server stops accepting, in-flight requests finish (up to `drainTimeout`),
 * and only then does the kernel stop listening and the services its routes use close.
 */
const serveOn = (server: Http.Server) =>
  Layer.scopedDiscard(Effect.gen(function*() {
    const table = yield* Kernel.tableOf(Routes)
    const runtime = yield* Effect.runtime<Kernel.Requires<typeof table> | AppConfig>()
    // ADR 0041: a request's log lines carry its id and realm; its span (only while traces are exported) allowlists attributes
    const listener = Kernel.handler(table, runtime, {
      middleware: (app) => Traces.requestSpan(Logs.requestContext(app)),
      // ADR 0052: answers from memory before a fiber only while they would get no span and no debug line
      immediate: !FiberRefs.getOrDefault(runtime.fiberRefs, Traces.enabled) &&
        !LogLevel.lessThanEqual(FiberRefs.getOrDefault(runtime.fiberRefs, FiberRef.currentMinimumLogLevel), LogLevel.Debug)
    })
    yield* Effect.acquireRelease(
      Effect.sync(() => server.on("request", listener)),
      () => Effect.sync(() => server.off("request", listener))
    )
    const address = yield* HttpServer.HttpServer.pipe(Effect.map((s) => s.address))
    if (address._tag === "TcpAddress") {
      const host = address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname
      yield* Logs.announce(`tessera listening on http://${host}:${address.port}`)
    }
    yield* Effect.addFinalizer(() =>
      Effect.async<void>((resume) => {
        // keep-alive connections become idle as their last response is sent: close them as they do
        const idle = setInterval(() => server.closeIdleConnections(), 50)
        server.close(() => {
          clearInterval(idle)
          resume(Effect.void)
        })
        server.closeIdleConnections()
        return Effect.sync(() => clearInterval(idle))
      }).pipe(
        Effect.timeout(drainTimeout),
        Effect.catchAll(() => Effect.sync(() => server.closeAllConnections()))
      )
    )
    // ADR 0041: the stop is logged (finalizers run last first: this line comes before the drain)
    yield* Effect.addFinalizer(() => Effect.logInfo("tessera stopping: in-flight requests finish, new connections are refused"))
  })).pipe(
    Layer.merge(Scheduler),
    Layer.merge(AuditScheduler),
    // CONTRACT §8: Prometheus metrics on their own port, when TESSERA_METRICS_PORT is set; listening before the ready
    // line, so that a port in use stops the start instead of following it
    Layer.provideMerge(MetricsListener.layer)
  )

/** The ports every route needs. */
type Ports = Layer.Layer.Success<typeof MemoryPorts> extends infer A ? Exclude<A, MemoryDb.MemoryDb> : never

/**
 * Everything but the listening address and the store: tests provide a loopback server, configuration, the
 * in-memory ports and (optionally) the memory Fetcher; `main` the real server, `StoreLive` and the Node Fetcher.
 */
export const app = <P, E, R>(
  server: Http.Server,
  ports: Layer.Layer<P, E, R> & ([Ports] extends [P] ? unknown : never),
  fetcher: Layer.Layer<Fetcher.Fetcher> = FetcherNode.layer,
  mailer: Layer.Layer<Mailer.Mailer, never, AppConfig> = MailerLive
) => serveOn(server).pipe(Layer.provide(BuiltIns), Layer.provideMerge(services(fetcher, mailer)), Layer.provideMerge(cached(ports)))

/**
 * The ports with the hot path's reads kept in memory for a moment (ReadCache, ADR 0015), built with the routes'
 * Crypto: what a port runs on its own runtime (the audit's group commits) uses node:crypto too.
 */
const cached = <P, E, R>(ports: Layer.Layer<P, E, R>) =>
  ReadCache.layerPorts.pipe(Layer.provideMerge(ReadCache.layer), Layer.provideMerge(ports), Layer.provide(NodeCrypto.layer))

/**
 * ADR 0029: how long a connection may take to send what no request needs long for, so that connections trickling
 * headers or a body (slowloris) are closed: the headers within 10 s, the whole request (at most 64 KiB of body,
 * CONTRACT §2) within 30 s, checked every second (Node's defaults: 60 s, 300 s, checked every 30 s).
 */
export const serverOptions: Http.ServerOptions = {
  headersTimeout: 10_000,
  requestTimeout: 30_000,
  connectionsCheckingInterval: 1_000
}

/** Tessera on the configured host and port. */
export const HttpLive = Layer.unwrapEffect(Effect.gen(function*() {
  const config = yield* AppConfig
  const server = Http.createServer(serverOptions)
  return app(server, StoreLive).pipe(Layer.provide(NodeHttpServer.layer(() => server, { port: config.port, host: config.host })))
}))
