/**
 * CONTRACT §3 invitations through the admin API and §4 the invitation page (issue 14, ADR 0037): create (and mail),
 * list, revoke, accept. The secret is 32 random bytes shown once in the URL; only its SHA-256 is stored, and no list,
 * event or log line carries it. Events of an invitation the owner made go to the owner trail, the others to the realm's
 * trail with the inviter as actor (CONTRACT §7, issue 14).
 */
import { DateTime, Duration, Effect, Option } from "effect"
import * as Audit from "./Audit.js"
import type * as AuditEvent from "./AuditEvent.js"
import { NotFound, Stale } from "./Conflict.js"
import * as Entropy from "./Entropy.js"
import * as Hash from "./Hash.js"
import * as Invitation from "./Invitation.js"
import { Invitations } from "./Invitations.js"
import * as Mailer from "./Mailer.js"
import type * as Page from "./Page.js"
import { PasswordHasher } from "./PasswordHasher.js"
import type { Realm } from "./Realm.js"
import type * as User from "./User.js"

export interface NewInvitation {
  readonly role: User.Role
  readonly email?: string | undefined
  /** CONTRACT §3 `expires_in` (the protocol keeps it within `Invitation.minLifetime`..`maxLifetime`). */
  readonly lifetime?: Duration.Duration | undefined
}

/** What `create` made: the invitation, its URL (the only place the secret ever appears), and what became of the mail. */
export interface Created {
  readonly invitation: Invitation.Invitation
  readonly url: string
  readonly mail: "sent" | "failed" | "not_sent"
}

/**
 * Which trail an event goes to (issue 14, ADR 0037): what the owner does (creating, revoking) goes to the owner trail,
 * what a tenant admin does to the realm's trail with the inviter as actor (a tenant admin's call is pinned to its realm
 * and never touches the owner trail); what follows an invitation without an admin call (its acceptance, its mail
 * failing) goes where its creation went.
 */
const eventOf = (
  realm: Pick<Realm, "id" | "name">,
  invitation: Pick<Invitation.Invitation, "id">,
  toOwnerTrail: boolean,
  draft: Omit<AuditEvent.Draft, "subject">
) =>
  toOwnerTrail
    // the owner trail's subject is the realm's id (Audit.makeOwner): the invitation is named in `reason`
    ? Audit.makeOwner(realm, { ...draft, reason: `invitation ${invitation.id}${draft.reason !== undefined ? `; ${draft.reason}` : ""}` })
    : Audit.make(realm, { ...draft, subject: invitation.id })

const byOwner = (actor: AuditEvent.Actor) => actor.type === "owner"

/** The invitation mail (CONTRACT §3: "mailed to `email` when SMTP is configured"): plain text, the realm named. */
export const message = (realm: Pick<Realm, "name">, invitation: Invitation.Invitation, url: string): Mailer.Message => ({
  to: invitation.email ?? "",
  // the realm's name matches CONTRACT §2's pattern, so the subject holds no line break (a display name could)
  subject: `Your invitation to ${realm.name}`,
  text: [
    `You are invited to the realm ${realm.name} as ${invitation.role === "admin" ? "an admin" : "a member"}.`,
    "",
    "Open this link to choose your username and password:",
    url,
    "",
    `The link works once and expires at ${DateTime.formatIso(invitation.expiresAt)}.`,
    "If you did not expect this invitation, ignore this message.",
    ""
  ].join("\n")
})

/**
 * Mails the invitation when it has an email and SMTP is configured. A failure keeps the invitation (CONTRACT §3: the
 * API still answers its URL): it is logged in one line without the secret and audited as `invitation.mail_failed`.
 */
const mail = (realm: Realm, invitation: Invitation.Invitation, url: string) =>
  Effect.gen(function*() {
    const mailer = yield* Mailer.Mailer
    if (invitation.email === undefined || !mailer.configured) return "not_sent" as const
    return yield* mailer.send(message(realm, invitation, url)).pipe(
      Effect.as("sent" as const),
      Effect.catchTag("MailFailed", (e) =>
        Effect.gen(function*() {
          yield* Effect.logWarning("invitation mail failed").pipe(
            Effect.annotateLogs({ realm: realm.name, invitation: invitation.id, reason: e.reason })
          )
          const event = yield* eventOf(realm, invitation, byOwner(invitation.createdBy), {
            type: "invitation.mail_failed",
            actor: invitation.createdBy,
            result: "failure",
            reason: e.reason
          })
          // the invitation stands whatever happens to its event: a store failure here is logged, not answered
          yield* Effect.flatMap(Audit.Audit, (audit) => audit.append(event)).pipe(
            Effect.catchAll((cause) => Effect.logError("invitation.mail_failed could not be audited", cause))
          )
          return "failed" as const
        }))
    )
  })

/** CONTRACT §3 POST: a new pending invitation with its event, then the mail; `urlOf` makes the page's URL of a secret. */
export const create = (realm: Realm, input: NewInvitation, actor: AuditEvent.Actor, urlOf: (secret: string) => string) =>
  Effect.gen(function*() {
    const secret = yield* Entropy.token(Invitation.secretBytes)
    const id = yield* Entropy.uuid
    const event = yield* eventOf(realm, { id }, byOwner(actor), {
      type: "invitation.created",
      actor,
      result: "success",
      reason: Invitation.describe(input)
    })
    const invitation = Invitation.Invitation.Pending({
      realmId: realm.id,
      id,
      secretHash: yield* Hash.sha256(secret),
      role: input.role,
      ...(input.email !== undefined ? { email: input.email } : {}),
      expiresAt: DateTime.addDuration(event.at, input.lifetime ?? Invitation.defaultLifetime),
      createdAt: event.at,
      createdBy: actor,
      version: 1
    })
    yield* Effect.flatMap(Invitations, (store) => store.insert(invitation, event))
    const url = urlOf(secret)
    return { invitation, url, mail: yield* mail(realm, invitation, url) } satisfies Created
  })

export const find = (realm: Realm, id: string) =>
  Effect.flatMap(Invitations, (store) => store.find(realm.id, id)).pipe(
    Effect.flatMap(Option.match({
      onNone: () => Effect.fail(new NotFound({ entity: "invitation" })),
      onSome: Effect.succeed
    }))
  )

export const list = (realm: Realm, window: Page.Window) => Effect.flatMap(Invitations, (store) => store.list(realm.id, window))

/** CONTRACT §3 DELETE: revokes `invitation` as read (compare-and-set: `Stale` if it moved); refused when not pending. */
export const revoke = (realm: Realm, invitation: Invitation.Invitation, actor: AuditEvent.Actor) =>
  Effect.gen(function*() {
    const now = yield* DateTime.now
    const revoked = yield* Invitation.revoke(invitation, now)
    const event = yield* eventOf(realm, invitation, byOwner(actor), {
      type: "invitation.revoked",
      actor,
      result: "success",
      reason: Invitation.describe(invitation)
    })
    yield* Effect.flatMap(Invitations, (store) => store.transition(revoked, invitation.version, [event]))
    return revoked
  })

/** The invitation a URL's secret names (`NotFound` when none: the page's 404). */
export const findBySecret = (realm: Realm, secret: string) =>
  Effect.gen(function*() {
    // ADR 0037: a secret is 43 base64url characters; anything else names nothing, without asking the store
    if (!/^[A-Za-z0-9_-]{43}$/.test(secret)) return yield* new NotFound({ entity: "invitation" })
    const secretHash = yield* Hash.sha256(secret)
    const found = yield* Effect.flatMap(Invitations, (store) => store.findBySecret(realm.id, secretHash))
    if (Option.isNone(found)) return yield* new NotFound({ entity: "invitation" })
    return found.value
  })

/** CONTRACT §4: why the invitation at epoch millisecond `now` cannot be accepted (its page's 410), or undefined. */
export const usable = (invitation: Invitation.Invitation, now: number) => {
  const refused = Invitation.accept(invitation, "", DateTime.unsafeMake(now))
  return refused._tag === "Left" ? refused.left.reason : undefined
}

/** What the person chooses on the invitation page (CONTRACT §4), already checked by the protocol's rules. */
export interface Acceptance {
  readonly username: string
  readonly password: string
  readonly name?: string | undefined
}

/**
 * CONTRACT §4: accepting creates the user with the invitation's role and email, once. The invitation turns Accepted
 * by compare-and-set, the user is inserted (a taken username: `AlreadyExists`, nothing written) and
 * `invitation.accepted` and `user.created` are appended, all in one write: of two racing acceptances one wins and
 * the other finds the invitation accepted.
 */
export const accept = (realm: Realm, invitation: Invitation.Invitation, input: Acceptance) =>
  Effect.gen(function*() {
    const sub = yield* Entropy.uuid
    const accepted = yield* Invitation.accept(invitation, sub, yield* DateTime.now)
    const passwordHash = yield* Effect.flatMap(PasswordHasher, (h) => h.hash(input.password))
    const actor: AuditEvent.Actor = { type: "user", id: sub }
    const userCreated = yield* Audit.make(realm, {
      type: "user.created",
      actor,
      subject: sub,
      result: "success",
      reason: `accepted invitation ${invitation.id}; ${Invitation.describe(invitation)}`
    })
    const invitationAccepted = yield* eventOf(realm, invitation, byOwner(invitation.createdBy), {
      type: "invitation.accepted",
      actor,
      result: "success",
      reason: Invitation.describe(invitation)
    })
    const user: User.User = {
      realmId: realm.id,
      sub,
      username: input.username,
      passwordHash,
      ...(invitation.email !== undefined ? { email: invitation.email } : {}),
      ...(input.name !== undefined ? { name: input.name } : {}),
      roles: Invitation.rolesOf(invitation.role),
      disabled: false,
      version: 1,
      createdAt: userCreated.at
    }
    yield* Effect.flatMap(Invitations, (store) => store.transition(accepted, invitation.version, [userCreated, invitationAccepted], user)).pipe(
      // a racing acceptance (or a revocation) won: say what the invitation is now
      Effect.catchTag("Stale", () => refusalNow(realm, invitation.id))
    )
    return user
  })

/** After a lost compare-and-set: the invitation as it is now, refused as the page must say (or `Stale` again). */
const refusalNow = (realm: Realm, id: string) =>
  Effect.gen(function*() {
    const now = yield* DateTime.now
    const current = yield* find(realm, id)
    const refused = Invitation.accept(current, "", now)
    return yield* (refused._tag === "Left" ? Effect.fail(refused.left) : Effect.fail(new Stale({ entity: "invitation" })))
  })
