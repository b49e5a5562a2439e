/** Issuing the signed tokens: RFC 9068 JWT access tokens (ES256) and OIDC Core §2 ID tokens (RS256). */
import { Context, Duration, Effect, Layer, Option } from "effect"
import * as Base64Url from "./Base64Url.js"
import * as Entropy from "./Entropy.js"
import * as Hash from "./Hash.js"
import * as Jwt from "./Jwt.js"
import * as JwtAssertion from "./JwtAssertion.js"
import * as RefreshFamily from "./RefreshFamily.js"
import * as SigningKeys from "./SigningKeys.js"

export interface Lifetimes {
  readonly accessToken: Duration.Duration
  readonly idToken: Duration.Duration
}

/** Both stay within `SigningKey.defaultPolicy.maxTokenLifetime`, so a retired key outlives every token it signed. */
export const defaultLifetimes: Lifetimes = { accessToken: Duration.minutes(15), idToken: Duration.minutes(15) }

export interface AccessTokenInput {
  readonly realmId: string
  readonly issuer: string
  readonly sub: string
  /** RFC 8707: exactly one resource, the token's audience. */
  readonly audience: string
  readonly clientId: string
  readonly scope: ReadonlyArray<string>
  readonly authTime?: number
  readonly acr?: string
  readonly act?: Record<string, unknown>
  /** RFC 9449 §6.1: the key the token is bound to, or none for a bearer token; always said, never defaulted. */
  readonly dpopKey: DpopKey
}

/**
 * RFC 9449 §5: the RFC 7638 thumbprint of the key the token request proved with a valid DPoP proof, or none when it
 * sent no proof. Every grant's command carries it as a required field (the token endpoint fills it from the proof),
 * and every access token the grant mints is bound to that key (`cnf.jkt`, §6.1): a caller that leaves it out does
 * not compile, rather than minting bearer tokens.
 */
export type DpopKey = Option.Option<string>

/** RFC 9449 §6.1: the key a verified token's `cnf` binds it to, if it is DPoP-bound. */
export const boundKey = (cnf: unknown): string | undefined =>
  typeof cnf === "object" && cnf !== null && typeof (cnf as { jkt?: unknown }).jkt === "string" ? (cnf as { jkt: string }).jkt : undefined

/**
 * RFC 9068 §2.2: iss, exp, aud, sub, client_id, iat, jti, plus scope, auth_time, acr; typ at+jwt (§2.1); RFC 9449
 * §6.1 cnf.jkt when the request proved a DPoP key.
 */
export const accessToken = (input: AccessTokenInput, lifetime: Duration.Duration) =>
  Effect.gen(function*() {
    const claims = accessTokenClaims(input, {
      iat: yield* Jwt.nowSeconds,
      jti: yield* Entropy.token(16),
      lifetime
    })
    const token = yield* Jwt.sign(claims, yield* SigningKeys.signer(input.realmId, "ES256"), "at+jwt")
    return { token, claims, expiresIn: Duration.toSeconds(lifetime) }
  })

/** The claims of `accessToken`, given the time and the `jti` (RFC 9068 §2.2, RFC 9449 §6.1). */
export const accessTokenClaims = (
  input: AccessTokenInput,
  at: { readonly iat: number; readonly jti: string; readonly lifetime: Duration.Duration }
) => ({
  iss: input.issuer,
  sub: input.sub,
  aud: input.audience,
  client_id: input.clientId,
  scope: input.scope.join(" "),
  jti: at.jti,
  iat: at.iat,
  exp: at.iat + Duration.toSeconds(at.lifetime),
  ...(input.authTime !== undefined ? { auth_time: input.authTime } : {}),
  ...(input.acr !== undefined ? { acr: input.acr } : {}),
  ...(input.act !== undefined ? { act: input.act } : {}),
  // RFC 9449 §6.1: a DPoP-bound token names its key's thumbprint
  ...(Option.isSome(input.dpopKey) ? { cnf: { jkt: input.dpopKey.value } } : {})
})

/** OIDC Core §3.1.3.6: at_hash is base64url of the left half of SHA-256 of the access token's ASCII. */
export const atHash = (accessToken: string) =>
  Effect.map(Hash.sha256Bytes(accessToken), (digest) => Base64Url.encode(digest.slice(0, digest.length / 2)))

export interface IdTokenInput {
  readonly realmId: string
  readonly issuer: string
  readonly sub: string
  readonly clientId: string
  readonly authTime: number
  readonly nonce?: string
  readonly acr?: string
  readonly amr?: ReadonlyArray<string>
  readonly sid?: string
  readonly accessToken?: string
  /** Claims released by scope (profile, email), already chosen by the caller. */
  readonly claims?: Record<string, unknown>
}

/** OIDC Core §2: iss, sub, aud, exp, iat, auth_time, nonce, acr, amr, azp; §3.1.3.6 at_hash; Front-Channel Logout §3 sid. */
export const idToken = (input: IdTokenInput, lifetime: Duration.Duration) =>
  Effect.gen(function*() {
    const iat = yield* Jwt.nowSeconds
    const claims = {
      ...input.claims,
      iss: input.issuer,
      sub: input.sub,
      aud: input.clientId,
      azp: input.clientId,
      exp: iat + Duration.toSeconds(lifetime),
      iat,
      auth_time: input.authTime,
      ...(input.nonce !== undefined ? { nonce: input.nonce } : {}),
      ...(input.acr !== undefined ? { acr: input.acr } : {}),
      ...(input.amr !== undefined ? { amr: input.amr } : {}),
      ...(input.sid !== undefined ? { sid: input.sid } : {}),
      ...(input.accessToken !== undefined ? { at_hash: yield* atHash(input.accessToken) } : {})
    }
    return yield* Jwt.sign(claims, yield* SigningKeys.signer(input.realmId, "RS256"), "JWT")
  })

/** ADR 0048: an ID-JAG lives at most 5 minutes (CONTRACT §5), as long as a JWT-bearer assertion may (RFC 7523 §3). */
export const idJagMaxLifetime = Duration.seconds(JwtAssertion.maxLifetimeSeconds)

export interface IdJagInput {
  readonly realmId: string
  /** `iss`: this realm's issuer (RFC 8414 §2). */
  readonly issuer: string
  /** `sub`: the person's `sub`, as their ID tokens say it. */
  readonly sub: string
  /** `aud`: the issuer of the authorization server the grant is for. */
  readonly audience: string
  /** `client_id`: the client's id at that authorization server. */
  readonly clientId: string
  readonly resource?: string | undefined
  readonly scope?: ReadonlyArray<string> | undefined
  readonly authTime?: number | undefined
  readonly acr?: string | undefined
  readonly amr?: ReadonlyArray<string> | undefined
  readonly email?: string | undefined
  /** draft-ietf-oauth-identity-assertion-authz-grant §8.6.1.1: the key the request proved, bound as `cnf.jkt`; or none. */
  readonly dpopKey: DpopKey
}

/**
 * draft-ietf-oauth-identity-assertion-authz-grant §3: an Identity Assertion JWT Authorization Grant, `typ`
 * `oauth-id-jag+jwt`, signed as this realm's ID tokens are (RS256, ADR 0048): iss, sub, aud, client_id, jti, iat, exp
 * (REQUIRED); resource, scope, auth_time, acr, amr, email when known; §8.6.1.1 `cnf.jkt` when the request proved a DPoP key.
 */
export const idJag = (input: IdJagInput, lifetime: Duration.Duration) =>
  Effect.gen(function*() {
    const iat = yield* Jwt.nowSeconds
    const seconds = Math.floor(Duration.toSeconds(Duration.min(lifetime, idJagMaxLifetime)))
    const claims = {
      iss: input.issuer,
      sub: input.sub,
      aud: input.audience,
      client_id: input.clientId,
      jti: yield* Entropy.token(16),
      iat,
      exp: iat + seconds,
      ...(input.resource !== undefined ? { resource: input.resource } : {}),
      ...(input.scope !== undefined && input.scope.length > 0 ? { scope: input.scope.join(" ") } : {}),
      ...(input.authTime !== undefined ? { auth_time: input.authTime } : {}),
      ...(input.acr !== undefined ? { acr: input.acr } : {}),
      ...(input.amr !== undefined ? { amr: input.amr } : {}),
      ...(input.email !== undefined ? { email: input.email } : {}),
      ...(Option.isSome(input.dpopKey) ? { cnf: { jkt: input.dpopKey.value } } : {})
    }
    const token = yield* Jwt.sign(claims, yield* SigningKeys.signer(input.realmId, "RS256"), JwtAssertion.idJagType)
    return { token, claims, expiresIn: seconds }
  })

/** Token lifetimes and refresh-family lifetimes in force (configurable; defaults above and in RefreshFamily). */
export class TokenPolicy extends Context.Tag("@tessera/domain/TokenPolicy")<TokenPolicy, {
  readonly lifetimes: Lifetimes
  readonly refresh: RefreshFamily.Policy
}>() {}

export const layerPolicy = (policy: Partial<TokenPolicy["Type"]> = {}) =>
  Layer.succeed(TokenPolicy, { lifetimes: defaultLifetimes, refresh: RefreshFamily.defaultPolicy, ...policy })

/** An opaque refresh token: 256 bits from the CSPRNG; only its SHA-256 is stored. */
export const refreshToken = Entropy.token(32)
