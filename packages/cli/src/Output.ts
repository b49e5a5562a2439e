/**
 * What a command prints (CONTRACT §8): for people, a list as columns and a single item as key/value rows; for scripts
 * (`--json`), the server's JSON exactly. Text from the server is shown with its control characters escaped, so that a
 * stored value can never drive the terminal.
 */

// C0 and C1 controls and the bidirectional overrides (which reorder what a terminal shows)
const unsafe = /[\p{Cc}\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu

/** Escapes what a terminal would interpret, as JSON writes it (`\u001b`). */
export const safe = (text: string) => text.replace(unsafe, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)

const isScalar = (value: unknown) => value === null || ["string", "number", "boolean"].includes(typeof value)

/** One cell: scalars as they are, a list of scalars comma-separated, anything else as compact JSON. */
export const cell = (value: unknown): string => {
  if (value === undefined || value === null) return ""
  if (typeof value === "string") return safe(value)
  if (Array.isArray(value) && value.every(isScalar)) return value.map(cell).join(",")
  if (isScalar(value)) return String(value)
  return safe(JSON.stringify(value))
}

const pad = (text: string, width: number) => text + " ".repeat(Math.max(0, width - [...text].length))

const columns = (rows: ReadonlyArray<ReadonlyArray<string>>) => {
  const widths: Array<number> = []
  for (const row of rows) row.forEach((text, i) => (widths[i] = Math.max(widths[i] ?? 0, [...text].length)))
  return rows.map((row) => row.map((text, i) => (i === row.length - 1 ? text : pad(text, widths[i]!))).join("  ").trimEnd())
}

/** Items as a table, one column per field (in the order fields first appear), headed by the field names. */
export const table = (items: ReadonlyArray<unknown>): string => {
  const keys: Array<string> = []
  for (const item of items) {
    if (typeof item === "object" && item !== null) for (const key of Object.keys(item)) if (!keys.includes(key)) keys.push(key)
  }
  const rows = items.map((item) => keys.map((key) => cell((item as Record<string, unknown>)[key])))
  return columns([keys.map((key) => key.toUpperCase()), ...rows]).join("\n")
}

/** An object as `key  value` rows. */
export const keyValues = (object: Record<string, unknown>, extra: ReadonlyArray<readonly [string, string]> = []): string =>
  columns([...Object.entries(object).map(([key, value]) => [safe(key), cell(value)]), ...extra.map(([k, v]) => [k, safe(v)])]).join("\n")

/**
 * A list answer is an object holding one array (CONTRACT §3: `{"users": [...], "next_cursor"?}`): its key, or
 * undefined for a single item.
 */
export const listKey = (body: unknown): string | undefined => {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return undefined
  const keys = Object.keys(body).filter((key) => key !== "next_cursor")
  return keys.length === 1 && Array.isArray((body as Record<string, unknown>)[keys[0]!]) ? keys[0] : undefined
}

/** The human rendering of an answer's body (with its ETag, for a single item that has one). */
export const human = (body: unknown, etag?: string): string => {
  if (body === undefined) return ""
  const key = listKey(body)
  if (key !== undefined) {
    const record = body as Record<string, unknown>
    const items = record[key] as ReadonlyArray<unknown>
    const lines = [items.length === 0 ? `(no ${safe(key)})` : table(items)]
    if (typeof record["next_cursor"] === "string") lines.push(`more: --cursor ${safe(record["next_cursor"])} (or --all)`)
    return lines.join("\n")
  }
  if (typeof body === "object" && body !== null && !Array.isArray(body)) {
    return keyValues(body as Record<string, unknown>, etag !== undefined ? [["ETag", etag]] : [])
  }
  return cell(body)
}
