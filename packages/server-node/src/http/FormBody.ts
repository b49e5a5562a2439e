/** `application/x-www-form-urlencoded` request bodies (HTML forms, OIDC Core §3.1.2.1 POST), read with a size cap. */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { Effect, Either } from "effect"
import { ErrorResponse, Form } from "@tessera/protocol"
import { readBytes } from "./Respond.js"

/** The body's form parameters, whatever the request's declared type (a route that checked it already). */
export const read = Effect.flatMap(readBytes(), (bytes) => Either.match(Form.parseBytes(bytes), { onLeft: Effect.fail, onRight: Effect.succeed }))

/**
 * The request's form parameters: `application/x-www-form-urlencoded`, at most `maxBodyBytes`, strictly decoded
 * (bad percent-encoding or UTF-8 is `invalid_request`, see `Form.parseBytes`).
 */
export const params = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const type = (request.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase()
  if (type !== "application/x-www-form-urlencoded") {
    return yield* ErrorResponse.invalidRequest("the body must be application/x-www-form-urlencoded")
  }
  return yield* read
})
