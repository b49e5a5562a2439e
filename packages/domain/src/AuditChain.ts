/** The tamper-evident audit trail: each realm's events form a SHA-256 hash chain over their canonical JSON. */
import { Effect } from "effect"
import type { AuditEvent } from "./AuditEvent.js"
import { Crypto } from "./Crypto.js"
import * as Hash from "./Hash.js"

/** The predecessor hash of a realm's first event. */
export const genesis = "0".repeat(43)

/**
 * JSON with object keys sorted and undefined members dropped, so equal events have equal bytes (cf. RFC 8785).
 * Written as loops over `Object.keys(...).sort()` (the default sort compares UTF-16 code units, as `<` does) because
 * every audit append runs it; test/AuditChain.test.ts holds it to the plain `entries`/`filter`/`sort`/`map` form.
 */
export const canonicalJson = (value: unknown): string => {
  if (typeof value === "string") return quoted(value)
  if (value === null || typeof value !== "object") return JSON.stringify(value)
  if (Array.isArray(value)) {
    // as `Array.prototype.join` does, an element with no JSON (undefined, a function, a hole) leaves its slot empty
    let out = "["
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ","
      const element = canonicalJson(value[i])
      if (element !== undefined) out += element
    }
    return out + "]"
  }
  const keys = Object.keys(value)
  return members(value as Record<string, unknown>, inOrder(keys) ? keys : keys.sort(), undefined, undefined)
}

/** A character `JSON.stringify` escapes: `"`, `\\`, a control character, or a surrogate (escaped if lone). */
const escaped = /["\\\u0000-\u001f\ud800-\udfff]/

/** `JSON.stringify` of a string, without its cost for the common string that needs no escape. */
const quoted = (s: string) => (escaped.test(s) ? JSON.stringify(s) : `"${s}"`)

/** `{...}` of `keys` of `record`, skipping undefined members; `at` (if given) stands for the member named `atKey`. */
const members = (
  record: Record<string, unknown>,
  keys: ReadonlyArray<string>,
  atKey: string | undefined,
  at: string | undefined
): string => {
  let out = "{"
  let first = true
  for (const key of keys) {
    const member = key === atKey ? at : record[key]
    if (member === undefined) continue
    if (!first) out += ","
    first = false
    out += `${quoted(key)}:${canonicalJson(member)}`
  }
  return out + "}"
}

/** The first and last instants whose `toISOString` has a four-digit year (0000 to 9999). */
const firstFourDigitYear = -62167219200000
const lastFourDigitYear = 253402300799999
const msPerDay = 86_400_000

/** The day of the last time made, and its `YYYY-MM-DDT` (a trail's events come days at a time). */
let dayStart = Number.NaN
let dayPrefix = ""

const pad2 = (n: number) => (n < 10 ? `0${n}` : `${n}`)
const pad3 = (n: number) => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`)

/**
 * An event's time as the chain writes it: RFC 3339 with milliseconds, UTC (what `DateTime.formatIso` returns, which is
 * `Date.prototype.toISOString`). The time of day is made by arithmetic and the date reused within a day: verification
 * makes one per link (ADR 0042), and a `Date` and its `toISOString` each time cost more than the link's hash.
 */
export const time = (event: AuditEvent): string => {
  const millis = event.at.epochMillis
  const day = Math.floor(millis / msPerDay) * msPerDay
  if (day !== dayStart) {
    // a year of five digits or a sign (or no valid time at all) is toISOString's own business
    if (!(millis >= firstFourDigitYear && millis <= lastFourDigitYear)) return new Date(millis).toISOString()
    dayStart = day
    dayPrefix = new Date(day).toISOString().slice(0, 11)
  }
  const ofDay = millis - day
  const seconds = Math.floor(ofDay / 1000)
  return `${dayPrefix}${pad2(Math.floor(seconds / 3600))}:${pad2(Math.floor(seconds / 60) % 60)}:${pad2(seconds % 60)}.${pad3(ofDay % 1000)}Z`
}

/** The canonical form of an event: every field, the time as `time` writes it. */
export const canonical = (event: AuditEvent): string => canonicalAt(event, time(event))

/** `AuditEvent`'s members in the order `sort()` gives them, each with its `"name":`. */
const eventMembers = ([
  "act", "actor", "at", "clientId", "grantType", "id", "ip", "realm", "realmId", "reason", "resource", "result", "scope",
  "subject", "type", "userAgent"
] satisfies ReadonlyArray<keyof AuditEvent>).map((name) => [name, `"${name}":`] as const)

const eventMemberNames: ReadonlySet<string> = new Set(eventMembers.map(([name]) => name))

/** `canonicalJson` of a member's value, a string without the call. */
const json = (value: unknown) => (typeof value === "string" ? quoted(value) : canonicalJson(value))

/**
 * `canonical` with the event's `time` already made (a store writing it too need not make it twice). A plain object with
 * only `AuditEvent`'s members (every event Tessera makes or a store reads back) is written from the list of those
 * members, with no sort, key list or escape test of the names (verification does this per link, ADR 0042); anything
 * else goes through the general form. Both give the same bytes (test/AuditChain.test.ts).
 */
export const canonicalAt = (event: AuditEvent, at: string): string => {
  const keys = Object.keys(event)
  for (const key of keys) if (!eventMemberNames.has(key)) return canonicalOf(event, keys, at)
  let out = "{"
  for (const [name, member] of eventMembers) {
    const value = name === "at" ? at : event[name]
    if (value === undefined) continue
    out += out.length === 1 ? member : `,${member}`
    out += json(value)
  }
  return out + "}"
}

/** The general form: every own member, sorted. */
const canonicalOf = (event: AuditEvent, keys: Array<string>, at: string) => {
  if (!Object.hasOwn(event, "at")) keys.push("at")
  return members(event as unknown as Record<string, unknown>, inOrder(keys) ? keys : keys.sort(), "at", at)
}

/**
 * Whether `keys` are already in the order `sort()` gives (a store that makes its events with their members in that
 * order, as the SQL store does, spares every link of a verification the sort).
 */
const inOrder = (keys: ReadonlyArray<string>) => {
  for (let i = 1; i < keys.length; i++) if (!(keys[i - 1]! < keys[i]!)) return false
  return true
}

/** What a link's hash is taken over: its predecessor's hash, a line feed, the event's canonical form (ADR 0007). */
const linked = (prevHash: string, event: AuditEvent) => `${prevHash}\n${canonical(event)}`

/** The hash of an event linked to its predecessor's hash. */
export const link = (prevHash: string, event: AuditEvent) => Hash.sha256(linked(prevHash, event))

/** A stored link of the chain, as a store reads it back. */
export interface Link {
  readonly event: AuditEvent
  readonly prevHash: string
  readonly hash: string
}

/** A link with its position in the trail: `seq` counts from 1, oldest first. */
export interface StoredLink extends Link {
  readonly seq: number
}

export type Verdict =
  | { readonly ok: true; readonly events: number }
  | { readonly ok: false; readonly firstBroken: string }

/** Where a walk starts: genesis, or a link already known good (a checkpoint, ADR 0042). */
export interface From {
  readonly seq: number
  readonly hash: string
  /** Events up to and including `seq`. */
  readonly events: number
}

export const fromGenesis: From = { seq: 0, hash: genesis, events: 0 }

/** Whether `l` follows a link whose hash is `prev` and hashes to what it stores (ADR 0007). */
export const holds = (prev: string, l: Link) =>
  l.prevHash !== prev ? Effect.succeed(false) : Effect.map(link(prev, l.event), (hash) => hash === l.hash)

/** Walks a realm's links oldest first: each must point at its predecessor and hash to what it stores. */
export const verify = (links: Iterable<Link>) =>
  Effect.gen(function*() {
    let prev = genesis
    let count = 0
    for (const l of links) {
      if (!(yield* holds(prev, l))) return { ok: false, firstBroken: l.event.id } satisfies Verdict
      prev = l.hash
      count++
    }
    return { ok: true, events: count } satisfies Verdict
  })

/** A store's read of the trail by key: at most `limit` links with `seq` above `after`, in `seq` order. */
export type Read<E, R> = (after: number, limit: number) => Effect.Effect<ReadonlyArray<StoredLink>, E, R>

/** A walk's outcome: intact with its last link (none when nothing was read), or the first link that breaks. */
export type Walked =
  | { readonly ok: true; readonly events: number; readonly last: StoredLink | undefined }
  | { readonly ok: false; readonly firstBroken: string }

/**
 * ADR 0042: verifies the links after `from`, read `batch` at a time by key (never by offset), so memory holds one batch
 * whatever the trail's length and each link is read once. `agrees`, if given, is asked once per batch for a test of
 * each of its links beyond the chain's own (the signed checkpoints among them); a link failing either is the first
 * broken.
 */
export const walk = <E, R, E2 = never, R2 = never>(
  read: Read<E, R>,
  from: From,
  batch: number,
  agrees?: (links: ReadonlyArray<StoredLink>) => Effect.Effect<(l: StoredLink) => boolean, E2, R2>
) =>
  Effect.gen(function*() {
    // ADR 0042: the port's synchronous hash, one call per link in the loop below (no Effect or promise per link; each
    // link's text is made just before its hash and dies young)
    const { sha256Text } = yield* Crypto
    let prev = from.hash
    let after = from.seq
    let count = from.events
    let last: StoredLink | undefined = undefined
    while (true) {
      const links = yield* read(after, batch)
      const agreeing = agrees === undefined || links.length === 0 ? undefined : yield* agrees(links)
      for (let i = 0; i < links.length; i++) {
        const l = links[i]!
        // ADR 0007: each link points at its predecessor and hashes to what it stores
        if (l.prevHash !== prev || sha256Text(linked(l.prevHash, l.event)) !== l.hash || (agreeing !== undefined && !agreeing(l))) {
          return { ok: false, firstBroken: l.event.id } satisfies Walked
        }
        prev = l.hash
        after = l.seq
        count++
        last = l
      }
      if (links.length < batch) return { ok: true, events: count, last } satisfies Walked
    }
  })

/** `walk` from genesis, as the contract's verdict (CONTRACT §3 `audit/verify`). */
export const verifyAll = <E, R>(read: Read<E, R>, batch: number) =>
  Effect.map(walk(read, fromGenesis, batch), (w): Verdict => (w.ok ? { ok: true, events: w.events } : w))
