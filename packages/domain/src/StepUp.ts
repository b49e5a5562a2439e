/**
 * Step-up (CONTRACT §5 "Step-up"): a resource's `step_up_scopes` ride on a fresh login only. One window for every
 * place that hands such a scope out again without the person: token exchange and refresh.
 */
import type { Resource } from "./Resource.js"

/** CONTRACT §5: how old (seconds) the person's login may be for a step-up scope to be granted without them. */
export const freshAuthenticationSeconds = 300

/** CONTRACT §5: the person authenticated within the last 5 minutes (`now` and `authTime` in epoch seconds). */
export const isFresh = (authTime: number | undefined, now: number) =>
  authTime !== undefined && now - authTime <= freshAuthenticationSeconds

/** The resource's step-up scopes among `scope`. */
export const stepUpScopesIn = (scope: ReadonlyArray<string>, resource: Resource | undefined) =>
  resource === undefined ? [] : scope.filter((s) => resource.stepUpScopes.includes(s))

/**
 * CONTRACT §5 "Step-up": `scope` as it may be issued without the person at `now`: whole while the login (`authTime`)
 * is fresh, else without the resource's step-up scopes.
 */
export const keptScope = (scope: ReadonlyArray<string>, resource: Resource | undefined, authTime: number | undefined, now: number) =>
  isFresh(authTime, now) ? scope : scope.filter((s) => !(resource?.stepUpScopes.includes(s) ?? false))
