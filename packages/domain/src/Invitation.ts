/**
 * CONTRACT §3 invitations and §4 the invitation page (issue 14, ADR 0037): a single-use secret that lets one person
 * become a user of a realm with a role. Pending -> Accepted | Revoked; "expired" is a Pending whose `expiresAt` has
 * passed, derived from the clock and never stored. Every transition is pure; the store applies each one by
 * compare-and-set on `version`, so two racing acceptances cannot both see Pending.
 */
import { Data, DateTime, Duration, Either, Schema } from "effect"
import type { Actor } from "./AuditEvent.js"
import { optional } from "./Fields.js"
import { Role } from "./User.js"

/** CONTRACT §3 `expires_in`: default 604800 s (7 days), at most 2592000 s (30 days). */
export const defaultLifetime = Duration.days(7)
export const maxLifetime = Duration.days(30)
/** ADR 0037: at least an hour, so that a mailed invitation outlives slow delivery (greylisting) and a lunch break. */
export const minLifetime = Duration.hours(1)

/** ADR 0037: 32 random bytes, base64url (43 characters): only its SHA-256 is stored. */
export const secretBytes = 32

/** What every state shares. */
interface Common {
  readonly realmId: string
  readonly id: string
  /** base64url(SHA-256) of the secret the URL carries: the secret itself is never stored, listed, audited or logged. */
  readonly secretHash: string
  readonly role: Role
  readonly email?: string
  readonly expiresAt: DateTime.Utc
  readonly createdAt: DateTime.Utc
  /** Who invited: the owner (its events go to the owner trail) or a tenant admin (the realm's trail), ADR 0037. */
  readonly createdBy: Actor
  /** 1 at creation, +1 per transition: the admin API's ETag and the store's compare-and-set. */
  readonly version: number
}

export type Invitation = Data.TaggedEnum<{
  Pending: Common
  /** The person chose a username and password: user `sub` exists since `acceptedAt`. */
  Accepted: Common & { readonly sub: string; readonly acceptedAt: DateTime.Utc }
  Revoked: Common & { readonly revokedAt: DateTime.Utc }
}>
export const Invitation = Data.taggedEnum<Invitation>()

/** Who may have invited (an `AuditEvent.Actor`). */
const CreatedBy: Schema.Schema<Actor> = Schema.Struct({
  type: Schema.Literal("user", "client", "agent", "owner", "tenant_admin"),
  id: Schema.String
})

const common = {
  realmId: Schema.String,
  id: Schema.String,
  secretHash: Schema.String,
  role: Role,
  email: optional(Schema.String),
  expiresAt: Schema.DateTimeUtcFromSelf,
  createdAt: Schema.DateTimeUtcFromSelf,
  createdBy: CreatedBy,
  version: Schema.Number
}

/**
 * An invitation in any state, as a schema (issue 18, ADR 0053): what the store decodes its rows into. Decoded values
 * are plain objects of the shape `Invitation`'s constructors make.
 */
export const schema: Schema.Schema<Invitation> = Schema.Union(
  Schema.TaggedStruct("Pending", common),
  Schema.TaggedStruct("Accepted", { ...common, sub: Schema.String, acceptedAt: Schema.DateTimeUtcFromSelf }),
  Schema.TaggedStruct("Revoked", { ...common, revokedAt: Schema.DateTimeUtcFromSelf })
)

/** CONTRACT §3 `status`, as the list shows it. */
export type Status = "pending" | "accepted" | "revoked" | "expired"

/** Whether a pending invitation's time is up at `now` (it lives strictly before `expiresAt`). */
export const isExpired = (invitation: Invitation, now: DateTime.Utc) => DateTime.lessThanOrEqualTo(invitation.expiresAt, now)

export const status = (invitation: Invitation, now: DateTime.Utc): Status =>
  Invitation.$match(invitation, {
    Pending: (i): Status => (isExpired(i, now) ? "expired" : "pending"),
    Accepted: (): Status => "accepted",
    Revoked: (): Status => "revoked"
  })

/**
 * An invitation cannot do what was asked: it was used, revoked, or its time is up (CONTRACT §4: a page that says
 * which, 410), or (revoking) it was already accepted or revoked (ADR 0037: 409).
 */
export class InvitationRefused extends Data.TaggedError("InvitationRefused")<{
  readonly reason: "accepted" | "revoked" | "expired"
}> {}

const refusedBy = (invitation: Invitation) =>
  new InvitationRefused({
    reason: invitation._tag === "Accepted" ? "accepted" : invitation._tag === "Revoked" ? "revoked" : "expired"
  })

/** CONTRACT §4: accepting makes user `sub`, once, only while the invitation is pending and its time is not up. */
export const accept = (invitation: Invitation, sub: string, now: DateTime.Utc): Either.Either<Invitation, InvitationRefused> =>
  invitation._tag === "Pending" && !isExpired(invitation, now)
    ? Either.right(Invitation.Accepted({ ...invitation, sub, acceptedAt: now, version: invitation.version + 1 }))
    : Either.left(refusedBy(invitation))

/**
 * CONTRACT §3 DELETE revokes: a pending invitation, expired or not (its URL stops working either way, and the list
 * says `revoked`); an accepted or revoked one is refused (ADR 0037).
 */
export const revoke = (invitation: Invitation, now: DateTime.Utc): Either.Either<Invitation, InvitationRefused> =>
  invitation._tag === "Pending"
    ? Either.right(Invitation.Revoked({ ...invitation, revokedAt: now, version: invitation.version + 1 }))
    : Either.left(refusedBy(invitation))

/** CONTRACT §3: `admin` -> roles ["admin"], `member` -> [] (the plain person, ADR 0031). */
export const rolesOf = (role: Role): ReadonlyArray<Role> => (role === "admin" ? ["admin"] : [])

/** CONTRACT §7: events name the email's domain at most, never the address. */
export const emailDomain = (email: string) => email.slice(email.lastIndexOf("@") + 1)

/** What an event says about an invitation (CONTRACT §7: role and email domain at most; never the secret). */
export const describe = (invitation: { readonly role: Role; readonly email?: string | undefined }) =>
  `role: ${invitation.role}${invitation.email !== undefined ? `, email domain: ${emailDomain(invitation.email)}` : ""}`

/** The list's order: oldest first, by creation time (zero-padded epoch milliseconds) then id: unique per realm. */
export const sortKey = (invitation: Invitation) =>
  `${String(invitation.createdAt.epochMillis).padStart(15, "0")}.${invitation.id}`
