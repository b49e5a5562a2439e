/**
 * The token endpoint (RFC 6749 §3.2, §4.1.3, §4.4, §5, §6; OAuth 2.1 §3.2; RFC 8707 §2; RFC 8628 §3.4-3.5): code,
 * refresh, client credentials, JWT-bearer, token exchange and device code; DPoP-bound tokens for every grant (RFC 9449 §5).
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import { Cause, Effect, Match, Option } from "effect"
import { AuthorizationCodeGrant, ClientAuth, ClientCredentialsGrant, RefreshTokenGrant } from "@tessera/domain"
import { JwtBearerGrant } from "@tessera/domain"
import { TokenExchangeGrant } from "@tessera/domain"
import { DeviceCodeGrant } from "@tessera/domain"
import type { DeviceAuthorization } from "@tessera/domain"
import { Endpoints, JwtAssertion, Metrics, Tokens } from "@tessera/domain"
import { StoreError } from "@tessera/domain"
import type { AdminAccess } from "@tessera/domain"
import { Delegation } from "@tessera/domain"
import type { Audience, AuthorizationCode, Client, Realm, RefreshFamily, TokenSet } from "@tessera/domain"
import { Dpop, ErrorResponse, TokenRequest } from "@tessera/protocol"
import * as ClientCredentials from "./ClientCredentials.js"
import * as RequestContext from "./RequestContext.js"
import * as Cors from "./Cors.js"
import { grantTypesSupported } from "./DiscoveryRoute.js"
import * as DpopProof from "./DpopProof.js"
import * as FormBody from "./FormBody.js"
import * as Issuer from "./Issuer.js"
import { fromEither, handle, json, refusedText } from "./Respond.js"
import * as Traces from "../Traces.js"

/** What the grants and client authentication can refuse: each has exactly one answer below. */
type Refusal =
  | ClientAuth.ClientAuthFailed
  | AuthorizationCode.CodeRejected
  | ClientCredentialsGrant.ClientRejected
  | JwtBearerGrant.JwtBearerRejected
  | JwtBearerGrant.JwtBearerScopeRejected
  | Delegation.AgentRejected
  | Delegation.SubjectRejected
  | Delegation.ActorRejected
  | Delegation.FreshAuthenticationRequired
  | RefreshFamily.RefreshRejected
  | Audience.TargetRejected
  | Audience.ScopeRejected
  | DeviceAuthorization.DeviceCodeRejected
  | DeviceAuthorization.AuthorizationPending
  | AdminAccess.AdminRoleRequired
  | TokenExchangeGrant.IdJagRejected

/**
 * The one mapping to RFC 6749 §5.2 errors; a grant's `reason` goes to the log, never the wire. Client authentication's
 * one answer names the issuer in its challenge; every other refusal's answer is fixed (`refusalError`, built once).
 */
const toErrorResponse = (issuer: string) => (refusal: Refusal): ErrorResponse.ErrorResponse =>
  refusal._tag === "ClientAuthFailed" ? ClientCredentials.invalidClient(issuer)(refusal) : refusalError(refusal)

const refusalError: (refusal: Exclude<Refusal, ClientAuth.ClientAuthFailed>) => ErrorResponse.ErrorResponse =
  Match.type<Exclude<Refusal, ClientAuth.ClientAuthFailed>>().pipe(Match.tagsExhaustive({
    CodeRejected: ({ reason }) =>
      reason === "dpop_mismatch" ? ErrorResponse.make("invalid_grant", dpopBound("authorization code")) : ErrorResponse.make("invalid_grant"),
    ClientRejected: () => ErrorResponse.make("unauthorized_client", "the client credentials grant is for confidential clients only"),
    RefreshRejected: ({ reason }) =>
      reason === "dpop_mismatch" ? ErrorResponse.make("invalid_grant", dpopBound("refresh token")) : ErrorResponse.make("invalid_grant"),
    AgentRejected: () => ErrorResponse.make("unauthorized_client", "token exchange is for agent clients only"),
    SubjectRejected: ({ reason }) => ErrorResponse.make("invalid_grant", subjectDescription[reason]),
    ActorRejected: ({ reason }) =>
      ErrorResponse.make("invalid_grant", reason === "dpop_mismatch" ? dpopBound("'actor_token'") : "'actor_token' is not an active access token of this client"),
    FreshAuthenticationRequired: () =>
      ErrorResponse.make("invalid_scope", "fresh authentication required: a requested scope is a step-up scope of the resource"),
    JwtBearerRejected: ({ reason }) => ErrorResponse.make("invalid_grant", jwtBearerDescription[reason]),
    JwtBearerScopeRejected: ({ reason }) => ErrorResponse.make("invalid_scope", jwtBearerScopeDescription[reason]),
    TargetRejected: ({ reason }) => ErrorResponse.make("invalid_target", targetDescription[reason]),
    ScopeRejected: ({ reason }) => ErrorResponse.make("invalid_scope", scopeDescription[reason]),
    DeviceCodeRejected: ({ reason }) => deviceCodeError[reason](),
    // CONTRACT §3, ADR 0035: the person's grant no longer carries the admin resource (RFC 6749 §5.2: invalid_grant)
    IdJagRejected: ({ reason }) =>
      reason === "not_target"
        // draft-ietf-oauth-identity-assertion-authz-grant §4.3, RFC 8693 §2.2.2: unwilling to issue for that audience
        ? ErrorResponse.make("invalid_target", "the 'audience' is not one of the client's 'id_jag_targets'")
        : ErrorResponse.make("invalid_grant", idJagSubjectDescription[reason]),
    AdminRoleRequired: () => ErrorResponse.make("invalid_grant", "only an admin of the realm may have a token for its admin API"),
    // RFC 8628 §3.5: still pending; slow_down also tells the device the interval is now 5 seconds longer
    AuthorizationPending: ({ slowDown, interval }) =>
      slowDown
        ? ErrorResponse.make("slow_down", `polling too fast: wait at least ${interval} seconds between requests`)
        : ErrorResponse.make("authorization_pending", "the person has not yet approved the request")
  }))

/** RFC 8628 §3.5 and RFC 6749 §5.2: every token endpoint error is 400 (access_denied's default 403 is for redirects). */
const deviceCodeError: Record<DeviceAuthorization.DeviceCodeRejected["reason"], () => ErrorResponse.ErrorResponse> = {
  unknown: () => ErrorResponse.make("invalid_grant"),
  replayed: () => ErrorResponse.make("invalid_grant"),
  client_mismatch: () => ErrorResponse.make("invalid_grant"),
  expired: () => ErrorResponse.make("expired_token", "the device code has expired: start again"),
  denied: () => ErrorResponse.make("access_denied", "the person denied the request", 400)
}

/** RFC 9449 §5, §10: the grant is bound to a DPoP key the request did not prove (ADR 0018: invalid_grant). */
const dpopBound = (what: string) => `the ${what} is bound to a DPoP key: send a DPoP proof of that key`

const targetDescription: Record<Audience.TargetRejected["reason"], string> = {
  ambiguous: "'resource' is required: the client is not registered for exactly one resource",
  not_granted: "the resource was not granted",
  // one answer for both, so the endpoint does not tell which resources exist
  unknown_resource: "the resource is unknown or not allowed to the client",
  not_allowed: "the resource is unknown or not allowed to the client",
  too_many: "at most one 'resource' may be requested"
}

const scopeDescription: Record<Audience.ScopeRejected["reason"], string> = {
  not_granted: "the scope asks for more than was granted",
  none_left: "none of the scope applies to the resource",
  unknown: "a requested scope is neither the resource's nor registered for the client",
  openid: "'openid' needs a person: the client credentials grant cannot have it",
  step_up: "a requested scope needs a person's fresh authentication (step-up): the client credentials grant cannot have it"
}

/**
 * RFC 7523 §3.1: fixed texts, never the assertion's own values. Before the signature verifies, one text for every
 * reason, so the endpoint does not tell which issuers are trusted (a `jwks_uri` issuer has to be named as such).
 */
const unverifiedAssertion = "the assertion is not a JWT signed by a trusted issuer of the realm"
const jwtBearerDescription: Record<JwtBearerGrant.JwtBearerRejected["reason"], string> = {
  malformed: unverifiedAssertion,
  untrusted_issuer: unverifiedAssertion,
  signature: unverifiedAssertion,
  jwks_unavailable: "the trusted issuer's keys could not be fetched from its 'jwks_uri'",
  invalid: "the assertion is not valid",
  audience: "the assertion's 'aud' must be the issuer or the token endpoint",
  exp_missing: "the assertion must have 'exp'",
  expired: "the assertion has expired",
  iat_missing: "the assertion must have 'iat'",
  iat_future: "the assertion's 'iat' is in the future",
  lifetime: `the assertion must not be valid for more than ${JwtAssertion.maxLifetimeSeconds} seconds ('exp' - 'iat')`,
  jti_missing: "the assertion must have 'jti'",
  jti_length: `the assertion's 'jti' must be at most ${JwtAssertion.maxJtiLength} characters`,
  replayed: "the assertion was already used ('jti' seen before)",
  unknown_subject: "the assertion's 'sub' is neither a user of the realm nor the client",
  // CONTRACT §5 ID-JAG, draft-ietf-oauth-identity-assertion-authz-grant §4.4.1
  id_jag_not_trusted: "the trusted issuer is not registered for ID-JAGs ('id_jag')",
  id_jag_audience: "the ID-JAG's 'aud' must be the issuer",
  client_mismatch: "the ID-JAG's 'client_id' must be the authenticated client",
  id_jag_claims: "the ID-JAG's 'resource' must be a URI or an array of URIs and its 'scope' a string",
  id_jag_subject: `the ID-JAG's 'sub' must be 1 to ${JwtBearerGrant.maxSubjectLength} characters (OpenID Connect Core §2)`,
  // ADR 0047: whether the person exists at the issuer is not the client's to learn beyond this
  unlinked: "the ID-JAG's subject is linked to no user of the realm",
  user_disabled: "the ID-JAG's subject is linked to no user of the realm"
}

const jwtBearerScopeDescription: Record<JwtBearerGrant.JwtBearerScopeRejected["reason"], string> = {
  openid: "'openid' needs a person: the assertion's subject is the client itself",
  step_up: "a requested scope needs a person's fresh authentication (step-up): the JWT-bearer grant cannot have it"
}

/** CONTRACT §5 "Token exchange": invalid_grant; who the token belongs to is not told beyond "not to you". */
const subjectDescription: Record<Delegation.SubjectRejected["reason"], string> = {
  invalid: "'subject_token' is not an active access token of this realm",
  other_client: "'subject_token' may not be delegated to this client",
  no_person: "'subject_token' may not be delegated to this client",
  no_may_act: "'subject_token' may not be delegated to this client",
  // ADR 0034: the person's delegation to this agent was revoked after the subject token was issued
  revoked: "'subject_token' may not be delegated to this client",
  // ADR 0013, as for JWT-bearer assertions: one text until the signature verifies, so trusted issuers are not told
  jwt_unverified: "'subject_token' is not a JWT signed by a trusted issuer of the realm",
  jwt_keys_unavailable: "the trusted issuer's keys could not be fetched from its 'jwks_uri'",
  jwt_invalid: "'subject_token' is not valid",
  jwt_audience: "the 'subject_token''s 'aud' must be the issuer or the token endpoint",
  jwt_expired: "'subject_token' has expired or has no 'exp'",
  jwt_iat_future: "the 'subject_token''s 'iat' is in the future",
  unknown_subject: "the 'subject_token''s 'sub' is not a user of the realm",
  dpop_mismatch: dpopBound("'subject_token'"),
  act_chain: `'subject_token' carries an 'act' chain of more than ${Delegation.maxActors - 1} actors, or an actor that is not an object of claims`
}

/** draft-ietf-oauth-identity-assertion-authz-grant §4.3.3 (CONTRACT §5 "ID-JAG"): the subject ID token's refusals. */
const idJagSubjectDescription: Record<Exclude<TokenExchangeGrant.IdJagRejected["reason"], "not_target">, string> = {
  invalid: "'subject_token' is not an ID token of this realm",
  expired: "'subject_token' has expired",
  other_client: "'subject_token' was not issued to this client",
  // one text for both: whether the person still exists is not told beyond "no longer"
  session_ended: "'subject_token' no longer stands for a signed-in person",
  unknown_subject: "'subject_token' no longer stands for a signed-in person"
}

const isRefusal = (e: { readonly _tag: string }): e is Refusal => e._tag !== "ErrorResponse" && e._tag !== "StoreError"

/** RFC 8707 §2: these grants issue a token for one audience, so more than one `resource` is invalid_target. */
const oneResource = (resource: ReadonlyArray<string>) =>
  resource.length > 1
    ? Effect.fail(ErrorResponse.make("invalid_target", "at most one 'resource' may be requested"))
    : Effect.succeed(resource[0])

interface Context {
  readonly realm: Realm.Realm
  readonly issuer: string
  readonly client: Client.Client
  readonly context: RequestContext.Context
  readonly dpopKey: Tokens.DpopKey
}

/** One line per grant: the protocol variant, decoded, to its domain module (the matcher is built once, here). */
const grantOf = Match.type<TokenRequest.TokenRequest>().pipe(
  Match.when({ grant_type: "authorization_code" }, (r) => (ctx: Context) =>
    Effect.flatMap(oneResource(r.resource), (resource) =>
      AuthorizationCodeGrant.handle({ ...ctx, code: r.code, redirectUri: r.redirect_uri, codeVerifier: r.code_verifier, resource }))),
  Match.when({ grant_type: "refresh_token" }, (r) => (ctx: Context) =>
    Effect.flatMap(oneResource(r.resource), (resource) =>
      RefreshTokenGrant.handle({ ...ctx, refreshToken: r.refresh_token, scope: r.scope, resource }))),
  Match.when({ grant_type: "client_credentials" }, (r) => (ctx: Context) =>
    Effect.flatMap(oneResource(r.resource), (resource) => ClientCredentialsGrant.handle({ ...ctx, scope: r.scope, resource }))),
  Match.when({ grant_type: JwtBearerGrant.grantType }, (r) => (ctx: Context) =>
    Effect.flatMap(oneResource(r.resource), (resource) => JwtBearerGrant.handle({ ...ctx, assertion: r.assertion, scope: r.scope, resource }))),
  // draft-ietf-oauth-identity-assertion-authz-grant §4.3: requested_token_type id-jag, before any other exchange
  Match.when({ grant_type: TokenExchangeGrant.grantType, requested_token_type: TokenExchangeGrant.idJagTokenType }, (r) => (ctx: Context) =>
    Effect.flatMap(oneResource(r.resource), (resource) =>
      TokenExchangeGrant.handleIdJag({ ...ctx, idToken: r.subject_token, audience: r.audience, scope: r.scope, resource }))),
  Match.when({ grant_type: TokenExchangeGrant.grantType }, (r) => (ctx: Context) =>
    Effect.flatMap(oneResource(r.resource), (resource) =>
      TokenExchangeGrant.handle({
        ...ctx, subjectToken: r.subject_token, subjectTokenType: r.subject_token_type, actorToken: r.actor_token, scope: r.scope, resource
      }))),
  Match.when({ grant_type: DeviceCodeGrant.grantType }, (r) => (ctx: Context) =>
    Effect.flatMap(oneResource(r.resource), (resource) => DeviceCodeGrant.handle({ ...ctx, deviceCode: r.device_code, resource }))),
  Match.exhaustive
)

/** Any grant's run: what every grant may answer, fail with and need. */
type Granted = ReturnType<ReturnType<typeof grantOf>>

const dispatch = (request: TokenRequest.TokenRequest, ctx: Context): Effect.Effect<
  Effect.Effect.Success<Granted>,
  Effect.Effect.Error<Granted>,
  Effect.Effect.Context<Granted>
> => grantOf(request)(ctx)

const unsupportedGrantType = ErrorResponse.make("unsupported_grant_type", "'grant_type' is not supported")

/**
 * RFC 6749 §5.1: the token response; never cached. RFC 9449 §5: `token_type` DPoP when the access token is bound to
 * the request's proof, with the realm's next nonce when it requires nonces (§8.2).
 */
const tokenResponse = (set: TokenSet.TokenSet, proof: Dpop.Proof | undefined, nonceHeader: Record<string, string>) =>
  json(tokenResponseBody(set, proof !== undefined), 200, { pragma: "no-cache", ...nonceHeader })

/** RFC 6749 §5.1: the token response's JSON object. */
export const tokenResponseBody = (set: TokenSet.TokenSet, dpop: boolean) => ({
  access_token: set.accessToken,
  // RFC 8693 §2.2.1: N_A when the issued token is not an access token (draft-ietf-oauth-identity-assertion-authz-grant
  // §4.3.4: an ID-JAG, whether or not a DPoP key is bound into it)
  token_type: set.issuedTokenType === TokenExchangeGrant.idJagTokenType ? "N_A" : dpop ? "DPoP" : "Bearer",
  expires_in: set.expiresIn,
  ...(set.scope.length > 0 ? { scope: set.scope.join(" ") } : {}),
  ...(set.idToken !== undefined ? { id_token: set.idToken } : {}),
  ...(set.refreshToken !== undefined ? { refresh_token: set.refreshToken } : {}),
  // RFC 8693 §2.2.1
  ...(set.issuedTokenType !== undefined ? { issued_token_type: set.issuedTokenType } : {})
})

/** The `error` code `handle` answers a failure of the endpoint with; none when the client went away. */
const answeredError = (cause: Cause.Cause<ErrorResponse.ErrorResponse | StoreError.StoreError>) =>
  Option.match(Cause.failureOption(cause), {
    onSome: (e) =>
      e._tag === "ErrorResponse" ? e.error : StoreError.isRealmGone(e) || refusedText(e) ? "invalid_request" : "temporarily_unavailable",
    onNone: () => Cause.isInterruptedOnly(cause) ? undefined : "server_error"
  })

/** CONTRACT §8 `tessera_token_refusals_total{realm,error}`: every error answer of a realm that exists. */
const countRefusals = (realm: Realm.Realm) =>
<A, R>(answer: Effect.Effect<A, ErrorResponse.ErrorResponse | StoreError.StoreError, R>) =>
  Effect.tapErrorCause(answer, (cause) => {
    const error = answeredError(cause)
    return error === undefined ? Effect.void : Metrics.tokenRefusedFor(realm.name, error)
  })

const realmToken = (realm: Realm.Realm) => Effect.gen(function*() {
  const issuer = yield* Issuer.of(realm.name)
  const params = yield* FormBody.params
  const request = yield* fromEither(TokenRequest.decode(params))
  if (!grantTypesSupported.includes(request.grant_type)) return yield* unsupportedGrantType
  // RFC 9449 §8: with nonces required, every answer to a DPoP request carries the current one
  const nonceHeader = (yield* DpopProof.header) !== undefined ? yield* DpopProof.nonceHeader(realm) : {}
  const dpopError = (rejection: Dpop.ProofRejected) =>
    Effect.logInfo("token request refused", "ProofRejected", rejection.reason).pipe(
      Effect.zipRight(Effect.fail(ErrorResponse.withHeaders(Dpop.tokenEndpointError(rejection), nonceHeader)))
    )
  // RFC 9449 §4.3, §5: a DPoP header must hold a valid proof (invalid_dpop_proof, or use_dpop_nonce, §8); checked
  // before the client authenticates, so that a nonce challenge spends no client assertion
  const proof = yield* DpopProof.ofRequest(realm, Endpoints.token(issuer)).pipe(Effect.catchTag("ProofRejected", dpopError))
  return yield* Effect.gen(function*() {
    const client = yield* ClientCredentials.fromRequest({ realm, issuer, params, allowNone: true })
    // RFC 6749 §5.2: unauthorized_client when the client may not use this grant type
    if (!client.metadata.grantTypes.includes(request.grant_type)) {
      return yield* ErrorResponse.make("unauthorized_client", `the client may not use the '${request.grant_type}' grant`)
    }
    // RFC 9449 §5.2: a client registered with dpop_bound_access_tokens MUST be refused a token request without DPoP
    if (proof === undefined && client.metadata.dpopBoundAccessTokens) return yield* dpopError(new Dpop.ProofRejected({ reason: "missing" }))
    // RFC 9449 §5: every access token the grant mints is bound to the proof's key, named in every grant's command
    const dpopKey = Option.fromNullable(proof?.jkt)
    const set = yield* dispatch(request, { realm, issuer, client, context: yield* RequestContext.current, dpopKey }).pipe(
      // ADR 0041: the grant's span (`token.authorization_code`, `token.token_exchange`, ...), while traces are exported
      Traces.span(`token.${request.grant_type.slice(request.grant_type.lastIndexOf(":") + 1).replace(/-/g, "_")}`, {
        attributes: { "tessera.realm": realm.name, "tessera.client_id": client.clientId, "oauth.grant_type": request.grant_type }
      })
    )
    // CONTRACT §8 `tessera_tokens_issued_total{realm,grant_type}`
    yield* Metrics.tokenIssuedFor(realm.name, request.grant_type)
    return tokenResponse(set, proof, nonceHeader)
  }).pipe(
    // a device polling while the person decides is the normal case, not a refusal worth a log line
    Effect.tapError((e) => isRefusal(e) && "reason" in e ? Effect.logInfo("token request refused", e._tag, e.reason) : Effect.void),
    Effect.catchIf(isRefusal, (e) => Effect.fail(toErrorResponse(issuer)(e)))
  )
})

const token = handle(Effect.gen(function*() {
  const realm = yield* Issuer.realmParam(Issuer.unknownRealm)
  return yield* realmToken(realm).pipe(countRefusals(realm))
}))

export const Routes = HttpLayerRouter.addAll([
  // MCP 2025-11-25: browser-based clients exchange codes cross-origin
  HttpLayerRouter.route("POST", "/realms/:realm/token", Cors.open(token)),
  HttpLayerRouter.route("OPTIONS", "/realms/:realm/token", Cors.preflight("POST"))
])
