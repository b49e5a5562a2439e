/**
 * ADR 0007: the reference for the bytes every audit link hashes, and generators of awkward values and events. The
 * writers in `AuditChain` (and what a store reads back, packages/sql/test/Proofs.ts) are held to this plain form.
 */
import { DateTime } from "effect"
import type { AuditEvent } from "@tessera/domain"

/** The first implementation, verbatim: the reference the fast one must match byte for byte. */
export const oracleJson = (value: unknown): string => {
  if (value === null || typeof value !== "object") return JSON.stringify(value)
  if (Array.isArray(value)) return `[${value.map(oracleJson).join(",")}]`
  const members = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${JSON.stringify(k)}:${oracleJson(v)}`)
  return `{${members.join(",")}}`
}

/** The canonical form of an event by the reference: its members, the time as `DateTime.formatIso`. */
export const oracle = (event: AuditEvent.AuditEvent) => oracleJson({ ...event, at: DateTime.formatIso(event.at) })

/** A small deterministic PRNG (mulberry32), so a failure names a reproducible case. */
export const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** Strings that JSON must escape, or that only look as if it must. */
export const awkward = [
  "", "plain", "quote\"d", "back\\slash", "new\nline", "tab\t", "\u0000nul", "\u001fus", "\u007fdel", "é ü ß",
  "日本語", "emoji 😀", "lone \ud800 high", "lone \udc00 low", "reversed \udc00\ud800", "\u2028\u2029", "</script>",
  "a\"b\\c\u0001", "__proto__", "constructor", "10", "2", "-1", "1.5", "Z", "a", "A", "ä", "\u{10ffff}"
]

/**
 * The awkward strings a database can store (CONTRACT §2: no U+0000, only valid Unicode, so no lone surrogate), and
 * more of the kind: every other control character, a byte-order mark, a noncharacter, combining and right-to-left
 * marks, characters of every UTF-8 length.
 */
export const storable = [
  ...awkward.filter((s) => !/[\u0000\ud800-\udfff]/.test(s.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ""))),
  Array.from({ length: 31 }, (_, i) => String.fromCharCode(i + 1)).join(""), "\ufeffbom", "non\uffffchar", "e\u0301",
  "\u202eevil\u202c", "\u05e9\u05dc\u05d5\u05dd", "$\u00a2\u20ac\u{10348}", "\\u0041 not an escape", "\"\"", "{}", "null"
]

/**
 * Values of every JSON kind built from `strings`, up to depth 4. `json` keeps to what JSON holds unchanged (no
 * undefined, NaN, infinities or -0, which a JSON text cannot carry back).
 */
export const generate = (random: () => number, strings: ReadonlyArray<string> = awkward, json = false) => {
  const pick = <A>(list: ReadonlyArray<A>): A => list[Math.floor(random() * list.length)]!
  const string = () => random() < 0.5 ? pick(strings) : pick(strings) + pick(strings)
  const value = (depth: number): unknown => {
    const r = random()
    if (depth > 3 || r < 0.3) return string()
    if (r < 0.38) return pick(json ? [0, 1, -1.5, 1e21, 2 ** 53, 1e-7, 123.456] : [0, -0, 1, -1.5, 1e21, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY])
    if (r < 0.44) return pick(json ? [true, false, null] : [true, false, null, undefined])
    if (r < 0.7) return Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1))
    const out: Record<string, unknown> = {}
    for (let i = Math.floor(random() * 6); i > 0; i--) out[string()] = value(depth + 1)
    return out
  }
  return value
}
