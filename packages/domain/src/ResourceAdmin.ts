/**
 * CONTRACT §3 resources after creation: list, read, change and delete, each change with its `resource.*` event
 * (CONTRACT §7) naming the fields changed. The `uri` never changes and a deletion is refused while a client lists
 * the resource; otherwise it revokes the grants naming it and drops it from remembered consents (ADR 0033).
 */
import { Clock, DateTime, Effect, Option } from "effect"
import * as Audit from "./Audit.js"
import * as AuditEvent from "./AuditEvent.js"
import { NotFound } from "./Conflict.js"
import type * as Page from "./Page.js"
import { ResourceRejected } from "./Provisioning.js"
import type { Realm } from "./Realm.js"
import * as Resource from "./Resource.js"
import { Resources } from "./Resources.js"

/** What a PATCH asks: each field present is replaced; `null` clears an optional one. */
export interface Change {
  readonly scopes?: ReadonlyArray<string> | undefined
  readonly stepUpScopes?: ReadonlyArray<string> | undefined
  readonly displayName?: string | null | undefined
  readonly scopeDescriptions?: Readonly<Record<string, string>> | null | undefined
}

export const list = (realm: Realm, window: Page.Window) => Effect.flatMap(Resources, (resources) => resources.page(realm.id, window))

export const read = (realm: Realm, id: string) =>
  Effect.flatMap(Resources, (resources) => resources.findById(realm.id, id)).pipe(
    Effect.flatMap(Option.match({ onNone: () => Effect.fail(new NotFound({ entity: "resource" })), onSome: Effect.succeed }))
  )

const sameList = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) => a.length === b.length && a.every((x, i) => x === b[i])

const sameRecord = (a: Readonly<Record<string, string>> | undefined, b: Readonly<Record<string, string>> | undefined) => {
  const ka = Object.keys(a ?? {})
  const kb = Object.keys(b ?? {})
  return ka.length === kb.length && ka.every((key) => Object.hasOwn(b ?? {}, key) && a![key] === b![key])
}

/** The resource with `change` applied, and the wire names of the fields that differ. */
export const apply = (current: Resource.Resource, change: Change) => {
  const descriptions = change.scopeDescriptions === undefined ? current.scopeDescriptions : change.scopeDescriptions ?? undefined
  const displayName = change.displayName === undefined ? current.displayName : change.displayName ?? undefined
  const { displayName: _name, scopeDescriptions: _descriptions, ...rest } = current
  const next: Resource.Resource = {
    ...rest,
    scopes: change.scopes ?? current.scopes,
    stepUpScopes: change.stepUpScopes ?? current.stepUpScopes,
    ...(displayName !== undefined ? { displayName } : {}),
    ...(descriptions !== undefined && Object.keys(descriptions).length > 0 ? { scopeDescriptions: descriptions } : {})
  }
  const changed = [
    ...(sameList(current.scopes, next.scopes) ? [] : ["scopes"]),
    ...(sameList(current.stepUpScopes, next.stepUpScopes) ? [] : ["step_up_scopes"]),
    ...(current.displayName === next.displayName ? [] : ["display_name"]),
    ...(sameRecord(current.scopeDescriptions, next.scopeDescriptions) ? [] : ["scope_descriptions"])
  ]
  return { next, changed }
}

/**
 * Applies `change` to `current` (read at `current.version`, which the caller's If-Match matched): the result must
 * still hold (step-up scopes and described scopes among `scopes`); a change that changes nothing writes nothing.
 */
export const update = (realm: Realm, current: Resource.Resource, change: Change, actor: AuditEvent.Actor) =>
  Effect.gen(function*() {
    const { changed, next } = apply(current, change)
    const invalid = Resource.invalidSettings(next)
    if (invalid !== undefined) return yield* new ResourceRejected({ detail: invalid })
    if (changed.length === 0) return current
    const updated = { ...next, version: current.version + 1 }
    const event = yield* Audit.make(realm, {
      type: "resource.updated",
      actor,
      resource: current.uri,
      result: "success",
      reason: `changed: ${changed.join(", ")}`
    })
    yield* Effect.flatMap(Resources, (resources) => resources.update(updated, current.version, event))
    return updated
  })

/** Deletes `current` (read at `current.version`); see ADR 0033 for what goes with it. */
export const remove = (realm: Realm, current: Resource.Resource, actor: AuditEvent.Actor) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const id = yield* Audit.make(realm, { type: "resource.deleted", actor, resource: current.uri, result: "success" })
    return yield* Effect.flatMap(Resources, (resources) =>
      resources.remove(current, current.version, DateTime.unsafeMake(now), (removed) => ({
        ...id,
        ...(removed.revokedGrants > 0 ? { reason: `revoked ${removed.revokedGrants} grant(s) naming it` } : {})
      })))
  })
