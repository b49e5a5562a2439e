/** A person's sign-in session at a realm (DESIGN "session": Authenticated(auth_time, acr, amr) -> LoggedOut). */
import { Duration } from "effect"
import type { DateTime } from "effect"

/** How long a session lasts without a new sign-in. */
export const lifetime = Duration.hours(12)

export interface Session {
  readonly realmId: string
  /** The session id OIDC names `sid` (Front-Channel Logout 1.0 §3); public, unlike the cookie. */
  readonly sid: string
  /** SHA-256 of the cookie's secret value: the cookie is looked up by it, never stored in clear. */
  readonly cookieHash: string
  readonly sub: string
  /** When the session began (the admin API lists it; a later sign-in makes a new session, never moves this). */
  readonly createdAt: DateTime.Utc
  readonly authTime: DateTime.Utc
  readonly acr: string
  readonly amr: ReadonlyArray<string>
  readonly expiresAt: DateTime.Utc
  /** Clients that got tokens in this session: front-channel logout tells each of them. */
  readonly clientIds: ReadonlyArray<string>
  readonly endedAt?: DateTime.Utc
}

/** Authentication context of a password sign-in (OIDC Core §2 acr/amr; RFC 8176 §2 "pwd"). */
export const passwordAcr = "urn:tessera:acr:password"
export const passwordAmr: ReadonlyArray<string> = ["pwd"]
