/** Shared edges of every route: JSON answers, bounded JSON bodies, and the last-resort `server_error`. */
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import type * as Http from "node:http"
import { Cause, Effect, Either, Option } from "effect"
import { StoreError } from "@tessera/domain"
import { Body, ErrorResponse } from "@tessera/protocol"
import * as Issuer from "./Issuer.js"

/** CONTRACT §2: the largest request body any endpoint reads; larger is 413, decided while reading. */
export const maxBodyBytes = 64 * 1024

export const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  HttpServerResponse.unsafeJson(body, { status, headers: { "cache-control": "no-store", ...headers } })

export const tooLarge = ErrorResponse.make("invalid_request", `the body is larger than ${maxBodyBytes} bytes`, 413)

/** How long the rest of a refused body is discarded before its connection is closed (ADR 0029, as nginx's lingering_timeout). */
export const lingerMillis = 5_000

/** What `collect` read: the whole body, or why not. */
export type Collected =
  | { readonly _tag: "Read"; readonly body: Uint8Array }
  | { readonly _tag: "TooLarge" }
  | { readonly _tag: "Broken" }

/** Bodies read already, for a handler run again (a lost compare-and-set retried, admin/Auth.ts). */
const alreadyRead = new WeakMap<Http.IncomingMessage, Collected>()

/** Hands the route a body read before it ran: `readBytes` answers with what was read. */
export const keepBody = (message: Http.IncomingMessage, collected: Collected) => void alreadyRead.set(message, collected)

/**
 * The one body reader of the server (every route through `readBytes`, the kernel's request body readers directly): at
 * most `max` bytes, chunked or not. A declared `Content-Length` over `max` is refused before a byte is read; past `max`
 * while reading, nothing more is kept. Either way the rest is discarded as it comes, and a connection whose request
 * has not ended `lingerMillis` later is closed. Returns the function that stops listening.
 */
export const collect = (
  message: Http.IncomingMessage,
  max: number,
  done: (collected: Collected) => void
): () => void => {
  const refuse = () => {
    // CONTRACT §2: the rest is never kept: it is discarded as it comes (so the answer reaches a client still sending,
    // where closing at once would reset the connection under it), for at most `lingerMillis` (ADR 0029)
    message.resume()
    const linger = setTimeout(() => message.complete || message.socket.destroy(), lingerMillis).unref()
    message.once("end", () => clearTimeout(linger))
    message.once("close", () => clearTimeout(linger))
    done({ _tag: "TooLarge" })
  }
  const declared = Number(message.headers["content-length"] ?? "0")
  if (declared > max) {
    refuse()
    return () => undefined
  }
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
    chunks.length = 0
    refuse()
  }
  const onEnd = () => {
    cleanup()
    done({ _tag: "Read", body: new Uint8Array(Buffer.concat(chunks)) })
  }
  const onError = () => {
    cleanup()
    done({ _tag: "Broken" })
  }
  message.on("data", onData)
  message.on("end", onEnd)
  message.on("error", onError)
  return cleanup
}

/** The request's body, at most `max` bytes (`collect`); larger is `tooLarge`. */
export const readBytes = (max: number = maxBodyBytes) =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
    Effect.async<Uint8Array, ErrorResponse.ErrorResponse>((resume) => {
      const message = NodeHttpServerRequest.toIncomingMessage(request)
      const answer = (collected: Collected) => {
        switch (collected._tag) {
          case "Read":
            return resume(collected.body.length <= max ? Effect.succeed(collected.body) : Effect.fail(tooLarge))
          case "TooLarge":
            return resume(Effect.fail(tooLarge))
          case "Broken":
            return resume(Effect.fail(ErrorResponse.invalidRequest("the body could not be read")))
        }
      }
      const read = alreadyRead.get(message)
      if (read !== undefined) return answer(read)
      // kept for the request: a handler run again (a lost compare-and-set retried, admin/Auth.ts) reads it again
      return Effect.sync(collect(message, max, (collected) => {
        keepBody(message, collected)
        answer(collected)
      }))
    }))

/**
 * The platform's own body readers (its `text`, `json`, `urlParamsBody`, `arrayBuffer`) bounded for every request
 * of the server: past `maxBodyBytes` they fail (and destroy the connection) instead of buffering. Routes read bodies
 * through `readBytes` only; this is the backstop should one ever call them.
 */
export const boundedBodies = HttpMiddleware.make((app) => HttpIncomingMessage.withMaxBodySize(app, Option.some(maxBodyBytes)))

/** The request's JSON object body: `application/json`, at most `maxBodyBytes`, an object. */
export const jsonBody = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const type = (request.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase()
  if (type !== "application/json") return yield* ErrorResponse.invalidRequest("the body must be application/json")
  const text = new TextDecoder().decode(yield* readBytes())
  return yield* Either.match(Body.parseJsonObject(text), { onLeft: Effect.fail, onRight: Effect.succeed })
})

/** The answer to request text the store could not hold (CONTRACT §2: the endpoint's 400, never a 5xx). */
export const unstorableText = ErrorResponse.invalidRequest("the request holds text that cannot be stored")

// PostgreSQL's SQLSTATE 22021 character_not_in_repertoire (a NUL in text) and 22P05 untranslatable_character (a
// `\u0000` escape in jsonb): the store refused the text itself, whatever the statement
const refusedTextCodes: ReadonlySet<unknown> = new Set(["22021", "22P05"])

/** The `code`s along a store failure's cause chain (the driver's error carries PostgreSQL's SQLSTATE there). */
const codesOf = (e: StoreError.StoreError) => {
  const codes: Array<unknown> = []
  let cause: unknown = e
  for (let depth = 0; depth < 8 && typeof cause === "object" && cause !== null; depth++) {
    const code = (cause as { code?: unknown }).code
    if (code !== undefined) codes.push(code)
    cause = (cause as { cause?: unknown }).cause
  }
  return codes
}

/** Whether a store failure is the store refusing request text (its cause chain holds one of `refusedTextCodes`). */
export const refusedText = (e: StoreError.StoreError) => codesOf(e).some((code) => refusedTextCodes.has(code))

/** PostgreSQL's SQLSTATE behind a store failure (five characters: `40P01` deadlock, `08006` connection lost), if any. */
export const sqlState = (e: StoreError.StoreError): string | undefined =>
  codesOf(e).find((code): code is string => typeof code === "string" && /^[0-9A-Z]{5}$/.test(code))

/**
 * The log line of a store failure answered 503, with its SQLSTATE as the `sqlstate` annotation: the JSON format renders
 * the cause's messages ("deadlock detected") but not the driver error's fields.
 */
export const logStoreUnavailable = (e: StoreError.StoreError) => {
  const state = sqlState(e)
  const line = Effect.logError("store unavailable", e.cause)
  return state === undefined ? line : Effect.annotateLogs(line, "sqlstate", state)
}

/**
 * Runs a handler whose expected failures are already `ErrorResponse`s (or the store failing); a defect is logged with its cause and
 * answered `server_error` without a description (nothing internal reaches the wire).
 */
export const handle = <R>(
  handler: Effect.Effect<HttpServerResponse.HttpServerResponse, ErrorResponse.ErrorResponse | StoreError.StoreError, R>
) =>
  handler.pipe(
    Effect.catchTag("ErrorResponse", (e) => Effect.succeed(e.toResponse())),
    Effect.catchTag("StoreError", (e) =>
      StoreError.isRealmGone(e)
        // CONTRACT §2: a realm deleted after the request found it is an unknown realm (issue 15, ADR 0030)
        ? Effect.succeed(Issuer.unknownRealm.toResponse())
        : refusedText(e)
        // CONTRACT §2, defence in depth: text a parsing boundary should have refused reached the store, which
        // refused it: bad input, not an outage (logged as the boundary's miss)
        ? Effect.logError("the store refused request text (a parsing boundary missed it)", e.cause).pipe(
          Effect.as(unstorableText.toResponse())
        )
        // the store is unreachable: RFC 6749 §4.1.2.1 temporarily_unavailable, and the client may retry
        : logStoreUnavailable(e).pipe(
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
