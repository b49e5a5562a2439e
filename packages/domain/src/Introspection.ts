/**
 * What a presented token is (RFC 7662 §2.2, RFC 7009 §2.1): an active access token or refresh token of this realm,
 * or nothing. Another realm's token, a forged, expired, revoked or rotated-out one, or garbage, are all nothing.
 */
import { Data, DateTime, Effect, Option } from "effect"
import type * as Jose from "jose"
import * as AccessTokens from "./AccessTokens.js"
import type { Client } from "./Client.js"
import * as Hash from "./Hash.js"
import * as Jwt from "./Jwt.js"
import type { Realm } from "./Realm.js"
import * as RefreshFamily from "./RefreshFamily.js"
import { Grants } from "./Grants.js"
import { RefreshTokens } from "./RefreshTokens.js"
import * as SigningKeys from "./SigningKeys.js"
import * as Tokens from "./Tokens.js"

/** The claims of an RFC 9068 access token that introspection reports. */
export interface AccessClaims {
  readonly iss: string
  readonly sub: string
  readonly aud: string | ReadonlyArray<string>
  readonly client_id: string
  readonly scope: string
  readonly exp: number
  readonly iat: number
  readonly jti: string
  readonly auth_time?: number
  readonly acr?: string
  /** RFC 8693 §4.1 */
  readonly act?: unknown
  /** RFC 8693 §4.4: who may act for the subject (token exchange reads it) */
  readonly may_act?: unknown
  /** RFC 9449 §6.1 */
  readonly cnf?: unknown
}

export type Inspected = Data.TaggedEnum<{
  AccessToken: { readonly claims: AccessClaims }
  RefreshToken: {
    readonly clientId: string
    readonly sub: string
    readonly scope: ReadonlyArray<string>
    /** Seconds since the epoch: the earlier of the family's idle and absolute end. */
    readonly exp: number
    readonly familyId: string
    readonly grantId: string
  }
}>
export const Inspected = Data.taggedEnum<Inspected>()

/** The client the token was issued to. */
export const clientIdOf = (inspected: Inspected) =>
  Inspected.$match(inspected, { AccessToken: ({ claims }) => claims.client_id, RefreshToken: ({ clientId }) => clientId })

/**
 * CONTRACT §5 Introspection (RFC 7662 §4: the server decides who may learn what): whether the authenticated `client`
 * may learn that the token is active. A token issued to it, or an access token whose audience is a resource its
 * registration lists explicitly in `resources` (a resource server's client; the "every resource" default, no
 * `resources`, does not count). A refresh token only to the client it was issued to.
 */
export const visibleTo = (inspected: Inspected, client: Client) =>
  clientIdOf(inspected) === client.clientId ||
  Inspected.$match(inspected, {
    AccessToken: ({ claims }) => {
      const listed = client.metadata.resources ?? []
      return (typeof claims.aud === "string" ? [claims.aud] : claims.aud).some((aud) => listed.includes(aud))
    },
    RefreshToken: () => false
  })

/** RFC 7662 §2.1 / RFC 7009 §2.1: `token_type_hint` values; any other value is no hint. */
export type Hint = "access_token" | "refresh_token"

const compactJws = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/

const isString = (u: unknown): u is string => typeof u === "string"
const isNumber = (u: unknown): u is number => typeof u === "number" && Number.isFinite(u)

/** The verified payload as `AccessClaims`, or none when a claim Tessera always sets is missing or mistyped. */
const accessClaims = (payload: Jose.JWTPayload): Option.Option<AccessClaims> => {
  const { iss, sub, aud, client_id, scope, exp, iat, jti, auth_time, acr, act, may_act, cnf } = payload as Record<string, unknown>
  const audience = isString(aud) ? aud : Array.isArray(aud) && aud.every(isString) ? aud : undefined
  if (!isString(iss) || !isString(sub) || audience === undefined || !isString(client_id) || !isNumber(exp) || !isNumber(iat) || !isString(jti)) {
    return Option.none()
  }
  if ((scope !== undefined && !isString(scope)) || (auth_time !== undefined && !isNumber(auth_time)) || (acr !== undefined && !isString(acr))) {
    return Option.none()
  }
  return Option.some({
    iss, sub, aud: audience, client_id, scope: scope ?? "", exp, iat, jti,
    ...(auth_time !== undefined ? { auth_time } : {}),
    ...(acr !== undefined ? { acr } : {}),
    ...(act !== undefined ? { act } : {}),
    ...(may_act !== undefined ? { may_act } : {}),
    ...(cnf !== undefined ? { cnf } : {})
  })
}

/** What the one who accepts the token requires beyond it being this realm's and active. */
export interface Expected {
  /** RFC 9068 §4: the audience the token must be for (userinfo: the issuer, CONTRACT §5). */
  readonly audience?: string | undefined
}

/**
 * An access token of this realm: signed by one of the realm's published ES256 keys (RFC 9068 §4: `typ` at+jwt,
 * `iss` the realm's issuer, not expired at the Clock's time, `aud` as expected), and still active (CONTRACT §5
 * Introspection, `AccessTokens.active`): not revoked, nor of a revoked grant or delegation, a deleted client or person.
 */
const accessToken = (realm: Realm, issuer: string, token: string, expected: Expected = {}) =>
  Effect.gen(function*() {
    if (!compactJws.test(token)) return Option.none<Inspected>()
    const verified = yield* Jwt.verify(token, yield* SigningKeys.verifier(realm.id), {
      issuer,
      ...(expected.audience !== undefined ? { audience: expected.audience } : {}),
      typ: "at+jwt",
      algorithms: ["ES256"],
      requiredClaims: ["sub", "client_id", "exp", "iat", "jti"]
    }).pipe(Effect.option)
    if (Option.isNone(verified)) return Option.none<Inspected>()
    const claims = accessClaims(verified.value.payload)
    if (Option.isNone(claims)) return Option.none<Inspected>()
    const { jti, sub, client_id, iat } = claims.value
    if (!(yield* AccessTokens.isActive(realm.id, { jti, sub, clientId: client_id, issuedAt: iat }))) return Option.none<Inspected>()
    return Option.some(Inspected.AccessToken({ claims: claims.value }))
  })

/**
 * The one check of a Tessera access token wherever Tessera itself accepts one (userinfo, introspection, the token
 * exchange's subject and actor tokens): the claims of an active access token of this realm, or none. The DPoP
 * presentation (RFC 9449 §7) is the HTTP edge's, with these claims.
 */
export const activeAccessToken = (realm: Realm, issuer: string, token: string, expected: Expected = {}) =>
  Effect.map(accessToken(realm, issuer, token, expected), Option.flatMap((inspected) =>
    inspected._tag === "AccessToken" ? Option.some(inspected.claims) : Option.none()))

/** A refresh token of this realm (looked up by its SHA-256): the current one of an active family of a live grant. */
const refreshToken = (realm: Realm, token: string) =>
  Effect.gen(function*() {
    const found = yield* Effect.flatMap(RefreshTokens, (refreshes) =>
      Effect.flatMap(Hash.sha256(token), (hash) => refreshes.find(realm.id, hash)))
    if (Option.isNone(found)) return Option.none<Inspected>()
    const { family, generation } = found.value
    // a rotated-out generation is no longer a valid token (presenting it at the token endpoint is reuse)
    if (family._tag !== "Active" || generation !== family.generation) return Option.none<Inspected>()
    const policy = yield* Tokens.TokenPolicy
    const expiresAt = RefreshFamily.expiresAt(family, policy.refresh)
    if (DateTime.lessThanOrEqualTo(expiresAt, yield* DateTime.now)) return Option.none<Inspected>()
    const grant = yield* Effect.flatMap(Grants, (grants) => grants.find(realm.id, family.grantId))
    if (Option.isNone(grant) || grant.value.revokedAt !== undefined) return Option.none<Inspected>()
    return Option.some(Inspected.RefreshToken({
      clientId: family.clientId,
      sub: grant.value.sub,
      scope: grant.value.scopes,
      exp: Math.floor(DateTime.toEpochMillis(expiresAt) / 1000),
      familyId: family.familyId,
      grantId: family.grantId
    }))
  })

/**
 * What `token` is in `realm`, trying the hinted type first. RFC 7662 §2.1: when the token is not found under the
 * hint, the search extends to every supported type; the hint only orders the search.
 */
export const inspect = (input: { readonly realm: Realm; readonly issuer: string; readonly token: string; readonly hint?: Hint | undefined }) => {
  const access = accessToken(input.realm, input.issuer, input.token)
  const refresh = refreshToken(input.realm, input.token)
  return input.hint === "refresh_token"
    ? Effect.flatMap(refresh, (found) => Option.isSome(found) ? Effect.succeed(found) : access)
    : Effect.flatMap(access, (found) => Option.isSome(found) ? Effect.succeed(found) : refresh)
}
