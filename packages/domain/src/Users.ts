/** The users port: realm-scoped, usernames unique per realm (see `User.usernameKey`). */
import { Context, Effect, HashMap, Layer, Option } from "effect"
import type { DateTime } from "effect"
import type { AuditEvent } from "./AuditEvent.js"
import { type AlreadyExists, NotFound, Stale } from "./Conflict.js"
import { unlinkIn } from "./IdentityLinks.js"
import * as MemoryDb from "./MemoryDb.js"
import * as Page from "./Page.js"
import type { Session } from "./Session.js"
import { endSessionsIn } from "./Sessions.js"
import { revokeGrantsIn } from "./Grants.js"
import type { StoreError } from "./StoreError.js"
import { matches, type User, usernameKey } from "./User.js"

export class Users extends Context.Tag("@tessera/domain/Users")<Users, {
  readonly insert: (user: User, event: AuditEvent) => Effect.Effect<void, AlreadyExists | StoreError>
  readonly find: (realmId: string, sub: string) => Effect.Effect<Option.Option<User>, StoreError>
  readonly findByUsername: (realmId: string, username: string) => Effect.Effect<Option.Option<User>, StoreError>
  /**
   * CONTRACT §3: the realm's users whose username or email starts with `prefix` (as `User.matches` says), ordered by
   * `sortKey` (the username key), at most `window.limit + 1` after `window.after`.
   */
  readonly list: (realmId: string, prefix: string | undefined, window: Page.Window) => Effect.Effect<ReadonlyArray<User>, StoreError>
  /**
   * Replaces the user while it is still at `expectedVersion` (else `Stale`; gone: `NotFound`), with its event. With
   * `cutOff`, in the same write every live session of the person ends and every live grant of theirs is revoked with
   * its refresh families (CONTRACT §3: disabling, a new password). Answers the sessions it ended.
   */
  readonly update: (
    user: User,
    expectedVersion: number,
    cutOff: boolean,
    at: DateTime.Utc,
    event: AuditEvent
  ) => Effect.Effect<ReadonlyArray<Session>, NotFound | Stale | StoreError>
  /**
   * Deletes the user while it is still at `expectedVersion`, with its event; in the same write their sessions end,
   * their grants and refresh families are revoked, their consents withdrawn and their identity links (ADR 0047)
   * removed. The username is free again (a new
   * user of that name gets a new `sub`). Answers the sessions it ended.
   */
  readonly remove: (
    realmId: string,
    sub: string,
    expectedVersion: number,
    at: DateTime.Utc,
    event: AuditEvent
  ) => Effect.Effect<ReadonlyArray<Session>, NotFound | Stale | StoreError>
}>() {}

/** The order of the user list: by username key (unique per realm). */
export const sortKey = (user: User) => usernameKey(user.username)

const nameKey = (realmId: string, username: string) => MemoryDb.key(realmId, usernameKey(username))

/** The user at `expectedVersion`, or why not. */
const current = (state: MemoryDb.State, realmId: string, sub: string, expectedVersion: number) => {
  const found = HashMap.get(state.users, MemoryDb.key(realmId, sub))
  if (Option.isNone(found)) return Effect.fail(new NotFound({ entity: "user" }))
  if (found.value.version !== expectedVersion) return Effect.fail(new Stale({ entity: "user" }))
  return Effect.succeed(found.value)
}

/** Ends the person's sessions and revokes their grants, inside a write. */
const cutOffIn = (state: MemoryDb.State, realmId: string, sub: string, at: DateTime.Utc) => {
  const [revoked] = revokeGrantsIn(state, realmId, { sub }, at)
  return endSessionsIn(revoked, realmId, sub, at)
}

export const layerMemory = Layer.effect(Users, Effect.map(MemoryDb.MemoryDb, (db) => {
  const table = MemoryDb.realmTable(
    db,
    "users",
    "user",
    (user) => user.sub,
    (state, user) => !HashMap.has(state.usernames, nameKey(user.realmId, user.username)),
    (state, user) => ({ ...state, usernames: HashMap.set(state.usernames, nameKey(user.realmId, user.username), user.sub) })
  )
  return Users.of({
    insert: table.insert,
    find: table.find,
    findByUsername: (realmId, username) =>
      MemoryDb.read(db, (state) =>
        HashMap.get(state.usernames, nameKey(realmId, username)).pipe(
          Option.flatMap((sub) => HashMap.get(state.users, MemoryDb.key(realmId, sub)))
        )
      ),
    list: (realmId, prefix, window) =>
      MemoryDb.read(db, (state) =>
        Page.slice(
          Array.from(HashMap.values(state.users)).filter((u) => u.realmId === realmId && (prefix === undefined || matches(u, prefix))),
          window,
          sortKey
        )
      ),
    update: (user, expectedVersion, cutOff, at, event) =>
      MemoryDb.write(db, (state) =>
        Effect.gen(function*() {
          yield* current(state, user.realmId, user.sub, expectedVersion)
          const changed = { ...state, users: HashMap.set(state.users, MemoryDb.key(user.realmId, user.sub), user) }
          const [next, ended] = cutOff ? cutOffIn(changed, user.realmId, user.sub, at) : [changed, []] as const
          return [ended, yield* MemoryDb.appendEvent(next, event)] as const
        })
      ),
    remove: (realmId, sub, expectedVersion, at, event) =>
      MemoryDb.write(db, (state) =>
        Effect.gen(function*() {
          const user = yield* current(state, realmId, sub, expectedVersion)
          // ADR 0047: the person's links to trusted issuers go with them (a later assertion provisions anew, or is refused)
          const [next, ended] = cutOffIn(unlinkIn({
            ...state,
            users: HashMap.remove(state.users, MemoryDb.key(realmId, sub)),
            usernames: HashMap.remove(state.usernames, nameKey(realmId, user.username)),
            consents: HashMap.filter(state.consents, (c) => !(c.realmId === realmId && c.sub === sub))
          }, realmId, sub), realmId, sub, at)
          return [ended, yield* MemoryDb.appendEvent(next, event)] as const
        })
      )
  })
}))
