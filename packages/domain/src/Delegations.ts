/**
 * Who let which agent act for them (CONTRACT §3 "agents", DESIGN "Agents", ADR 0034): an agent client's delegations,
 * from the person's grants to it (code or device grant) and from its RFC 8693 token exchanges, which this port
 * records; and revoking one, which cuts the agent off from that person in one write with its `delegation.revoked`
 * event.
 */
import { Context, DateTime, Effect, HashMap, Layer, Option, Schema } from "effect"
import type { AuditEvent } from "./AuditEvent.js"
import { NotFound } from "./Conflict.js"
import { SubjectRejected } from "./Delegation.js"
import * as MemoryDb from "./MemoryDb.js"
import * as Page from "./Page.js"
import { revokeGrantsIn } from "./Grants.js"
import type { StoreError } from "./StoreError.js"

/** What the exchanges of one agent for one person left (one row per realm, agent and person). */
export interface Row {
  readonly realmId: string
  /** The agent client. */
  readonly clientId: string
  /** The person it acts for. */
  readonly sub: string
  /** The audiences and scopes of its exchanged tokens since the delegation (re)started. */
  readonly resources: ReadonlyArray<string>
  readonly scopes: ReadonlyArray<string>
  readonly firstAt: DateTime.Utc
  readonly lastAt: DateTime.Utc
  /** Set while the delegation is revoked; a later exchange of a newer subject token starts it again. */
  readonly revokedAt?: DateTime.Utc
  /**
   * The last revocation, kept when the delegation starts again: every token of this agent for this person issued at
   * or before it (RFC 9068 `iat`, whole seconds) is inactive, and no subject token issued by then is exchanged.
   */
  readonly notBefore?: DateTime.Utc
}

/** One person's delegation to an agent, as the admin API lists it. */
export const Entry = Schema.Struct({
  sub: Schema.String,
  resources: Schema.Array(Schema.String),
  scopes: Schema.Array(Schema.String),
  firstAt: Schema.DateTimeUtcFromSelf,
  lastAt: Schema.DateTimeUtcFromSelf
})
export interface Entry extends Schema.Schema.Type<typeof Entry> {}

/** An agent client of the realm and the people who let it act for them. */
export interface Agent {
  readonly clientId: string
  readonly clientName?: string
  readonly delegations: ReadonlyArray<Entry>
}

/** One exchange by an agent for a person (RFC 8693 §2.1), to record with its `token.exchanged` event. */
export interface Use {
  readonly realmId: string
  readonly clientId: string
  readonly sub: string
  /** The new token's audience (RFC 8707). */
  readonly resource: string
  readonly scopes: ReadonlyArray<string>
  readonly at: DateTime.Utc
  /** The subject token's `iat` (epoch seconds); none when it has none (then any revocation refuses it). */
  readonly subjectIssuedAt: number | undefined
}

export class Delegations extends Context.Tag("@tessera/domain/Delegations")<Delegations, {
  /**
   * Records an exchange in the agent's delegation from the person (resources and scopes added, `lastAt` moved), with
   * its event, in one write. Refused (`SubjectRejected` "revoked") when the subject token was issued at or before the
   * delegation's last revocation: the person's later consent, not an older token, starts it again (ADR 0034).
   */
  readonly exchanged: (use: Use, event: AuditEvent) => Effect.Effect<void, SubjectRejected | StoreError>
  /**
   * The realm's agent clients ordered by `client_id` (the page's sort key), at most `window.limit + 1`, each with its
   * live delegations ordered by `sub`: its live grants and its live exchange rows, merged per person.
   */
  readonly list: (realmId: string, window: Page.Window) => Effect.Effect<ReadonlyArray<Agent>, StoreError>
  /**
   * Revokes the agent's delegation from the person in one write with `event`: every live grant of that person to the
   * agent (and their refresh families), and every token the agent holds for that person issued until `at`.
   * `NotFound` when the client is no agent of the realm, or the person has no live delegation to it.
   */
  readonly revoke: (realmId: string, clientId: string, sub: string, at: DateTime.Utc, event: AuditEvent) => Effect.Effect<void, NotFound | StoreError>
}>() {}

/** Whether a subject token issued at `issuedAt` (epoch seconds) predates the row's last revocation (whole seconds). */
export const revokedFor = (row: Pick<Row, "notBefore"> | undefined, issuedAt: number | undefined) =>
  row?.notBefore !== undefined && (issuedAt === undefined || issuedAt * 1000 <= DateTime.toEpochMillis(row.notBefore))

const union = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) => Array.from(new Set([...a, ...b])).sort()

const earlier = (a: DateTime.Utc, b: DateTime.Utc) => (DateTime.lessThan(a, b) ? a : b)
const later = (a: DateTime.Utc, b: DateTime.Utc) => (DateTime.greaterThan(a, b) ? a : b)

/** The entry of one person: what their live grants and live exchange row say together. */
export const merge = (entries: ReadonlyArray<Entry>): ReadonlyArray<Entry> => {
  const bySub = new Map<string, Entry>()
  for (const entry of entries) {
    const before = bySub.get(entry.sub)
    bySub.set(entry.sub, before === undefined ? { ...entry, resources: union(entry.resources, []), scopes: union(entry.scopes, []) } : {
      sub: entry.sub,
      resources: union(before.resources, entry.resources),
      scopes: union(before.scopes, entry.scopes),
      firstAt: earlier(before.firstAt, entry.firstAt),
      lastAt: later(before.lastAt, entry.lastAt)
    })
  }
  return Array.from(bySub.values()).sort((a, b) => (a.sub < b.sub ? -1 : a.sub > b.sub ? 1 : 0))
}

const rowKey = (realmId: string, clientId: string, sub: string) => MemoryDb.key(realmId, `${clientId}\u0000${sub}`)

/** The row for an exchange: a new delegation when there was none or it was revoked, else the old one widened. */
export const afterUse = (before: Row | undefined, use: Use): Row => {
  if (before === undefined || before.revokedAt !== undefined) {
    return {
      realmId: use.realmId, clientId: use.clientId, sub: use.sub, resources: [use.resource], scopes: union(use.scopes, []),
      firstAt: use.at, lastAt: use.at, ...(before?.notBefore !== undefined ? { notBefore: before.notBefore } : {})
    }
  }
  return {
    ...before,
    resources: union(before.resources, [use.resource]),
    scopes: union(before.scopes, use.scopes),
    lastAt: later(before.lastAt, use.at)
  }
}

/** Inside a `MemoryDb.write`: the live delegations of the agents `clientIds`, per agent. */
const liveOf = (state: MemoryDb.State, realmId: string, clientId: string): ReadonlyArray<Entry> => {
  const entries: Array<Entry> = []
  const person = (sub: string) => HashMap.has(state.users, MemoryDb.key(realmId, sub))
  for (const grant of HashMap.values(state.grants)) {
    if (grant.realmId !== realmId || grant.clientId !== clientId || grant.revokedAt !== undefined || !person(grant.sub)) continue
    let lastAt = grant.createdAt
    for (const family of HashMap.values(state.refreshFamilies)) {
      if (family.realmId === realmId && family.grantId === grant.grantId && family._tag === "Active") lastAt = later(lastAt, family.lastUsedAt)
    }
    entries.push({ sub: grant.sub, resources: grant.resources, scopes: grant.scopes, firstAt: grant.createdAt, lastAt })
  }
  for (const row of HashMap.values(state.delegations)) {
    if (row.realmId !== realmId || row.clientId !== clientId || row.revokedAt !== undefined || !person(row.sub)) continue
    entries.push({ sub: row.sub, resources: row.resources, scopes: row.scopes, firstAt: row.firstAt, lastAt: row.lastAt })
  }
  return merge(entries)
}

/** In memory: each write changes the rows and appends its event under MemoryDb's one lock. */
export const layerMemory = Layer.effect(Delegations, Effect.map(MemoryDb.MemoryDb, (db) => Delegations.of({
  exchanged: (use, event) =>
    MemoryDb.write(db, (state) => {
      const key = rowKey(use.realmId, use.clientId, use.sub)
      const before = Option.getOrUndefined(HashMap.get(state.delegations, key))
      if (revokedFor(before, use.subjectIssuedAt)) return Effect.fail(new SubjectRejected({ reason: "revoked" }))
      return Effect.map(
        MemoryDb.appendEvent({ ...state, delegations: HashMap.set(state.delegations, key, afterUse(before, use)) }, event),
        (next) => [undefined, next] as const
      )
    }),
  list: (realmId, window) =>
    MemoryDb.read(db, (state) => {
      const agents = Array.from(HashMap.values(state.clients))
        .filter((client) => client.realmId === realmId && client.metadata.principalType === "agent")
      return Page.slice(agents, window, (client) => client.clientId).map((client): Agent => ({
        clientId: client.clientId,
        ...(client.metadata.clientName !== undefined ? { clientName: client.metadata.clientName } : {}),
        delegations: liveOf(state, realmId, client.clientId)
      }))
    }),
  revoke: (realmId, clientId, sub, at, event) =>
    MemoryDb.write(db, (state) => {
      const client = HashMap.get(state.clients, MemoryDb.key(realmId, clientId))
      if (Option.isNone(client) || client.value.metadata.principalType !== "agent") return Effect.fail(new NotFound({ entity: "delegation" }))
      if (!liveOf(state, realmId, clientId).some((entry) => entry.sub === sub)) return Effect.fail(new NotFound({ entity: "delegation" }))
      const [revoked] = revokeGrantsIn(state, realmId, { sub, clientId }, at)
      const key = rowKey(realmId, clientId, sub)
      const before = Option.getOrUndefined(HashMap.get(state.delegations, key))
      const row: Row = before !== undefined
        ? { ...before, revokedAt: at, notBefore: at }
        : { realmId, clientId, sub, resources: [], scopes: [], firstAt: at, lastAt: at, revokedAt: at, notBefore: at }
      return Effect.map(
        MemoryDb.appendEvent({ ...revoked, delegations: HashMap.set(revoked.delegations, key, row) }, event),
        (next) => [undefined, next] as const
      )
    })
})))

/** The memory row's key, for `AccessTokens`' memory layer (the same table, read in its `active`). */
export const memoryKey = rowKey
