/**
 * CONTRACT §8 `tessera_http_request_duration_seconds{route,status}` for every answer of a route, labelled with the
 * route's pattern (`/realms/:realm/token`, `*` for the catch-all), never the request's path: a client can reach only
 * as many series as there are routes and statuses (ADR 0040). The edges in front of the router (Documents,
 * TokenEdge) record their own answers under the same patterns.
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Cause, Context, Effect, Exit } from "effect"
import { Metrics } from "@tessera/domain"

const observe = <E>(app: Effect.Effect<HttpServerResponse.HttpServerResponse, E>) =>
  Effect.contextWithEffect((context: Context.Context<never>) => {
    if (!Metrics.isRecording()) return app
    const route = Context.unsafeGet(context, HttpLayerRouter.RouteContext).route.path
    // a monotonic clock read directly: the fiber's Clock service would cost one more step and closure per request
    const start = performance.now()
    // Effect.exit then the exit itself, not Effect.onExit: two steps per request instead of an uninterruptible region
    // and its closures; an interrupted fiber never reaches the continuation, and was never answered anyway
    return Effect.flatMap(Effect.exit(app), (exit) => {
      if (!(Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause))) {
        const status = Exit.isSuccess(exit) ? exit.value.status : 500
        Metrics.unsafe.httpResponse(route, status, (performance.now() - start) / 1000)
      }
      return exit
    })
  })

/** Provided to the routes (Live.Routes): the router wraps each route's handler, inside which the route is known. */
export const layer = HttpLayerRouter.middleware(observe).layer
