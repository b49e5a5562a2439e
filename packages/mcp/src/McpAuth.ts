/**
 * `ProtectedResource` for Effect servers on `HttpLayerRouter` (shaped like `McpServer.layerHttpRouter` of
 * @effect/ai): `layerHttpRouter(options)` serves the RFC 9728 metadata and the CORS preflights, and `middleware`,
 * provided to the MCP route, authenticates each request and gives the handler `Authorized` (the verified claims).
 *
 * ```ts
 * const Mcp = HttpLayerRouter.add("POST", "/mcp", handler).pipe(Layer.provide(McpAuth.middleware))
 * HttpLayerRouter.serve(Layer.mergeAll(Mcp, McpAuth.Routes)).pipe(Layer.provide(McpAuth.layer(options)))
 * ```
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Context, Effect, Layer } from "effect"
import { ErrorResponse } from "@tessera/protocol"
import * as ProtectedResource from "./ProtectedResource.js"

/** The configured protected resource. */
export class McpAuth extends Context.Tag("@tessera/mcp/McpAuth")<McpAuth, ProtectedResource.ProtectedResource>() {}

/** The current request's verified claims, provided by `middleware`. */
export class Authorized extends Context.Tag("@tessera/mcp/Authorized")<Authorized, ProtectedResource.Authorized>() {}

/** Validates the options (a bad one fails the layer with `InvalidOptions`). */
export const layer = (options: ProtectedResource.Options) => Layer.effect(McpAuth, ProtectedResource.make(options))

const withCors = (response: HttpServerResponse.HttpServerResponse) =>
  HttpServerResponse.setHeaders(response, ProtectedResource.corsHeaders)

const preflight = HttpServerResponse.empty({ status: 204, headers: ProtectedResource.preflightHeaders })

/** The metadata at both RFC 9728 §3.1 paths, and the preflights of the metadata and the MCP endpoint. */
export const Routes = HttpLayerRouter.use((router) =>
  Effect.gen(function*() {
    const resource = yield* McpAuth
    const metadata = HttpServerResponse.unsafeJson(resource.metadata, {
      headers: { "cache-control": "public, max-age=3600", ...ProtectedResource.corsHeaders }
    })
    for (const path of resource.metadataPaths) {
      yield* router.add("GET", path as HttpLayerRouter.PathInput, Effect.succeed(metadata))
      yield* router.add("OPTIONS", path as HttpLayerRouter.PathInput, Effect.succeed(preflight))
    }
    yield* router.add("OPTIONS", resource.endpointPath as HttpLayerRouter.PathInput, Effect.succeed(preflight))
  })
)

/** The metadata routes with the protected resource built from `options`. */
export const layerHttpRouter = (options: ProtectedResource.Options) => Routes.pipe(Layer.provide(layer(options)))

/** The request's JSON body, for the scope and authentication-age checks: only POSTs carry JSON-RPC messages. */
const body = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  if (request.method !== "POST") return undefined
  return yield* request.json.pipe(
    Effect.mapError(() => ErrorResponse.invalidRequest("the body must be JSON"))
  )
})

/**
 * Authenticates each request of the routes it is provided to (401, 403 or 503 answered here, with CORS headers) and
 * provides `Authorized` to their handlers.
 */
export const middleware = HttpLayerRouter.middleware<{ provides: Authorized }>()(
  Effect.gen(function*() {
    const resource = yield* McpAuth
    return (httpEffect) =>
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const authorized = yield* ProtectedResource.authenticate(resource, {
          authorization: request.headers["authorization"],
          dpop: request.headers["dpop"],
          method: request.method
        })
        yield* ProtectedResource.checkRequirements(resource, authorized, yield* body)
        return yield* Effect.provideService(httpEffect, Authorized, authorized)
      }).pipe(
        Effect.catchTag("ErrorResponse", (e) => Effect.succeed(e.toResponse())),
        Effect.map(withCors)
      )
  })
).layer
