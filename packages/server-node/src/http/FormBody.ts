/** `application/x-www-form-urlencoded` request bodies (HTML forms, OIDC Core §3.1.2.1 POST), read with a size cap. */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import { Effect, Either } from "effect"
import { ErrorResponse, Form } from "@tessera/protocol"
import { maxBodyBytes, readBytes, tooLarge } from "./Respond.js"

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
  if (Number(request.headers["content-length"] ?? "0") > maxBodyBytes) return yield* tooLarge
  const bytes = yield* readBytes(NodeHttpServerRequest.toIncomingMessage(request), maxBodyBytes)
  return yield* Either.match(Form.parseBytes(bytes), { onLeft: Effect.fail, onRight: Effect.succeed })
})
