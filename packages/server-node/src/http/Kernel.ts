/**
 * Tessera's HTTP kernel (ADR 0052): node:http, the route table the route modules declare, and every request one fiber
 * on a runtime built once. It replaces `@effect/platform`'s server stack (`HttpServer.serve`, `HttpApp.toHandled`,
 * `HttpLayerRouter`'s per-request router and middleware), which cost about 160 µs of server CPU per request on this
 * machine before any route code ran; the kernel does the same steps directly:
 *
 * - routes are declared as before, with `HttpLayerRouter.route`/`addAll`/`use`: `tableOf` builds those layers against a
 *   router of its own that only collects them into find-my-way-ts (the library `HttpLayerRouter` matches with), so
 *   a path, a method, `*`, HEAD's fall back to GET and `HttpRouter.params` mean what they meant;
 * - each request gets one context (the runtime's services, the request, its route and params), then one fiber runs
 *   the route's handler under the given middleware (Tessera's log context and request span);
 * - the fiber's exit is written to the Node response: the status, headers, cookies and bytes of the
 *   `HttpServerResponse`, nothing for a HEAD; a defect that reached here (every route answers through
 *   `Respond.handle`, so none should) is logged and answered `server_error`; an interrupted fiber (the client left)
 *   answers nothing;
 * - CONTRACT §8: every answer is timed under its route's pattern (`tessera_http_request_duration_seconds`, ADR 0040);
 * - CONTRACT §2: the request's own body readers (`text`, `json`, `urlParamsBody`, `arrayBuffer`) read through
 *   `Respond.collect`, bounded by `maxBodyBytes` like `Respond.readBytes`; streams, multipart and upgrades are not
 *   served (no route uses them) and fail as a request error.
 */
import type * as Http from "node:http"
import * as Cookies from "@effect/platform/Cookies"
import type * as Headers from "@effect/platform/Headers"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as UrlParams from "@effect/platform/UrlParams"
import { Cause, Context, Effect, Exit, Inspectable, Layer, Option, Runtime, type Scope, Stream } from "effect"
import { Metrics } from "@tessera/domain"
import { ErrorResponse } from "@tessera/protocol"
import { type Collected, collect, maxBodyBytes } from "./Respond.js"

type Route = HttpLayerRouter.Route<unknown, unknown>

/** The routes by method and path pattern; `R` is what their handlers need (the runtime that serves them provides it). */
export interface Table<out R> {
  readonly router: HttpLayerRouter.FindMyWay.Router<Route>
  readonly requires?: (_: never) => R
}

/**
 * Builds `routes` (layers of `HttpLayerRouter.route`s) into a table: the router they are given collects what they add.
 * Global middleware and prefixed routers are not part of the kernel: none is declared, and one declared fails here.
 */
export const tableOf = <E, R>(routes: Layer.Layer<never, E, R>): Effect.Effect<
  Table<HttpLayerRouter.Request.Only<"Requires", R>>,
  HttpLayerRouter.Request.Without<E>,
  Exclude<HttpLayerRouter.Request.Without<R>, HttpLayerRouter.HttpRouter> | Scope.Scope
> => withoutRequests<Table<HttpLayerRouter.Request.Only<"Requires", R>>, E, R>(
  Effect.gen(function*() {
    const table = HttpLayerRouter.FindMyWay.make<Route>()
    const addAll = (added: Iterable<HttpLayerRouter.Route<any, any>>) =>
      Effect.sync(() => {
        for (const route of added) {
          if (route.method === "*") table.all(route.path, route)
          else table.on(route.method, route.path, route)
        }
      })
    const router: Context.Tag.Service<typeof HttpLayerRouter.HttpRouter> = HttpLayerRouter.HttpRouter.of({
      [HttpLayerRouter.TypeId]: HttpLayerRouter.TypeId,
      addAll,
      add: (method, path, handler, options) => addAll([HttpLayerRouter.route(method, path, handler, options)]),
      prefixed: () => {
        throw new Error("the HTTP kernel has no prefixed routers (ADR 0052)")
      },
      addGlobalMiddleware: () => Effect.dieMessage("the HTTP kernel has no global middleware (ADR 0052)"),
      asHttpEffect: () => {
        throw new Error("the HTTP kernel serves its table itself (ADR 0052)")
      }
    })
    yield* Layer.build(Layer.provide(routes, Layer.succeed(HttpLayerRouter.HttpRouter, router)))
    return { router: table }
  })
)

/**
 * `HttpLayerRouter.Request<Kind, T>` is a phantom type: the route layers name in their error and requirement channels
 * what their handlers fail with and need per request (`Table`'s `R`), but nothing fails with one or looks one up while
 * the table is built. Only those are dropped (a narrowing, checked against the effect's own channels).
 */
const withoutRequests = <A, E, R>(effect: Effect.Effect<A, E, Exclude<R, HttpLayerRouter.HttpRouter> | Scope.Scope>) =>
  effect as Effect.Effect<
    A,
    HttpLayerRouter.Request.Without<E>,
    Exclude<HttpLayerRouter.Request.Without<R>, HttpLayerRouter.HttpRouter> | Scope.Scope
  >

/** A body read at most `maxBodyBytes` long, or the request error the platform's readers fail with. */
const readBody = (request: KernelRequest): Effect.Effect<Uint8Array, HttpServerError.RequestError> =>
  Effect.async<Uint8Array, HttpServerError.RequestError>((resume) =>
    Effect.sync(collect(request.source, maxBodyBytes, (collected: Collected) =>
      resume(collected._tag === "Read"
        ? Effect.succeed(collected.body)
        : Effect.fail(new HttpServerError.RequestError({ request, reason: "Decode", description: collected._tag === "TooLarge" ? "body too large" : "body unreadable" })))
    )))

const unsupported = (request: HttpServerRequest.HttpServerRequest, what: string): HttpServerError.RequestError =>
  new HttpServerError.RequestError({ request, reason: "Decode", description: `${what} is not served by the HTTP kernel` })

/** The request as the routes see it (`HttpServerRequest`), over Node's message. */
class KernelRequest extends Inspectable.Class implements HttpServerRequest.HttpServerRequest {
  readonly [HttpServerRequest.TypeId]: HttpServerRequest.TypeId = HttpServerRequest.TypeId
  readonly [HttpIncomingMessage.TypeId]: HttpIncomingMessage.TypeId = HttpIncomingMessage.TypeId
  constructor(
    readonly source: Http.IncomingMessage,
    readonly url: string = source.url ?? "/",
    // Node's own header object, as platform-node's request gives it (lower-case names)
    readonly headers: Headers.Headers = source.headers as unknown as Headers.Headers,
    private readonly remoteAddressOverride?: string
  ) {
    super()
  }
  get originalUrl() {
    return this.source.url ?? "/"
  }
  get method() {
    return (this.source.method ?? "GET").toUpperCase() as HttpServerRequest.HttpServerRequest["method"]
  }
  private parsedCookies: Record<string, string> | undefined
  get cookies() {
    return this.parsedCookies ??= Cookies.parseHeader(this.headers["cookie"] ?? "")
  }
  get remoteAddress() {
    return Option.fromNullable(this.remoteAddressOverride ?? this.source.socket.remoteAddress)
  }
  get arrayBuffer() {
    return Effect.map(readBody(this), (bytes) => bytes.slice().buffer as ArrayBuffer)
  }
  get text() {
    return Effect.map(readBody(this), (bytes) => new TextDecoder().decode(bytes))
  }
  get json(): Effect.Effect<unknown, HttpServerError.RequestError> {
    return Effect.flatMap(this.text, (text) =>
      Effect.try({ try: () => (text === "" ? null : JSON.parse(text)) as unknown, catch: (cause): HttpServerError.RequestError => new HttpServerError.RequestError({ request: this, reason: "Decode", cause }) }))
  }
  get urlParamsBody() {
    return Effect.map(this.text, (text) => UrlParams.fromInput(new URLSearchParams(text)))
  }
  get stream(): Stream.Stream<Uint8Array, HttpServerError.RequestError> {
    return Stream.fail(unsupported(this, "a body stream"))
  }
  get multipart(): HttpServerRequest.HttpServerRequest["multipart"] {
    return Effect.fail(unsupported(this, "a multipart body")) as unknown as HttpServerRequest.HttpServerRequest["multipart"]
  }
  get multipartStream(): HttpServerRequest.HttpServerRequest["multipartStream"] {
    return Stream.fail(unsupported(this, "a multipart body")) as unknown as HttpServerRequest.HttpServerRequest["multipartStream"]
  }
  get upgrade(): HttpServerRequest.HttpServerRequest["upgrade"] {
    return Effect.fail(unsupported(this, "an upgrade")) as unknown as HttpServerRequest.HttpServerRequest["upgrade"]
  }
  modify(options: { readonly url?: string; readonly headers?: Headers.Headers; readonly remoteAddress?: string }): HttpServerRequest.HttpServerRequest {
    return new KernelRequest(this.source, options.url ?? this.url, options.headers ?? this.headers, options.remoteAddress ?? this.remoteAddressOverride)
  }
  toJSON() {
    return { _id: "HttpServerRequest", method: this.method, url: this.originalUrl }
  }
}

const encoder = new TextEncoder()

/** Writes `response` to Node's; a HEAD gets the status and headers only (RFC 9110 §9.3.2). */
const write = (method: string, response: HttpServerResponse.HttpServerResponse, out: Http.ServerResponse) => {
  if (out.writableEnded || out.destroyed) return
  let headers: Record<string, string | ReadonlyArray<string>> = response.headers
  if (!Cookies.isEmpty(response.cookies)) {
    headers = { ...headers, "set-cookie": Cookies.toSetCookieHeaders(response.cookies) }
  }
  const body = response.body
  let bytes: Uint8Array | undefined
  switch (body._tag) {
    case "Empty":
      break
    case "Uint8Array":
      bytes = body.body
      break
    case "Raw":
      bytes = typeof body.body === "string" ? encoder.encode(body.body) : body.body instanceof Uint8Array ? body.body : undefined
      if (bytes === undefined) return fail(method, out, "a raw body that is not bytes")
      break
    default:
      return fail(method, out, `a ${body._tag} body`)
  }
  if (bytes !== undefined && headers["content-length"] === undefined) {
    headers = { ...headers, "content-length": String(bytes.length) }
  }
  out.writeHead(response.status, headers as Http.OutgoingHttpHeaders)
  if (method === "HEAD" || bytes === undefined) out.end()
  else out.end(bytes)
}

const serverError = ErrorResponse.make("server_error").toResponse()

const fail = (method: string, out: Http.ServerResponse, what: string) => {
  // a route answered what the kernel cannot write: a defect of the route, answered as every defect is
  console.error(`tessera: a route answered ${what}, which the HTTP kernel does not write`)
  write(method, serverError, out)
}

/** What the routes of a table need. */
export type Requires<T> = T extends Table<infer R> ? R : never

/**
 * A route's answer from memory, tried before its fiber is started: the response, or undefined when the route's
 * handler must run. It reads only the runtime's services (`context`) and the path's params, synchronously.
 */
export type Immediate = (
  context: Context.Context<never>,
  params: Readonly<Record<string, string | undefined>>
) => HttpServerResponse.HttpServerResponse | undefined

const immediates = new WeakMap<object, Immediate>()

/**
 * `handler`, whose commonest answer `immediate` gives without a fiber (ADR 0052): the same route, its hit first; a
 * miss runs `handler`, which must answer the hit the same way (`Documents.cached` shares `kept` and `fromKept`).
 */
export const withImmediate = <A extends Effect.Effect<HttpServerResponse.HttpServerResponse, any, any>>(handler: A, immediate: Immediate): A => {
  immediates.set(handler, immediate)
  return handler
}

type App<R> = Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, R | HttpServerRequest.HttpServerRequest>

export interface Options<R, M> {
  /** Wraps every route's handler (Tessera's log context and request span): `(app) => app` for none. */
  readonly middleware: (app: App<R>) => App<R | M>
  /**
   * Whether routes may answer from memory before a fiber (`withImmediate`): not while the middleware would add
   * something to such an answer (a request span while traces are exported, a debug line per request).
   */
  readonly immediate: boolean
}

/** As `Respond.handle`, for what reached the kernel anyway: a defect logged with its cause (inside the request's log context), never sent. */
const answerDefects = <E, R>(app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
  Effect.catchAllCause(app, (cause) =>
    Cause.isInterruptedOnly(cause) ? Effect.failCause(cause) : Effect.as(Effect.logError("request failed", cause), serverError))

const notFound = ErrorResponse.make("not_found", "nothing is served at this path").toResponse()

/**
 * The Node `request` listener serving `table` on `runtime`: built once, it routes, runs and writes each request.
 * A path no route serves (Tessera's table has a catch-all, so none) is the 404 of `NotFoundRoute`.
 */
export const handler = <R, M>(table: Table<R>, runtime: Runtime.Runtime<R | M>, options: Options<R, M>) => {
  const base = runtime.context.unsafeMap
  // each route's handler wrapped once, not per request
  const prepared = new Map<Route, Effect.Effect<HttpServerResponse.HttpServerResponse>>()
  const prepare = (route: Route) => {
    let app = prepared.get(route)
    if (app === undefined) {
      const handled = options.middleware(answerDefects(route.handler as App<R>))
      app = (route.uninterruptible ? Effect.uninterruptible(handled) : handled) as Effect.Effect<HttpServerResponse.HttpServerResponse>
      prepared.set(route, app)
    }
    return app
  }
  return (message: Http.IncomingMessage, out: Http.ServerResponse) => {
    const start = performance.now()
    const request = new KernelRequest(message)
    const method = request.method
    let found = table.router.find(method, request.url)
    // RFC 9110 §9.3.2: HEAD is GET without the body, wherever no route takes HEAD itself
    if (found === undefined && method === "HEAD") found = table.router.find("GET", request.url)
    if (found === undefined) return write(method, notFound, out)
    const route = found.handler
    const immediate = options.immediate ? immediates.get(route.handler) : undefined
    if (immediate !== undefined) {
      let answered: HttpServerResponse.HttpServerResponse | undefined
      try {
        answered = immediate(runtime.context as Context.Context<never>, found.params)
      } catch {
        // the handler decides, and answers and logs a defect as every route does
        answered = undefined
      }
      if (answered !== undefined) {
        write(method, answered, out)
        if (Metrics.isRecording()) Metrics.unsafe.httpResponse(route.path, answered.status, (performance.now() - start) / 1000)
        return
      }
    }
    const context = new Map(base)
    context.set(HttpServerRequest.HttpServerRequest.key, request)
    context.set(HttpServerRequest.ParsedSearchParams.key, found.searchParams)
    context.set(HttpRouter.RouteContext.key, { [HttpRouter.RouteContextTypeId]: HttpRouter.RouteContextTypeId, route, params: found.params })
    const fiber = Runtime.runFork(Runtime.make({ context: Context.unsafeMake(context), fiberRefs: runtime.fiberRefs, runtimeFlags: runtime.runtimeFlags }))(prepare(route))
    fiber.addObserver((exit) => {
      // an interrupted request (its client left) is answered nothing
      if (Exit.isFailure(exit)) return
      write(method, exit.value, out)
      // CONTRACT §8: timed by the route's pattern, never the path (ADR 0040)
      if (Metrics.isRecording()) Metrics.unsafe.httpResponse(route.path, exit.value.status, (performance.now() - start) / 1000)
    })
    out.on("close", () => {
      if (!out.writableEnded) fiber.unsafeInterruptAsFork(HttpServerError.clientAbortFiberId)
    })
  }
}
