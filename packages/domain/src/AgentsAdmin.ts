/**
 * The admin API's agents (CONTRACT §3 "agents", DESIGN "Agents", ADR 0034): the realm's agent clients with the people
 * who let them act, and revoking one person's delegation to one agent. The actor is a parameter: the owner today, a
 * tenant admin later (issue 14).
 */
import { Effect } from "effect"
import * as Audit from "./Audit.js"
import * as AuditEvent from "./AuditEvent.js"
import { Delegations } from "./Delegations.js"
import type * as Page from "./Page.js"
import { findRealm } from "./Provisioning.js"

/** A page of the realm's agent clients by `client_id`, each with its live delegations. */
export const list = (realmName: string, window: Page.Window) =>
  Effect.gen(function*() {
    const realm = yield* findRealm(realmName)
    return yield* Effect.flatMap(Delegations, (delegations) => delegations.list(realm.id, window))
  })

/**
 * Revokes the agent's delegation from the person with its `delegation.revoked` event, in one write: the person's
 * grants to the agent (their refresh tokens stop working) and every token the agent holds for the person, exchanged
 * or not, issued until now (they introspect inactive). `NotFound` for a client that is not an agent of the realm, or
 * a person without a live delegation to it.
 */
export const revokeDelegation = (realmName: string, clientId: string, sub: string, actor: AuditEvent.Actor) =>
  Effect.gen(function*() {
    const realm = yield* findRealm(realmName)
    const event = yield* Audit.make(realm, { type: "delegation.revoked", actor, subject: sub, clientId, result: "success" })
    yield* Effect.flatMap(Delegations, (delegations) => delegations.revoke(realm.id, clientId, sub, event.at, event))
  })
