/**
 * The JWT-bearer authorization grant (RFC 7523 §2.1, §3; CONTRACT §5 "JWT-bearer grant"): a token for the subject of
 * an assertion that a trusted issuer of the realm signed, for one resource (or the issuer, for a person's userinfo).
 */
import { Data, DateTime, Effect, Either, Option } from "effect"
import * as AdminAccess from "../AdminAccess.js"
import * as Audience from "../Audience.js"
import type { Client } from "../Client.js"
import { JtiCache } from "../JtiCache.js"
import * as Jwt from "../Jwt.js"
import type { Realm } from "../Realm.js"
import type { Resource } from "../Resource.js"
import { Resources } from "../Resources.js"
import * as TrustedJwt from "../TrustedJwt.js"
import * as User from "../User.js"
import { Users } from "../Users.js"
import * as TokenSet from "./TokenSet.js"

export const grantType = "urn:ietf:params:oauth:grant-type:jwt-bearer"

/** CONTRACT §5: an assertion is valid for at most 5 minutes (`exp` - `iat`). */
export const maxLifetimeSeconds = 300

/** How far in the future `iat` may lie: the trusted issuer's clock may run a little ahead of ours. */
export const clockSkewSeconds = 60

/** RFC 7518 §3.1: asymmetric JWS algorithms only (never `none`, never HMAC: a trusted issuer publishes public keys). */
export const assertionAlgs = TrustedJwt.algorithms

/** RFC 7523 §3.1: the assertion is not valid, invalid_grant; the reason is for the log, never the wire. */
export class JwtBearerRejected extends Data.TaggedError("JwtBearerRejected")<{
  readonly reason:
    /** The signature and the issuer (`TrustedJwt`): malformed, untrusted_issuer, jwks_unavailable, signature, invalid. */
    | TrustedJwt.TrustedJwtRejected["reason"]
    | "audience"
    | "exp_missing"
    | "expired"
    | "iat_missing"
    | "iat_future"
    | "lifetime"
    | "jti_missing"
    | "replayed"
    /** `sub` is neither a user of the realm nor the client's own client_id. */
    | "unknown_subject"
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
  readonly context: TokenSet.RequestContext
}

const reject = (reason: JwtBearerRejected["reason"]) => Effect.fail(new JwtBearerRejected({ reason }))

/** Whose token it is: a person of the realm, or the client itself (RFC 7523 §3 item 2). */
export type Subject = { readonly _tag: "Person"; readonly sub: string } | { readonly _tag: "Client"; readonly sub: string }

/**
 * RFC 7523 §3: checks the assertion and answers its verified issuer, subject, `jti` and `exp`. The `jti` is not yet
 * remembered: `handle` does that last, so an assertion refused for its audience or scope is not spent.
 */
export const verify = (input: { readonly realm: Realm; readonly issuer: string; readonly client: Client; readonly assertion: string }) =>
  Effect.gen(function*() {
    // RFC 7523 §3 items 1 and 9: iss a trusted issuer of the realm, whose keys verify the signature
    const { iss, payload } = yield* TrustedJwt.verify(input.realm, input.assertion).pipe(
      Effect.catchTag("TrustedJwtRejected", (e) => reject(e.reason))
    )
    const { aud, exp, iat, jti, sub } = payload
    // RFC 7523 §3 item 3: aud identifies the authorization server: its issuer or its token endpoint. One value only
    // (CONTRACT §5 "aud = ..."; as for client assertions): an assertion for several audiences could be spent at each.
    const audiences = typeof aud === "string" ? [aud] : Array.isArray(aud) ? aud : []
    if (audiences.length !== 1 || ![input.issuer, `${input.issuer}/token`].includes(audiences[0]!)) return yield* reject("audience")
    // RFC 7523 §3 item 4: exp MUST be present, and the JWT rejected once it has passed (jose checked it if present)
    if (typeof exp !== "number") return yield* reject("exp_missing")
    const now = yield* Jwt.nowSeconds
    if (exp <= now) return yield* reject("expired")
    // CONTRACT §5: iat is needed to know the lifetime; one far in the future would stretch it past the bound
    if (typeof iat !== "number") return yield* reject("iat_missing")
    if (iat > now + clockSkewSeconds) return yield* reject("iat_future")
    // CONTRACT §5: exp - iat at most 5 minutes, which also bounds how long the jti is remembered (RFC 7523 §3 item 7)
    if (exp - iat > maxLifetimeSeconds) return yield* reject("lifetime")
    // RFC 7523 §3 item 7: the server may refuse a jti it has seen; Tessera requires one (CONTRACT §5)
    if (typeof jti !== "string" || jti === "") return yield* reject("jti_missing")
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
    return { iss, subject, jti, exp }
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

export const handle = Effect.fn("JwtBearerGrant.handle")(function*(cmd: Command) {
  const { iss, subject, jti, exp } = yield* verify(cmd)
  const choice = yield* choose({
    subject: subject._tag,
    issuer: cmd.issuer,
    requestedResource: cmd.resource,
    clientResources: cmd.client.metadata.resources,
    clientScopes: cmd.client.metadata.scope?.split(" "),
    requestedScopes: cmd.scope,
    // CONTRACT §3, ADR 0035: an assertion never yields the admin resource (nobody signed in here, no role checked)
    resources: (yield* Effect.flatMap(Resources, (r) => r.list(cmd.realm.id))).filter((r) => !AdminAccess.isAdmin(r))
  })
  // RFC 7523 §3 item 7: spent only now, once the request is otherwise good; compare-and-set, so of two racing
  // requests with one assertion exactly one gets a token
  const fresh = yield* Effect.flatMap(JtiCache, (seen) => seen.remember(cmd.realm.id, iss, jti, DateTime.unsafeMake(exp * 1000)))
  if (!fresh) return yield* reject("replayed")
  // RFC 9068 §2.2: sub is the person, or the client itself. No auth_time or acr: the person did not authenticate at
  // Tessera, and the assertion's word on when they did elsewhere is not a claim Tessera can vouch for.
  // No refresh token (RFC 7523 §2.1 leaves it to the server: a new assertion is the way to a new token), no ID token.
  return yield* TokenSet.issueClientToken({
    realm: cmd.realm,
    issuer: cmd.issuer,
    client: cmd.client,
    sub: subject.sub,
    choice,
    grantType,
    context: cmd.context,
    // who vouched for the subject: the assertion's verified issuer
    reason: `assertion issuer: ${iss}`
  })
})
