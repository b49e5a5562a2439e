/**
 * The store of grants (`GrantRecord`): what a person authorized a client to do, and what every code, access token and
 * refresh family of that authorization stems from. Revoking one reaches all of them (RFC 7009 §2.1).
 */
import { Context, DateTime, Effect, HashMap, Layer, Option } from "effect"
import { AccessTokens } from "./AccessTokens.js"
import type { Link } from "./AccessTokens.js"
import type { AuditEvent } from "./AuditEvent.js"
import { NotFound } from "./Conflict.js"
import { consentKey } from "./Consents.js"
import type { GrantRecord } from "./GrantRecord.js"
import * as MemoryDb from "./MemoryDb.js"
import * as Page from "./Page.js"
import { RefreshFamily } from "./RefreshFamily.js"
import * as RefreshTokens from "./RefreshTokens.js"
import * as Session from "./Session.js"
import type { StoreError } from "./StoreError.js"

/** Which grants a bulk revocation reaches: every grant of the realm that has these (CONTRACT §3). */
export interface GrantMatch {
  readonly sub?: string
  readonly clientId?: string
}

/**
 * A grant's first token set as it is written (code and device grants): the access token's link to the grant, the
 * refresh family and the hash of its first token when the set has a refresh token, and the client to remember in the
 * session the grant was made in (front-channel logout tells it).
 */
export interface FirstTokens {
  readonly realmId: string
  readonly access: Link
  readonly refresh: { readonly family: Extract<RefreshFamily, { _tag: "Active" }>; readonly tokenHash: string } | undefined
  readonly session: { readonly sid: string; readonly clientId: string } | undefined
}

export class Grants extends Context.Tag("@tessera/domain/Grants")<Grants, {
  readonly insert: (grant: GrantRecord, event: AuditEvent | undefined) => Effect.Effect<void, StoreError>
  /**
   * Writes a grant's first token set with its `token.issued` event, all at once (issue 17: one transaction, one round
   * trip on PostgreSQL): the event is committed with what it records before the tokens are answered.
   */
  readonly firstTokens: (first: FirstTokens, event: AuditEvent) => Effect.Effect<void, StoreError>
  readonly find: (realmId: string, grantId: string) => Effect.Effect<Option.Option<GrantRecord>, StoreError>
  /** Revokes the grant and every refresh family it produced, with the event that says why. */
  readonly revoke: (realmId: string, grantId: string, at: DateTime.Utc, event: AuditEvent | undefined) => Effect.Effect<void, StoreError>
  /** Revokes every live grant that matches and their refresh families, with one event; answers how many. */
  readonly revokeWhere: (realmId: string, match: GrantMatch, at: DateTime.Utc, event: AuditEvent | undefined) => Effect.Effect<number, StoreError>
  /** CONTRACT §3: the person's live (unrevoked) grants in the order of `sortKey`, a window of them. */
  readonly listLive: (realmId: string, sub: string, window: Page.Window) => Effect.Effect<ReadonlyArray<GrantRecord>, StoreError>
  /**
   * CONTRACT §3 (ADR 0031): revokes a live grant of `sub` and its refresh families, and withdraws the person's consent
   * to that client so that the next authorization asks again, with the event; `NotFound` when `sub` has no such live
   * grant. Answers the grant as it was.
   */
  readonly withdraw: (realmId: string, sub: string, grantId: string, at: DateTime.Utc, event: AuditEvent) => Effect.Effect<GrantRecord, NotFound | StoreError>
}>() {}

/** The admin API's order of a person's grants: oldest first (`Page.parseSortKey` reads it back). */
export const sortKey = (grant: GrantRecord) => `${DateTime.formatIso(grant.createdAt)} ${grant.grantId}`

const k = MemoryDb.key

const matches = (grant: GrantRecord, realmId: string, match: GrantMatch) =>
  grant.realmId === realmId && (match.sub === undefined || grant.sub === match.sub) &&
  (match.clientId === undefined || grant.clientId === match.clientId)

/**
 * Inside a `MemoryDb.write`: the grant revoked at `at` and its active refresh families revoked for `reason` (their
 * access tokens go inactive through `AccessTokens`' grant links).
 */
export const revokeIn = (state: MemoryDb.State, realmId: string, grant: GrantRecord, at: DateTime.Utc, reason: string): MemoryDb.State => ({
  ...state,
  grants: HashMap.set(state.grants, k(realmId, grant.grantId), { ...grant, revokedAt: at }),
  refreshFamilies: HashMap.map(state.refreshFamilies, (family) =>
    family.realmId === realmId && family.grantId === grant.grantId && family._tag === "Active"
      ? RefreshFamily.Revoked({ familyId: family.familyId, realmId, clientId: family.clientId, grantId: grant.grantId, reason })
      : family)
})

/**
 * Inside a `MemoryDb.write`: revokes every live grant that matches and the refresh families it produced. For a port
 * that cuts a person or client off in the same write as its own change.
 */
export const revokeGrantsIn = (state: MemoryDb.State, realmId: string, match: GrantMatch, at: DateTime.Utc) =>
  revokeGrantsThatIn(state, realmId, (grant) => matches(grant, realmId, match), at)

/** Revokes every live grant of the realm that `which` picks, and their refresh families; answers how many. */
const revokeGrantsThatIn = (state: MemoryDb.State, realmId: string, which: (grant: GrantRecord) => boolean, at: DateTime.Utc) => {
  let next = state
  let revoked = 0
  for (const grant of HashMap.values(state.grants)) {
    if (grant.realmId !== realmId || grant.revokedAt !== undefined || !which(grant)) continue
    revoked++
    next = revokeIn(next, realmId, grant, at, "grant revoked")
  }
  return [next, revoked] as const
}

/**
 * Inside a `MemoryDb.write`: revokes every live grant of the realm that names the resource `uri` and their refresh
 * families (a deleted resource, ADR 0033); answers the new state and how many.
 */
export const revokeGrantsNamingIn = (state: MemoryDb.State, realmId: string, uri: string, at: DateTime.Utc) =>
  revokeGrantsThatIn(state, realmId, (grant) => grant.resources.includes(uri), at)

const done = <S>(state: S) => [undefined, state] as const

/** Inside a `MemoryDb.write`: `Session.withClient` applied to the session `sid`, if there is one. */
const withSessionClient = (state: MemoryDb.State, realmId: string, sid: string, clientId: string): MemoryDb.State =>
  Option.match(HashMap.get(state.sessions, k(realmId, sid)), {
    onNone: () => state,
    onSome: (session) => ({ ...state, sessions: HashMap.set(state.sessions, k(realmId, sid), Session.withClient(session, clientId)) })
  })

/** In memory; needs `AccessTokens`' memory layer for the links `firstTokens` writes. */
export const layerMemory = Layer.effect(Grants, Effect.gen(function*() {
  const db = yield* MemoryDb.MemoryDb
  const tokens = yield* AccessTokens
  return Grants.of({
    insert: (grant, event) =>
      MemoryDb.write(db, (state) =>
        Effect.map(MemoryDb.withEvent({ ...state, grants: HashMap.set(state.grants, k(grant.realmId, grant.grantId), grant) }, event), done)),
    firstTokens: (first, event) =>
      MemoryDb.write(db, (state) => {
        const withRefresh = first.refresh === undefined ? state : RefreshTokens.createIn(state, first.refresh.family, first.refresh.tokenHash)
        const next = first.session === undefined
          ? withRefresh
          : withSessionClient(withRefresh, first.realmId, first.session.sid, first.session.clientId)
        return Effect.map(MemoryDb.appendEvent(next, event), done)
      }).pipe(Effect.zipLeft(RefreshTokens.linked(tokens, first.realmId, first.access))),
    find: (realmId, grantId) => MemoryDb.read(db, (state) => HashMap.get(state.grants, k(realmId, grantId))),
    revoke: (realmId, grantId, at, event) =>
      MemoryDb.write(db, (state) => {
        const grant = HashMap.get(state.grants, k(realmId, grantId))
        if (Option.isNone(grant) || grant.value.revokedAt !== undefined) return Effect.succeed(done(state))
        return Effect.map(MemoryDb.withEvent(revokeIn(state, realmId, grant.value, at, "grant revoked"), event), done)
      }),
    revokeWhere: (realmId, match, at, event) =>
      MemoryDb.write(db, (state) => {
        const [next, revoked] = revokeGrantsIn(state, realmId, match, at)
        return Effect.map(MemoryDb.withEvent(next, event), (withEvent) => [revoked, withEvent] as const)
      }),
    listLive: (realmId, sub, window) =>
      MemoryDb.read(db, (state) =>
        Page.slice(
          Array.from(HashMap.values(state.grants)).filter((g) => g.realmId === realmId && g.sub === sub && g.revokedAt === undefined),
          window,
          sortKey
        )),
    withdraw: (realmId, sub, grantId, at, event) =>
      MemoryDb.write(db, (state) => {
        const grant = Option.filter(HashMap.get(state.grants, k(realmId, grantId)), (g) => g.sub === sub && g.revokedAt === undefined)
        if (Option.isNone(grant)) return Effect.fail(new NotFound({ entity: "grant" }))
        const revoked = revokeIn(state, realmId, grant.value, at, "grant revoked")
        const next = { ...revoked, consents: HashMap.remove(revoked.consents, consentKey(realmId, sub, grant.value.clientId)) }
        return Effect.map(MemoryDb.appendEvent(next, event), (written) => [grant.value, written] as const)
      })
  })
}))
