/** The audit trail's event (CONTRACT §7): a product output, written with the change it records. */
import type { DateTime } from "effect"

export type ActorType = "user" | "client" | "agent" | "owner" | "tenant_admin"

export interface Actor {
  readonly type: ActorType
  readonly id: string
}

export type EventType =
  | "realm.created" | "realm.updated" | "user.created" | "client.created" | "resource.created"
  | "trusted_issuer.created" | "key.rotated"
  | "login.succeeded" | "login.failed" | "consent.granted" | "consent.denied"
  | "token.issued" | "token.exchanged" | "token.refreshed" | "token.revoked"
  | "refresh.reuse_detected" | "stepup.succeeded" | "device.approved"
  | "logout.succeeded"
  // CONTRACT §7: every admin change has its own type, naming the fields changed (in `reason`), never a secret
  | "realm.deleted"
  | "user.updated" | "user.disabled" | "user.deleted" | "user.password_set"
  | "client.updated" | "client.deleted" | "client.secret_rotated"
  | "resource.updated" | "resource.deleted"
  | "trusted_issuer.updated" | "trusted_issuer.deleted"
  | "session.revoked" | "grant.revoked" | "delegation.revoked"
  | "invitation.created" | "invitation.accepted" | "invitation.revoked"
  // issue 14: a mail that could not be sent (the invitation stands; `reason` is the transport's, never a secret)
  | "invitation.mail_failed"
  // issue 16: an Identity Assertion JWT Authorization Grant issued by token exchange (the realm as enterprise IdP)
  | "id_jag.issued"
  // issue 16: a person at a trusted issuer (ID-JAG `iss` and `sub`) linked to a realm user on first use (ADR 0047)
  | "user.linked"

export interface AuditEvent {
  readonly id: string
  readonly at: DateTime.Utc
  readonly realmId: string
  /** The realm's name at the time, as the wire shows it. */
  readonly realm: string
  readonly type: EventType
  readonly actor: Actor
  readonly subject?: string
  readonly clientId?: string
  readonly grantType?: string
  readonly resource?: string
  readonly scope?: string
  readonly act?: unknown
  readonly result: "success" | "failure"
  readonly reason?: string
  readonly ip?: string
  readonly userAgent?: string
}

/** What a caller says about an event; id, time and realm are filled in by `Audit.make`. */
export type Draft = Omit<AuditEvent, "id" | "at" | "realmId" | "realm">

/** The owner, acting through the admin API. */
export const owner: Actor = { type: "owner", id: "owner" }

/** Tessera itself, for scheduled work done on the owner's behalf (key rotation). */
export const scheduler: Actor = { type: "owner", id: "tessera:scheduler" }

export interface Filter {
  readonly type?: string
  readonly subject?: string
  readonly actor?: string
  readonly clientId?: string
  readonly since?: DateTime.Utc
  readonly until?: DateTime.Utc
  /** Only events strictly older than this position (the cursor). */
  readonly before?: number
  readonly limit: number
}

/** An event with its position in the realm's trail (newest has the highest). */
export interface Stored {
  readonly seq: number
  readonly event: AuditEvent
}
