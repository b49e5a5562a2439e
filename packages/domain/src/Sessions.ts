/**
 * The store of sessions (`Session`: Active -> Ended), by id and by the SHA-256 of the browser's cookie; ending one is
 * compare-and-set, so of two racing logouts only one ends it.
 */
import { Context, DateTime, Effect, HashMap, Layer, Option } from "effect"
import type { AuditEvent } from "./AuditEvent.js"
import { NotFound } from "./Conflict.js"
import { revokeIn } from "./Grants.js"
import * as MemoryDb from "./MemoryDb.js"
import * as Page from "./Page.js"
import * as Session from "./Session.js"
import type { StoreError } from "./StoreError.js"

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
  /** CONTRACT §3: the person's live sessions (`Session.isActive` at `now`) in the order of `sortKey`, a window of them. */
  readonly listLive: (realmId: string, sub: string, now: DateTime.Utc, window: Page.Window) => Effect.Effect<ReadonlyArray<Session.Session>, StoreError>
  /**
   * CONTRACT §3 (ADR 0031): ends a live session of `sub` and revokes the grants made in it (with their refresh
   * families), with the event; `NotFound` when `sub` has no such live session. Answers the session as it was.
   */
  readonly revoke: (realmId: string, sub: string, sid: string, at: DateTime.Utc, event: AuditEvent) => Effect.Effect<Session.Active, NotFound | StoreError>
}>() {}

/** The admin API's order of a person's sessions: oldest first (`Page.parseSortKey` reads it back). */
export const sortKey = (session: Session.Session) => `${DateTime.formatIso(session.createdAt)} ${session.sid}`

const k = MemoryDb.key

/** Inside a `MemoryDb.write`: ends every live session of `sub`, and answers them as they were (front-channel logout). */
export const endSessionsIn = (state: MemoryDb.State, realmId: string, sub: string, at: DateTime.Utc) => {
  const ended = Array.from(HashMap.values(state.sessions)).filter((s): s is Session.Active => s.realmId === realmId && s.sub === sub && s._tag === "Active")
  const sessions = ended.reduce((rows, s) => HashMap.set(rows, k(realmId, s.sid), Session.end(s, at)), state.sessions)
  return [{ ...state, sessions }, ended] as const
}

export const layerMemory = Layer.effect(Sessions, Effect.map(MemoryDb.MemoryDb, (db) => {
  const done = <S>(state: S) => [undefined, state] as const
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
          sortKey
        )),
    revoke: (realmId, sub, sid, at, event) =>
      MemoryDb.write(db, (state) => {
        const session = Option.filter(HashMap.get(state.sessions, k(realmId, sid)), (s): s is Session.Active => s.sub === sub && Session.isActive(s, at))
        if (Option.isNone(session)) return Effect.fail(new NotFound({ entity: "session" }))
        let next: MemoryDb.State = { ...state, sessions: HashMap.set(state.sessions, k(realmId, sid), Session.end(session.value, at)) }
        for (const grant of HashMap.values(state.grants)) {
          if (grant.realmId !== realmId || grant.sub !== sub || grant.sid !== sid || grant.revokedAt !== undefined) continue
          next = revokeIn(next, realmId, grant, at, "session revoked")
        }
        return Effect.map(MemoryDb.appendEvent(next, event), (written) => [session.value, written] as const)
      })
  })
}))
