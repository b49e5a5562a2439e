/**
 * CONTRACT §3 realms, past creation: list, change the settings and delete, each change with its event (CONTRACT §7)
 * in the same store write. The caller reads the realm (and checks its `If-Match`) first; the store applies a change
 * only while the realm is still at the version read, so two changes made from one reading cannot both win.
 */
import { Effect } from "effect"
import * as Audit from "./Audit.js"
import type { Actor } from "./AuditEvent.js"
import type * as Page from "./Page.js"
import * as Realm from "./Realm.js"
import { Realms } from "./Realms.js"
import type { Deleted } from "./Realms.js"

/** A page of realms in name order (the name is the sort key). */
export const list = (window: Page.Window) => Effect.flatMap(Realms, (realms) => realms.page(window))

export const sortKey = (realm: Realm.Realm) => realm.name

/**
 * Applies `change` to `realm` as read. A change that changes nothing writes nothing and answers the realm as it is;
 * otherwise `realm.updated` names the fields changed (CONTRACT §7) and the version moves on.
 */
export const update = (realm: Realm.Realm, change: Realm.SettingsPatch, actor: Actor) =>
  Effect.gen(function*() {
    const changed = Realm.changedFields(realm, change)
    if (changed.length === 0) return realm
    const next: Realm.Realm = { ...Realm.patch(realm, change), version: realm.version + 1 }
    const event = yield* Audit.make(realm, { type: "realm.updated", actor, result: "success", reason: `changed: ${changed.join(", ")}` })
    yield* Effect.flatMap(Realms, (realms) => realms.update(next, realm.version, event))
    return next
  })

/** `realm.deleted`'s reason: the realm and how many rows of each table went, in table order. */
export const deletionReason = (realm: Realm.Realm, deleted: Deleted) => {
  const counts = Object.keys(deleted).sort().map((table) => `${table} ${deleted[table]}`)
  return `deleted realm ${realm.name} (${realm.id}); rows deleted: ${counts.length === 0 ? "none" : counts.join(", ")}`
}

/**
 * Deletes the realm as read, with every row it has (ADR 0030); `realm.deleted` goes to the owner trail, which
 * outlives the realm's own. Answers what was deleted.
 */
export const remove = (realm: Realm.Realm, actor: Actor) =>
  Effect.gen(function*() {
    const event = yield* Audit.makeOwner(realm, { type: "realm.deleted", actor, result: "success" })
    return yield* Effect.flatMap(Realms, (realms) =>
      realms.delete(realm, realm.version, (deleted) => ({ ...event, reason: deletionReason(realm, deleted) })))
  })
