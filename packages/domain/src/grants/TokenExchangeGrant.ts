/**
 * The token exchange grant (RFC 8693, CONTRACT §5 "Token exchange", DESIGN "Agents"): an agent presents a person's
 * access token of this realm and gets one for a resource, with `sub` the person and `act` the agent.
 */
import { DateTime, Duration, Effect, Option } from "effect"
import { AccessTokens } from "../AccessTokens.js"
import * as Audit from "../Audit.js"
import type { Client } from "../Client.js"
import * as Delegation from "../Delegation.js"
import * as Introspection from "../Introspection.js"
import * as Jwt from "../Jwt.js"
import type { Realm } from "../Realm.js"
import { Resources } from "../Resources.js"
import * as Tokens from "../Tokens.js"
import * as TokenSet from "./TokenSet.js"

export const grantType = "urn:ietf:params:oauth:grant-type:token-exchange"

/** RFC 8693 §3: the token type Tessera takes as subject and actor token, and issues. */
export const accessTokenType = "urn:ietf:params:oauth:token-type:access_token"

export interface Command {
  readonly realm: Realm
  readonly issuer: string
  /** The authenticated client, registered for this grant type (the endpoint checks `grant_types`). */
  readonly client: Client
  /** An access token of this realm (the protocol checked `subject_token_type`). */
  readonly subjectToken: string
  /** RFC 8693 §2.1: when given, an access token of this realm issued to the agent itself. */
  readonly actorToken: string | undefined
  readonly scope: ReadonlyArray<string> | undefined
  readonly resource: string | undefined
  readonly context: TokenSet.RequestContext
}

const scopeOf = (scope: string) => scope === "" ? [] : scope.split(" ")

export const handle = Effect.fn("TokenExchangeGrant.handle")(function*(cmd: Command) {
  const agentId = cmd.client.clientId
  // CONTRACT §5: unauthorized_client before any token is looked at
  if (cmd.client.metadata.principalType !== "agent") return yield* new Delegation.AgentRejected({ reason: "not_agent" })
  // CONTRACT §5: signed by the realm (ES256, its JWKS), typ at+jwt, its issuer, not expired, not revoked
  const subject = yield* Introspection.activeAccessToken(cmd.realm, cmd.issuer, cmd.subjectToken)
  if (Option.isNone(subject)) return yield* new Delegation.SubjectRejected({ reason: "invalid" })
  if (cmd.actorToken !== undefined) {
    const actor = yield* Introspection.activeAccessToken(cmd.realm, cmd.issuer, cmd.actorToken)
    if (Option.isNone(actor)) return yield* new Delegation.ActorRejected({ reason: "invalid" })
    if (actor.value.client_id !== agentId) return yield* new Delegation.ActorRejected({ reason: "other_client" })
  }
  const claims = subject.value
  const now = yield* Jwt.nowSeconds
  const decision = yield* Delegation.decide({
    agent: { clientId: agentId, principalType: cmd.client.metadata.principalType, resources: cmd.client.metadata.resources },
    subject: {
      sub: claims.sub,
      client_id: claims.client_id,
      scope: scopeOf(claims.scope),
      auth_time: claims.auth_time,
      ...(claims.act !== undefined ? { act: claims.act } : {}),
      ...(claims.may_act !== undefined ? { may_act: claims.may_act } : {})
    },
    issuer: cmd.issuer,
    now,
    requestedResource: cmd.resource,
    requestedScopes: cmd.scope,
    resources: yield* Effect.flatMap(Resources, (r) => r.list(cmd.realm.id))
  })
  const policy = yield* Tokens.TokenPolicy
  // a delegated token never outlives the person's token it was exchanged for (ADR 0011)
  // RFC 8693 §4.1: sub stays the person's, act names the agent (and the chain before it); auth_time and acr are the
  // person's authentication, kept as they were
  const access = yield* Tokens.accessToken({
    realmId: cmd.realm.id,
    issuer: cmd.issuer,
    sub: claims.sub,
    audience: decision.audience,
    clientId: agentId,
    scope: decision.scope,
    ...(claims.auth_time !== undefined ? { authTime: claims.auth_time } : {}),
    ...(claims.acr !== undefined ? { acr: claims.acr } : {}),
    act: { ...decision.act }
  }, Duration.min(policy.lifetimes.accessToken, Duration.seconds(claims.exp - now)))
  // RFC 7009 §2.1: revoking the person's grant reaches the exchanged token too, as it reaches the subject token
  const tokens = yield* AccessTokens
  const link = yield* tokens.find(cmd.realm.id, claims.jti)
  if (Option.isSome(link) && link.value.grantId !== undefined) {
    yield* tokens.record(cmd.realm.id, access.claims.jti, link.value.grantId, DateTime.unsafeMake(access.claims.exp * 1000))
  }
  // DESIGN "Agents": the agent is the actor, the person the subject; a step-up scope granted says so
  const event = yield* Audit.make(cmd.realm, {
    ...TokenSet.audited(cmd.context),
    type: "token.exchanged",
    actor: TokenSet.actorOf(cmd.client),
    subject: claims.sub,
    clientId: agentId,
    grantType,
    resource: decision.audience,
    scope: decision.scope.join(" "),
    act: decision.act,
    result: "success",
    ...(decision.stepUp ? { reason: "step-up scope granted: the person authenticated within the last 5 minutes" } : {})
  })
  yield* Effect.flatMap(Audit.Audit, (audit) => audit.append(event))
  // RFC 8693 §2.2.1: issued_token_type; no refresh token (the agent exchanges again)
  return {
    accessToken: access.token,
    expiresIn: access.expiresIn,
    scope: decision.scope,
    issuedTokenType: accessTokenType
  } satisfies TokenSet.TokenSet
})
