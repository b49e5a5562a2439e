/** Choosing a token's audience and scope (CONTRACT §5 "Audience", RFC 8707 §2). */
import { Data, Either } from "effect"
import type { Resource } from "./Resource.js"

/** RFC 8707 §2: invalid_target. */
export class TargetRejected extends Data.TaggedError("TargetRejected")<{
  readonly reason: "unknown_resource" | "not_allowed" | "not_granted" | "ambiguous" | "too_many"
}> {}

/** RFC 6749 §5.2: invalid_scope. */
export class ScopeRejected extends Data.TaggedError("ScopeRejected")<{ readonly reason: "not_granted" | "none_left" }> {}

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
    if (!input.grantedResources.includes(input.requestedResource)) return Either.left(new TargetRejected({ reason: "not_granted" }))
    audience = input.requestedResource
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
