/** `application/x-www-form-urlencoded` request bodies (HTML forms, OIDC Core §3.1.2.1 POST), read with a size cap. */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import type * as Http from "node:http"
import { Effect, Either } from "effect"
import { ErrorResponse, Form } from "@tessera/protocol"
import { maxBodyBytes } from "./Respond.js"

const tooLarge = ErrorResponse.make("invalid_request", `the body is larger than ${maxBodyBytes} bytes`, 413)

/** Reads at most `max` bytes; past it stops reading (draining the rest, so the answer still reaches the client). */
const readBytes = (message: Http.IncomingMessage, max: number) =>
  Effect.async<Uint8Array, ErrorResponse.ErrorResponse>((resume) => {
    const chunks: Array<Buffer> = []
    let size = 0
    const cleanup = () => {
      message.off("data", onData)
      message.off("end", onEnd)
      message.off("error", onError)
    }
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size <= max) return void chunks.push(chunk)
      cleanup()
      message.resume()
      resume(Effect.fail(tooLarge))
    }
    const onEnd = () => {
      cleanup()
      resume(Effect.succeed(new Uint8Array(Buffer.concat(chunks))))
    }
    const onError = () => {
      cleanup()
      resume(Effect.fail(ErrorResponse.invalidRequest("the body could not be read")))
    }
    message.on("data", onData)
    message.on("end", onEnd)
    message.on("error", onError)
    return Effect.sync(cleanup)
  })

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
