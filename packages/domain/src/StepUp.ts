/**
 * Step-up (CONTRACT §5 "Step-up"): a resource's `step_up_scopes` ride on a fresh login only. One window for every
 * place that hands such a scope out again without the person: token exchange and refresh.
 */
import { Data, Either } from "effect"
import type { Resource } from "./Resource.js"

/** CONTRACT §5: how old (seconds) the person's login may be for a step-up scope to be granted without them. */
export const freshAuthenticationSeconds = 300

/** CONTRACT §5: the person authenticated within the last 5 minutes (`now` and `authTime` in epoch seconds). */
export const isFresh = (authTime: number | undefined, now: number) =>
  authTime !== undefined && now - authTime <= freshAuthenticationSeconds

/** CONTRACT §5 invalid_scope: a step-up scope, and the person did not authenticate within the last 5 minutes. */
export class FreshAuthenticationRequired extends Data.TaggedError("FreshAuthenticationRequired")<{
  readonly reason: "stale" | "no_authentication"
}> {}

/**
 * CONTRACT §5 "Step-up", for a refresh (RFC 6749 §6): the scope a token of `resource` may carry without the person at
 * `now`: whole while the login (`authTime`) is fresh, else without the resource's step-up scopes (RFC 6749 §3.3: a
 * narrower scope, which the response's `scope` names). When that leaves nothing of a non-empty scope, invalid_scope
 * (ADR 0025): a token that allows nothing is no answer, and only a new login brings the step-up scope back.
 */
export const withoutStale = (
  scope: ReadonlyArray<string>,
  resource: Resource | undefined,
  authTime: number | undefined,
  now: number
): Either.Either<ReadonlyArray<string>, FreshAuthenticationRequired> => {
  if (isFresh(authTime, now) || resource === undefined) return Either.right(scope)
  const kept = scope.filter((s) => !resource.stepUpScopes.includes(s))
  if (kept.length === 0 && scope.length > 0) {
    return Either.left(new FreshAuthenticationRequired({ reason: authTime === undefined ? "no_authentication" : "stale" }))
  }
  return Either.right(kept)
}
