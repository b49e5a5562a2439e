/**
 * One page of a list (CONTRACT §3): a store answers rows in the order of a sort key (a string it chooses, unique per
 * row), the first `limit + 1` after `after`; the one more tells whether another page exists.
 */
export interface Window {
  readonly limit: number
  /** The sort key of the last row of the previous page. */
  readonly after?: string
}

/** Applies a window to rows in memory (the memory stores' lists). */
export const slice = <T>(rows: Iterable<T>, window: Window, keyOf: (row: T) => string): ReadonlyArray<T> =>
  Array.from(rows)
    .filter((row) => window.after === undefined || keyOf(row) > window.after)
    .sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0))
    .slice(0, window.limit + 1)
