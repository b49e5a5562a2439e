/**
 * The authorization endpoint's decisions (OAuth 2.1 §4.1.1-4.1.2, OIDC Core §3.1.2.2-3.1.2.5, RFC 8707 §2,
 * RFC 8252 §7.3): which redirect URI, which scopes and resources, whether the person must sign in or consent, and
 * issuing the code once they have.
 */
import { Data, DateTime, Duration, Effect, Either, Option } from "effect"
import * as AdminAccess from "./AdminAccess.js"
import * as Audit from "./Audit.js"
import type { Draft } from "./AuditEvent.js"
import { oidcScopes, ScopeRejected, TargetRejected } from "./Audience.js"
import * as AuthorizationCode from "./AuthorizationCode.js"
import type { Client } from "./Client.js"
import * as Consent from "./Consent.js"
import * as Entropy from "./Entropy.js"
import type { GrantRecord } from "./GrantRecord.js"
import { audited, type RequestContext } from "./RequestContext.js"
import * as Hash from "./Hash.js"
import type { Request } from "./Interactions.js"
import type { Realm } from "./Realm.js"
import { type Resource, sameUri } from "./Resource.js"
import * as Session from "./Session.js"
import { Codes } from "./Codes.js"
import { Consents } from "./Consents.js"
import { Grants } from "./Grants.js"
import * as Tracing from "./Tracing.js"

/** Who is asking, for the audit trail (CONTRACT §7: ip and user_agent). */
export type { RequestContext }


/**
 * OAuth 2.1 §4.1.2.1: the redirect URI cannot be trusted, so the person sees an error page and is not redirected.
 * `missing`: the client has several redirect URIs and the request named none; `not_registered`: no registered one
 * matches.
 */
export class RedirectUriRejected extends Data.TaggedError("RedirectUriRejected")<{
  readonly reason: "missing" | "not_registered"
}> {}

/** RFC 6749 §4.1.2.1 unauthorized_client: the client may not use the authorization code grant. */
export class ClientNotAllowed extends Data.TaggedError("ClientNotAllowed")<{ readonly reason: "grant_type" }> {}

// RFC 8252 §7.3: loopback redirect URIs, split into host, port and the rest (path and query)
const loopback = /^http:\/\/(127\.0\.0\.1|\[::1\]|localhost)(?::([0-9]{1,5}))?([/?].*)?$/

/**
 * Whether a requested redirect URI matches a registered one: character for character (OAuth 2.1 §4.1.1, RFC 9700
 * §4.1.3), except that a loopback one may name any port (RFC 8252 §7.3, OAuth 2.1 §8.4.2).
 */
export const redirectUriMatches = (registered: string, requested: string) => {
  if (registered === requested) return true
  const r = loopback.exec(registered)
  const q = loopback.exec(requested)
  return r !== null && q !== null && r[1] === q[1] && (r[3] ?? "") === (q[3] ?? "")
}

/** The redirect URI the answer goes to: the requested one if it matches, else the client's only one (RFC 6749 §3.1.2.3). */
export const redirectUriFor = (client: Client, requested: string | undefined): Either.Either<string, RedirectUriRejected> => {
  const registered = client.metadata.redirectUris
  if (requested === undefined) {
    // RFC 6749 §3.1.2.3, kept by OAuth 2.1 §2.3.2: with exactly one registered redirect URI it may be omitted
    return registered.length === 1 ? Either.right(registered[0]!) : Either.left(new RedirectUriRejected({ reason: "missing" }))
  }
  return registered.some((uri) => redirectUriMatches(uri, requested))
    ? Either.right(requested)
    : Either.left(new RedirectUriRejected({ reason: "not_registered" }))
}

/**
 * Whether the client's redirect URIs are only its own word: a client ID metadata document client (its `client_id`
 * is the document's URL; Tessera's own ids never start with `http`, CONTRACT §6) or a dynamically registered one
 * (RFC 7591). A client the realm's owner registered is vouched for by the owner.
 */
export const isSelfRegistered = (client: Client) => client.dynamic === true || /^https?:\/\//i.test(client.clientId)

/**
 * RFC 9700 §4.11.2 (CONTRACT §4, ADR 0026): whether an answer may go to the client's redirect URI without a person
 * having just decided (an error, `prompt=none`): always for an owner-registered client; for a self-registered one
 * only once a person of the realm has consented to it, else the person sees an error page rather than being sent
 * to a URI nobody here has vouched for.
 */
export const redirectsUnattended = (client: Client) =>
  isSelfRegistered(client)
    ? Effect.flatMap(Consents, (consents) => consents.approved(client.realmId, client.clientId))
    : Effect.succeed(true)

/** OAuth 2.1 §4.1: the client must be registered for the code grant and the `code` response type. */
export const checkClient = (client: Client): Either.Either<void, ClientNotAllowed> =>
  client.metadata.grantTypes.includes("authorization_code") && client.metadata.responseTypes.includes("code")
    ? Either.void
    : Either.left(new ClientNotAllowed({ reason: "grant_type" }))

export interface Access {
  readonly scopes: ReadonlyArray<string>
  readonly resources: ReadonlyArray<string>
  /** A step-up scope of one of the resources was asked (CONTRACT §5 "Step-up"). */
  readonly stepUp: boolean
}

/**
 * What the request may have (RFC 8707 §2, RFC 6749 §3.3, CONTRACT §5 "Audience"):
 * - each requested resource is registered in the realm (`unknown_resource`) and allowed to the client
 *   (`not_allowed`: its `resources` metadata; absent means every resource of the realm but its admin resource,
 *   which only a client listing it may ask for, CONTRACT §3);
 * - without `resource`, the grant is for the client's listed resources, or (when it lists none) for the realm's
 *   resources whose scopes were asked;
 * - each scope is an OpenID Connect scope or a scope of those resources (of every resource allowed to the client
 *   when none was requested), and within the client's registered `scope` when it has one;
 * - without `scope`, the client's registered `scope` (what of it still applies), else nothing.
 */
export const access = (input: {
  readonly client: Client
  readonly realmResources: ReadonlyArray<Resource>
  readonly requestedScopes: ReadonlyArray<string> | undefined
  readonly requestedResources: ReadonlyArray<string>
}): Either.Either<Access, TargetRejected | ScopeRejected> => {
  const listed = input.client.metadata.resources
  // CONTRACT §3: the "every resource" default never includes the admin resource
  const allowed = input.realmResources.filter((r) => listed === undefined ? !AdminAccess.isAdmin(r) : listed.includes(r.uri))
  const requested: Array<Resource> = []
  for (const uri of input.requestedResources) {
    const resource = input.realmResources.find((r) => sameUri(r.uri, uri))
    if (resource === undefined) return Either.left(new TargetRejected({ reason: "unknown_resource" }))
    if (!allowed.includes(resource)) return Either.left(new TargetRejected({ reason: "not_allowed" }))
    requested.push(resource)
  }
  const scopeSource = requested.length > 0 ? requested : allowed
  const known = new Set([...oidcScopes, ...scopeSource.flatMap((r) => r.scopes)])
  const registered = input.client.metadata.scope?.split(" ")
  const permitted = (s: string) => known.has(s) && (registered === undefined || registered.includes(s))
  let scopes: ReadonlyArray<string>
  if (input.requestedScopes === undefined) {
    // RFC 6749 §3.3: without scope, the server uses a pre-defined default: the client's registered scope
    scopes = (registered ?? []).filter(permitted)
  } else {
    if (!input.requestedScopes.every(permitted)) return Either.left(new ScopeRejected({ reason: "not_granted" }))
    scopes = input.requestedScopes
  }
  const resources = requested.length > 0
    ? requested
    : listed !== undefined
    ? allowed
    : allowed.filter((r) => r.scopes.some((s) => scopes.includes(s)))
  const stepUp = resources.some((r) => r.stepUpScopes.some((s) => scopes.includes(s)))
  return Either.right({ scopes, resources: resources.map((r) => r.uri), stepUp })
}

/**
 * Whether the person must sign in (again) for this request: no usable session, or the request asks for a fresh
 * authentication (OIDC Core §3.1.2.1 `prompt=login` and `select_account`, `max_age`, `acr_values`; CONTRACT §5
 * step-up scopes).
 */
export const needsLogin = (session: Option.Option<Session.Session>, request: Request, now: DateTime.Utc) => {
  if (Option.isNone(session) || !Session.isActive(session.value, now)) return true
  const s = session.value
  if (request.stepUp || request.prompt.includes("login") || request.prompt.includes("select_account")) return true
  if (request.maxAge !== undefined) {
    // OIDC Core §3.1.2.1: max_age=0 is prompt=login; otherwise the authentication may be at most max_age seconds old
    if (request.maxAge === 0) return true
    if (DateTime.greaterThan(now, DateTime.addDuration(s.authTime, Duration.seconds(request.maxAge)))) return true
  }
  // OIDC Core §3.1.2.1: acr_values in order of preference; a session of another class signs in again
  return request.acrValues.length > 0 && !request.acrValues.includes(s.acr)
}

/** Whether the consent page must be shown: `prompt=consent`, or the remembered consent does not cover the request. */
export const needsConsent = (consent: Option.Option<Consent.Consent>, request: Request) =>
  request.prompt.includes("consent") || !Consent.covers(Option.getOrUndefined(consent), request.scopes, request.resources)

/** Remembers the person's consent (merged with what they allowed before), with its `consent.granted` event. */
export const grantConsent = Effect.fnUntraced(function*(input: {
  readonly realm: Realm
  readonly session: Session.Session
  readonly request: Request
  readonly context: RequestContext
}) {
  const consents = yield* Consents
  const { realm, session, request } = input
  const event = yield* decisionEvent(input, { type: "consent.granted", result: "success" })
  const earlier = yield* consents.find(realm.id, session.sub, request.clientId)
  const next: Consent.Consent = {
    realmId: realm.id,
    sub: session.sub,
    clientId: request.clientId,
    scopes: request.scopes,
    resources: request.resources,
    grantedAt: event.at
  }
  yield* consents.save(Consent.merge(Option.getOrUndefined(earlier), next), event)
}, Tracing.span("Authorize.grantConsent"))

/** A person deciding on a client's request for scopes and resources: at the consent page or the device page. */
export interface Decision {
  readonly realm: Realm
  readonly session: Session.Session
  readonly request: Pick<Request, "clientId" | "scopes" | "resources">
  readonly context: RequestContext
}

/**
 * The audit event of a person's decision (CONTRACT §7): the person is actor and subject, with the client, the
 * resources (when any) and the scopes they decided on.
 */
export const decisionEvent = (
  input: Decision,
  outcome: Pick<Draft, "type" | "result" | "reason">
) =>
  Audit.make(input.realm, {
    type: outcome.type,
    actor: { type: "user", id: input.session.sub },
    subject: input.session.sub,
    clientId: input.request.clientId,
    ...(input.request.resources.length > 0 ? { resource: input.request.resources.join(" ") } : {}),
    scope: input.request.scopes.join(" "),
    result: outcome.result,
    ...(outcome.reason !== undefined ? { reason: outcome.reason } : {}),
    ...audited(input.context)
  })

/** The `consent.denied` event of a person refusing a request (written alone, or with the change it causes). */
export const consentDenied = (input: Decision) =>
  decisionEvent(input, { type: "consent.denied", result: "failure", reason: "the person denied the request" })

/** Records that the person refused (`consent.denied`). */
export const denyConsent = Effect.fnUntraced(function*(input: {
  readonly realm: Realm
  readonly session: Session.Session
  readonly request: Request
  readonly context: RequestContext
}) {
  const audit = yield* Audit.Audit
  yield* audit.append(yield* consentDenied(input))
}, Tracing.span("Authorize.denyConsent"))

/**
 * A person's grant to a client (code and device grants): it carries the session's authentication (`auth_time`,
 * `acr`, `amr`, `sid`) and, for OpenID requests, the nonce; every token of the sign-in stems from it.
 */
export const grantFor = (input: {
  readonly realm: Realm
  readonly session: Session.Session
  readonly clientId: string
  readonly scopes: ReadonlyArray<string>
  readonly resources: ReadonlyArray<string>
  readonly nonce?: string | undefined
}) =>
  Effect.gen(function*() {
    const { realm, session } = input
    const grant: GrantRecord = {
      realmId: realm.id,
      grantId: yield* Entropy.uuid,
      clientId: input.clientId,
      sub: session.sub,
      scopes: input.scopes,
      resources: input.resources,
      authTime: session.authTime,
      acr: session.acr,
      amr: session.amr,
      sid: session.sid,
      ...(input.nonce !== undefined ? { nonce: input.nonce } : {}),
      createdAt: yield* DateTime.now
    }
    return grant
  })

/**
 * The grant and its authorization code (OAuth 2.1 §4.1.2): the grant carries the session's authentication
 * (`auth_time`, `acr`, `amr`, `sid`) and the nonce; the code is 256 random bits, stored as its SHA-256, single use,
 * 60 seconds, bound to the client, the redirect URI and the PKCE challenge. Returns the code.
 */
export const issueCode = Effect.fnUntraced(function*(input: {
  readonly realm: Realm
  readonly session: Session.Session
  readonly request: Request
}) {
  const grants = yield* Grants
  const codes = yield* Codes
  const { realm, session, request } = input
  const now = yield* DateTime.now
  const grant = yield* grantFor({
    realm, session, clientId: request.clientId, scopes: request.scopes, resources: request.resources, nonce: request.nonce
  })
  yield* grants.insert(grant, undefined)
  const code = yield* Entropy.token(32)
  yield* codes.insert(yield* Hash.sha256(code), AuthorizationCode.AuthorizationCode.Issued({
    realmId: realm.id,
    clientId: request.clientId,
    grantId: grant.grantId,
    redirectUri: request.redirectUri,
    redirectUriGiven: request.redirectUriGiven,
    codeChallenge: request.codeChallenge,
    ...(request.dpopJkt !== undefined ? { dpopJkt: request.dpopJkt } : {}),
    expiresAt: DateTime.addDuration(now, AuthorizationCode.lifetime)
  }))
  return code
}, Tracing.span("Authorize.issueCode"))
