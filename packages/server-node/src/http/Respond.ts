/** Shared edges of every route: JSON answers, bounded JSON bodies, and the last-resort `server_error`. */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import type * as Http from "node:http"
import { Cause, Effect, Either } from "effect"
import { StoreError } from "@tessera/domain"
import { Body, ErrorResponse } from "@tessera/protocol"

/** The largest request body any endpoint reads; larger is 413 before a byte is parsed. */
export const maxBodyBytes = 64 * 1024

export const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  HttpServerResponse.unsafeJson(body, { status, headers: { "cache-control": "no-store", ...headers } })

export const tooLarge = ErrorResponse.make("invalid_request", `the body is larger than ${maxBodyBytes} bytes`, 413)

/** Bodies an edge in front of the routes read already (TokenEdge), for the route that answers the request after all. */
const alreadyRead = new WeakMap<Http.IncomingMessage, Uint8Array>()

/** Hands the route a body read before it ran: `readBytes` answers with these bytes. */
export const keepBody = (message: Http.IncomingMessage, body: Uint8Array) => void alreadyRead.set(message, body)

/**
 * Reads at most `max` bytes of the body. Past the limit it stops reading without destroying the socket, so the
 * 413 still reaches the client (the platform's own limit destroys the stream, and the answer with it).
 */
export const readBytes = (message: Http.IncomingMessage, max: number = maxBodyBytes) =>
  Effect.async<Uint8Array, ErrorResponse.ErrorResponse>((resume) => {
    const read = alreadyRead.get(message)
    if (read !== undefined) return resume(read.length <= max ? Effect.succeed(read) : Effect.fail(tooLarge))
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
      // drain what is still coming so the connection can carry the answer
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

/** The request's JSON object body: `application/json`, at most `maxBodyBytes`, an object. */
export const jsonBody = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const type = (request.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase()
  if (type !== "application/json") return yield* ErrorResponse.invalidRequest("the body must be application/json")
  const length = Number(request.headers["content-length"] ?? "0")
  if (length > maxBodyBytes) return yield* tooLarge
  const text = new TextDecoder().decode(yield* readBytes(NodeHttpServerRequest.toIncomingMessage(request)))
  return yield* Either.match(Body.parseJsonObject(text), { onLeft: Effect.fail, onRight: Effect.succeed })
})

/**
 * Runs a handler whose expected failures are already `ErrorResponse`s (or the store failing); a defect is logged with its cause and
 * answered `server_error` without a description (nothing internal reaches the wire).
 */
export const handle = <R>(
  handler: Effect.Effect<HttpServerResponse.HttpServerResponse, ErrorResponse.ErrorResponse | StoreError.StoreError, R>
) =>
  handler.pipe(
    Effect.catchTag("ErrorResponse", (e) => Effect.succeed(e.toResponse())),
    // the store is unreachable: RFC 6749 §4.1.2.1 temporarily_unavailable, and the client may retry
    Effect.catchTag("StoreError", (e) =>
      Effect.logError("store unavailable", e.cause).pipe(
        Effect.as(ErrorResponse.make("temporarily_unavailable", undefined, 503).toResponse({ "retry-after": "1" }))
      )),
    Effect.catchAllCause((cause) =>
      Cause.isInterruptedOnly(cause)
        ? Effect.failCause(cause)
        : Effect.logError("request failed", cause).pipe(Effect.as(ErrorResponse.make("server_error").toResponse()))
    )
  )

export const fromEither = <A>(either: Either.Either<A, ErrorResponse.ErrorResponse>) =>
  Either.match(either, { onLeft: Effect.fail, onRight: Effect.succeed })
