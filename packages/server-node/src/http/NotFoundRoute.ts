/** Every path no route serves, including unserved `/.well-known/` variants: 404 JSON, never an empty 404 or a 5xx. */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import { Effect } from "effect"
import { ErrorResponse } from "@tessera/protocol"

const notFound = Effect.succeed(
  ErrorResponse.make("not_found", "nothing is served at this path").toResponse({ "access-control-allow-origin": "*" })
)

export const Routes = HttpLayerRouter.addAll([HttpLayerRouter.route("*", "*", notFound)])
