/** CONTRACT §3: every list takes `limit` (1-200, default 50) and `cursor`, and answers `next_cursor` on all but the last page. */
import { Schema } from "effect"
import { field } from "../Body.js"

export const maxLimit = 200
export const defaultLimit = 50

/** A decimal integer written plainly (no sign, exponent, radix prefix, spaces or fraction), 1 to `maxLimit`. */
export const Limit = field(
  Schema.String.pipe(Schema.pattern(/^[1-9][0-9]{0,2}$/), Schema.compose(Schema.NumberFromString), Schema.between(1, maxLimit)),
  `must be an integer from 1 to ${maxLimit}`
)

/** Opaque to clients: whatever the server put in an earlier page's `next_cursor`. */
export const Cursor = field(Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_-]{1,700}$/)), "must be a cursor from an earlier page")

export const ListQuery = Schema.Struct({
  limit: Schema.optional(Limit),
  cursor: Schema.optional(Cursor)
})

/** A page of `items` under `key`, with the cursor of the next page when there is one. */
export const page = <K extends string, S extends Schema.Schema.Any>(key: K, item: S) =>
  Schema.Struct({ [key]: Schema.Array(item), next_cursor: Schema.optional(Schema.String) } as {
    readonly [P in K]: Schema.Array$<S>
  } & { readonly next_cursor: Schema.optional<typeof Schema.String> })
