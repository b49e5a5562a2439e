/**
 * CONTRACT §3: every single item answers an `ETag`, and PATCH and DELETE honour `If-Match` (RFC 9110 §13.1.1). An
 * item's tag names its identity and version: each change of the row increments the version, and the store applies a
 * change only while the row is still at the version the caller read (compare-and-set), so of two requests carrying
 * the same `If-Match` one wins and the other is 412.
 */
import * as Crypto from "node:crypto"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { Effect } from "effect"
import { Base64Url } from "@tessera/domain"
import { ErrorResponse } from "@tessera/protocol"
import { json } from "../Respond.js"

/** RFC 9110 §8.8.3: a strong entity tag; opaque, and different for a deleted row's namesake created later. */
export const of = (id: string, version: number) =>
  `"${Base64Url.encode(Crypto.createHash("sha256").update(`${id}\u0000${version}`).digest()).slice(0, 22)}"`

const stale = ErrorResponse.make("precondition_failed", "If-Match does not name the current representation")

/**
 * RFC 9110 §13.1.1: without `If-Match` the request goes on; `*` matches any current representation; otherwise one of
 * the listed tags must equal `current` by strong comparison (a weak tag never matches).
 */
export const precondition = (current: string) =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
    const header = request.headers["if-match"]
    if (header === undefined) return Effect.void
    const tags = header.split(",").map((tag) => tag.trim())
    if (tags.includes("*") || tags.includes(current)) return Effect.void
    return Effect.fail(stale)
  })

/** The header that carries an item's tag. */
export const header = (tag: string) => ({ etag: tag })

/**
 * A single item's GET answer: RFC 9110 §13.1.1 ("an origin server that receives an If-Match header field MUST evaluate
 * the condition") first, then 200 with the item and its tag.
 */
export const answer = (body: unknown, tag: string) => Effect.as(precondition(tag), json(body, 200, header(tag)))
