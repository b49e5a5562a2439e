/** The users port: realm-scoped, usernames unique per realm (see `User.usernameKey`). */
import { Context, Effect, HashMap, Layer, Option } from "effect"
import type { AuditEvent } from "./AuditEvent.js"
import type { AlreadyExists } from "./Conflict.js"
import * as MemoryDb from "./MemoryDb.js"
import type { StoreError } from "./StoreError.js"
import { type User, usernameKey } from "./User.js"

export class Users extends Context.Tag("@tessera/domain/Users")<Users, {
  readonly insert: (user: User, event: AuditEvent) => Effect.Effect<void, AlreadyExists | StoreError>
  readonly find: (realmId: string, sub: string) => Effect.Effect<Option.Option<User>, StoreError>
  readonly findByUsername: (realmId: string, username: string) => Effect.Effect<Option.Option<User>, StoreError>
}>() {}

const nameKey = (realmId: string, username: string) => MemoryDb.key(realmId, usernameKey(username))

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
      )
  })
}))
