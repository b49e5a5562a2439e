/**
 * CONTRACT §3 lists: `limit` (1-200, default 50) and an opaque `cursor` in, a page and `next_cursor` out. A store lists
 * rows in the order of a sort key (a string it chooses, unique per row) and answers up to `limit + 1` rows after
 * `after`: the one more tells whether another page exists.
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { Effect } from "effect"
import type { Schema } from "effect"
import { Base64Url } from "@tessera/domain"
import type { Page } from "@tessera/domain"
import { Admin, Body, ErrorResponse } from "@tessera/protocol"
import { fromEither } from "../Respond.js"

/** Which rows a store answers: the first `limit + 1` whose sort key is greater than `after` (domain `Page`). */
export type Window = Page.Window

const encoder = new TextEncoder()
const decoder = new TextDecoder("utf-8", { fatal: true })

/** The cursor after the row whose sort key is `key`. */
export const encodeCursor = (key: string) => Base64Url.encode(encoder.encode(JSON.stringify({ after: key })))

const decodeCursor = (cursor: string): string | undefined => {
  try {
    const value: unknown = JSON.parse(decoder.decode(Base64Url.decode(cursor)))
    const after = typeof value === "object" && value !== null ? (value as { after?: unknown }).after : undefined
    return typeof after === "string" ? after : undefined
  } catch {
    return undefined
  }
}

const badCursor = ErrorResponse.invalidRequest("'cursor' must be a cursor from an earlier page")

/**
 * The request's query decoded with `schema` (which extends `Admin.ListQuery`), each parameter at most once, and the
 * window it asks for.
 */
export const query = <A extends { readonly limit?: number | undefined; readonly cursor?: string | undefined }, I>(
  schema: Schema.Schema<A, I>
) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const params = new URL(request.url, "http://localhost").searchParams
    for (const key of new Set(params.keys())) {
      if (params.getAll(key).length > 1) return yield* ErrorResponse.invalidRequest(`'${key}' must not be given twice`)
    }
    const decoded = yield* fromEither(Body.decode(schema)(Object.fromEntries(params)))
    const after = decoded.cursor === undefined ? undefined : decodeCursor(decoded.cursor)
    if (decoded.cursor !== undefined && after === undefined) return yield* badCursor
    const window: Window = { limit: decoded.limit ?? Admin.defaultLimit, ...(after !== undefined ? { after } : {}) }
    return { query: decoded, window }
  })

/** The page a window shows of what the store answered, and the cursor of the next one when there is more. */
export const page = <T>(rows: ReadonlyArray<T>, window: Window, keyOf: (row: T) => string) => {
  const items = rows.slice(0, window.limit)
  const last = items[items.length - 1]
  return {
    items,
    ...(rows.length > window.limit && last !== undefined ? { next_cursor: encodeCursor(keyOf(last)) } : {})
  }
}
