/**
 * JWTs another party signed for this realm (RFC 7523 §3 and RFC 7521 §5.2: client assertions and JWT-bearer
 * assertions; RFC 8693 §2.1: `jwt` subject tokens; draft-ietf-oauth-identity-assertion-authz-grant §4.4.1: ID-JAGs):
 * the one algorithm list, the one clock skew, and each claim rule once (ADR 0050 tabulates them). Whose keys verify
 * the JWT, and what its `iss` and `sub` must name, are each caller's.
 */
import { Data, DateTime, Effect } from "effect"
import * as Endpoints from "./Endpoints.js"
import { JtiCache, maxLength as maxJtiStored } from "./JtiCache.js"
import * as Jwt from "./Jwt.js"

/**
 * RFC 8725 §3.1, RFC 7518 §3.1: asymmetric JWS algorithms only (never `none`, never HMAC: a client or a trusted issuer
 * registers public keys). Also the `*_endpoint_auth_signing_alg_values_supported` of the metadata (RFC 8414 §2).
 */
export const algorithms = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"]

/**
 * RFC 7519 §4.1.5 (`nbf`: "MAY provide for some small leeway ... to account for clock skew") and §4.1.6 (`iat`): how
 * far ahead of Tessera's the signer's clock may run. None for `exp`: an expired JWT is refused at once.
 */
export const clockSkewSeconds = 60

/**
 * CONTRACT §5 (and RFC 7523 §3 item 4: "MAY reject JWTs with an exp claim value that is unreasonably far in the
 * future"): an assertion is valid for at most 5 minutes, which bounds how long its `jti` is remembered (item 7).
 */
export const maxLifetimeSeconds = 300

/** ADR 0047: the longest `jti` an assertion may have (it keys the replay store). */
export const maxJtiLength = maxJtiStored

/** draft-ietf-oauth-identity-assertion-authz-grant §3: the JOSE header `typ` of an Identity Assertion JWT Authorization Grant. */
export const idJagType = "oauth-id-jag+jwt"

/**
 * RFC 7515 §4.1.9: `typ` is a media type, compared without regard to case, its `application/` prefix optional; whether
 * it names an ID-JAG (RFC 8725 §3.11: explicit typing keeps one kind of JWT from being taken for another).
 */
export const isIdJag = (typ: unknown) => typeof typ === "string" && typ.toLowerCase().replace(/^application\//, "") === idJagType

/** Why a JWT was refused; for the log and each caller's own error, never the wire as it is. */
export type Reason =
  /** Not a decodable JWT (RFC 7519 §7.2), or no `iss` to look up. */
  | "malformed"
  /** `iss` is no trusted issuer of the realm (TrustedJwt). */
  | "untrusted_issuer"
  /** The signer's `jwks_uri` could not be fetched or is no JWK Set (RemoteJwks logs why). */
  | "jwks_unavailable"
  /** No key verifies the signature, or the algorithm is not one of `algorithms`. */
  | "signature"
  /** Verified, but a claim or header is refused (`nbf` ahead by more than the skew, a non-numeric `iat`, an ID-JAG where none is taken). */
  | "invalid"
  | "expired"
  | "audience"
  | "exp_missing"
  | "iat_missing"
  | "iat_future"
  | "lifetime"
  | "jti_missing"
  /** `jti` is longer than `maxJtiLength`. */
  | "jti_length"
  /** RFC 7523 §3 item 7: the `jti` was spent before. */
  | "replayed"

export class JwtRejected extends Data.TaggedError("JwtRejected")<{ readonly reason: Reason }> {}

export const reject = (reason: Reason) => Effect.fail(new JwtRejected({ reason }))

/** jose's error codes for a JWT that does not verify. */
const reasonOf = (code: string): Reason => {
  switch (code) {
    case "ERR_JWT_EXPIRED":
      return "expired"
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
    case "ERR_JWKS_NO_MATCHING_KEY":
    case "ERR_JWKS_MULTIPLE_MATCHING_KEYS":
    case "ERR_JOSE_ALG_NOT_ALLOWED":
    case "ERR_JOSE_NOT_SUPPORTED":
    case "ERR_JWKS_INVALID":
      return "signature"
    case "ERR_JWT_INVALID":
    case "ERR_JWS_INVALID":
      return "malformed"
    default:
      return "invalid"
  }
}

/**
 * RFC 7523 §3 item 9, RFC 7515 §5.2: the signature, by one of `jwks` with one of `algorithms`, and the times: `nbf`
 * with the clock skew (RFC 7523 §3 item 5), `exp` without (item 4), `iat` a number (RFC 7519 §4.1.6); `iss` when
 * given. An ID-JAG is refused unless `idJag` is "accepted" (RFC 8725 §3.11: a grant meant for one authorization
 * server's JWT-bearer grant is never a client assertion nor a token exchange's subject token).
 */
export const verifySignature = (
  token: string,
  jwks: { readonly keys: ReadonlyArray<Readonly<Record<string, unknown>>> },
  options: { readonly issuer?: string; readonly idJag: "accepted" | "refused" }
) =>
  Effect.gen(function*() {
    const verified = yield* Jwt.verify(token, jwks, {
      algorithms,
      clockTolerance: clockSkewSeconds,
      ...(options.issuer !== undefined ? { issuer: options.issuer } : {})
    }).pipe(Effect.mapError((e) => new JwtRejected({ reason: reasonOf(e.reason) })))
    // RFC 7523 §3 item 4: rejected once exp has passed (the tolerance above is for nbf only)
    const { exp } = verified.payload
    if (typeof exp === "number" && exp <= (yield* Jwt.nowSeconds)) return yield* reject("expired")
    const idJag = isIdJag(verified.protectedHeader.typ)
    if (idJag && options.idJag === "refused") return yield* reject("invalid")
    return { payload: verified.payload, idJag }
  })

/** Where the kinds of JWT differ (ADR 0050): the audience they may name, and whether `iat` is required. */
export interface Rules {
  /** RFC 7523 §3 item 3: the issuer or the token endpoint; an ID-JAG (§4.4.1): the issuer only. One value either way. */
  readonly audience: "issuer_or_token_endpoint" | "issuer"
  /** CONTRACT §5 and the ID-JAG draft §3 require `iat`; RFC 7523 §3 item 6 leaves it optional. */
  readonly iat: "required" | "optional"
}

/** RFC 7523 §2.2 and §3: `private_key_jwt`. */
export const clientAssertion: Rules = { audience: "issuer_or_token_endpoint", iat: "optional" }

/** RFC 7523 §2.1 and §3, CONTRACT §5: the JWT-bearer grant's assertion (lifetime `exp` - `iat`, so `iat` required). */
export const grantAssertion: Rules = { audience: "issuer_or_token_endpoint", iat: "required" }

/** draft-ietf-oauth-identity-assertion-authz-grant §3, §4.4.1. */
export const idJag: Rules = { audience: "issuer", iat: "required" }

/** RFC 8693 §2.1 `jwt` subject tokens (ADR 0013): as a JWT-bearer assertion's audience; `iat` optional. */
export const subjectToken: Rules = { audience: "issuer_or_token_endpoint", iat: "optional" }

type Claims = { readonly aud?: unknown; readonly exp?: unknown; readonly iat?: unknown; readonly jti?: unknown }

/**
 * RFC 7523 §3 items 3, 4 and 6, RFC 7519 §4.1.3-4.1.6: `aud` one value naming this realm, `exp` present (the
 * signature check refused a past one), `iat` (when present or required) no further ahead than the clock skew.
 * What a subject token needs; an assertion needs `assertion` besides.
 */
export const times = (payload: Claims, issuer: string, rules: Rules) =>
  Effect.gen(function*() {
    const { aud, exp, iat } = payload
    // RFC 7523 §3 item 3: aud identifies the authorization server. One value only (draft-ietf-oauth-rfc7523bis): a
    // JWT meant for several audiences could be spent at each of them.
    const audiences = typeof aud === "string" ? [aud] : Array.isArray(aud) ? aud : []
    const ours = rules.audience === "issuer" ? [issuer] : [issuer, Endpoints.token(issuer)]
    if (audiences.length !== 1 || !ours.includes(audiences[0])) return yield* reject("audience")
    // RFC 7523 §3 item 4: exp MUST be present
    if (typeof exp !== "number") return yield* reject("exp_missing")
    const now = yield* Jwt.nowSeconds
    if (typeof iat !== "number") {
      if (rules.iat === "required") return yield* reject("iat_missing")
      // RFC 7519 §4.1.6: the time the JWT was issued cannot lie ahead by more than the signer's clock skew
    } else if (iat > now + clockSkewSeconds) return yield* reject("iat_future")
    return { exp, iat: typeof iat === "number" ? iat : undefined, now }
  })

/**
 * An assertion (RFC 7523 §3): `times`, then a lifetime of at most 5 minutes (`exp` - `iat`, and `exp` no further
 * ahead than that plus the clock skew when `iat` is absent) and a `jti` (item 7) Tessera can remember. The `jti` is not
 * spent here: `spend` does that when the caller's request is otherwise good.
 */
export const assertion = (payload: Claims, issuer: string, rules: Rules) =>
  Effect.gen(function*() {
    const { exp, iat, now } = yield* times(payload, issuer, rules)
    if ((iat !== undefined && exp - iat > maxLifetimeSeconds) || exp - now > maxLifetimeSeconds + clockSkewSeconds) {
      return yield* reject("lifetime")
    }
    // RFC 7523 §3 item 7: the server may refuse a jti it has seen; Tessera requires one and refuses replays
    const { jti } = payload
    if (typeof jti !== "string" || jti === "") return yield* reject("jti_missing")
    // CONTRACT §2 (never a 5xx): the jti keys the replay store, whose index entry has a bound (ADR 0047)
    if (jti.length > maxJtiLength) return yield* reject("jti_length")
    return { exp, iat, jti }
  })

/**
 * RFC 7523 §3 item 7: remembers the `jti` per realm and issuer until `exp`, for as long as the assertion could be
 * valid; one seen before is `replayed`. Compare-and-set: of two racing requests with one assertion, exactly one wins.
 */
export const spend = (realmId: string, iss: string, claims: { readonly jti: string; readonly exp: number }) =>
  Effect.flatMap(JtiCache, (seen) => seen.remember(realmId, iss, claims.jti, DateTime.unsafeMake(claims.exp * 1000))).pipe(
    Effect.flatMap((fresh) => (fresh ? Effect.void : reject("replayed")))
  )
