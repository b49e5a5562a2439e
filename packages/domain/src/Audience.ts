/** Choosing a token's audience and scope (CONTRACT §5 "Audience", RFC 8707 §2). */
import { Data, Either } from "effect"
import * as AdminAccess from "./AdminAccess.js"
import { type Resource, sameUri } from "./Resource.js"

/** RFC 8707 §2: invalid_target. */
export class TargetRejected extends Data.TaggedError("TargetRejected")<{
  readonly reason: "unknown_resource" | "not_allowed" | "not_granted" | "ambiguous" | "too_many"
}> {}

/** RFC 6749 §5.2: invalid_scope. */
export class ScopeRejected extends Data.TaggedError("ScopeRejected")<{
  readonly reason: "not_granted" | "none_left" | "unknown" | "openid" | "step_up"
}> {}

/** The OpenID Connect scopes: tokens for the issuer (userinfo) carry these. */
export const oidcScopes: ReadonlyArray<string> = ["openid", "profile", "email", "offline_access"]

export interface Choice {
  /** Exactly one audience: a resource URI, or the issuer for a userinfo token. */
  readonly audience: string
  readonly scope: ReadonlyArray<string>
}

/**
 * CONTRACT §5: with `resource`, it must be one the grant covers (and so registered and allowed); without it, an
 * `openid` grant's token is for the issuer, else the client's only resource when its `resources` lists exactly one
 * (and the grant covers it); anything else is invalid_target. The scope is what was granted (or asked, if
 * narrower), cut to what the audience understands.
 */
export const choose = (input: {
  readonly issuer: string
  readonly requestedResource: string | undefined
  readonly grantedResources: ReadonlyArray<string>
  /** The client's `resources` metadata; absent means every resource of the realm (and so no single one). */
  readonly clientResources: ReadonlyArray<string> | undefined
  readonly grantedScopes: ReadonlyArray<string>
  readonly requestedScopes: ReadonlyArray<string> | undefined
  readonly resources: ReadonlyArray<Resource>
}): Either.Either<Choice, TargetRejected | ScopeRejected> => {
  const asked = input.requestedScopes ?? input.grantedScopes
  // RFC 6749 §6: a refresh may narrow the scope, never widen it
  if (!asked.every((s) => input.grantedScopes.includes(s))) return Either.left(new ScopeRejected({ reason: "not_granted" }))
  let audience: string
  if (input.requestedResource !== undefined) {
    // the registered spelling, which the grant holds, becomes the audience (a client may vary case or a slash)
    const granted = input.grantedResources.find((uri) => sameUri(uri, input.requestedResource!))
    if (granted === undefined) return Either.left(new TargetRejected({ reason: "not_granted" }))
    audience = granted
  } else if (asked.includes("openid")) {
    audience = input.issuer
  } else if (input.clientResources?.length === 1) {
    // CONTRACT §5: the client's only resource, which this grant must also cover
    if (!input.grantedResources.includes(input.clientResources[0]!)) return Either.left(new TargetRejected({ reason: "not_granted" }))
    audience = input.clientResources[0]!
  } else {
    return Either.left(new TargetRejected({ reason: "ambiguous" }))
  }
  const understood = audience === input.issuer
    ? oidcScopes
    : input.resources.find((r) => r.uri === audience)?.scopes ?? []
  const scope = asked.filter((s) => understood.includes(s))
  if (audience !== input.issuer && scope.length === 0 && asked.length > 0) return Either.left(new ScopeRejected({ reason: "none_left" }))
  return Either.right({ audience, scope })
}

/**
 * The client credentials grant's audience and scope (RFC 6749 §4.4, CONTRACT §5 "Audience"): no person, so no
 * issuer audience and no step-up.
 * - `openid` asked: invalid_scope (`openid`): there is nobody to identify and no userinfo token to give.
 * - With `resource`: registered in the realm (`unknown_resource`) and allowed by the client's `resources`, absent
 *   meaning every resource but the realm's admin resource (`not_allowed`, CONTRACT §3). Without it: the client's only resource when its `resources` lists
 *   exactly one (`ambiguous` otherwise); it must still be registered (`unknown_resource`).
 * - Scope asked: a step-up scope of the resource is refused (`step_up`: no person can authenticate afresh); a scope
 *   neither the resource understands nor the client's registered `scope` lists is refused (`unknown`, RFC 6749 §5.2);
 *   the rest is cut to what the resource understands and the registered `scope` allows (RFC 6749 §3.3).
 * - No scope asked: the resource's scopes but its step-up ones, cut by the registered `scope` if any (RFC 6749 §3.3:
 *   a pre-defined default).
 * - Nothing left after the cut: invalid_scope (`none_left`), as a token that allows nothing is no answer.
 */
export const forClient = (input: {
  readonly requestedResource: string | undefined
  /** The client's `resources` metadata; absent means every resource of the realm. */
  readonly clientResources: ReadonlyArray<string> | undefined
  /** The client's registered `scope` metadata, split; absent means no limit beyond the resource's scopes. */
  readonly clientScopes: ReadonlyArray<string> | undefined
  readonly requestedScopes: ReadonlyArray<string> | undefined
  readonly resources: ReadonlyArray<Resource>
}): Either.Either<Choice, TargetRejected | ScopeRejected> => {
  if (input.requestedScopes?.includes("openid")) return Either.left(new ScopeRejected({ reason: "openid" }))
  let uri: string
  if (input.requestedResource !== undefined) {
    uri = input.resources.find((r) => sameUri(r.uri, input.requestedResource!))?.uri ?? input.requestedResource
    if (input.clientResources !== undefined && !input.clientResources.includes(uri)) {
      // an unknown resource outside the allow-list reads the same as a known one: the reason is for the log
      return Either.left(new TargetRejected({ reason: input.resources.some((r) => r.uri === uri) ? "not_allowed" : "unknown_resource" }))
    }
  } else if (input.clientResources?.length === 1) {
    uri = input.clientResources[0]!
  } else {
    return Either.left(new TargetRejected({ reason: "ambiguous" }))
  }
  const resource = input.resources.find((r) => r.uri === uri)
  if (resource === undefined) return Either.left(new TargetRejected({ reason: "unknown_resource" }))
  // CONTRACT §3: only a client whose registration lists the admin resource may have it ("every resource" does not)
  if (input.clientResources === undefined && AdminAccess.isAdmin(resource)) return Either.left(new TargetRejected({ reason: "not_allowed" }))
  const permitted = (s: string) =>
    resource.scopes.includes(s) && !resource.stepUpScopes.includes(s) && (input.clientScopes === undefined || input.clientScopes.includes(s))
  let scope: ReadonlyArray<string>
  if (input.requestedScopes === undefined) {
    scope = resource.scopes.filter(permitted)
  } else {
    if (input.requestedScopes.some((s) => resource.stepUpScopes.includes(s))) return Either.left(new ScopeRejected({ reason: "step_up" }))
    const known = (s: string) => resource.scopes.includes(s) || (input.clientScopes?.includes(s) ?? false)
    if (!input.requestedScopes.every(known)) return Either.left(new ScopeRejected({ reason: "unknown" }))
    scope = input.requestedScopes.filter(permitted)
  }
  if (scope.length === 0) return Either.left(new ScopeRejected({ reason: "none_left" }))
  return Either.right({ audience: resource.uri, scope })
}
