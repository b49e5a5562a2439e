/** Remembered consent: per person, client, scope and resource (issue 4 item 2). */
import type { DateTime } from "effect"

export interface Consent {
  readonly realmId: string
  readonly sub: string
  readonly clientId: string
  readonly scopes: ReadonlyArray<string>
  readonly resources: ReadonlyArray<string>
  readonly grantedAt: DateTime.Utc
}

/** Whether an earlier consent already covers every scope and resource asked for now. */
export const covers = (consent: Consent | undefined, scopes: ReadonlyArray<string>, resources: ReadonlyArray<string>) =>
  consent !== undefined && scopes.every((s) => consent.scopes.includes(s)) && resources.every((r) => consent.resources.includes(r))

/** A new consent widens the remembered one; it never narrows it. */
export const merge = (earlier: Consent | undefined, next: Consent): Consent =>
  earlier === undefined ? next : {
    ...next,
    scopes: Array.from(new Set([...earlier.scopes, ...next.scopes])),
    resources: Array.from(new Set([...earlier.resources, ...next.resources]))
  }
