/**
 * Who may act for whom (CONTRACT §5 "Token exchange", DESIGN "Agents", RFC 8693): the token exchange policy as one
 * pure function, from a verified subject token, the agent asking and the realm's resources, to the new token's
 * `act`, audience and scope, or the refusal.
 */
import { Data, Either } from "effect"
import * as Audience from "./Audience.js"
import { type Resource, sameUri } from "./Resource.js"
import * as StepUp from "./StepUp.js"

/** RFC 6749 §5.2 unauthorized_client: token exchange is for agent clients (`principal_type: "agent"`) only. */
export class AgentRejected extends Data.TaggedError("AgentRejected")<{ readonly reason: "not_agent" }> {}

/**
 * CONTRACT §5 invalid_grant: the subject token is no active access token of this realm (nor a valid JWT of a trusted
 * issuer, ADR 0013), or not this agent's to use.
 */
export class SubjectRejected extends Data.TaggedError("SubjectRejected")<{
  readonly reason:
    /** Not an access token of this realm: forged, another realm's, expired, revoked, or garbage. */
    | "invalid"
    /** Issued to another client and no `may_act` names this agent. */
    | "other_client"
    /** Issued to this agent, but without a person's authorization (no `auth_time`: client credentials). */
    | "no_person"
    /** A trusted issuer's JWT whose `may_act` does not name this agent (ADR 0013: the only way it is delegable). */
    | "no_may_act"
    /** `jwt` subject token: not a JWT a trusted issuer of the realm signed (malformed, unknown `iss`, signature, alg). */
    | "jwt_unverified"
    /** `jwt` subject token: the trusted issuer's `jwks_uri` could not be fetched. */
    | "jwt_keys_unavailable"
    /** `jwt` subject token: verified, but jose refused a claim (e.g. `nbf` in the future). */
    | "jwt_invalid"
    /** `jwt` subject token: `aud` is not the realm's issuer or token endpoint (one value). */
    | "jwt_audience"
    /** `jwt` subject token: no `exp`, or it has passed. */
    | "jwt_expired"
    /** `jwt` subject token: `iat` lies further ahead than the issuer's clock skew (ADR 0050). */
    | "jwt_iat_future"
    /** `jwt` subject token: `sub` is no user of the realm. */
    | "unknown_subject"
    /** DPoP-bound (RFC 9449 §6.1), and the request proved no key, or not the one it is bound to (ADR 0018). */
    | "dpop_mismatch"
    /** Issued at or before the admin revoked this agent's delegation from the person (ADR 0034). */
    | "revoked"
    /** Its `act` is no chain of at most `maxActors - 1` actors, each an object of claims (RFC 8693 §4.1). */
    | "act_chain"
}> {}

/** RFC 8693 §2.1: an `actor_token` that is no active access token of this realm issued to the agent: invalid_grant. */
export class ActorRejected extends Data.TaggedError("ActorRejected")<{
  /** `dpop_mismatch`: the actor token is DPoP-bound and the request did not prove its key (ADR 0018). */
  readonly reason: "invalid" | "other_client" | "dpop_mismatch"
}> {}

/** CONTRACT §5 invalid_scope: a step-up scope, and the person did not authenticate within the last 5 minutes. */
export const FreshAuthenticationRequired = StepUp.FreshAuthenticationRequired
export type FreshAuthenticationRequired = StepUp.FreshAuthenticationRequired

/** The verified subject token's claims the policy reads (RFC 9068 §2.2, RFC 8693 §4.1 and §4.4). */
export interface Subject {
  readonly sub: string
  /** The client it was issued to; none for a trusted issuer's JWT (another server's clients are not ours). */
  readonly client_id: string | undefined
  /** Set when the subject token is a trusted issuer's JWT (its `iss`), not an access token of this realm. */
  readonly trustedIssuer?: string | undefined
  readonly scope: ReadonlyArray<string>
  /** Present when a person authenticated for it (code or device grant, or an exchange of such a token). */
  readonly auth_time?: number | undefined
  /** RFC 8693 §4.1: the chain of earlier actors, if the subject token came from an exchange. */
  readonly act?: unknown
  /** RFC 8693 §4.4: who may act for the subject. */
  readonly may_act?: unknown
  /** The subject access token's own `aud` (a token of this realm; none for a trusted issuer's JWT). */
  readonly aud?: ReadonlyArray<string> | undefined
  /** The person's authorization the subject token stems from (its `jti`'s grant), when it has one. */
  readonly grant?: GrantBehind | undefined
}

/** ADR 0025: of the grant behind a subject token, whom the person authorized and for which resources. */
export interface GrantBehind {
  readonly clientId: string
  /** RFC 8707: the resources the person consented to. */
  readonly resources: ReadonlyArray<string>
}

/**
 * The client asking: its id, whether it is an agent, and the `resources` the realm's admin registered for it (absent:
 * none registered explicitly; for exchange the "every resource" default counts for nothing, CONTRACT §5).
 */
export interface Agent {
  readonly clientId: string
  readonly principalType: "app" | "agent"
  readonly resources?: ReadonlyArray<string> | undefined
}

/** RFC 8693 §4.1: `{"sub": <actor>, "act": <earlier chain>}`. */
export interface Act {
  readonly sub: string
  readonly act?: unknown
}

export interface Decision {
  /** The new token's `act`: the agent, nesting any earlier `act`. */
  readonly act: Act
  readonly audience: string
  readonly scope: ReadonlyArray<string>
  /** Whether a step-up scope was granted on the person's fresh authentication (the audit event says so). */
  readonly stepUp: boolean
}

export type Refusal =
  | AgentRejected
  | SubjectRejected
  | Audience.TargetRejected
  | Audience.ScopeRejected
  | FreshAuthenticationRequired

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** RFC 8693 §4.4: `may_act` names the agent by `sub` (and, when it names an issuer, by this realm's). */
export const mayActFor = (mayAct: unknown, agentId: string, issuer: string) =>
  isObject(mayAct) && mayAct["sub"] === agentId && (mayAct["iss"] === undefined || mayAct["iss"] === issuer)

/**
 * CONTRACT §5: the subject token is delegable to the agent when it was issued to that agent by a person's
 * authorization (it has `auth_time`; a client credentials token has none), or its `may_act` names the agent.
 * A trusted issuer's JWT only by its `may_act` (ADR 0013): its `client_id` and `auth_time` speak of another server.
 */
export const delegable = (subject: Subject, agentId: string, issuer: string): Either.Either<void, SubjectRejected> => {
  if (mayActFor(subject.may_act, agentId, issuer)) return Either.void
  if (subject.trustedIssuer !== undefined) return Either.left(new SubjectRejected({ reason: "no_may_act" }))
  if (subject.client_id !== agentId) return Either.left(new SubjectRejected({ reason: "other_client" }))
  if (subject.auth_time === undefined) return Either.left(new SubjectRejected({ reason: "no_person" }))
  return Either.void
}

/**
 * RFC 8693 §4.1 sets no bound on how many actors a chain names; Tessera takes at most this many, the new agent
 * included. Each exchange adds one, and the chain is kept in the token, its audit event (jsonb) and the delegation's
 * answer: the bound keeps a hostile chain (thousands of levels, which PGlite's jsonb cannot hold and the audit chain's
 * canonical JSON would recurse through) out of every store and walker, far beyond any honest chain of agents.
 */
export const maxActors = 16

/**
 * RFC 8693 §4.1: the subject token's `act`, when it has one, is "a JSON object" whose members "are claims that identify
 * the actor", the prior actor's `act` nested in it. Anything else, or a chain so long that the agent's would exceed
 * `maxActors`, is refused before it is kept; walked link by link, never by recursion.
 */
export const priorChain = (act: unknown): Either.Either<void, SubjectRejected> => {
  let actors = 0
  for (let actor = act; actor !== undefined; actor = (actor as Record<string, unknown>)["act"]) {
    if (!isObject(actor) || ++actors >= maxActors) return Either.left(new SubjectRejected({ reason: "act_chain" }))
    // RFC 8693 §4.1: claims identifying the actor (`sub`, `iss`, ...); a nested object or array names nobody
    for (const [name, claim] of Object.entries(actor)) {
      if (name !== "act" && typeof claim === "object" && claim !== null) return Either.left(new SubjectRejected({ reason: "act_chain" }))
    }
  }
  return Either.void
}

/** RFC 8693 §4.1: the agent becomes the current actor; the subject token's `act`, if any, is nested as the prior one. */
export const actChain = (agentId: string, previous: unknown): Act =>
  previous === undefined ? { sub: agentId } : { sub: agentId, act: previous }

/**
 * ADR 0025: the resources the person granted that an exchange by `agentId` may reach (CONTRACT §5 "Token exchange"):
 * - the subject token's own `aud`: the new token reaches nothing the subject token does not already (scope within
 *   its scope, `exp` no later), and it is all a `may_act` hands over: the token, not the grant behind it;
 * - the resources of the grant behind the subject token, when the person gave that grant to this agent (a grant to
 *   another client is a consent to that client, which `may_act` does not extend);
 * - nothing for a trusted issuer's JWT: no consent was recorded in this realm (ADR 0013), its `aud` is the realm.
 */
export const personGranted = (subject: Subject, agentId: string): ReadonlyArray<string> => [
  ...(subject.trustedIssuer === undefined ? subject.aud ?? [] : []),
  ...(subject.grant !== undefined && subject.grant.clientId === agentId ? subject.grant.resources : [])
]

/**
 * CONTRACT §5: the target of an exchange is a resource of the realm the person granted (`personGranted`) or the
 * realm's admin registered in the agent's `resources`; an agent registered without `resources` has only the first.
 * Both unknown and not allowed are the one invalid_target, so the answer does not tell which resources exist.
 */
export const target = (
  agent: Agent,
  subject: Subject,
  requested: string,
  resources: ReadonlyArray<Resource>
): Either.Either<Resource, Audience.TargetRejected> => {
  // RFC 3986 §6.2.2: the registered spelling, which grants and the agent's registration hold, becomes the audience
  const resource = resources.find((r) => sameUri(r.uri, requested))
  if (resource === undefined) return Either.left(new Audience.TargetRejected({ reason: "unknown_resource" }))
  const reachable = [...(agent.resources ?? []), ...personGranted(subject, agent.clientId)]
  if (!reachable.some((uri) => sameUri(resource.uri, uri))) return Either.left(new Audience.TargetRejected({ reason: "not_allowed" }))
  return Either.right(resource)
}

/**
 * The whole policy (CONTRACT §5 "Token exchange"):
 * - The client must be an agent (`AgentRejected`), and the subject token delegable to it (`delegable`).
 * - Audience: `resource` when given, else the agent's only registered resource when it lists exactly one (RFC 8707
 *   §2, `ambiguous`); a resource of the realm the person granted or the admin registered for the agent (`target`).
 * - Scope: asked, no wider than the subject token's (`not_granted`); not asked, the subject token's; either way cut to
 *   what the resource understands, and nothing left is `none_left`.
 * - A step-up scope of the resource only when the person authenticated within the last 5 minutes: asked for, it is
 *   `FreshAuthenticationRequired`; in the default scope it is left out (and if nothing else is left, refused the same).
 */
export const decide = (input: {
  readonly agent: Agent
  readonly subject: Subject
  /** The realm's issuer, for `may_act.iss`. */
  readonly issuer: string
  /** Epoch seconds. */
  readonly now: number
  readonly requestedResource: string | undefined
  readonly requestedScopes: ReadonlyArray<string> | undefined
  readonly resources: ReadonlyArray<Resource>
}): Either.Either<Decision, Refusal> =>
  Either.gen(function*() {
    const { agent, subject } = input
    if (agent.principalType !== "agent") return yield* Either.left(new AgentRejected({ reason: "not_agent" }))
    yield* delegable(subject, agent.clientId, input.issuer)
    yield* priorChain(subject.act)
    // RFC 8707 §2: without `resource`, the agent's only registered resource (CONTRACT §5 "Audience")
    if (input.requestedResource === undefined && agent.resources?.length !== 1) {
      return yield* Either.left(new Audience.TargetRejected({ reason: "ambiguous" }))
    }
    const resource = yield* target(agent, subject, input.requestedResource ?? agent.resources![0]!, input.resources)
    const asked = input.requestedScopes
    if (asked !== undefined && !asked.every((s) => subject.scope.includes(s))) {
      return yield* Either.left(new Audience.ScopeRejected({ reason: "not_granted" }))
    }
    const understood = (asked ?? subject.scope).filter((s) => resource.scopes.includes(s))
    const stepUps = understood.filter((s) => resource.stepUpScopes.includes(s))
    const fresh = StepUp.isFresh(subject.auth_time, input.now)
    const freshRequired = () =>
      new FreshAuthenticationRequired({ reason: subject.auth_time === undefined ? "no_authentication" : "stale" })
    let scope = understood
    if (stepUps.length > 0 && !fresh) {
      if (asked !== undefined) return yield* Either.left(freshRequired())
      scope = understood.filter((s) => !resource.stepUpScopes.includes(s))
      if (scope.length === 0) return yield* Either.left(freshRequired())
    }
    if (scope.length === 0) return yield* Either.left(new Audience.ScopeRejected({ reason: "none_left" }))
    return {
      act: actChain(agent.clientId, subject.act),
      audience: resource.uri,
      scope,
      stepUp: scope.some((s) => resource.stepUpScopes.includes(s))
    } satisfies Decision
  })
