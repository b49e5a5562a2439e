/**
 * The in-memory database behind every `layerMemory`: one state holding every table, changed only under one
 * lock, so that a change and its audit event land together or not at all, as a Postgres transaction makes them.
 */
import { Chunk, Context, Effect, Equal, HashMap, Layer, Option, Ref, Utils } from "effect"
import * as AuditChain from "./AuditChain.js"
import type { AuditEvent, Stored } from "./AuditEvent.js"
import type { Checkpoint } from "./AuditCheckpoints.js"
import type { AuthorizationCode } from "./AuthorizationCode.js"
import type { Client } from "./Client.js"
import type { Consent } from "./Consent.js"
import type { Row as DelegationRow } from "./Delegations.js"
import type { DeviceAuthorization } from "./DeviceAuthorization.js"
import type { GrantRecord } from "./GrantRecord.js"
import type { IdentityLink } from "./IdentityLink.js"
import type { Interaction } from "./Interactions.js"
import type { Invitation } from "./Invitation.js"
import type { RefreshFamily } from "./RefreshFamily.js"
import type { Session } from "./Session.js"
import { AlreadyExists } from "./Conflict.js"
import type { Realm } from "./Realm.js"
import * as RealmPin from "./RealmPin.js"
import type { Resource } from "./Resource.js"
import type { Ring } from "./SigningKey.js"
import type { TrustedIssuer } from "./TrustedIssuer.js"
import type { User } from "./User.js"

/** An audit event with its place in the realm's hash chain. */
/** An event of a trail with its link (ADR 0007): its predecessor's hash and its own. */
export interface StoredLink extends Stored {
  readonly prevHash: string
  readonly hash: string
}

export interface State {
  readonly realms: HashMap.HashMap<string, Realm>
  readonly realmIdsByName: HashMap.HashMap<string, string>
  readonly clients: HashMap.HashMap<string, Client>
  readonly users: HashMap.HashMap<string, User>
  readonly usernames: HashMap.HashMap<string, string>
  readonly resources: HashMap.HashMap<string, Resource>
  readonly trustedIssuers: HashMap.HashMap<string, TrustedIssuer>
  readonly keyRings: HashMap.HashMap<string, Ring>
  readonly audit: HashMap.HashMap<string, Chunk.Chunk<StoredLink>>
  /** ADR 0042: each trail's signed checkpoints, by trail id, in position order (AuditCheckpoints). */
  readonly auditCheckpoints: HashMap.HashMap<string, Chunk.Chunk<Checkpoint>>
  readonly codes: HashMap.HashMap<string, AuthorizationCode>
  readonly grants: HashMap.HashMap<string, GrantRecord>
  readonly sessions: HashMap.HashMap<string, Session>
  readonly sessionCookies: HashMap.HashMap<string, string>
  readonly consents: HashMap.HashMap<string, Consent>
  readonly refreshFamilies: HashMap.HashMap<string, RefreshFamily>
  readonly refreshTokens: HashMap.HashMap<string, { readonly familyId: string; readonly generation: number }>
  readonly interactions: HashMap.HashMap<string, Interaction>
  /** Failures per throttle key and when the last was counted, epoch ms (LoginThrottle, UserCodeThrottle). */
  readonly loginFailures: HashMap.HashMap<string, { readonly failures: number; readonly last: number }>
  /** RFC 8628 device authorizations by device-code hash, and the device-code hash of each user code. */
  readonly deviceAuthorizations: HashMap.HashMap<string, DeviceAuthorization>
  readonly deviceUserCodes: HashMap.HashMap<string, string>
  /** What each agent's token exchanges for each person left, and its revocation (Delegations, ADR 0034). */
  readonly delegations: HashMap.HashMap<string, DelegationRow>
  /** CONTRACT §3 invitations by `key(realmId, id)` (Invitations, ADR 0037). */
  readonly invitations: HashMap.HashMap<string, Invitation>
  /** ADR 0047: the person at a trusted issuer each user is, by `key(realmId, issuer + U+0000 + subject)` (IdentityLinks). */
  readonly identityLinks: HashMap.HashMap<string, IdentityLink>
}

export const empty: State = {
  realms: HashMap.empty(),
  realmIdsByName: HashMap.empty(),
  clients: HashMap.empty(),
  users: HashMap.empty(),
  usernames: HashMap.empty(),
  resources: HashMap.empty(),
  trustedIssuers: HashMap.empty(),
  keyRings: HashMap.empty(),
  audit: HashMap.empty(),
  auditCheckpoints: HashMap.empty(),
  codes: HashMap.empty(),
  grants: HashMap.empty(),
  sessions: HashMap.empty(),
  sessionCookies: HashMap.empty(),
  consents: HashMap.empty(),
  refreshFamilies: HashMap.empty(),
  refreshTokens: HashMap.empty(),
  interactions: HashMap.empty(),
  loginFailures: HashMap.empty(),
  deviceAuthorizations: HashMap.empty(),
  deviceUserCodes: HashMap.empty(),
  delegations: HashMap.empty(),
  invitations: HashMap.empty(),
  identityLinks: HashMap.empty()
}

export interface Db {
  readonly state: Ref.Ref<State>
  /** One writer at a time: a write reads, decides and replaces the state without interleaving. */
  readonly lock: Effect.Semaphore
}

export class MemoryDb extends Context.Tag("@tessera/domain/MemoryDb")<MemoryDb, Db>() {}

export const layer = Layer.effect(MemoryDb, Effect.gen(function*() {
  return { state: yield* Ref.make(empty), lock: yield* Effect.makeSemaphore(1) }
}))

/** Realm-scoped key: every memory table is keyed by realm first, as every Postgres key leads with realm_id. */
export const key = (realmId: string, id: string) => `${realmId}\u0000${id}`

/**
 * Whether the row `id` of `table` is realm `realmId`'s: keyed by the realm id itself (realms, key rings, the realm's
 * audit trail) or by `key(realmId, ...)`, or the name index entry pointing at it (as `dropRealm` reads them).
 */
const isOfRealm = (table: string, id: string, value: unknown, realmId: string) =>
  id === realmId || id.startsWith(`${realmId}\u0000`) || (table === "realmIdsByName" && value === realmId)

type Tables = Record<string, HashMap.HashMap<string, unknown>>

/** The state restricted to realm `realmId`'s rows (`keep`), or to every other realm's (`!keep`). */
const restricted = (state: State, realmId: string, keep: boolean): State => {
  const next: Tables = {}
  for (const [table, rows] of Object.entries(state as unknown as Tables)) {
    next[table] = HashMap.filter(rows, (value, id) => isOfRealm(table, id, value, realmId) === keep)
  }
  return next as unknown as State
}

/** Whether every row of `state` is realm `realmId`'s. */
const onlyOf = (state: State, realmId: string) =>
  Object.entries(state as unknown as Tables).every(([table, rows]) =>
    HashMap.every(rows, (value, id) => isOfRealm(table, id, value, realmId)))

/** `kept` (no row of the pinned realm) with the pinned realm's rows as a write left them (`mine`). */
const merged = (kept: State, mine: State): State => {
  const next: Tables = {}
  const theirs = kept as unknown as Tables
  for (const [table, rows] of Object.entries(mine as unknown as Tables)) next[table] = HashMap.union(theirs[table]!, rows)
  return next as unknown as State
}

/** Issue 14: the same answer from the pinned realm's rows alone as from the whole state (structurally). */
const sameAnswer = (a: unknown, b: unknown) => Utils.structuralRegion(() => Equal.equals(a, b))

const violated = (pinned: string) => new RealmPin.RealmPinViolated({ pinned, requested: undefined })

/**
 * Reads the state. Issue 14: in a fiber pinned to a realm (`RealmPin`), `f` sees that realm's rows only, and a read
 * whose answer would have differed on the whole state reached for another realm: it dies (`RealmPinViolated`), as
 * `withRealm` refuses such a transaction on Postgres. The realm directory is the pinned realm alone either way, as
 * `withDirectory` makes it on Postgres: another realm's name finds nothing, as a realm that does not exist.
 */
export const read = <A>(db: Db, f: (state: State) => A) =>
  Effect.flatMap(Effect.zip(Ref.get(db.state), RealmPin.get), ([state, pin]) => {
    if (Option.isNone(pin)) return Effect.succeed(f(state))
    const view = restricted(state, pin.value, true)
    const seen = f(view)
    const whole = { ...state, realms: view.realms, realmIdsByName: view.realmIdsByName }
    return sameAnswer(seen, f(whole)) ? Effect.succeed(seen) : Effect.die(violated(pin.value))
  })

/**
 * A write: `f` sees the state and either refuses (nothing changes) or gives the new state. Interruption
 * between the decision and the write cannot happen: the state is replaced in one step at the end. Issue 14: in a
 * pinned fiber `f` sees the pinned realm's rows only, and a new state holding a row of any other realm (or of the
 * owner trail) is refused, a defect, with nothing written.
 */
export const write = <A, E>(db: Db, f: (state: State) => Effect.Effect<readonly [A, State], E>) =>
  db.lock.withPermits(1)(
    Effect.flatMap(Effect.zip(Ref.get(db.state), RealmPin.get), ([state, pin]) => {
      if (Option.isNone(pin)) {
        return f(state).pipe(Effect.tap(([, next]) => Ref.set(db.state, next)), Effect.map(([a]) => a))
      }
      const realmId = pin.value
      return f(restricted(state, realmId, true)).pipe(
        Effect.flatMap(([a, next]) =>
          onlyOf(next, realmId)
            ? Effect.as(Ref.set(db.state, merged(restricted(state, realmId, false), next)), a)
            : Effect.die(violated(realmId))
        )
      )
    })
  )

/** The realm's trail so far. */
export const trailOf = (state: State, realmId: string) =>
  Option.getOrElse(HashMap.get(state.audit, realmId), () => Chunk.empty<StoredLink>())

/** A write that also appends `event` when there is one. */
export const withEvent = (state: State, event: AuditEvent | undefined) =>
  event === undefined ? Effect.succeed(state) : appendEvent(state, event)

/** Appends an event to its realm's hash chain (inside a `write`). */
export const appendEvent = (state: State, event: AuditEvent) =>
  Effect.gen(function*() {
    const trail = trailOf(state, event.realmId)
    const prevHash = Option.match(Chunk.last(trail), { onNone: () => AuditChain.genesis, onSome: (l) => l.hash })
    const hash = yield* AuditChain.link(prevHash, event)
    const stored: StoredLink = { seq: Chunk.size(trail) + 1, event, prevHash, hash }
    return { ...state, audit: HashMap.set(state.audit, event.realmId, Chunk.append(trail, stored)) }
  })

type Table = "clients" | "resources" | "trustedIssuers" | "users"
type Row<K extends Table> = (State[K] extends HashMap.HashMap<string, infer A> ? A : never) & { readonly realmId: string }

/**
 * insert/find/list over one realm-scoped table: an insert fails with `AlreadyExists` when the id (or an
 * extra unique index) is taken, and otherwise lands together with its event.
 */
export const realmTable = <K extends Table>(
  db: Db,
  table: K,
  entity: AlreadyExists["entity"],
  idOf: (row: Row<K>) => string,
  unique: (state: State, row: Row<K>) => boolean = () => true,
  alsoIndex: (state: State, row: Row<K>) => State = (state) => state
) => {
  const rowsOf = (state: State) => state[table] as unknown as HashMap.HashMap<string, Row<K>>
  return {
    insert: (row: Row<K>, event: AuditEvent) =>
      write(db, (state) => {
        const id = key(row.realmId, idOf(row))
        const rows = rowsOf(state)
        if (HashMap.has(rows, id) || !unique(state, row)) return Effect.fail(new AlreadyExists({ entity }))
        const inserted = alsoIndex({ ...state, [table]: HashMap.set(rows, id, row) }, row)
        return Effect.map(appendEvent(inserted, event), (next) => [undefined, next] as const)
      }),
    find: (realmId: string, id: string) => read(db, (state) => HashMap.get(rowsOf(state), key(realmId, id))),
    list: (realmId: string) =>
      read(db, (state) => Array.from(HashMap.values(rowsOf(state))).filter((row) => row.realmId === realmId))
  }
}

/**
 * Every row of realm `realmId`, in every table, dropped (inside a `write`): a table's rows are keyed by the realm id
 * itself (realms, key rings, the realm's audit trail) or by `key(realmId, ...)`, and the name index points at it. Works
 * over the state's fields as they are, so a table added later goes too. Answers how many rows each table lost (an audit
 * trail counts its events), the tables that lost none left out.
 */
export const dropRealm = (state: State, realmId: string): readonly [Readonly<Record<string, number>>, State] => {
  const prefix = `${realmId}\u0000`
  const counts: Record<string, number> = {}
  const next: Record<string, HashMap.HashMap<string, unknown>> = {}
  for (const [table, rows] of Object.entries(state) as Array<[string, HashMap.HashMap<string, unknown>]>) {
    let dropped = 0
    const kept = HashMap.filter(rows, (value, id) => {
      const ofRealm = id === realmId || id.startsWith(prefix) || (table === "realmIdsByName" && value === realmId)
      if (ofRealm) dropped += Chunk.isChunk(value) ? Chunk.size(value) : 1
      return !ofRealm
    })
    next[table] = kept
    if (dropped > 0) counts[table] = dropped
  }
  return [counts, next as unknown as State]
}
