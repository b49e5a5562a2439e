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
  return objectOf(value as Record<string, unknown>, inOrder(keys) ? keys : keys.sort(), undefined, undefined)
}

/** A character `JSON.stringify` escapes: `"`, `\\`, a control character, or a surrogate (escaped if lone). */
const escaped = /["\\\u0000-\u001f\ud800-\udfff]/

/** `JSON.stringify` of a string, without its cost for the common string that needs no escape. */
const quoted = (s: string) => (escaped.test(s) ? JSON.stringify(s) : `"${s}"`)

/** `{...}` of `keys` of `record`, skipping undefined members; `at` (if given) stands for the member named `atKey`. */
const objectOf = (
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
 * An instant as the chain writes it: RFC 3339 with milliseconds, UTC (what `DateTime.formatIso` returns, which is
 * `Date.prototype.toISOString`). The time of day is made by arithmetic and the date reused within a day: verification
 * makes one per link (ADR 0042), and a `Date` and its `toISOString` each time cost more than the link's hash.
 */
export const timeAt = (millis: number): string => {
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

/** An event's time as the chain writes it (`timeAt` of its instant). */
export const time = (event: AuditEvent): string => timeAt(event.at.epochMillis)

/** The greatest distance from 1970 of an instant a `Date` holds (ECMA-262 §21.4.1.22 TimeClip): 100 000 000 days. */
export const maxMillis = 8.64e15

/**
 * The members of the canonical form but `at`, in its order (the order `sort()` gives the names; the actor is
 * `{"id","type"}`): the slots `write` reads, from `offset` on.
 */
export const members = [
  "act", "actorId", "actorType", "clientId", "grantType", "id", "ip", "realm", "realmId", "reason", "resource", "result",
  "scope", "subject", "type", "userAgent"
] as const

/** Each member after `at`: its slot and the text before its value. */
const afterAt = members.slice(3).map((name, i) => [i + 3, `,"${name}":`] as const)

/**
 * The one writer of an event's canonical form (ADR 0007): `texts[offset + i]` is the canonical JSON of `members[i]`
 * ("" when the member is absent), `at` is the event's time as `timeAt` writes it. `canonical` calls it with the members
 * of an event; a store that reads them as JSON texts calls it with those (`PgAudit.links`, ADR 0042), so a link
 * verified from its row has its text made by the same rules as at its append, and no event object in between.
 */
export const write = (texts: ArrayLike<string>, offset: number, at: string): string => {
  const act = texts[offset]!
  let out = act === "" ? `{"actor":{"id":` : `{"act":${act},"actor":{"id":`
  out += `${texts[offset + 1]},"type":${texts[offset + 2]}},"at":"${at}"`
  for (const [slot, name] of afterAt) {
    const text = texts[offset + slot]!
    if (text !== "") out += name + text
  }
  return out + "}"
}

/** The canonical form of an event: every field, the time as `time` writes it. */
export const canonical = (event: AuditEvent): string => canonicalAt(event, time(event))

/** `AuditEvent`'s members. */
const eventMemberNames: ReadonlySet<string> = new Set<keyof AuditEvent>([
  "act", "actor", "at", "clientId", "grantType", "id", "ip", "realm", "realmId", "reason", "resource", "result", "scope",
  "subject", "type", "userAgent"
])

/** `canonicalJson` of a member's value ("" for an absent one), a string without the call. */
const json = (value: unknown) => (value === undefined ? "" : typeof value === "string" ? quoted(value) : canonicalJson(value))

/** An actor `write` writes as `{"id","type"}`: an object with exactly those two members, neither undefined. */
const isPlainActor = (actor: unknown): actor is { readonly id: unknown; readonly type: unknown } => {
  if (actor === null || typeof actor !== "object" || Array.isArray(actor)) return false
  const a = actor as Record<string, unknown>
  return a["id"] !== undefined && a["type"] !== undefined && Object.keys(a).length === 2
}

/**
 * `canonical` with the event's `time` already made (a store writing it too need not make it twice). An event with only
 * `AuditEvent`'s members and an actor of `id` and `type` (every event Tessera makes) is written by `write`; anything
 * else goes through the general form. Both give the same bytes (test/AuditChain.test.ts).
 */
export const canonicalAt = (event: AuditEvent, at: string): string => {
  const keys = Object.keys(event)
  const actor: unknown = event.actor
  for (const key of keys) if (!eventMemberNames.has(key)) return canonicalOf(event, keys, at)
  if (!isPlainActor(actor)) return canonicalOf(event, keys, at)
  return write([
    json(event.act), json(actor.id), json(actor.type), json(event.clientId), json(event.grantType), json(event.id),
    json(event.ip), json(event.realm), json(event.realmId), json(event.reason), json(event.resource), json(event.result),
    json(event.scope), json(event.subject), json(event.type), json(event.userAgent)
  ], 0, at)
}

/** The general form: every own member, sorted. */
const canonicalOf = (event: AuditEvent, keys: Array<string>, at: string) => {
  if (!Object.hasOwn(event, "at")) keys.push("at")
  return objectOf(event as unknown as Record<string, unknown>, inOrder(keys) ? keys : keys.sort(), "at", at)
}

/**
 * Whether `keys` are already in the order `sort()` gives (a store that makes its events with their members in that
 * order spares the sort).
 */
const inOrder = (keys: ReadonlyArray<string>) => {
  for (let i = 1; i < keys.length; i++) if (!(keys[i - 1]! < keys[i]!)) return false
  return true
}

/** What a link's hash is taken over: its predecessor's hash, a line feed, the event's canonical form (ADR 0007). */
export const linked = (prevHash: string, canonicalForm: string) => `${prevHash}\n${canonicalForm}`

/** The hash of an event linked to its predecessor's hash. */
export const link = (prevHash: string, event: AuditEvent) => Hash.sha256(linked(prevHash, canonical(event)))

/**
 * A link of a trail as verification reads it (ADR 0042): its position (`seq` counts from 1, oldest first), its event's
 * id, its two hashes, and its event's canonical form made from what is stored. The form is made when asked, just before
 * the link's hash: a text made per link and kept for its batch outlives the young generation, and the garbage
 * collector then costs more than the text (measured: issue 15). It is undefined for a stored event no append could
 * have written (a time that is not a whole millisecond of a `Date`, an `act` too deep to write, a row that does not
 * read back as one): such a link is broken whatever its hashes say.
 */
export interface Link {
  readonly seq: number
  readonly id: string
  readonly prevHash: string
  readonly hash: string
  readonly canonical: () => string | undefined
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

/** A store's read of the trail by key: at most `limit` links with `seq` above `after`, in `seq` order. */
export type Read<E, R> = (after: number, limit: number) => Effect.Effect<ReadonlyArray<Link>, E, R>

/** A walk's outcome: intact with its last link (none when nothing was read), or the first link that breaks. */
export type Walked =
  | { readonly ok: true; readonly events: number; readonly last: Link | undefined }
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
  agrees?: (links: ReadonlyArray<Link>) => Effect.Effect<(l: Link) => boolean, E2, R2>
) =>
  Effect.gen(function*() {
    // ADR 0042: the port's synchronous hash, one call per link in the loop below (no Effect or promise per link; each
    // link's text is made just before its hash and dies young)
    const { sha256Text } = yield* Crypto
    let prev = from.hash
    let after = from.seq
    let count = from.events
    let last: Link | undefined = undefined
    while (true) {
      const links = yield* read(after, batch)
      const agreeing = agrees === undefined || links.length === 0 ? undefined : yield* agrees(links)
      for (let i = 0; i < links.length; i++) {
        const l = links[i]!
        // ADR 0007: each link points at its predecessor and hashes to what it stores
        if (l.prevHash !== prev || (agreeing !== undefined && !agreeing(l))) return { ok: false, firstBroken: l.id } satisfies Walked
        const canonicalForm = l.canonical()
        if (canonicalForm === undefined || sha256Text(linked(prev, canonicalForm)) !== l.hash) {
          return { ok: false, firstBroken: l.id } satisfies Walked
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
