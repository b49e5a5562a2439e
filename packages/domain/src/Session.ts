/**
 * A person's sign-in session at a realm (DESIGN "session": Authenticated(auth_time, acr, amr) -> LoggedOut), as the
 * tagged states Active -> Ended with pure transitions; the stores apply each one atomically (ADR 0054).
 */
import { Data, DateTime, Duration } from "effect"

/** How long a session lasts without a new sign-in. */
export const lifetime = Duration.hours(12)

/** What a session is, in every state. */
interface Common {
  readonly realmId: string
  /** The session id OIDC names `sid` (Front-Channel Logout 1.0 §3); public, unlike the cookie. */
  readonly sid: string
  /** SHA-256 of the cookie's secret value: the cookie is looked up by it, never stored in clear. */
  readonly cookieHash: string
  readonly sub: string
  /** When the session began (the admin API lists it; a later sign-in makes a new session, never moves this). */
  readonly createdAt: DateTime.Utc
  /** OIDC Core §2: when the person authenticated, and how (`acr`, `amr`). */
  readonly authTime: DateTime.Utc
  readonly acr: string
  readonly amr: ReadonlyArray<string>
  readonly expiresAt: DateTime.Utc
  /** Clients that got tokens in this session: front-channel logout tells each of them. */
  readonly clientIds: ReadonlyArray<string>
}

export type Session = Data.TaggedEnum<{
  /** Signed in; usable until `expiresAt` (time alone ends it, no write needed). */
  Active: Common
  /** Ended by the person (RP-Initiated Logout 1.0 §2), an admin, or the person's disabling, deletion or new password. */
  Ended: Common & { readonly endedAt: DateTime.Utc }
}>
export const Session = Data.taggedEnum<Session>()

export type Active = Extract<Session, { readonly _tag: "Active" }>
export type Ended = Extract<Session, { readonly _tag: "Ended" }>

/** A session that has just begun (a successful sign-in, OIDC Core §2 auth_time): it lasts `lifetime`. */
export const begin = (input: Omit<Common, "createdAt" | "authTime" | "expiresAt" | "clientIds">, now: DateTime.Utc): Active =>
  Session.Active({ ...input, createdAt: now, authTime: now, expiresAt: DateTime.addDuration(now, lifetime), clientIds: [] })

/** Whether the session can be used at `now`: not ended, not expired. */
export const isActive = (session: Session, now: DateTime.Utc): session is Active =>
  session._tag === "Active" && DateTime.lessThan(now, session.expiresAt)

/**
 * Pure: the session ends at `at` (RP-Initiated Logout 1.0 §2, CONTRACT §3). An ended session stays as it ended: the
 * first end is the one recorded, so a replayed logout changes nothing.
 */
export const end = (session: Session, at: DateTime.Utc): Ended =>
  Session.$match(session, {
    Active: (active) => Session.Ended({ ...active, endedAt: at }),
    Ended: (ended) => ended
  })

/**
 * ADR 0062: whether a code issued in a session may still be redeemed, the session as read now (`undefined`: no such
 * session any more). A code outlives its session only when its grant holds `offline_access` (OIDC Core §11: access
 * "when the End-User is not present"; OIDC Back-Channel Logout 1.0 §2.7 keeps offline tokens through a logout, as
 * oidc-provider's `expiresWithSession` does); otherwise the person's logout (RP-Initiated Logout 1.0 §2) or an admin's
 * ending of the session ends it too. Expiry alone does not: the 60-second code was issued while the session was live.
 */
export const codeOutlives = (session: Session | undefined, scopes: ReadonlyArray<string>) =>
  scopes.includes("offline_access") || (session !== undefined && session._tag === "Active")

/** Pure: the client got tokens in this session (Front-Channel Logout 1.0 §2: it is told when the session ends). */
export const withClient = (session: Session, clientId: string): Session => {
  if (session.clientIds.includes(clientId)) return session
  const clientIds = [...session.clientIds, clientId]
  return Session.$match(session, {
    Active: (active) => Session.Active({ ...active, clientIds }),
    Ended: (ended) => Session.Ended({ ...ended, clientIds })
  })
}

/** Authentication context of a password sign-in (OIDC Core §2 acr/amr; RFC 8176 §2 "pwd"). */
export const passwordAcr = "urn:tessera:acr:password"
export const passwordAmr: ReadonlyArray<string> = ["pwd"]
