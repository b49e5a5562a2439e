/** Every path no route serves, including unserved `/.well-known/` variants: 404 JSON, never an empty 404 or a 5xx. */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect } from "effect"
import { ErrorResponse } from "@tessera/protocol"

export const notFound = Effect.succeed(
  ErrorResponse.make("not_found", "nothing is served at this path").toResponse({ "access-control-allow-origin": "*" })
)

/** Browsers ask for a favicon on every page; there is none, and an empty answer keeps their consoles quiet. */
const favicon = Effect.succeed(HttpServerResponse.empty({ status: 204, headers: { "cache-control": "public, max-age=86400" } }))

export const Routes = HttpLayerRouter.addAll([
  HttpLayerRouter.route("GET", "/favicon.ico", favicon),
  HttpLayerRouter.route("*", "*", notFound)
])
