/**
 * The JWT-bearer authorization grant (RFC 7523 §2.1, §3; CONTRACT §5 "JWT-bearer grant"): a token for the subject of
 * an assertion that a trusted issuer of the realm signed, for one resource (or the issuer, for a person's userinfo).
 * An assertion typed `oauth-id-jag+jwt` is an Identity Assertion JWT Authorization Grant (CONTRACT §5 ID-JAG,
 * draft-ietf-oauth-identity-assertion-authz-grant §4.4): its own rules below, its person linked to a realm user
 * (ADR 0047).
 */
import { Data, DateTime, Effect, Either, Option } from "effect"
import * as AdminAccess from "../AdminAccess.js"
import * as Audience from "../Audience.js"
import * as Audit from "../Audit.js"
import type { Client } from "../Client.js"
import * as Entropy from "../Entropy.js"
import * as IdentityLink from "../IdentityLink.js"
import { IdentityLinks } from "../IdentityLinks.js"
import * as JwtAssertion from "../JwtAssertion.js"
import type { Realm } from "../Realm.js"
import { audited, type RequestContext } from "../RequestContext.js"
import type { Resource } from "../Resource.js"
import { Resources } from "../Resources.js"
import type { TrustedIssuer } from "../TrustedIssuer.js"
import * as TrustedJwt from "../TrustedJwt.js"
import * as Tokens from "../Tokens.js"
import * as User from "../User.js"
import { Users } from "../Users.js"
import * as TokenIssuance from "./TokenIssuance.js"
import type { TokenSet } from "./TokenSet.js"
import * as Tracing from "../Tracing.js"

export const grantType = "urn:ietf:params:oauth:grant-type:jwt-bearer"

/** RFC 7523 §3.1: the assertion is not valid, invalid_grant; the reason is for the log, never the wire. */
export class JwtBearerRejected extends Data.TaggedError("JwtBearerRejected")<{
  readonly reason:
    /** The issuer, the signature and the claims every assertion must have (`TrustedJwt`, `JwtAssertion`). */
    | JwtAssertion.Reason
    /** `sub` is neither a user of the realm nor the client's own client_id. */
    | "unknown_subject"
    /** ID-JAG: the trusted issuer is not registered with `id_jag`. */
    | "id_jag_not_trusted"
    /** ID-JAG: `aud` is not exactly the realm's issuer. */
    | "id_jag_audience"
    /** ID-JAG: `client_id` is missing or names another client than the authenticated one. */
    | "client_mismatch"
    /** ID-JAG: `resource` or `scope` is not of the draft's form. */
    | "id_jag_claims"
    /** ID-JAG: `sub` is longer than a subject identifier may be (OpenID Connect Core §2: 255 ASCII characters). */
    | "id_jag_subject"
    /** ID-JAG: the person is linked to no user, and the trusted issuer does not provision users (ADR 0047). */
    | "unlinked"
    /** ID-JAG: the linked user is disabled. */
    | "user_disabled"
}> {}

/**
 * RFC 6749 §5.2 invalid_scope for what only a person's authentication at Tessera could grant: `openid` when the
 * subject is the client itself (no person to identify), a step-up scope for any subject (nobody authenticated afresh).
 */
export class JwtBearerScopeRejected extends Data.TaggedError("JwtBearerScopeRejected")<{
  readonly reason: "openid" | "step_up"
}> {}

export interface Command {
  readonly realm: Realm
  readonly issuer: string
  /** The authenticated client, registered for this grant type (the endpoint checks `grant_types`). */
  readonly client: Client
  /** RFC 7515 §7.1 compact syntax (the protocol checked); nothing else about it is known yet. */
  readonly assertion: string
  readonly scope: ReadonlyArray<string> | undefined
  readonly resource: string | undefined
  readonly context: RequestContext
  /** RFC 9449 §5: the key the request proved with a DPoP proof, or none; every access token minted is bound to it. */
  readonly dpopKey: Tokens.DpopKey
}

const reject = (reason: JwtBearerRejected["reason"]) => Effect.fail(new JwtBearerRejected({ reason }))

/** Whose token it is: a person of the realm, or the client itself (RFC 7523 §3 item 2). */
export type Subject = { readonly _tag: "Person"; readonly sub: string } | { readonly _tag: "Client"; readonly sub: string }

/** The shared rules' refusal as this grant's (JwtAssertion's reasons are this grant's reasons). */
const rejected = (e: JwtAssertion.JwtRejected) => reject(e.reason)

/** OpenID Connect Core §2: the longest subject identifier an ID-JAG's `sub` may be. */
export const maxSubjectLength = 255

/** What a verified assertion says: a plain RFC 7523 assertion's subject, or an ID-JAG's person and what it allows. */
export type Verified =
  | {
    readonly _tag: "Rfc7523"
    readonly iss: string
    readonly subject: Subject
    readonly jti: string
    readonly exp: number
  }
  | {
    readonly _tag: "IdJag"
    readonly iss: string
    readonly trusted: TrustedIssuer
    /** The person at the issuer (`sub`), linked to a realm user per ADR 0047. */
    readonly subject: string
    readonly jti: string
    readonly exp: number
    /** The `resource` claim's resource indicators; absent: the issuer named none. */
    readonly resources: ReadonlyArray<string> | undefined
    /** The `scope` claim's scopes (none when it is absent: the issuer authorized none). */
    readonly scopes: ReadonlyArray<string>
    readonly claims: Readonly<Record<string, unknown>>
  }

/** draft-ietf-oauth-identity-assertion-authz-grant §3: `resource` is one URI or an array of URIs. */
const resourcesClaim = (value: unknown): ReadonlyArray<string> | undefined | "invalid" => {
  if (value === undefined) return undefined
  const values = typeof value === "string" ? [value] : Array.isArray(value) ? value : undefined
  if (values === undefined || values.length === 0 || !values.every((v): v is string => typeof v === "string" && v !== "")) return "invalid"
  return values
}

/** draft-ietf-oauth-identity-assertion-authz-grant §3, RFC 6749 §3.3: `scope` is one string of space-separated scopes. */
const scopesClaim = (value: unknown): ReadonlyArray<string> | "invalid" => {
  if (value === undefined) return []
  if (typeof value !== "string") return "invalid"
  return value.split(" ").filter((s) => s !== "")
}

/**
 * draft-ietf-oauth-identity-assertion-authz-grant §4.4.1: an ID-JAG's own processing rules, after RFC 7521 §5.2 and the
 * signature (TrustedJwt). Answers the person and what the issuer allowed; the `jti` is not yet remembered.
 */
const verifyIdJag = (
  input: { readonly issuer: string; readonly client: Client },
  iss: string,
  trusted: TrustedIssuer,
  payload: Readonly<Record<string, unknown>>
) =>
  Effect.gen(function*() {
    // CONTRACT §5 ID-JAG: only from a trusted issuer registered with `id_jag`
    if (!trusted.idJag) return yield* reject("id_jag_not_trusted")
    // §4.4.1: aud MUST identify the Issuer URL of the Resource Authorization Server (exactly it: not the token
    // endpoint); RFC 7521 §5.2 and the draft's §3: exp, iat, a lifetime and a jti as for every assertion (ADR 0050)
    const { exp, jti } = yield* JwtAssertion.assertion(payload, input.issuer, JwtAssertion.idJag).pipe(
      Effect.catchTag("JwtRejected", (e) => reject(e.reason === "audience" ? "id_jag_audience" : e.reason))
    )
    // §4.4.1: client_id MUST identify the same client as the client authentication in the request
    if (payload["client_id"] !== input.client.clientId) return yield* reject("client_mismatch")
    // §3: sub REQUIRED, the person at the issuer
    const sub = payload["sub"]
    if (typeof sub !== "string" || sub === "") return yield* reject("unknown_subject")
    // OpenID Connect Core §2: a subject identifier MUST NOT exceed 255 ASCII characters; it keys the link (ADR 0047)
    if (sub.length > maxSubjectLength) return yield* reject("id_jag_subject")
    const resources = resourcesClaim(payload["resource"])
    const scopes = scopesClaim(payload["scope"])
    if (resources === "invalid" || scopes === "invalid") return yield* reject("id_jag_claims")
    return { _tag: "IdJag", iss, trusted, subject: sub, jti, exp, resources, scopes, claims: payload } satisfies Verified
  })

/**
 * RFC 7523 §3: checks the assertion and answers what it says (`Verified`). The `jti` is not yet remembered: `handle`
 * does that last, so an assertion refused for its audience or scope is not spent.
 */
export const verify = (input: { readonly realm: Realm; readonly issuer: string; readonly client: Client; readonly assertion: string }) =>
  Effect.gen(function*() {
    // RFC 7523 §3 items 1 and 9: iss a trusted issuer of the realm, whose keys verify the signature
    const { iss, trusted, payload, idJag } = yield* TrustedJwt.verify(input.realm, input.assertion, { idJag: "accepted" }).pipe(
      Effect.catchTag("JwtRejected", rejected)
    )
    // draft-ietf-oauth-identity-assertion-authz-grant §4.4.1 (RFC 8725 §3.11): the typ says which rules apply
    // §7.1 (confidential clients only) holds already: no client authenticating with 'none' may have this grant type
    if (idJag) return yield* verifyIdJag(input, iss, trusted, payload)
    // RFC 7523 §3 items 3-7, CONTRACT §5: aud the issuer or the token endpoint, exp, iat, at most 5 minutes, a jti
    const { exp, jti } = yield* JwtAssertion.assertion(payload, input.issuer, JwtAssertion.grantAssertion).pipe(
      Effect.catchTag("JwtRejected", rejected)
    )
    const { sub } = payload
    // RFC 7523 §3 item 2: sub MUST be present; CONTRACT §5: a user of this realm, or the client's own client_id
    if (typeof sub !== "string" || sub === "") return yield* reject("unknown_subject")
    let subject: Subject
    if (sub === input.client.clientId) {
      subject = { _tag: "Client", sub }
    } else {
      const user = yield* Effect.flatMap(Users, (users) => users.find(input.realm.id, sub))
      // CONTRACT §3 (ADR 0031): a disabled person is signed in by no one, a trusted issuer included
      if (Option.isNone(user) || !User.canSignIn(user.value)) return yield* reject("unknown_subject")
      subject = { _tag: "Person", sub: user.value.sub }
    }
    return { _tag: "Rfc7523", iss, subject, jti, exp } satisfies Verified
  })

/**
 * The token's audience and scope (CONTRACT §5 "Audience"), both by the client's rules (`resources`, registered
 * `scope`), as nobody consented at Tessera: the trusted issuer vouches for the person, the client's registration
 * bounds what it may hold.
 * - The client itself: as for client credentials (`Audience.forClient`); `openid` is refused (nobody to identify).
 * - A person, without `resource` and with `openid` asked: a userinfo token, `aud` = the issuer, scope cut to the
 *   OpenID scopes the client may have; `offline_access` is dropped, as this grant issues no refresh token.
 * - A person otherwise: as for the client; the OpenID scopes are left out, as a resource does not understand them.
 * A step-up scope is refused for both: nobody authenticated afresh.
 */
export const choose = (input: {
  readonly subject: Subject["_tag"]
  readonly issuer: string
  readonly requestedResource: string | undefined
  readonly clientResources: ReadonlyArray<string> | undefined
  readonly clientScopes: ReadonlyArray<string> | undefined
  readonly requestedScopes: ReadonlyArray<string> | undefined
  readonly resources: ReadonlyArray<Resource>
}): Either.Either<Audience.Choice, Audience.TargetRejected | Audience.ScopeRejected | JwtBearerScopeRejected> => {
  const asked = input.requestedScopes
  const forClient = (requestedScopes: ReadonlyArray<string> | undefined) =>
    Either.mapLeft(
      Audience.forClient({ ...input, requestedScopes }),
      (e): Audience.TargetRejected | Audience.ScopeRejected | JwtBearerScopeRejected =>
        e._tag === "ScopeRejected" && (e.reason === "openid" || e.reason === "step_up") ? new JwtBearerScopeRejected({ reason: e.reason }) : e
    )
  if (input.subject === "Client") return forClient(asked)
  if (asked?.includes("openid") && input.requestedResource === undefined) {
    const scope = asked.filter((s) =>
      Audience.oidcScopes.includes(s) && s !== "offline_access" && (input.clientScopes === undefined || input.clientScopes.includes(s)))
    if (!scope.includes("openid")) return Either.left(new Audience.ScopeRejected({ reason: "none_left" }))
    return Either.right({ audience: input.issuer, scope })
  }
  return forClient(asked?.filter((s) => !Audience.oidcScopes.includes(s)))
}

/**
 * CONTRACT §5 ID-JAG: the token's audience and scope. `resource` in the assertion becomes the token's `aud` (a request's
 * `resource` may only pick one of the assertion's); the scope is the intersection of the asked (all when none is
 * asked), the assertion's and what the client may have at that resource (RFC 6749 §3.3; `Audience.forClient` without
 * step-up scopes, which need a fresh authentication here); nothing left is invalid_scope.
 */
export const chooseIdJag = (input: {
  readonly assertionResources: ReadonlyArray<string> | undefined
  readonly assertionScopes: ReadonlyArray<string>
  readonly requestedResource: string | undefined
  readonly requestedScopes: ReadonlyArray<string> | undefined
  readonly clientResources: ReadonlyArray<string> | undefined
  readonly clientScopes: ReadonlyArray<string> | undefined
  readonly resources: ReadonlyArray<Resource>
}): Either.Either<Audience.Choice, Audience.TargetRejected | Audience.ScopeRejected> => {
  const named = input.assertionResources
  let requestedResource = input.requestedResource
  if (named !== undefined) {
    if (requestedResource === undefined) {
      if (named.length !== 1) return Either.left(new Audience.TargetRejected({ reason: "ambiguous" }))
      requestedResource = named[0]
    } else if (!named.includes(requestedResource)) {
      // RFC 8707 §2: a resource the issuer did not allow reads as one not allowed to the client
      return Either.left(new Audience.TargetRejected({ reason: "not_allowed" }))
    }
  }
  return Either.flatMap(
    Audience.forClient({ ...input, requestedResource, requestedScopes: undefined }),
    (allowed) => {
      const scope = allowed.scope.filter((s) =>
        input.assertionScopes.includes(s) && (input.requestedScopes === undefined || input.requestedScopes.includes(s)))
      return scope.length === 0 ? Either.left(new Audience.ScopeRejected({ reason: "none_left" })) : Either.right({ ...allowed, scope })
    }
  )
}

/** ADR 0047: the realm user the person at the issuer is linked to, if any; a disabled one refuses the assertion. */
const linkedUser = (realm: Realm, iss: string, subject: string) =>
  Effect.gen(function*() {
    const link = yield* Effect.flatMap(IdentityLinks, (links) => links.find(realm.id, iss, subject))
    if (Option.isNone(link)) return Option.none<User.User>()
    const user = yield* Effect.flatMap(Users, (users) => users.find(realm.id, link.value.sub))
    // the link goes with its user (ADR 0047), so a link without one is a deletion racing this request
    if (Option.isNone(user)) return yield* reject("unlinked")
    if (!User.canSignIn(user.value)) return yield* reject("user_disabled")
    return user
  })

/**
 * ADR 0047: the username a provisioned person gets: the vouched email when no user has it as a username (an existing
 * user is never reused, whatever their email), else a generated one.
 */
const usernameFor = (realm: Realm, email: string | undefined, avoidEmail: boolean) =>
  Effect.gen(function*() {
    const preferred = avoidEmail ? undefined : email
    if (preferred !== undefined && Option.isNone(yield* Effect.flatMap(Users, (users) => users.findByUsername(realm.id, preferred)))) {
      return preferred
    }
    const random = yield* Effect.flatMap(Entropy.Entropy, (e) => e.bytes(10))
    return IdentityLink.generatedUsername(random)
  })

/**
 * ADR 0047: a new user for the person, linked to them, written with `user.created`, `user.linked` and the token's
 * `token.issued` in one write (CONTRACT §7: no link without its event). A racing first use of the same person wins
 * the link: this request then issues for the user it made; a username taken meanwhile gets a generated one.
 */
const provisionAndIssue = (input: Omit<TokenIssuance.ClientToken, "sub"> & { readonly iss: string; readonly subject: string; readonly claims: Readonly<Record<string, unknown>> }) =>
  Effect.gen(function*() {
    const email = IdentityLink.vouchedEmail(input.claims)
    const name = IdentityLink.vouchedName(input.claims)
    const attempt = (avoidEmail: boolean) =>
      Effect.gen(function*() {
        const sub = yield* Entropy.uuid
        const user = IdentityLink.provisionedUser({
          realmId: input.realm.id, sub, username: yield* usernameFor(input.realm, email, avoidEmail), email, name, createdAt: yield* DateTime.now
        })
        const token: TokenIssuance.ClientToken = { ...input, sub }
        const policy = yield* Tokens.TokenPolicy
        const access = yield* Tokens.accessToken(TokenIssuance.clientTokenInput(token), policy.lifetimes.accessToken)
        const actor = TokenIssuance.actorOf(input.client)
        const who = `issuer: ${input.iss}, subject: ${input.subject}`
        const events = [
          // CONTRACT §7: the client's request made the user, on the word of the issuer named in `reason`
          yield* Audit.make(input.realm, {
            ...audited(input.context), type: "user.created", actor, subject: sub, clientId: input.client.clientId, result: "success",
            reason: `provisioned for the person at a trusted issuer (${who})`
          }),
          yield* Audit.make(input.realm, {
            ...audited(input.context), type: "user.linked", actor, subject: sub, clientId: input.client.clientId, result: "success",
            reason: who
          }),
          yield* Audit.make(input.realm, TokenIssuance.clientTokenEvent(token))
        ]
        yield* Effect.flatMap(IdentityLinks, (links) =>
          links.provision(user, { realmId: input.realm.id, issuer: input.iss, subject: input.subject, sub, createdAt: user.createdAt }, events))
        return { accessToken: access.token, expiresIn: access.expiresIn, scope: input.choice.scope } satisfies TokenSet
      })
    // a racing first use linked the person meanwhile: issue for that user; else the username was taken: a generated one
    const linkedOr = <E, R>(otherwise: Effect.Effect<TokenSet, E, R>) =>
      Effect.gen(function*() {
        const linked = yield* linkedUser(input.realm, input.iss, input.subject)
        if (Option.isSome(linked)) return yield* TokenIssuance.issueClientToken({ ...input, sub: linked.value.sub })
        return yield* otherwise
      })
    return yield* attempt(false).pipe(
      Effect.catchTag("AlreadyExists", () =>
        linkedOr(attempt(true).pipe(Effect.catchTag("AlreadyExists", () => linkedOr(reject("unlinked"))))))
    )
  })

export const handle = Effect.fnUntraced(function*(cmd: Command) {
  const verified = yield* verify(cmd)
  // CONTRACT §3, ADR 0035: an assertion never yields the admin resource (nobody signed in here, no role checked)
  const resources = (yield* Effect.flatMap(Resources, (r) => r.list(cmd.realm.id))).filter((r) => !AdminAccess.isAdmin(r))
  const clientScopes = cmd.client.metadata.scope?.split(" ")
  if (verified._tag === "IdJag") {
    const choice = yield* chooseIdJag({
      assertionResources: verified.resources,
      assertionScopes: verified.scopes,
      requestedResource: cmd.resource,
      requestedScopes: cmd.scope,
      clientResources: cmd.client.metadata.resources,
      clientScopes,
      resources
    })
    const linked = yield* linkedUser(cmd.realm, verified.iss, verified.subject)
    // ADR 0047: a person linked to no user is provisioned only when the trusted issuer allows it; checked before the
    // jti is spent, so a refused assertion may be presented again once an admin allows it
    if (Option.isNone(linked) && !verified.trusted.provisionUsers) return yield* reject("unlinked")
    yield* remember(cmd, verified)
    const token = {
      realm: cmd.realm,
      issuer: cmd.issuer,
      client: cmd.client,
      choice,
      grantType,
      context: cmd.context,
      dpopKey: cmd.dpopKey,
      reason: `ID-JAG issuer: ${verified.iss}`
    }
    // draft §4.4.2 and ADR 0047: no refresh token (a new ID-JAG is the way to a new token), no ID token
    return yield* Option.match(linked, {
      onSome: (user) => TokenIssuance.issueClientToken({ ...token, sub: user.sub }),
      onNone: () => provisionAndIssue({ ...token, iss: verified.iss, subject: verified.subject, claims: verified.claims })
    })
  }
  const { iss, subject } = verified
  const choice = yield* choose({
    subject: subject._tag,
    issuer: cmd.issuer,
    requestedResource: cmd.resource,
    clientResources: cmd.client.metadata.resources,
    clientScopes,
    requestedScopes: cmd.scope,
    resources
  })
  yield* remember(cmd, verified)
  // RFC 9068 §2.2: sub is the person, or the client itself. No auth_time or acr: the person did not authenticate at
  // Tessera, and the assertion's word on when they did elsewhere is not a claim Tessera can vouch for.
  // No refresh token (RFC 7523 §2.1 leaves it to the server: a new assertion is the way to a new token), no ID token.
  return yield* TokenIssuance.issueClientToken({
    realm: cmd.realm,
    issuer: cmd.issuer,
    client: cmd.client,
    sub: subject.sub,
    choice,
    grantType,
    context: cmd.context,
    dpopKey: cmd.dpopKey,
    // who vouched for the subject: the assertion's verified issuer
    reason: `assertion issuer: ${iss}`
  })
}, Tracing.span("JwtBearerGrant.handle"))

/**
 * RFC 7523 §3 item 7: the assertion is spent only once the request is otherwise good; compare-and-set, so of two
 * racing requests with one assertion exactly one gets a token. Per realm and issuer (an ID-JAG's too).
 */
const remember = (cmd: Command, verified: Verified) =>
  JwtAssertion.spend(cmd.realm.id, verified.iss, verified).pipe(Effect.catchTag("JwtRejected", rejected))
