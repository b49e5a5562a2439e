/**
 * Who calls the admin API (CONTRACT §3): the owner, or a tenant admin of one realm (a person with role `admin`, or a
 * confidential client registered with the realm's admin resource). Every admin route reads its audit actor here.
 */
import { Context, Effect } from "effect"
import { AuditEvent } from "@tessera/domain"

export type Caller =
  | { readonly _tag: "Owner" }
  | {
    readonly _tag: "TenantAdmin"
    /** The realm whose token it is: the only realm this caller can see. */
    readonly realmId: string
    readonly realmName: string
    /** CONTRACT §7: `tenant_admin` with the person's `sub`, or `client` for an automation client. */
    readonly actor: AuditEvent.Actor
    /** The token's scopes (`tessera:admin`, and a step-up scope after a fresh login). */
    readonly scopes: ReadonlyArray<string>
  }

export class AdminCaller extends Context.Tag("@tessera/server-node/AdminCaller")<AdminCaller, Caller>() {}

export const owner: Caller = { _tag: "Owner" }

/** The audit actor of the call. */
export const actor = Effect.map(AdminCaller, (caller) => (caller._tag === "Owner" ? AuditEvent.owner : caller.actor))
