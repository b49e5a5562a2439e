/** The tamper-evident audit trail: each realm's events form a SHA-256 hash chain over their canonical JSON. */
import { DateTime, Effect } from "effect"
import type { AuditEvent } from "./AuditEvent.js"
import * as Hash from "./Hash.js"

/** The predecessor hash of a realm's first event. */
export const genesis = "0".repeat(43)

/** JSON with object keys sorted and undefined members dropped, so equal events have equal bytes (cf. RFC 8785). */
export const canonicalJson = (value: unknown): string => {
  if (value === null || typeof value !== "object") return JSON.stringify(value)
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`
  const members = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`)
  return `{${members.join(",")}}`
}

/** The canonical form of an event: every field, the time as RFC 3339 with milliseconds. */
export const canonical = (event: AuditEvent) => canonicalJson({ ...event, at: DateTime.formatIso(event.at) })

/** The hash of an event linked to its predecessor's hash. */
export const link = (prevHash: string, event: AuditEvent) => Hash.sha256(`${prevHash}\n${canonical(event)}`)

/** A stored link of the chain, as a store reads it back. */
export interface Link {
  readonly event: AuditEvent
  readonly prevHash: string
  readonly hash: string
}

export type Verdict =
  | { readonly ok: true; readonly events: number }
  | { readonly ok: false; readonly firstBroken: string }

/** Walks a realm's links oldest first: each must point at its predecessor and hash to what it stores. */
export const verify = (links: Iterable<Link>) =>
  Effect.gen(function*() {
    let prev = genesis
    let count = 0
    for (const l of links) {
      if (l.prevHash !== prev || (yield* link(prev, l.event)) !== l.hash) {
        return { ok: false, firstBroken: l.event.id } satisfies Verdict
      }
      prev = l.hash
      count++
    }
    return { ok: true, events: count } satisfies Verdict
  })
