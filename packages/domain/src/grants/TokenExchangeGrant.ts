/**
 * The token exchange grant (RFC 8693, CONTRACT §5 "Token exchange", DESIGN "Agents"): an agent presents a person's
 * access token of this realm (or a JWT a trusted issuer of the realm signed for them, ADR 0013) and gets one for a
 * resource, with `sub` the person and `act` the agent.
 */
import { Data, DateTime, Duration, Effect, Option } from "effect"
import { AccessTokens } from "../AccessTokens.js"
import * as AdminAccess from "../AdminAccess.js"
import * as Audit from "../Audit.js"
import type { Client } from "../Client.js"
import * as Delegation from "../Delegation.js"
import { Delegations } from "../Delegations.js"
import * as Introspection from "../Introspection.js"
import * as Jwt from "../Jwt.js"
import * as JwtAssertion from "../JwtAssertion.js"
import type { Realm } from "../Realm.js"
import { Resources } from "../Resources.js"
import { Grants } from "../Grants.js"
import { audited, type RequestContext } from "../RequestContext.js"
import { Sessions } from "../Sessions.js"
import * as SigningKeys from "../SigningKeys.js"
import * as Tokens from "../Tokens.js"
import * as TrustedJwt from "../TrustedJwt.js"
import * as User from "../User.js"
import { Users } from "../Users.js"
import * as TokenIssuance from "./TokenIssuance.js"
import type { TokenSet } from "./TokenSet.js"
import * as Tracing from "../Tracing.js"

export const grantType = "urn:ietf:params:oauth:grant-type:token-exchange"

/** RFC 8693 §3: the token type Tessera takes as subject and actor token, and issues. */
export const accessTokenType = "urn:ietf:params:oauth:token-type:access_token"

/** RFC 8693 §3: a JWT; as a subject token, one signed by a trusted issuer of the realm (ADR 0013). */
export const jwtTokenType = "urn:ietf:params:oauth:token-type:jwt"

export interface Command {
  readonly realm: Realm
  readonly issuer: string
  /** The authenticated client, registered for this grant type (the endpoint checks `grant_types`). */
  readonly client: Client
  /** An access token of this realm, or a trusted issuer's JWT, as `subjectTokenType` says (the protocol checked it). */
  readonly subjectToken: string
  readonly subjectTokenType: typeof accessTokenType | typeof jwtTokenType
  /** RFC 8693 §2.1: when given, an access token of this realm issued to the agent itself. */
  readonly actorToken: string | undefined
  readonly scope: ReadonlyArray<string> | undefined
  readonly resource: string | undefined
  readonly context: RequestContext
  /** RFC 9449 §5 (ADR 0018): the key the request proved with a DPoP proof, or none; the exchanged token is bound to it. */
  readonly dpopKey: Tokens.DpopKey
}

const scopeOf = (scope: string) => scope === "" ? [] : scope.split(" ")

/** The verified subject token: what the policy reads, and what the new token and its audit event carry over. */
interface VerifiedSubject {
  readonly subject: Delegation.Subject
  readonly exp: number
  /** When the subject token was issued (`iat`, epoch seconds), if it says: a revoked delegation refuses older ones. */
  readonly iat: number | undefined
  readonly acr?: string | undefined
  /** The grant the subject access token stems from, to tie the new token to it (none for a trusted issuer's JWT). */
  readonly grantId?: string | undefined
  /** RFC 9449 §6.1: the key the subject access token is bound to, if it is DPoP-bound. */
  readonly jkt?: string | undefined
}

/** CONTRACT §5: signed by the realm (ES256, its JWKS), typ at+jwt, its issuer, not expired, not revoked. */
const realmSubject = (cmd: Command) =>
  Effect.gen(function*() {
    const active = yield* Introspection.activeAccessToken(cmd.realm, cmd.issuer, cmd.subjectToken)
    if (Option.isNone(active)) return yield* new Delegation.SubjectRejected({ reason: "invalid" })
    const claims = active.value
    const grant = yield* grantBehind(cmd.realm.id, claims.jti)
    return {
      subject: {
        sub: claims.sub,
        client_id: claims.client_id,
        scope: scopeOf(claims.scope),
        auth_time: claims.auth_time,
        aud: typeof claims.aud === "string" ? [claims.aud] : claims.aud,
        ...(grant !== undefined ? { grant: { clientId: grant.clientId, resources: grant.resources } } : {}),
        ...(claims.act !== undefined ? { act: claims.act } : {}),
        ...(claims.may_act !== undefined ? { may_act: claims.may_act } : {})
      },
      exp: claims.exp,
      iat: claims.iat,
      acr: claims.acr,
      grantId: grant?.grantId,
      jkt: Tokens.boundKey(claims.cnf)
    } satisfies VerifiedSubject
  })

/**
 * ADR 0025: the person's authorization behind an access token of this realm, through the grant link the code, device
 * and refresh grants (and exchange, passing it on) record by `jti` (RFC 7009 §2.1). A token without one (a client's
 * own, or one minted without a grant) has none; an active token's linked grant exists and is not revoked.
 */
const grantBehind = (realmId: string, jti: string) =>
  Effect.gen(function*() {
    const link = yield* Effect.flatMap(AccessTokens, (tokens) => tokens.find(realmId, jti))
    if (Option.isNone(link) || link.value.grantId === undefined) return undefined
    const grant = yield* Effect.flatMap(Grants, (grants) => grants.find(realmId, link.value.grantId!))
    return Option.getOrUndefined(grant)
  })

const subjectRejected = (reason: Delegation.SubjectRejected["reason"]) => Effect.fail(new Delegation.SubjectRejected({ reason }))

/**
 * RFC 8693 §3 `urn:ietf:params:oauth:token-type:jwt` (ADR 0013): a JWT a trusted issuer of the realm signed (its
 * registered `jwks` or `jwks_uri`, an asymmetric algorithm), `aud` the realm's issuer or token endpoint, `exp` in the
 * future, `sub` a user of the realm. Its `scope` (RFC 8693 §4.2) bounds the new token's; its `auth_time` and `acr` are
 * not carried over: they tell of an authentication elsewhere, which Tessera cannot vouch for (as for JWT-bearer).
 */
const trustedSubject = (cmd: Command) =>
  Effect.gen(function*() {
    const { iss, payload } = yield* TrustedJwt.verify(cmd.realm, cmd.subjectToken).pipe(
      Effect.catchTag("JwtRejected", ({ reason }) => {
        switch (reason) {
          case "jwks_unavailable":
            return subjectRejected("jwt_keys_unavailable")
          case "expired":
            return subjectRejected("jwt_expired")
          case "invalid":
            return subjectRejected("jwt_invalid")
          default:
            return subjectRejected("jwt_unverified")
        }
      })
    )
    // RFC 7519 §4.1.3-4.1.6 (ADR 0050): aud this realm's issuer or token endpoint, one value; exp required, so the new
    // token's lifetime can be capped; iat no further ahead than the clock skew. No lifetime bound and no jti: a subject
    // token, unlike an assertion, may be exchanged more than once while valid (ADR 0013).
    const { exp, iat } = yield* JwtAssertion.times(payload, cmd.issuer, JwtAssertion.subjectToken).pipe(
      Effect.catchTag("JwtRejected", ({ reason }) =>
        subjectRejected(reason === "audience" ? "jwt_audience" : reason === "iat_future" ? "jwt_iat_future" : "jwt_expired"))
    )
    const { sub, scope } = payload
    // CONTRACT §5: the new token's sub is a person of this realm
    if (typeof sub !== "string" || sub === "") return yield* subjectRejected("unknown_subject")
    const user = yield* Effect.flatMap(Users, (users) => users.find(cmd.realm.id, sub))
    // CONTRACT §3: a disabled person is cut off from every grant, this one included
    if (Option.isNone(user) || !User.canSignIn(user.value)) return yield* subjectRejected("unknown_subject")
    return {
      subject: {
        sub: user.value.sub,
        client_id: undefined,
        trustedIssuer: iss,
        // RFC 8693 §4.2: space-delimited; anything else grants nothing
        scope: typeof scope === "string" ? scopeOf(scope) : [],
        ...(payload["act"] !== undefined ? { act: payload["act"] } : {}),
        ...(payload["may_act"] !== undefined ? { may_act: payload["may_act"] } : {})
      },
      exp,
      iat
    } satisfies VerifiedSubject
  })

export const handle = Effect.fnUntraced(function*(cmd: Command) {
  const agentId = cmd.client.clientId
  // CONTRACT §5: unauthorized_client before any token is looked at
  if (cmd.client.metadata.principalType !== "agent") return yield* new Delegation.AgentRejected({ reason: "not_agent" })
  const verified: VerifiedSubject = cmd.subjectTokenType === jwtTokenType ? yield* trustedSubject(cmd) : yield* realmSubject(cmd)
  // ADR 0018 (RFC 9449 §5, §6.1): the request's proven key, which the exchanged token will be bound to
  const proven = Option.getOrUndefined(cmd.dpopKey)
  if (cmd.actorToken !== undefined) {
    const actor = yield* Introspection.activeAccessToken(cmd.realm, cmd.issuer, cmd.actorToken)
    if (Option.isNone(actor)) return yield* new Delegation.ActorRejected({ reason: "invalid" })
    if (actor.value.client_id !== agentId) return yield* new Delegation.ActorRejected({ reason: "other_client" })
    // ADR 0018: a DPoP-bound actor token is the agent's only with a proof of its key
    const actorKey = Tokens.boundKey(actor.value.cnf)
    if (actorKey !== undefined && actorKey !== proven) return yield* new Delegation.ActorRejected({ reason: "dpop_mismatch" })
  }
  // ADR 0018: a sender-constrained subject token never yields a bearer token: the exchange must prove a key, and the
  // very key the subject token is bound to when it was issued to this agent (a stolen one cannot be exchanged)
  if (verified.jkt !== undefined && (proven === undefined || (verified.subject.client_id === agentId && proven !== verified.jkt))) {
    return yield* new Delegation.SubjectRejected({ reason: "dpop_mismatch" })
  }
  const { subject } = verified
  const now = yield* Jwt.nowSeconds
  const decision = yield* Delegation.decide({
    agent: { clientId: agentId, principalType: cmd.client.metadata.principalType, resources: cmd.client.metadata.resources },
    subject,
    issuer: cmd.issuer,
    now,
    requestedResource: cmd.resource,
    requestedScopes: cmd.scope,
    // CONTRACT §3, ADR 0035: an exchange never yields the admin resource (an agent is no tenant admin)
    resources: (yield* Effect.flatMap(Resources, (r) => r.list(cmd.realm.id))).filter((r) => !AdminAccess.isAdmin(r))
  })
  const policy = yield* Tokens.TokenPolicy
  // a delegated token never outlives the person's token it was exchanged for (ADR 0011)
  // RFC 8693 §4.1: sub stays the person's, act names the agent (and the chain before it); auth_time and acr are the
  // person's authentication, kept as they were
  const access = yield* Tokens.accessToken({
    realmId: cmd.realm.id,
    issuer: cmd.issuer,
    sub: subject.sub,
    audience: decision.audience,
    clientId: agentId,
    scope: decision.scope,
    ...(subject.auth_time !== undefined ? { authTime: subject.auth_time } : {}),
    ...(verified.acr !== undefined ? { acr: verified.acr } : {}),
    act: { ...decision.act },
    dpopKey: cmd.dpopKey
  }, Duration.min(policy.lifetimes.accessToken, Duration.seconds(verified.exp - now)))
  // RFC 7009 §2.1: revoking the person's grant reaches the exchanged token too, as it reaches the subject token
  if (verified.grantId !== undefined) {
    yield* Effect.flatMap(AccessTokens, (tokens) =>
      tokens.record(cmd.realm.id, access.claims.jti, verified.grantId!, DateTime.unsafeMake(access.claims.exp * 1000)))
  }
  // DESIGN "Agents": the agent is the actor, the person the subject; a step-up scope granted says so
  const event = yield* Audit.make(cmd.realm, {
    ...audited(cmd.context),
    type: "token.exchanged",
    actor: TokenIssuance.actorOf(cmd.client),
    subject: subject.sub,
    clientId: agentId,
    grantType,
    resource: decision.audience,
    scope: decision.scope.join(" "),
    act: decision.act,
    result: "success",
    ...(decision.stepUp ? { reason: "step-up scope granted: the person authenticated within the last 5 minutes" } : {}),
    // who vouched for the person: the subject JWT's verified issuer (never with a step-up: no auth_time is taken)
    ...(subject.trustedIssuer !== undefined ? { reason: `subject token issuer: ${subject.trustedIssuer}` } : {})
  })
  // ADR 0034: the agent's delegation from the person, written with the event; refused when the admin revoked it after
  // the subject token was issued (the person's new consent, a newer subject token, starts it again)
  yield* Effect.flatMap(Delegations, (delegations) =>
    delegations.exchanged({
      realmId: cmd.realm.id,
      clientId: agentId,
      sub: subject.sub,
      resource: decision.audience,
      scopes: decision.scope,
      at: event.at,
      subjectIssuedAt: verified.iat
    }, event))
  // RFC 8693 §2.2.1: issued_token_type; no refresh token (the agent exchanges again)
  return {
    accessToken: access.token,
    expiresIn: access.expiresIn,
    scope: decision.scope,
    issuedTokenType: accessTokenType
  } satisfies TokenSet
}, Tracing.span("TokenExchangeGrant.handle"))

/** draft-ietf-oauth-identity-assertion-authz-grant §4.3: the token type of an OpenID Connect ID token. */
export const idTokenType = "urn:ietf:params:oauth:token-type:id_token"

/** draft-ietf-oauth-identity-assertion-authz-grant §4.3.4: the token type of the Identity Assertion JWT Authorization Grant. */
export const idJagTokenType = "urn:ietf:params:oauth:token-type:id-jag"

/**
 * An ID-JAG refused (CONTRACT §5 "ID-JAG"). `not_target`: the audience is none of the client's `id_jag_targets`
 * (invalid_target); the rest are the subject ID token's (invalid_grant).
 */
export class IdJagRejected extends Data.TaggedError("IdJagRejected")<{
  readonly reason: "not_target" | "invalid" | "expired" | "other_client" | "session_ended" | "unknown_subject"
}> {}

export interface IdJagCommand {
  readonly realm: Realm
  readonly issuer: string
  /** The authenticated client, registered for token exchange (the endpoint checks `grant_types`). */
  readonly client: Client
  /** The ID token, as `subject_token` (its type checked by the protocol). */
  readonly idToken: string
  /** The issuer of the authorization server the ID-JAG is for. */
  readonly audience: string
  readonly resource: string | undefined
  readonly scope: ReadonlyArray<string> | undefined
  readonly context: RequestContext
  /** draft-ietf-oauth-identity-assertion-authz-grant §8.6.1.1: the key the request proved, bound into the ID-JAG; or none. */
  readonly dpopKey: Tokens.DpopKey
}

const idJagRejected = (reason: IdJagRejected["reason"]) => Effect.fail(new IdJagRejected({ reason }))

const stringClaim = (value: unknown) => typeof value === "string" && value !== "" ? value : undefined

/**
 * draft-ietf-oauth-identity-assertion-authz-grant §4.3.3: the IdP MUST validate the subject token, and that its
 * audience is the client that authenticated. An ID token of this realm (OIDC Core §3.1.3.7): signed by one of the
 * realm's RS256 keys (its JWKS), `typ` JWT as Tessera signs them (an access token, `at+jwt` and ES256, is not one),
 * `iss` this realm, not expired, `aud` exactly the client (and `azp`, when present). ADR 0048: it still stands for a
 * person who may sign in, and for a session that has not ended (`sid`), as far as the realm knows.
 */
const verifiedIdToken = (cmd: IdJagCommand) =>
  Effect.gen(function*() {
    const verified = yield* Jwt.verify(cmd.idToken, yield* SigningKeys.verifier(cmd.realm.id), {
      issuer: cmd.issuer,
      typ: "JWT",
      algorithms: ["RS256"],
      requiredClaims: ["sub", "aud", "exp", "iat"]
    }).pipe(Effect.catchTag("TokenInvalid", ({ reason }) => idJagRejected(reason === "ERR_JWT_EXPIRED" ? "expired" : "invalid")))
    const claims = verified.payload
    const sub = stringClaim(claims.sub)
    if (sub === undefined || typeof claims.exp !== "number") return yield* idJagRejected("invalid")
    // OIDC Core §3.1.3.7 (3), (5): aud holds the client; Tessera's ID tokens name it alone, and azp is that client
    const audiences = typeof claims.aud === "string" ? [claims.aud] : claims.aud ?? []
    if (audiences.length !== 1 || audiences[0] !== cmd.client.clientId) return yield* idJagRejected("other_client")
    if (claims["azp"] !== undefined && claims["azp"] !== cmd.client.clientId) return yield* idJagRejected("other_client")
    // CONTRACT §3: a disabled or deleted person is cut off from every grant, this one included
    const user = yield* Effect.flatMap(Users, (users) => users.find(cmd.realm.id, sub))
    if (Option.isNone(user) || !User.canSignIn(user.value)) return yield* idJagRejected("unknown_subject")
    // ADR 0048: the sign-in the ID token tells of (Front-Channel Logout §3 `sid`) must not have ended: logged out, or
    // revoked by an admin
    const sid = stringClaim(claims["sid"])
    if (sid !== undefined) {
      const session = yield* Effect.flatMap(Sessions, (sessions) => sessions.find(cmd.realm.id, sid))
      if (Option.isNone(session) || session.value.sub !== sub || session.value._tag === "Ended") return yield* idJagRejected("session_ended")
    }
    const amr = claims["amr"]
    return {
      sub,
      exp: claims.exp,
      authTime: typeof claims["auth_time"] === "number" ? claims["auth_time"] : undefined,
      acr: stringClaim(claims["acr"]),
      amr: Array.isArray(amr) && amr.every((m): m is string => typeof m === "string") ? amr : undefined,
      // CONTRACT §5 "ID-JAG" (ADR 0048): the email only when the ID token released it (the person consented to `email`)
      email: stringClaim(claims["email"])
    }
  })

/**
 * draft-ietf-oauth-identity-assertion-authz-grant §4.3 (CONTRACT §5 "ID-JAG"): the realm as the enterprise identity
 * provider. The client exchanges an ID token this realm issued to it for an ID-JAG toward an authorization server of
 * its `id_jag_targets`, with the client's id there; `resource` and `scope` are carried as asked (they are the other
 * server's to judge, §4.4). Audited as `id_jag.issued`; no refresh token (§4.3.4: SHOULD NOT).
 */
export const handleIdJag = Effect.fnUntraced(function*(cmd: IdJagCommand) {
  // §4.3: the IdP resolves the audience to a trust relationship it has; Tessera's are the client's id_jag_targets
  const target = cmd.client.metadata.idJagTargets?.find((t) => t.audience === cmd.audience)
  if (target === undefined) return yield* idJagRejected("not_target")
  const subject = yield* verifiedIdToken(cmd)
  const now = yield* Jwt.nowSeconds
  // ADR 0048: at most 5 minutes, and never beyond the ID token it stands on
  const lifetime = Duration.min(Tokens.idJagMaxLifetime, Duration.seconds(subject.exp - now))
  const jag = yield* Tokens.idJag({
    realmId: cmd.realm.id,
    issuer: cmd.issuer,
    sub: subject.sub,
    audience: target.audience,
    clientId: target.clientId,
    resource: cmd.resource,
    scope: cmd.scope,
    authTime: subject.authTime,
    acr: subject.acr,
    amr: subject.amr,
    email: subject.email,
    dpopKey: cmd.dpopKey
  }, lifetime)
  // CONTRACT §7: its own event type; the other server and the client's id there are named, never the token
  const event = yield* Audit.make(cmd.realm, {
    ...audited(cmd.context),
    type: "id_jag.issued",
    actor: TokenIssuance.actorOf(cmd.client),
    subject: subject.sub,
    clientId: cmd.client.clientId,
    grantType,
    ...(cmd.resource !== undefined ? { resource: cmd.resource } : {}),
    ...(cmd.scope !== undefined ? { scope: cmd.scope.join(" ") } : {}),
    result: "success",
    reason: `for ${target.audience} as client ${target.clientId}`
  })
  yield* Effect.flatMap(Audit.Audit, (audit) => audit.append(event))
  // §4.3.4: access_token is the ID-JAG, issued_token_type its type (token_type N_A, the endpoint's), no refresh token
  return {
    accessToken: jag.token,
    expiresIn: jag.expiresIn,
    scope: cmd.scope ?? [],
    issuedTokenType: idJagTokenType
  } satisfies TokenSet
}, Tracing.span("TokenExchangeGrant.handleIdJag"))
