/**
 * The identity links port (ADR 0047): realm-scoped, one link per (issuer, subject). A link is made only with the user
 * it provisions, in one atomic write with the events that record both and the token they were made for; a user's
 * deletion removes its links (Users.remove), a realm's deletion everything.
 */
import { Context, Effect, HashMap, Layer, Option } from "effect"
import type { AuditEvent } from "./AuditEvent.js"
import { AlreadyExists } from "./Conflict.js"
import type { IdentityLink } from "./IdentityLink.js"
import * as MemoryDb from "./MemoryDb.js"
import type { StoreError } from "./StoreError.js"
import { type User, usernameKey } from "./User.js"

export class IdentityLinks extends Context.Tag("@tessera/domain/IdentityLinks")<IdentityLinks, {
  /** The user the person `subject` at `issuer` is linked to, if any. */
  readonly find: (realmId: string, issuer: string, subject: string) => Effect.Effect<Option.Option<IdentityLink>, StoreError>
  /** The links of one user (a person may be linked from several issuers), in the order of `issuer`, then `subject`. */
  readonly ofUser: (realmId: string, sub: string) => Effect.Effect<ReadonlyArray<IdentityLink>, StoreError>
  /**
   * Inserts `user` (`link.sub`) and `link` with `events`, in order, in one write; `AlreadyExists` when the person is
   * linked already (a racing first use: `identity_link`, or `user` when the username is also taken) or the username
   * or `sub` is taken (`user`); nothing written then.
   */
  readonly provision: (user: User, link: IdentityLink, events: ReadonlyArray<AuditEvent>) => Effect.Effect<void, AlreadyExists | StoreError>
}>() {}

/** The memory key of a link: the realm first, as every memory table's (`MemoryDb.key`). */
export const memoryKey = (realmId: string, issuer: string, subject: string) => MemoryDb.key(realmId, `${issuer}\u0000${subject}`)

/** Inside a memory write: the state without the links to `sub` (the user's deletion). */
export const unlinkIn = (state: MemoryDb.State, realmId: string, sub: string): MemoryDb.State => ({
  ...state,
  identityLinks: HashMap.filter(state.identityLinks, (link) => !(link.realmId === realmId && link.sub === sub))
})

const order = (a: IdentityLink, b: IdentityLink) =>
  a.issuer < b.issuer ? -1 : a.issuer > b.issuer ? 1 : a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0

export const layerMemory = Layer.effect(IdentityLinks, Effect.map(MemoryDb.MemoryDb, (db) =>
  IdentityLinks.of({
    find: (realmId, issuer, subject) => MemoryDb.read(db, (state) => HashMap.get(state.identityLinks, memoryKey(realmId, issuer, subject))),
    ofUser: (realmId, sub) =>
      MemoryDb.read(db, (state) =>
        Array.from(HashMap.values(state.identityLinks)).filter((l) => l.realmId === realmId && l.sub === sub).sort(order)),
    provision: (user, link, events) =>
      MemoryDb.write(db, (state) =>
        Effect.gen(function*() {
          const linkKey = memoryKey(link.realmId, link.issuer, link.subject)
          if (HashMap.has(state.identityLinks, linkKey)) return yield* new AlreadyExists({ entity: "identity_link" })
          const nameKey = MemoryDb.key(user.realmId, usernameKey(user.username))
          if (HashMap.has(state.users, MemoryDb.key(user.realmId, user.sub)) || HashMap.has(state.usernames, nameKey)) {
            return yield* new AlreadyExists({ entity: "user" })
          }
          let next: MemoryDb.State = {
            ...state,
            users: HashMap.set(state.users, MemoryDb.key(user.realmId, user.sub), user),
            usernames: HashMap.set(state.usernames, nameKey, user.sub),
            identityLinks: HashMap.set(state.identityLinks, linkKey, link)
          }
          for (const event of events) next = yield* MemoryDb.appendEvent(next, event)
          return [undefined, next] as const
        })
      )
  })))
