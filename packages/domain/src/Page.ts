/**
 * One page of a list (CONTRACT §3): a store answers rows in the order of a sort key (a string it chooses, unique per
 * row), the first `limit + 1` after `after`; the one more tells whether another page exists.
 */
import { DateTime, Option } from "effect"

export interface Window {
  readonly limit: number
  /** The sort key of the last row of the previous page. */
  readonly after?: string
}

/**
 * Sort keys compare by Unicode code point, as PostgreSQL compares text under `COLLATE "C"` (UTF-8 byte order), not by
 * UTF-16 code unit as JavaScript's `<` does (which puts U+1F600 before U+FB00): memory and SQL pages must agree.
 */
export const compare = (a: string, b: string): number => {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!
    const y = b.codePointAt(i)!
    if (x !== y) return x < y ? -1 : 1
    if (x > 0xffff) i++
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1
}

/** Applies a window to rows in memory (the memory stores' lists). */
export const slice = <T>(rows: Iterable<T>, window: Window, keyOf: (row: T) => string): ReadonlyArray<T> =>
  Array.from(rows)
    .filter((row) => window.after === undefined || compare(keyOf(row), window.after) > 0)
    .sort((a, b) => compare(keyOf(a), keyOf(b)))
    .slice(0, window.limit + 1)

/** A sort key of an ISO time and an id (`Grants.sortKey`, `Sessions.sortKey`) read back from a cursor, or none when it is not one. */
export const parseSortKey = (key: string): Option.Option<readonly [DateTime.Utc, string]> => {
  const space = key.indexOf(" ")
  if (space === -1) return Option.none()
  return Option.map(DateTime.make(key.slice(0, space)), (at) => [DateTime.toUtc(at), key.slice(space + 1)] as const)
}
