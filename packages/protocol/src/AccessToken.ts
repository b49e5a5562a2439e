/**
 * A resource server's validation of JWT access tokens (RFC 9068 §4): `typ`, signature with the issuer's keys, `iss`,
 * `aud` exactly the resource (RFC 8707 §2), `exp`/`nbf`, and the required claims. Needs only the issuer's JWK Set.
 */
import { Clock, Data, Effect } from "effect"
import * as Jose from "jose"
import type * as Jwks from "./Jwks.js"

/** RFC 8693 §4.1: who acts, and for whom that actor acted in turn. */
export interface Actor {
  readonly sub: string
  readonly act?: Actor
  readonly [claim: string]: unknown
}

/** A verified access token's claims (RFC 9068 §2.2, RFC 8693 §4.1, RFC 9449 §6.1). */
export interface Claims {
  readonly iss: string
  readonly sub: string
  /** Exactly the resource the token was verified for. */
  readonly aud: string
  readonly client_id: string
  /** The granted scopes, split (RFC 9068 §2.2.3: the `scope` claim is space-separated). */
  readonly scope: ReadonlyArray<string>
  readonly jti: string
  readonly iat: number
  readonly exp: number
  readonly nbf?: number
  readonly auth_time?: number
  readonly acr?: string
  readonly act?: Actor
  /** RFC 9449 §6.1: the token is bound to the DPoP key with this JWK SHA-256 thumbprint. */
  readonly cnf?: { readonly jkt: string }
}

export type Reason =
  | "malformed"
  | "type"
  | "algorithm"
  | "unknown_key"
  | "signature"
  | "issuer"
  | "audience"
  | "expired"
  | "not_yet_valid"
  | "claims"

/** The token must not be accepted (RFC 6750 §3.1 invalid_token). `reason` is for logs, never the wire. */
export class AccessTokenRejected extends Data.TaggedError("AccessTokenRejected")<{ readonly reason: Reason }> {}

/** RFC 7518 §3.1 and RFC 8037: the asymmetric JWS algorithms (RFC 9068 §4: never `none`, never HMAC). */
export const algorithms: ReadonlyArray<string> = [
  "ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA", "Ed25519"
]

export interface Options {
  /** The authorization server's issuer identifier, compared exactly (RFC 9068 §4 item 3). */
  readonly issuer: string
  /** This resource server's resource URI: `aud` must be exactly it (RFC 9068 §4 item 4, RFC 8707 §2). */
  readonly audience: string
  /** The issuer's public keys. */
  readonly jwks: Jwks.Jwks
}

/** The JWS protected header, unverified: which key (`kid`) to look for before verifying. Undefined if malformed. */
export const header = (token: string): Jose.ProtectedHeaderParameters | undefined => {
  try {
    return Jose.decodeProtectedHeader(token)
  } catch {
    return undefined
  }
}

const reject = (reason: Reason) => Effect.fail(new AccessTokenRejected({ reason }))

const isActor = (u: unknown): u is Actor =>
  typeof u === "object" && u !== null && !Array.isArray(u) && typeof (u as { sub?: unknown }).sub === "string" &&
  ((u as { act?: unknown }).act === undefined || isActor((u as { act?: unknown }).act))

const joseReason = (code: string | undefined, claim: string | undefined): Reason => {
  switch (code) {
    case "ERR_JWT_EXPIRED":
      return "expired"
    case "ERR_JWT_CLAIM_VALIDATION_FAILED":
      return claim === "nbf" ? "not_yet_valid" : claim === "typ" ? "type" : "claims"
    case "ERR_JWKS_NO_MATCHING_KEY":
      return "unknown_key"
    case "ERR_JOSE_ALG_NOT_ALLOWED":
    case "ERR_JOSE_NOT_SUPPORTED":
      return "algorithm"
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
    case "ERR_JWKS_MULTIPLE_MATCHING_KEYS":
      return "signature"
    default:
      return "malformed"
  }
}

/**
 * Verifies `token` as an access token for `options.audience` from `options.issuer` at the Clock's time (RFC 9068 §4):
 * 1. `typ` is `at+jwt` (or `application/at+jwt`), 2. `alg` asymmetric, 3. the signature verifies with a key of
 * `jwks`, 4. `iss` equals the issuer, 5. `aud` is exactly the audience (a string, or an array holding only it),
 * 6. `exp` has not passed and `nbf`, if any, has, 7. `sub`, `client_id`, `iat` and `jti` are present.
 * The scope is returned split; `act` (RFC 8693) and `cnf` (RFC 9449) are returned when well-formed, else refused.
 */
export const verifyAccessToken = (token: string, options: Options): Effect.Effect<Claims, AccessTokenRejected> =>
  Effect.gen(function*() {
    const protectedHeader = header(token)
    if (protectedHeader === undefined) return yield* reject("malformed")
    // RFC 9068 §4 item 1 and RFC 8725 §3.11: explicit typing keeps ID tokens and other JWTs out
    const typ = protectedHeader.typ?.toLowerCase()
    if (typ !== "at+jwt" && typ !== "application/at+jwt") return yield* reject("type")
    // RFC 9068 §4 item 6: alg "none" MUST be rejected; symmetric keys are never the issuer's
    if (typeof protectedHeader.alg !== "string" || !algorithms.includes(protectedHeader.alg)) return yield* reject("algorithm")
    const now = yield* Clock.currentTimeMillis
    const verified = yield* Effect.tryPromise({
      try: () =>
        Jose.jwtVerify(token, Jose.createLocalJWKSet(options.jwks as Jose.JSONWebKeySet), {
          algorithms: [...algorithms],
          currentDate: new Date(now),
          // RFC 9068 §2.2: required claims
          requiredClaims: ["iss", "exp", "aud", "sub", "client_id", "iat", "jti"]
        }),
      catch: (e) => {
        const error = e as { code?: string; claim?: string }
        return new AccessTokenRejected({ reason: joseReason(error.code, error.claim) })
      }
    })
    const p = verified.payload
    // RFC 9068 §4 item 3: iss MUST exactly match the issuer identifier
    if (p.iss !== options.issuer) return yield* reject("issuer")
    // RFC 9068 §4 item 4 and RFC 8707 §2: the token is for this resource and no other
    const aud = Array.isArray(p.aud) && p.aud.length === 1 ? p.aud[0] : p.aud
    if (aud !== options.audience) return yield* reject("audience")
    const { sub, client_id, jti, iat, exp, nbf, scope, auth_time, acr, act, cnf } = p as Record<string, unknown>
    if (typeof sub !== "string" || typeof client_id !== "string" || typeof jti !== "string") return yield* reject("claims")
    if (typeof iat !== "number" || typeof exp !== "number") return yield* reject("claims")
    if (scope !== undefined && typeof scope !== "string") return yield* reject("claims")
    if (auth_time !== undefined && typeof auth_time !== "number") return yield* reject("claims")
    if (acr !== undefined && typeof acr !== "string") return yield* reject("claims")
    if (act !== undefined && !isActor(act)) return yield* reject("claims")
    const jkt = (cnf as { jkt?: unknown } | undefined)?.jkt
    if (cnf !== undefined && typeof jkt !== "string") return yield* reject("claims")
    return {
      iss: p.iss,
      sub,
      aud,
      client_id,
      scope: typeof scope === "string" ? scope.split(" ").filter((s) => s !== "") : [],
      jti,
      iat,
      exp,
      ...(typeof nbf === "number" ? { nbf } : {}),
      ...(auth_time !== undefined ? { auth_time } : {}),
      ...(acr !== undefined ? { acr } : {}),
      ...(act !== undefined ? { act } : {}),
      ...(jkt !== undefined ? { cnf: { jkt: jkt as string } } : {})
    } satisfies Claims
  })
