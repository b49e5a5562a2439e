/**
 * CONTRACT §3 users through the admin API (issue 13, ADR 0031): list, read, change, delete, set a password; a person's
 * sessions and grants, listed and ended. Each change lands with its event (CONTRACT §7: `reason` names the fields
 * changed, never a value of a secret); disabling, deleting and a new password cut the person off in the same write.
 * The actor is a parameter: the owner today, a tenant admin later.
 */
import { DateTime, Effect, Option } from "effect"
import * as Audit from "./Audit.js"
import type * as AuditEvent from "./AuditEvent.js"
import { NotFound } from "./Conflict.js"
import type { GrantRecord } from "./GrantRecord.js"
import type * as Page from "./Page.js"
import { PasswordHasher } from "./PasswordHasher.js"
import type { Realm } from "./Realm.js"
import type { Session } from "./Session.js"
import { Grants } from "./Grants.js"
import { Sessions } from "./Sessions.js"
import type * as User from "./User.js"
import { Users } from "./Users.js"

/** A PATCH: each field present changes; `null` clears `email` or `name`. */
export interface Change {
  readonly email?: string | null | undefined
  readonly name?: string | null | undefined
  readonly roles?: ReadonlyArray<User.Role> | undefined
  readonly disabled?: boolean | undefined
}

/** What a change did: the user now, and the sessions it ended (their clients get front-channel logout). */
export interface Changed {
  readonly user: User.User
  readonly ended: ReadonlyArray<Session>
}

export const find = (realm: Realm, sub: string) =>
  Effect.flatMap(Users, (users) => users.find(realm.id, sub)).pipe(
    Effect.flatMap(Option.match({
      onNone: () => Effect.fail(new NotFound({ entity: "user" })),
      onSome: Effect.succeed
    }))
  )

export const list = (realm: Realm, prefix: string | undefined, window: Page.Window) =>
  Effect.flatMap(Users, (users) => users.list(realm.id, prefix, window))

const sameRoles = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) => a.length === b.length && a.every((r) => b.includes(r))

/** The user with `change` applied, and the names of the fields that differ (in the wire's names). */
export const apply = (user: User.User, change: Change): readonly [User.User, ReadonlyArray<string>] => {
  const fields: Array<string> = []
  let next: User.User = user
  if (change.disabled !== undefined && change.disabled !== user.disabled) {
    fields.push("disabled")
    next = { ...next, disabled: change.disabled }
  }
  if (change.email !== undefined && (change.email ?? undefined) !== user.email) {
    fields.push("email")
    const { email: _, ...rest } = next
    next = change.email === null ? rest : { ...rest, email: change.email }
  }
  if (change.name !== undefined && (change.name ?? undefined) !== user.name) {
    fields.push("name")
    const { name: _, ...rest } = next
    next = change.name === null ? rest : { ...rest, name: change.name }
  }
  if (change.roles !== undefined && !sameRoles(change.roles, user.roles)) {
    fields.push("roles")
    next = { ...next, roles: change.roles }
  }
  return [fields.length === 0 ? user : { ...next, version: user.version + 1 }, fields]
}

const changedReason = (fields: ReadonlyArray<string>) => `changed: ${fields.join(", ")}`

/**
 * PATCH: applies `change` to `user` as read (compare-and-set on its version: `Stale` if it moved). Nothing to change
 * writes nothing. Disabling is `user.disabled` and cuts the person off; any other change is `user.updated`.
 */
export const update = (realm: Realm, user: User.User, change: Change, actor: AuditEvent.Actor) =>
  Effect.gen(function*() {
    const [next, fields] = apply(user, change)
    if (fields.length === 0) return { user, ended: [] } satisfies Changed
    const disabling = next.disabled && !user.disabled
    const event = yield* Audit.make(realm, {
      type: disabling ? "user.disabled" : "user.updated",
      actor,
      subject: user.sub,
      result: "success",
      reason: changedReason(fields)
    })
    // a disabled person's earlier tokens stay dead when they are enabled again
    const stored: User.User = disabling ? { ...next, tokensNotBefore: event.at } : next
    const ended = yield* Effect.flatMap(Users, (users) => users.update(stored, user.version, disabling, event.at, event))
    return { user: stored, ended } satisfies Changed
  })

/** PUT password: a new argon2id hash (never in the event), and the person cut off everywhere (CONTRACT §3). */
export const setPassword = (realm: Realm, user: User.User, password: string, actor: AuditEvent.Actor) =>
  Effect.gen(function*() {
    const passwordHash = yield* Effect.flatMap(PasswordHasher, (h) => h.hash(password))
    const next: User.User = { ...user, passwordHash, version: user.version + 1 }
    const event = yield* Audit.make(realm, {
      type: "user.password_set",
      actor,
      subject: user.sub,
      result: "success",
      reason: "changed: password; sessions ended, grants revoked"
    })
    // every token issued before the new password is dead, grant-less ones (JWT-bearer, exchanges) included
    const stored: User.User = { ...next, tokensNotBefore: event.at }
    const ended = yield* Effect.flatMap(Users, (users) => users.update(stored, user.version, true, event.at, event))
    return { user: stored, ended } satisfies Changed
  })

/** DELETE: the user goes, with their sessions, grants, refresh tokens and consents (CONTRACT §3). */
export const remove = (realm: Realm, user: User.User, actor: AuditEvent.Actor) =>
  Effect.gen(function*() {
    const event = yield* Audit.make(realm, { type: "user.deleted", actor, subject: user.sub, result: "success" })
    return yield* Effect.flatMap(Users, (users) => users.remove(realm.id, user.sub, user.version, event.at, event))
  })

/** The person's live sessions (404 for an unknown person). */
export const sessions = (realm: Realm, sub: string, window: Page.Window) =>
  Effect.gen(function*() {
    yield* find(realm, sub)
    const now = yield* DateTime.now
    return yield* Effect.flatMap(Sessions, (s) => s.listLive(realm.id, sub, now, window))
  })

/** Ends one live session of the person and revokes the grants made in it (ADR 0031); answers it for front-channel logout. */
export const endSession = (realm: Realm, sub: string, sid: string, actor: AuditEvent.Actor) =>
  Effect.gen(function*() {
    yield* find(realm, sub)
    const event = yield* Audit.make(realm, {
      type: "session.revoked",
      actor,
      subject: sub,
      result: "success",
      reason: "session ended; its grants revoked"
    })
    return yield* Effect.flatMap(Sessions, (s) => s.revoke(realm.id, sub, sid, event.at, event))
  })

/** The person's live grants (404 for an unknown person). */
export const grants = (realm: Realm, sub: string, window: Page.Window) =>
  Effect.gen(function*() {
    yield* find(realm, sub)
    return yield* Effect.flatMap(Grants, (g) => g.listLive(realm.id, sub, window))
  })

/**
 * Revokes one live grant of the person with its refresh tokens (its access tokens introspect inactive), and withdraws
 * their consent to its client, so the next authorization asks again (ADR 0031).
 */
export const revokeGrant = (realm: Realm, sub: string, grantId: string, actor: AuditEvent.Actor) =>
  Effect.gen(function*() {
    yield* find(realm, sub)
    const grant = Option.filter(
      yield* Effect.flatMap(Grants, (g) => g.find(realm.id, grantId)),
      (g: GrantRecord) => g.sub === sub && g.revokedAt === undefined
    )
    if (Option.isNone(grant)) return yield* new NotFound({ entity: "grant" })
    const event = yield* Audit.make(realm, {
      type: "grant.revoked",
      actor,
      subject: sub,
      clientId: grant.value.clientId,
      result: "success",
      reason: "revoked with its refresh tokens; consent withdrawn"
    })
    return yield* Effect.flatMap(Grants, (g) => g.withdraw(realm.id, sub, grantId, event.at, event))
  })
