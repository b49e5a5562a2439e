/**
 * The authorization endpoint, GET and POST `{issuer}/authorize` (OAuth 2.1 §4.1.1-4.1.2, OIDC Core §3.1.2.1-3.1.2.6,
 * RFC 9207, RFC 8707 §2, RFC 8252 §7.3): checks the request, then shows the login form, the consent form, or sends
 * the code straight back when the session and the remembered consent already cover the request.
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Context, DateTime, Duration, Effect, Either, Match, Option } from "effect"
import { Audience, Authorize, Endpoints, Interactions, RateLimit, Resources, Session, Consents, Users } from "@tessera/domain"
import type { Client, Realm } from "@tessera/domain"
import { AuthorizationRequest, ErrorResponse } from "@tessera/protocol"
import * as IpAddress from "../IpAddress.js"
import * as ErrorPage from "../pages/ErrorPage.js"
import * as AuthorizationResponse from "./AuthorizationResponse.js"
import * as ClientAddress from "./ClientAddress.js"
import * as FormBody from "./FormBody.js"
import * as SignInCookies from "./SignInCookies.js"
import * as SignInFlow from "./SignInFlow.js"

/**
 * The endpoint's bounds, per node and in memory (ADR 0026): requests per client address and realm in a minute, and
 * interactions a realm may start per interaction lifetime (so at most that many are live on this node).
 */
export interface Limits {
  readonly perAddress: RateLimit.Limit
  readonly interactionsPerRealm: RateLimit.Limit
}

export class AuthorizeLimits extends Context.Reference<AuthorizeLimits>()("@tessera/server-node/AuthorizeRoute/Limits", {
  defaultValue: (): Limits => ({
    perAddress: { limit: 120, window: Duration.minutes(1) },
    interactionsPerRealm: { limit: 50_000, window: Interactions.lifetime }
  })
}) {}

/** What the limits count against: an IPv4 address, or an IPv6 address's /64 (one host's usual allocation). */
const addressKey = (address: string | undefined) => {
  const groups = address === undefined ? undefined : IpAddress.parse(address)
  if (groups === undefined) return address ?? ""
  const mapped = groups.slice(0, 6).join() === "0,0,0,0,0,65535"
  return mapped ? IpAddress.format(groups) : `${IpAddress.format([...groups.slice(0, 4), 0, 0, 0, 0])}/64`
}

/** The error page with `Retry-After` in whole seconds (RFC 9110 §10.2.3). */
const wait = (seconds: number, status: 429 | 503, description: string) =>
  HttpServerResponse.setHeader(
    ErrorPage.errorPage({ error: "temporarily_unavailable", description, status }),
    "retry-after",
    String(seconds)
  )

type Refusal = Authorize.ClientNotAllowed | Audience.TargetRejected | Audience.ScopeRejected

/**
 * The one mapping from the domain's refusals to what goes back to the client (OAuth 2.1 §4.1.2.1, RFC 8707 §2); the
 * device authorization endpoint checks scopes and resources alike (RFC 8628 §3.1) and answers the same.
 */
export const toErrorResponse = Match.type<Refusal>().pipe(
  Match.tagsExhaustive({
    ClientNotAllowed: () => ErrorResponse.make("unauthorized_client", "the client is not registered for the authorization code grant"),
    TargetRejected: ({ reason }) =>
      ErrorResponse.make("invalid_target", reason === "not_allowed"
        ? "a requested resource is not allowed to this client"
        : "a requested resource is not registered in this realm"),
    ScopeRejected: () => ErrorResponse.make("invalid_scope", "a requested scope is not allowed to this client or its resources")
  })
)

/** OAuth 2.1 §4.1.2.1: the client and redirect URI are checked before anything may go back to the client. */
const clientAndRedirect = (realm: Realm.Realm, clientId: string, redirectUri: string | undefined) =>
  Effect.gen(function*() {
    const client = yield* SignInFlow.clientOf(realm, clientId)
    const resolved = Authorize.redirectUriFor(client, redirectUri)
    if (Either.isLeft(resolved)) {
      return yield* resolved.left.reason === "missing"
        ? SignInFlow.refuse("The application must say where to return (redirect_uri): it registered more than one address.")
        : SignInFlow.refuse("The application's return address (redirect_uri) is not registered for it.")
    }
    return { client, redirectUri: resolved.right }
  })

/** The request's parameters: the query of a GET, the form body of a POST (OIDC Core §3.1.2.1). */
const input = (method: "GET" | "POST") =>
  method === "GET"
    ? Effect.map(HttpServerRequest.HttpServerRequest, (request) => {
      const q = request.url.indexOf("?")
      return AuthorizationRequest.parse(q === -1 ? "" : request.url.slice(q + 1))
    })
    : Effect.map(FormBody.params, AuthorizationRequest.decode)

const authorize = (method: "GET" | "POST", rules: { readonly address: RateLimit.Rule; readonly realm: RateLimit.Rule }) =>
  SignInFlow.pageRoute((realm, issuer) =>
    Effect.gen(function*() {
      const limits = yield* RateLimit.RateLimit
      // ADR 0026: before anything is read or stored
      const address = yield* limits.take(rules.address, `${realm.id} ${addressKey(yield* ClientAddress.current)}`, yield* DateTime.now)
      if (address._tag === "Throttled") {
        return wait(address.retryAfterSeconds, 429, "Too many sign-in requests from your network. Try again in a moment.")
      }
      const parsed = yield* input(method).pipe(
        Effect.catchTag("ErrorResponse", (error) => Effect.succeed(Either.left(AuthorizationRequest.Failure.Page({ error }))))
      )
      if (Either.isLeft(parsed)) {
        const failure = parsed.left
        if (failure._tag === "Page") return yield* failure.error
        // OAuth 2.1 §4.1.2.1: only to a redirect URI that is registered for a known client
        const { client, redirectUri } = yield* clientAndRedirect(realm, failure.clientId, failure.redirectUri)
        return yield* AuthorizationResponse.errorToClient(
          client,
          { redirectUri, responseMode: failure.responseMode, state: failure.state, clientName: SignInFlow.clientName(client) },
          issuer,
          failure.error
        )
      }
      const params = parsed.right
      const { client, redirectUri } = yield* clientAndRedirect(realm, params.clientId, params.redirectUri)
      const to: AuthorizationResponse.Target = {
        redirectUri,
        responseMode: params.responseMode,
        state: params.state,
        clientName: SignInFlow.clientName(client)
      }
      const back = (e: ErrorResponse.ErrorResponse) => AuthorizationResponse.errorToClient(client, to, issuer, e)

      const checked = Authorize.checkClient(client)
      if (Either.isLeft(checked)) return yield* back(toErrorResponse(checked.left))
      const access = Authorize.access({
        client,
        realmResources: yield* Effect.flatMap(Resources.Resources, (r) => r.list(realm.id)),
        requestedScopes: params.scope,
        requestedResources: params.resource
      })
      if (Either.isLeft(access)) return yield* back(toErrorResponse(access.left))

      const request: Interactions.Request = {
        clientId: client.clientId,
        redirectUri,
        redirectUriGiven: params.redirectUri !== undefined,
        scopes: access.right.scopes,
        resources: access.right.resources,
        ...(params.state !== undefined ? { state: params.state } : {}),
        ...(params.nonce !== undefined ? { nonce: params.nonce } : {}),
        codeChallenge: params.codeChallenge,
        // RFC 9449 §10: the code will be bound to this key
        ...(params.dpopJkt !== undefined ? { dpopJkt: params.dpopJkt } : {}),
        responseMode: params.responseMode,
        prompt: params.prompt,
        ...(params.maxAge !== undefined ? { maxAge: params.maxAge } : {}),
        acrValues: params.acrValues,
        ...(params.loginHint !== undefined ? { loginHint: params.loginHint } : {}),
        stepUp: access.right.stepUp
      }
      // ADR 0026: what would be kept between the pages is bounded
      if (Interactions.requestBytes(request) > Interactions.maxRequestBytes) {
        return yield* back(ErrorResponse.make("invalid_request", "the authorization request is too large"))
      }

      const now = yield* DateTime.now
      const session = yield* SignInFlow.currentSession(realm)
      const none = params.prompt.includes("none")
      const login = Authorize.needsLogin(session, request, now)
      // OIDC Core §3.1.2.6: prompt=none cannot show a page
      if (login && none) return yield* back(ErrorResponse.make("login_required", "the person must sign in"))
      if (!login && Option.isSome(session)) {
        const consent = yield* Effect.flatMap(Consents.Consents, (c) => c.find(realm.id, session.value.sub, client.clientId))
        if (!Authorize.needsConsent(consent, request)) {
          return yield* SignInFlow.finish(realm, issuer, client, request, session.value)
        }
        if (none) return yield* back(ErrorResponse.make("consent_required", "the person must consent to this request"))
      }

      // ADR 0026: a flood of abandoned sign-ins cannot grow the realm's interactions without bound
      const full = yield* limits.take(rules.realm, realm.id, now)
      if (full._tag === "Throttled") return wait(full.retryAfterSeconds, 503, "Too many sign-ins are under way in this realm. Try again in a moment.")
      const forms = yield* SignInFlow.begin(realm, issuer, client, request, login ? undefined : Option.getOrUndefined(session)?.sid)
      const cookie = SignInCookies.setInteraction(realm.name, forms.interactionId, forms.csrf)
      if (!login && Option.isSome(session)) return yield* Effect.flatMap(SignInFlow.consentPage(forms, session.value), cookie)
      // someone is signed in but must confirm it's them (prompt=login, max_age, acr_values, a step-up scope)
      const active = Option.filter(session, (s) => Session.isActive(s, now))
      const stepUp = Option.isSome(active) && !params.prompt.includes("select_account")
      const username = params.loginHint ?? (stepUp
        ? Option.getOrUndefined(yield* Effect.flatMap(Users.Users, (u) => u.find(realm.id, active.value.sub)))?.username
        : undefined)
      return yield* cookie(SignInFlow.loginPage(forms, { username, stepUp }))
    }))

export const Routes = HttpLayerRouter.use((router) =>
  Effect.gen(function*() {
    const configured = yield* AuthorizeLimits
    const rules = {
      address: RateLimit.rule("authorize.address", configured.perAddress),
      realm: RateLimit.rule("authorize.interactions", configured.interactionsPerRealm)
    }
    yield* router.add("GET", "/realms/:realm/authorize", authorize("GET", rules))
    yield* router.add("POST", "/realms/:realm/authorize", authorize("POST", rules))
  })
)

/**
 * What the metadata says about this endpoint (RFC 8414 §2, OIDC Discovery §3, RFC 9207 §3): only what works here.
 * `scopes_supported` holds the OpenID Connect scopes and the scopes of the realm's resources.
 */
export const metadata = (realm: Realm.Realm, issuer: string) =>
  Effect.map(Effect.flatMap(Resources.Resources, (r) => r.list(realm.id)), (resources) => ({
    authorization_endpoint: Endpoints.authorization(issuer),
    response_modes_supported: ["query", "form_post"],
    scopes_supported: [...new Set([...Audience.oidcScopes, ...resources.flatMap((r) => r.scopes)])],
    // RFC 9207 §3: every authorization response carries iss
    authorization_response_iss_parameter_supported: true,
    prompt_values_supported: ["none", "login", "consent", "select_account"],
    acr_values_supported: [Session.passwordAcr],
    // OIDC Core §5.1 and §2: what ID tokens and userinfo can carry
    claims_supported: [
      "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "sid", "name", "preferred_username", "email"
    ],
    // OIDC Discovery §3: request_uri_parameter_supported defaults to true, so both are said explicitly
    request_parameter_supported: false,
    request_uri_parameter_supported: false
  }))
