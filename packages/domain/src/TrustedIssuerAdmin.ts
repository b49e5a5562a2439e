/**
 * CONTRACT §3 trusted issuers after creation: list, read, change (keys and flags; never `issuer`) and delete, each
 * change with its `trusted_issuer.*` event (CONTRACT §7) naming the fields changed. Keys fetched from a `jwks_uri`
 * that a change or deletion leaves behind are dropped from this process's cache at once (ADR 0033).
 */
import { Effect, Option } from "effect"
import * as Audit from "./Audit.js"
import * as AuditEvent from "./AuditEvent.js"
import { NotFound } from "./Conflict.js"
import type * as Page from "./Page.js"
import type { Realm } from "./Realm.js"
import * as RemoteJwks from "./RemoteJwks.js"
import * as TrustedIssuer from "./TrustedIssuer.js"
import { TrustedIssuers } from "./TrustedIssuers.js"

/** What a PATCH asks: each field present is replaced. */
export interface Change {
  readonly keys?: TrustedIssuer.Keys | undefined
  readonly idJag?: boolean | undefined
  readonly provisionUsers?: boolean | undefined
}

export const list = (realm: Realm, window: Page.Window) => Effect.flatMap(TrustedIssuers, (issuers) => issuers.page(realm.id, window))

export const read = (realm: Realm, id: string) =>
  Effect.flatMap(TrustedIssuers, (issuers) => issuers.findById(realm.id, id)).pipe(
    Effect.flatMap(Option.match({ onNone: () => Effect.fail(new NotFound({ entity: "trusted_issuer" })), onSome: Effect.succeed }))
  )

const keyField = (keys: TrustedIssuer.Keys) => (keys._tag === "Jwks" ? "jwks" : "jwks_uri")

/** JSON with every object's members in name order: a store (jsonb) may give them back in another order. */
const canonical = (value: unknown): unknown =>
  Array.isArray(value)
    ? value.map(canonical)
    : typeof value === "object" && value !== null
    ? Object.fromEntries(Object.keys(value).sort().map((key) => [key, canonical((value as Record<string, unknown>)[key])]))
    : value

const sameKeys = (a: TrustedIssuer.Keys, b: TrustedIssuer.Keys) => JSON.stringify(canonical(a)) === JSON.stringify(canonical(b))

/** Drops the cached keys of a `jwks_uri` the issuer no longer uses (or, deleted, never will). */
const forgetOld = (before: TrustedIssuer.TrustedIssuer, after: TrustedIssuer.TrustedIssuer | undefined) => {
  const old = TrustedIssuer.jwksUri(before)
  return old !== undefined && (after === undefined || !sameKeys(before.keys, after.keys)) ? RemoteJwks.forget(old) : Effect.void
}

/** Applies `change` to `current` (read at `current.version`); a change that changes nothing writes nothing. */
export const update = (
  realm: Realm,
  current: TrustedIssuer.TrustedIssuer,
  change: Change,
  actor: AuditEvent.Actor
) =>
  Effect.gen(function*() {
    const next: TrustedIssuer.TrustedIssuer = {
      ...current,
      keys: change.keys ?? current.keys,
      idJag: change.idJag ?? current.idJag,
      provisionUsers: change.provisionUsers ?? current.provisionUsers
    }
    const changed = [
      ...(sameKeys(current.keys, next.keys) ? [] : current.keys._tag !== next.keys._tag ? ["jwks", "jwks_uri"] : [keyField(next.keys)]),
      ...(current.idJag === next.idJag ? [] : ["id_jag"]),
      ...(current.provisionUsers === next.provisionUsers ? [] : ["provision_users"])
    ]
    if (changed.length === 0) return current
    const updated = { ...next, version: current.version + 1 }
    const event = yield* Audit.make(realm, {
      type: "trusted_issuer.updated",
      actor,
      subject: current.issuer,
      result: "success",
      reason: `changed: ${changed.join(", ")}`
    })
    yield* Effect.flatMap(TrustedIssuers, (issuers) => issuers.update(updated, current.version, event))
    yield* forgetOld(current, updated)
    return updated
  })

/** Deletes `current` (read at `current.version`): its assertions are refused from then on. */
export const remove = (realm: Realm, current: TrustedIssuer.TrustedIssuer, actor: AuditEvent.Actor) =>
  Effect.gen(function*() {
    const event = yield* Audit.make(realm, { type: "trusted_issuer.deleted", actor, subject: current.issuer, result: "success" })
    yield* Effect.flatMap(TrustedIssuers, (issuers) => issuers.remove(current, current.version, event))
    yield* forgetOld(current, undefined)
  })
