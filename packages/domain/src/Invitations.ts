/**
 * The invitations port (CONTRACT §3, §4; ADR 0037): realm-scoped, found by id or by the SHA-256 of the secret, each
 * transition a compare-and-set on `version` written with its events; acceptance inserts the user in the same write.
 */
import { Context, Effect, HashMap, Layer, Option } from "effect"
import type { AuditEvent } from "./AuditEvent.js"
import { AlreadyExists, NotFound, Stale } from "./Conflict.js"
import * as Hash from "./Hash.js"
import type { Invitation } from "./Invitation.js"
import { sortKey } from "./Invitation.js"
import * as MemoryDb from "./MemoryDb.js"
import * as Page from "./Page.js"
import type { StoreError } from "./StoreError.js"
import { type User, usernameKey } from "./User.js"

export class Invitations extends Context.Tag("@tessera/domain/Invitations")<Invitations, {
  /** Stores a new invitation with its event (in the owner trail or the realm's, as `event.realmId` says). */
  readonly insert: (invitation: Invitation, event: AuditEvent) => Effect.Effect<void, StoreError>
  readonly find: (realmId: string, id: string) => Effect.Effect<Option.Option<Invitation>, StoreError>
  /** The invitation whose secret hashes to `secretHash` (ADR 0037: looked up by hash, compared in constant time). */
  readonly findBySecret: (realmId: string, secretHash: string) => Effect.Effect<Option.Option<Invitation>, StoreError>
  /** CONTRACT §3 list: in `Invitation.sortKey` order, at most `window.limit + 1` after `window.after`. */
  readonly list: (realmId: string, window: Page.Window) => Effect.Effect<ReadonlyArray<Invitation>, StoreError>
  /**
   * Replaces the invitation with `next` (a transition of it) while it is still at `expectedVersion` (else `Stale`;
   * gone: `NotFound`), and appends `events`, in one write. With `user` (acceptance, CONTRACT §4), the user is inserted
   * in the same write: a username taken in the realm is `AlreadyExists` and nothing is written.
   */
  readonly transition: (
    next: Invitation,
    expectedVersion: number,
    events: ReadonlyArray<AuditEvent>,
    user?: User
  ) => Effect.Effect<void, NotFound | Stale | AlreadyExists | StoreError>
}>() {}

const rowsOf = (state: MemoryDb.State, realmId: string) =>
  Array.from(HashMap.values(state.invitations)).filter((i) => i.realmId === realmId)

export const layerMemory = Layer.effect(Invitations, Effect.map(MemoryDb.MemoryDb, (db) =>
  Invitations.of({
    insert: (invitation, event) =>
      MemoryDb.write(db, (state) =>
        Effect.map(
          MemoryDb.appendEvent({
            ...state,
            invitations: HashMap.set(state.invitations, MemoryDb.key(invitation.realmId, invitation.id), invitation)
          }, event),
          (next) => [undefined, next] as const
        )),
    find: (realmId, id) => MemoryDb.read(db, (state) => HashMap.get(state.invitations, MemoryDb.key(realmId, id))),
    findBySecret: (realmId, secretHash) =>
      MemoryDb.read(db, (state) => Option.fromNullable(rowsOf(state, realmId).find((i) => Hash.constantTimeEqual(i.secretHash, secretHash)))),
    list: (realmId, window) => MemoryDb.read(db, (state) => Page.slice(rowsOf(state, realmId), window, sortKey)),
    transition: (next, expectedVersion, events, user) =>
      MemoryDb.write(db, (state) =>
        Effect.gen(function*() {
          const id = MemoryDb.key(next.realmId, next.id)
          const current = HashMap.get(state.invitations, id)
          if (Option.isNone(current)) return yield* new NotFound({ entity: "invitation" })
          if (current.value.version !== expectedVersion) return yield* new Stale({ entity: "invitation" })
          let changed: MemoryDb.State = { ...state, invitations: HashMap.set(state.invitations, id, next) }
          if (user !== undefined) {
            // usernames are unique per realm (User.usernameKey), as Users.insert keeps them
            const name = MemoryDb.key(user.realmId, usernameKey(user.username))
            const userKey = MemoryDb.key(user.realmId, user.sub)
            if (HashMap.has(changed.usernames, name) || HashMap.has(changed.users, userKey)) {
              return yield* new AlreadyExists({ entity: "user" })
            }
            changed = {
              ...changed,
              users: HashMap.set(changed.users, userKey, user),
              usernames: HashMap.set(changed.usernames, name, user.sub)
            }
          }
          for (const event of events) changed = yield* MemoryDb.appendEvent(changed, event)
          return [undefined, changed] as const
        }))
  })))
