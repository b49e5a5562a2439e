/**
 * The stores of the sign-in flows (issue 4): authorization codes, grants, sessions, consents and refresh-token
 * families. Each is a port with an in-memory layer; state changes that must happen once are compare-and-set.
 */
import { Context, Data, DateTime, Effect, HashMap, Layer, Option } from "effect"
import { AuthorizationCode } from "./AuthorizationCode.js"
import type { AuditEvent } from "./AuditEvent.js"
import { NotFound } from "./Conflict.js"
import type { Consent } from "./Consent.js"
import type { Grant } from "./Grant.js"
import * as MemoryDb from "./MemoryDb.js"
import * as Page from "./Page.js"
import { RefreshFamily } from "./RefreshFamily.js"
import * as Session from "./Session.js"
import type { StoreError } from "./StoreError.js"

/** A compare-and-set lost: the family moved on (another request rotated it first). */
export class RefreshChanged extends Data.TaggedError("RefreshChanged")<{}> {}

export class Codes extends Context.Tag("@tessera/domain/Codes")<Codes, {
  readonly insert: (hash: string, code: AuthorizationCode) => Effect.Effect<void, StoreError>
  /** Atomically marks the code Redeemed and returns what was stored before (two racing calls: one sees Issued). */
  readonly consume: (realmId: string, hash: string) => Effect.Effect<Option.Option<AuthorizationCode>, StoreError>
}>() {}

/** Which grants a bulk revocation reaches: every grant of the realm that has these (CONTRACT §3). */
export interface GrantMatch {
  readonly sub?: string
  readonly clientId?: string
}

const matches = (grant: Grant, realmId: string, match: GrantMatch) =>
  grant.realmId === realmId && (match.sub === undefined || grant.sub === match.sub) &&
  (match.clientId === undefined || grant.clientId === match.clientId)

export class Grants extends Context.Tag("@tessera/domain/Grants")<Grants, {
  readonly insert: (grant: Grant, event: AuditEvent | undefined) => Effect.Effect<void, StoreError>
  readonly find: (realmId: string, grantId: string) => Effect.Effect<Option.Option<Grant>, StoreError>
  /** Revokes the grant and every refresh family it produced, with the event that says why. */
  readonly revoke: (realmId: string, grantId: string, at: DateTime.Utc, event: AuditEvent | undefined) => Effect.Effect<void, StoreError>
  /** Revokes every live grant that matches and their refresh families, with one event; answers how many. */
  readonly revokeWhere: (realmId: string, match: GrantMatch, at: DateTime.Utc, event: AuditEvent | undefined) => Effect.Effect<number, StoreError>
  /** CONTRACT §3: the person's live (unrevoked) grants in the order of `grantSortKey`, a window of them. */
  readonly listLive: (realmId: string, sub: string, window: Page.Window) => Effect.Effect<ReadonlyArray<Grant>, StoreError>
  /**
   * CONTRACT §3 (ADR 0031): revokes a live grant of `sub` and its refresh families, and withdraws the person's consent
   * to that client so that the next authorization asks again, with the event; `NotFound` when `sub` has no such live
   * grant. Answers the grant as it was.
   */
  readonly withdraw: (realmId: string, sub: string, grantId: string, at: DateTime.Utc, event: AuditEvent) => Effect.Effect<Grant, NotFound | StoreError>
}>() {}

/** The admin API's order of a person's grants and sessions: oldest first (ISO time, then the id; unique per row). */
export const grantSortKey = (grant: Grant) => `${DateTime.formatIso(grant.createdAt)} ${grant.grantId}`
export const sessionSortKey = (session: Session.Session) => `${DateTime.formatIso(session.createdAt)} ${session.sid}`

/** A sort key read back (from a cursor): its time and id, or none when it is not one. */
export const parseSortKey = (key: string): Option.Option<readonly [DateTime.Utc, string]> => {
  const space = key.indexOf(" ")
  if (space === -1) return Option.none()
  return Option.map(DateTime.make(key.slice(0, space)), (at) => [DateTime.toUtc(at), key.slice(space + 1)] as const)
}

export class Sessions extends Context.Tag("@tessera/domain/Sessions")<Sessions, {
  readonly create: (session: Session.Active, event: AuditEvent) => Effect.Effect<void, StoreError>
  readonly findByCookie: (realmId: string, cookieHash: string) => Effect.Effect<Option.Option<Session.Session>, StoreError>
  readonly find: (realmId: string, sid: string) => Effect.Effect<Option.Option<Session.Session>, StoreError>
  /** `Session.withClient`, applied atomically (no client added twice by racing requests). */
  readonly addClient: (realmId: string, sid: string, clientId: string) => Effect.Effect<void, StoreError>
  /**
   * `Session.end` as compare-and-set: ends the session only while it is Active, writing the event only then, and
   * answers whether this call ended it; an Ended or unknown session changes nothing (no event) and answers false.
   */
  readonly end: (realmId: string, sid: string, at: DateTime.Utc, event: AuditEvent | undefined) => Effect.Effect<boolean, StoreError>
  /** CONTRACT §3: the person's live sessions (`Session.isActive` at `now`) in the order of `sessionSortKey`, a window of them. */
  readonly listLive: (realmId: string, sub: string, now: DateTime.Utc, window: Page.Window) => Effect.Effect<ReadonlyArray<Session.Session>, StoreError>
  /**
   * CONTRACT §3 (ADR 0031): ends a live session of `sub` and revokes the grants made in it (with their refresh
   * families), with the event; `NotFound` when `sub` has no such live session. Answers the session as it was.
   */
  readonly revoke: (realmId: string, sub: string, sid: string, at: DateTime.Utc, event: AuditEvent) => Effect.Effect<Session.Active, NotFound | StoreError>
}>() {}

export class Consents extends Context.Tag("@tessera/domain/Consents")<Consents, {
  readonly find: (realmId: string, sub: string, clientId: string) => Effect.Effect<Option.Option<Consent>, StoreError>
  /** RFC 9700 §4.11.2: whether any person of the realm has consented to the client (one indexed row at most). */
  readonly approved: (realmId: string, clientId: string) => Effect.Effect<boolean, StoreError>
  readonly save: (consent: Consent, event: AuditEvent) => Effect.Effect<void, StoreError>
}>() {}

export interface PresentedRefresh {
  readonly family: RefreshFamily
  readonly generation: number
}

export class RefreshTokens extends Context.Tag("@tessera/domain/RefreshTokens")<RefreshTokens, {
  readonly create: (family: Extract<RefreshFamily, { _tag: "Active" }>, tokenHash: string, event: AuditEvent | undefined) => Effect.Effect<void, StoreError>
  /** The family a token belongs to and the generation it was issued as. */
  readonly find: (realmId: string, tokenHash: string) => Effect.Effect<Option.Option<PresentedRefresh>, StoreError>
  /** Advances the family if it is still at `expectedGeneration`. */
  readonly rotate: (
    next: Extract<RefreshFamily, { _tag: "Active" }>,
    expectedGeneration: number,
    event: AuditEvent | undefined
  ) => Effect.Effect<void, RefreshChanged | StoreError>
  readonly revokeFamily: (realmId: string, familyId: string, reason: string, event: AuditEvent | undefined) => Effect.Effect<void, StoreError>
}>() {}

const k = MemoryDb.key
const done = <S>(state: S) => [undefined, state] as const

export const layerCodesMemory = Layer.effect(Codes, Effect.map(MemoryDb.MemoryDb, (db) => Codes.of({
  insert: (hash, code) =>
    MemoryDb.write(db, (state) => Effect.succeed(done({ ...state, codes: HashMap.set(state.codes, k(code.realmId, hash), code) }))),
  consume: (realmId, hash) =>
    MemoryDb.write(db, (state) => {
      const id = k(realmId, hash)
      const before = HashMap.get(state.codes, id)
      if (Option.isNone(before) || before.value._tag === "Redeemed") return Effect.succeed([before, state] as const)
      const { realmId: r, clientId, grantId } = before.value
      const redeemed = AuthorizationCode.Redeemed({ realmId: r, clientId, grantId })
      return Effect.succeed([before, { ...state, codes: HashMap.set(state.codes, id, redeemed) }] as const)
    })
})))

const revokeFamiliesOf = (state: MemoryDb.State, realmId: string, grantId: string, reason: string): MemoryDb.State => ({
  ...state,
  refreshFamilies: HashMap.map(state.refreshFamilies, (family) =>
    family.realmId === realmId && family.grantId === grantId && family._tag === "Active"
      ? RefreshFamily.Revoked({ familyId: family.familyId, realmId, clientId: family.clientId, grantId, reason })
      : family)
})

/**
 * Inside a `MemoryDb.write`: revokes every live grant that matches and the refresh families it produced (their access
 * tokens go inactive through `AccessTokens`' grant links). For a port that cuts a person or client off in the same
 * write as its own change.
 */
export const revokeGrantsIn = (state: MemoryDb.State, realmId: string, match: GrantMatch, at: DateTime.Utc) =>
  revokeGrantsThatIn(state, realmId, (grant) => matches(grant, realmId, match), at)

/** Revokes every live grant of the realm that `which` picks, and their refresh families; answers how many. */
const revokeGrantsThatIn = (state: MemoryDb.State, realmId: string, which: (grant: Grant) => boolean, at: DateTime.Utc) => {
  let next = state
  let revoked = 0
  for (const grant of HashMap.values(state.grants)) {
    if (grant.realmId !== realmId || grant.revokedAt !== undefined || !which(grant)) continue
    revoked++
    next = revokeFamiliesOf(
      { ...next, grants: HashMap.set(next.grants, k(realmId, grant.grantId), { ...grant, revokedAt: at }) },
      realmId,
      grant.grantId,
      "grant revoked"
    )
  }
  return [next, revoked] as const
}

/**
 * Inside a `MemoryDb.write`: revokes every live grant of the realm that names the resource `uri` and their refresh
 * families (a deleted resource, ADR 0033); answers the new state and how many.
 */
export const revokeGrantsNamingIn = (state: MemoryDb.State, realmId: string, uri: string, at: DateTime.Utc) =>
  revokeGrantsThatIn(state, realmId, (grant) => grant.resources.includes(uri), at)

/** Inside a `MemoryDb.write`: the resource `uri` leaves every remembered consent of the realm (ADR 0033). */
export const forgetResourceConsentsIn = (state: MemoryDb.State, realmId: string, uri: string): MemoryDb.State => ({
  ...state,
  consents: HashMap.map(state.consents, (consent) =>
    consent.realmId === realmId && consent.resources.includes(uri)
      ? { ...consent, resources: consent.resources.filter((r) => r !== uri) }
      : consent)
})

/** Inside a `MemoryDb.write`: ends every live session of `sub`, and answers them as they were (front-channel logout). */
export const endSessionsIn = (state: MemoryDb.State, realmId: string, sub: string, at: DateTime.Utc) => {
  const ended = Array.from(HashMap.values(state.sessions)).filter((s): s is Session.Active => s.realmId === realmId && s.sub === sub && s._tag === "Active")
  const sessions = ended.reduce((rows, s) => HashMap.set(rows, k(realmId, s.sid), Session.end(s, at)), state.sessions)
  return [{ ...state, sessions }, ended] as const
}

export const layerGrantsMemory = Layer.effect(Grants, Effect.map(MemoryDb.MemoryDb, (db) => Grants.of({
  insert: (grant, event) =>
    MemoryDb.write(db, (state) =>
      Effect.map(MemoryDb.withEvent({ ...state, grants: HashMap.set(state.grants, k(grant.realmId, grant.grantId), grant) }, event), done)),
  find: (realmId, grantId) => MemoryDb.read(db, (state) => HashMap.get(state.grants, k(realmId, grantId))),
  revoke: (realmId, grantId, at, event) =>
    MemoryDb.write(db, (state) => {
      const grant = HashMap.get(state.grants, k(realmId, grantId))
      if (Option.isNone(grant) || grant.value.revokedAt !== undefined) return Effect.succeed(done(state))
      const next = revokeFamiliesOf(
        { ...state, grants: HashMap.set(state.grants, k(realmId, grantId), { ...grant.value, revokedAt: at }) },
        realmId,
        grantId,
        "grant revoked"
      )
      return Effect.map(MemoryDb.withEvent(next, event), done)
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
        grantSortKey
      )),
  withdraw: (realmId, sub, grantId, at, event) =>
    MemoryDb.write(db, (state) => {
      const grant = Option.filter(HashMap.get(state.grants, k(realmId, grantId)), (g) => g.sub === sub && g.revokedAt === undefined)
      if (Option.isNone(grant)) return Effect.fail(new NotFound({ entity: "grant" }))
      const revoked = revokeFamiliesOf(
        { ...state, grants: HashMap.set(state.grants, k(realmId, grantId), { ...grant.value, revokedAt: at }) },
        realmId,
        grantId,
        "grant revoked"
      )
      const next = { ...revoked, consents: HashMap.remove(revoked.consents, consentKey(realmId, sub, grant.value.clientId)) }
      return Effect.map(MemoryDb.appendEvent(next, event), (written) => [grant.value, written] as const)
    })
})))

export const layerSessionsMemory = Layer.effect(Sessions, Effect.map(MemoryDb.MemoryDb, (db) => {
  const update = (realmId: string, sid: string, f: (s: Session.Session) => Session.Session) =>
    MemoryDb.write(db, (state) => {
      const session = HashMap.get(state.sessions, k(realmId, sid))
      if (Option.isNone(session)) return Effect.succeed(done(state))
      return Effect.succeed(done({ ...state, sessions: HashMap.set(state.sessions, k(realmId, sid), f(session.value)) }))
    })
  return Sessions.of({
    create: (session, event) =>
      MemoryDb.write(db, (state) =>
        Effect.map(MemoryDb.appendEvent({
          ...state,
          sessions: HashMap.set(state.sessions, k(session.realmId, session.sid), session),
          sessionCookies: HashMap.set(state.sessionCookies, k(session.realmId, session.cookieHash), session.sid)
        }, event), done)),
    findByCookie: (realmId, cookieHash) =>
      MemoryDb.read(db, (state) =>
        HashMap.get(state.sessionCookies, k(realmId, cookieHash)).pipe(Option.flatMap((sid) => HashMap.get(state.sessions, k(realmId, sid))))),
    find: (realmId, sid) => MemoryDb.read(db, (state) => HashMap.get(state.sessions, k(realmId, sid))),
    addClient: (realmId, sid, clientId) => update(realmId, sid, (s) => Session.withClient(s, clientId)),
    end: (realmId, sid, at, event) =>
      MemoryDb.write(db, (state) => {
        const session = Option.filter(HashMap.get(state.sessions, k(realmId, sid)), (s): s is Session.Active => s._tag === "Active")
        if (Option.isNone(session)) return Effect.succeed([false, state] as const)
        const next = { ...state, sessions: HashMap.set(state.sessions, k(realmId, sid), Session.end(session.value, at)) }
        return Effect.map(MemoryDb.withEvent(next, event), (written) => [true, written] as const)
      }),
    listLive: (realmId, sub, now, window) =>
      MemoryDb.read(db, (state) =>
        Page.slice(
          Array.from(HashMap.values(state.sessions)).filter((s) => s.realmId === realmId && s.sub === sub && Session.isActive(s, now)),
          window,
          sessionSortKey
        )),
    revoke: (realmId, sub, sid, at, event) =>
      MemoryDb.write(db, (state) => {
        const session = Option.filter(HashMap.get(state.sessions, k(realmId, sid)), (s): s is Session.Active => s.sub === sub && Session.isActive(s, at))
        if (Option.isNone(session)) return Effect.fail(new NotFound({ entity: "session" }))
        let next: MemoryDb.State = { ...state, sessions: HashMap.set(state.sessions, k(realmId, sid), Session.end(session.value, at)) }
        for (const grant of HashMap.values(state.grants)) {
          if (grant.realmId !== realmId || grant.sub !== sub || grant.sid !== sid || grant.revokedAt !== undefined) continue
          next = revokeFamiliesOf(
            { ...next, grants: HashMap.set(next.grants, k(realmId, grant.grantId), { ...grant, revokedAt: at }) },
            realmId,
            grant.grantId,
            "session revoked"
          )
        }
        return Effect.map(MemoryDb.appendEvent(next, event), (written) => [session.value, written] as const)
      })
  })
}))

const consentKey = (realmId: string, sub: string, clientId: string) => k(realmId, `${sub}\u0000${clientId}`)

export const layerConsentsMemory = Layer.effect(Consents, Effect.map(MemoryDb.MemoryDb, (db) => Consents.of({
  find: (realmId, sub, clientId) => MemoryDb.read(db, (state) => HashMap.get(state.consents, consentKey(realmId, sub, clientId))),
  approved: (realmId, clientId) =>
    MemoryDb.read(db, (state) => HashMap.some(state.consents, (c) => c.realmId === realmId && c.clientId === clientId)),
  save: (consent, event) =>
    MemoryDb.write(db, (state) =>
      Effect.map(MemoryDb.appendEvent({
        ...state,
        consents: HashMap.set(state.consents, consentKey(consent.realmId, consent.sub, consent.clientId), consent)
      }, event), done))
})))

export const layerRefreshTokensMemory = Layer.effect(RefreshTokens, Effect.map(MemoryDb.MemoryDb, (db) => RefreshTokens.of({
  create: (family, tokenHash, event) =>
    MemoryDb.write(db, (state) =>
      Effect.map(MemoryDb.withEvent({
        ...state,
        refreshFamilies: HashMap.set(state.refreshFamilies, k(family.realmId, family.familyId), family),
        refreshTokens: HashMap.set(state.refreshTokens, k(family.realmId, tokenHash), { familyId: family.familyId, generation: family.generation })
      }, event), done)),
  find: (realmId, tokenHash) =>
    MemoryDb.read(db, (state) =>
      HashMap.get(state.refreshTokens, k(realmId, tokenHash)).pipe(
        Option.flatMap(({ familyId, generation }) =>
          Option.map(HashMap.get(state.refreshFamilies, k(realmId, familyId)), (family) => ({ family, generation })))
      )),
  rotate: (next, expectedGeneration, event) =>
    MemoryDb.write(db, (state) => {
      const current = HashMap.get(state.refreshFamilies, k(next.realmId, next.familyId))
      if (Option.isNone(current) || current.value._tag !== "Active" || current.value.generation !== expectedGeneration) {
        return Effect.fail(new RefreshChanged())
      }
      return Effect.map(MemoryDb.withEvent({
        ...state,
        refreshFamilies: HashMap.set(state.refreshFamilies, k(next.realmId, next.familyId), next),
        refreshTokens: HashMap.set(state.refreshTokens, k(next.realmId, next.currentHash), { familyId: next.familyId, generation: next.generation })
      }, event), done)
    }),
  revokeFamily: (realmId, familyId, reason, event) =>
    MemoryDb.write(db, (state) => {
      const family = HashMap.get(state.refreshFamilies, k(realmId, familyId))
      if (Option.isNone(family) || family.value._tag === "Revoked") return Effect.succeed(done(state))
      const { clientId, grantId } = family.value
      const revoked = RefreshFamily.Revoked({ familyId, realmId, clientId, grantId, reason })
      return Effect.map(MemoryDb.withEvent({ ...state, refreshFamilies: HashMap.set(state.refreshFamilies, k(realmId, familyId), revoked) }, event), done)
    })
})))

/** Every sign-in store in memory. */
export const layerMemory = Layer.mergeAll(
  layerCodesMemory, layerGrantsMemory, layerSessionsMemory, layerConsentsMemory, layerRefreshTokensMemory
)
