/**
 * CONTRACT §3 lists: `limit` (1-200, default 50) and an opaque `cursor` in, a page and `next_cursor` out. A store lists
 * rows in the order of a sort key (a string it chooses, unique per row) and answers up to `limit + 1` rows after
 * `after`: the one more tells whether another page exists.
 */
import * as Crypto from "node:crypto"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { Effect } from "effect"
import type { Schema } from "effect"
import { Base64Url } from "@tessera/domain"
import type { Page } from "@tessera/domain"
import { Admin, Body, ErrorResponse } from "@tessera/protocol"
import { Secrets } from "../../Secrets.js"
import { fromEither } from "../Respond.js"

/**
 * Which rows a store answers: the first `limit + 1` whose sort key is greater than `after` (domain `Page`), and how
 * this list signs the cursor of its next page.
 */
export interface Window extends Page.Window {
  readonly sign: (key: string) => string
}

const encoder = new TextEncoder()
const decoder = new TextDecoder("utf-8", { fatal: true })

/**
 * A cursor names the sort key to continue after, MACed with a server secret over the list it came from (the path, so
 * the realm too): a forged cursor, or one from another list or realm, is refused rather than answered differently by
 * each store (a sort key no store wrote parses differently in memory and in SQL).
 */
const mac = (secret: string, list: string, key: string) =>
  Base64Url.encode(Crypto.createHmac("sha256", secret).update(`tessera-cursor\u0000${list}\u0000${key}`).digest()).slice(0, 22)

const encodeCursor = (secret: string, list: string, key: string) =>
  Base64Url.encode(encoder.encode(JSON.stringify({ after: key, mac: mac(secret, list, key) })))

const decodeCursor = (secret: string, list: string, cursor: string): string | undefined => {
  try {
    const value: unknown = JSON.parse(decoder.decode(Base64Url.decode(cursor)))
    if (typeof value !== "object" || value === null) return undefined
    const { after, mac: tag } = value as { after?: unknown; mac?: unknown }
    if (typeof after !== "string" || typeof tag !== "string") return undefined
    const expected = Buffer.from(mac(secret, list, after))
    const given = Buffer.from(tag)
    return expected.length === given.length && Crypto.timingSafeEqual(expected, given) ? after : undefined
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
    const url = new URL(request.url, "http://localhost")
    const params = url.searchParams
    const { adminTokenHash: secret } = yield* Secrets
    for (const key of new Set(params.keys())) {
      if (params.getAll(key).length > 1) return yield* ErrorResponse.invalidRequest(`'${key}' must not be given twice`)
    }
    const decoded = yield* fromEither(Body.decode(schema)(Object.fromEntries(params)))
    const after = decoded.cursor === undefined ? undefined : decodeCursor(secret, url.pathname, decoded.cursor)
    if (decoded.cursor !== undefined && after === undefined) return yield* badCursor
    const window: Window = {
      limit: decoded.limit ?? Admin.defaultLimit,
      ...(after !== undefined ? { after } : {}),
      sign: (key) => encodeCursor(secret, url.pathname, key)
    }
    return { query: decoded, window }
  })

/** The page a window shows of what the store answered, and the cursor of the next one when there is more. */
export const page = <T>(rows: ReadonlyArray<T>, window: Window, keyOf: (row: T) => string) => {
  const items = rows.slice(0, window.limit)
  const last = items[items.length - 1]
  return {
    items,
    ...(rows.length > window.limit && last !== undefined ? { next_cursor: window.sign(keyOf(last)) } : {})
  }
}
