/**
 * CONTRACT §1 `TESSERA_LOG_FORMAT` (and Tessera's `TESSERA_LOG_LEVEL`): today's lines (`pretty`), or one JSON object
 * per line (`json`) with `time`, `level`, `message`, `realm` and `request_id`; CONTRACT §8: no line holds a token,
 * secret, password, code or cookie value (ADR 0041).
 */
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { randomUUID } from "node:crypto"
import { Cause, Clock, Config, ConfigError, Console, Context, Effect, Either, FiberRef, HashMap, HashSet, Inspectable, Layer, Logger, LogLevel, Option, Redacted } from "effect"
import { AppConfig } from "./AppConfig.js"
import * as IpAddress from "./IpAddress.js"

export type Format = "pretty" | "json"

export interface Settings {
  readonly format: Format
  readonly level: LogLevel.LogLevel
}

const levels: Record<string, LogLevel.LogLevel> = {
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  warning: LogLevel.Warning,
  error: LogLevel.Error
}

/** CONTRACT §1: `pretty` (the default) or `json`; anything else stops the start with a line naming the variable. */
const format = Config.string("TESSERA_LOG_FORMAT").pipe(
  Config.withDefault("pretty"),
  Config.mapOrFail((raw) =>
    raw === "pretty" || raw === "json"
      ? Either.right<Format>(raw)
      : Either.left(ConfigError.InvalidData(["TESSERA_LOG_FORMAT"], "must be pretty or json"))
  )
)

/** ADR 0041: the least severe level written, `info` by default; `debug` adds a line per request. */
const level = Config.string("TESSERA_LOG_LEVEL").pipe(
  Config.withDefault("info"),
  Config.mapOrFail((raw) =>
    raw in levels
      ? Either.right(levels[raw]!)
      : Either.left(ConfigError.InvalidData(["TESSERA_LOG_LEVEL"], `must be one of ${Object.keys(levels).join(", ")}`))
  )
)

export const config: Config.Config<Settings> = Config.all({ format, level })

/** The format in force, for the lines that are not log records in `pretty` (the ready line, CONTRACT §1). */
export const currentFormat: FiberRef.FiberRef<Format> = FiberRef.unsafeMake<Format>("pretty")

/** A log message as text: Effect passes several arguments as an array; `Redacted` values stay redacted. */
const text = (message: unknown): string => {
  const one = (part: unknown) => (typeof part === "string" ? part : Redacted.isRedacted(part) ? "<redacted>" : Inspectable.toStringUnknown(part, 0))
  return Array.isArray(message) ? message.map(one).join(" ") : one(message)
}

/** The fields every line has; an annotation never replaces them. */
const reserved = new Set(["time", "level", "message", "cause"])

/** One JSON object per line: `time` (RFC 3339), `level`, `message`, then the annotations (`realm`, `request_id`, ...). */
export const jsonLine = (options: Logger.Logger.Options<unknown>): string => {
  const line: Record<string, unknown> = {
    time: options.date.toISOString(),
    level: options.logLevel.label.toLowerCase(),
    message: text(options.message)
  }
  for (const [key, value] of HashMap.toEntries(options.annotations)) {
    if (!reserved.has(key)) line[key] = Redacted.isRedacted(value) ? "<redacted>" : value
  }
  if (!Cause.isEmpty(options.cause)) line["cause"] = Cause.pretty(options.cause, { renderErrorCause: true })
  return JSON.stringify(line)
}

export const jsonLogger = Logger.withConsoleLog(Logger.make(jsonLine))

/** The logger, the level and the format for everything built under it (main provides it to the whole server). */
export const layer = (settings: Settings): Layer.Layer<never> =>
  Layer.mergeAll(
    // json replaces the default logger (and the pretty one NodeRuntime.runMain puts in its place); the tracer's stays
    settings.format === "json"
      ? Layer.fiberRefLocallyScopedWith(FiberRef.currentLoggers, (loggers) =>
        HashSet.add(HashSet.remove(HashSet.remove(loggers, Logger.defaultLogger), Logger.prettyLoggerDefault), jsonLogger))
      : Layer.empty,
    Logger.minimumLogLevel(settings.level),
    Layer.locallyScoped(currentFormat, settings.format)
  )

export const layerConfig = Layer.unwrapEffect(Effect.map(config, layer))

/**
 * A line an operator or a script waits for (CONTRACT §1 `tessera listening on <url>`): the bare line in `pretty`, the
 * line's `message` in `json`, so that every line stays one JSON object.
 */
export const announce = (line: string) =>
  Effect.flatMap(FiberRef.get(currentFormat), (f) => (f === "json" ? Effect.logInfo(line) : Console.log(line)))

/** A request id a trusted proxy may pass on: short, and only characters that need no escaping anywhere. */
const requestIdPattern = /^[A-Za-z0-9._:-]{1,64}$/

/**
 * ADR 0041: the request's id. `X-Request-ID` is believed only from a trusted proxy (`TESSERA_TRUSTED_PROXIES`), as its
 * client address is, and only when it matches `requestIdPattern`; otherwise (any client could choose it, to blend its
 * lines into another's) a fresh one.
 */
export const requestId = (
  peer: string | undefined,
  header: string | ReadonlyArray<string> | undefined,
  trusted: ReadonlyArray<IpAddress.Cidr>
): string => {
  if (typeof header === "string" && requestIdPattern.test(header) && peer !== undefined) {
    const groups = IpAddress.parse(peer)
    if (groups !== undefined && trusted.some((cidr) => IpAddress.inCidr(groups, cidr))) return header
  }
  return randomUUID()
}

/** A realm named in the request's path (`/realms/R/...`, `/admin/realms/R/...`, `/.well-known/.../realms/R`). */
const realmInPath = /^\/(?:admin\/|\.well-known\/[a-z-]+\/)?realms\/([a-z0-9][a-z0-9-]{0,62})(?:[/?]|$)/

export const realmOf = (url: string): string | undefined => realmInPath.exec(url)?.[1]

/**
 * The endpoint a request went to, for its debug line: the path up to the endpoint's name, the realm as `:realm`, and
 * nothing after it or in the query, where values a log must not hold travel (an invitation's secret in its path,
 * `user_code` in `verification_uri_complete`, CONTRACT §8).
 */
export const endpointOf = (url: string): string => {
  const segments = url.split("?")[0]!.split("/").filter((segment) => segment !== "").map((segment) => segment.slice(0, 64))
  const realms = segments.indexOf("realms")
  const kept = realms >= 0 && realms + 1 < segments.length
    ? [...segments.slice(0, realms + 1), ":realm", ...segments.slice(realms + 2, realms + 3)]
    : segments.slice(0, 2)
  return `/${kept.join("/")}${segments.length > kept.length ? "/…" : ""}`
}

/**
 * Every line logged while a request is handled carries its `request_id`, and its `realm` when the path names one
 * (a valid realm name only: nothing the client wrote beyond that reaches the log). At `debug`, one line per request:
 * method, endpoint (`endpointOf`), status and duration.
 */
export const requestContext = HttpMiddleware.make((app) =>
  Effect.withFiberRuntime<HttpServerResponse.HttpServerResponse, Effect.Effect.Error<typeof app>, Effect.Effect.Context<typeof app> | AppConfig>((fiber) => {
    const request = Context.unsafeGet(fiber.currentContext, HttpServerRequest.HttpServerRequest)
    const config = Context.unsafeGet(fiber.currentContext, AppConfig)
    const id = requestId(Option.getOrUndefined(request.remoteAddress), request.headers["x-request-id"], config.trustedProxies)
    const realm = realmOf(request.url)
    const annotations: Record<string, string> = realm === undefined ? { request_id: id } : { request_id: id, realm }
    // ADR 0024: the debug line's clock reads and formatting cost nothing unless debug lines are written
    const logged = LogLevel.lessThanEqual(fiber.getFiberRef(FiberRef.currentMinimumLogLevel), LogLevel.Debug)
      ? Effect.flatMap(Clock.currentTimeMillis, (start) =>
        Effect.tap(app, (response) =>
          Effect.flatMap(Clock.currentTimeMillis, (end) =>
            Effect.logDebug(`${request.method} ${endpointOf(request.url)} answered ${response.status} in ${end - start} ms`))))
      : app
    return Effect.annotateLogs(logged, annotations)
  }))
