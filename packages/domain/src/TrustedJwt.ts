/**
 * A JWT signed by a trusted issuer of the realm (RFC 7523 §3 items 1 and 9; RFC 8693 §3 `jwt` subject tokens): its
 * `iss` names the issuer, whose registered keys (inline `jwks`, or its `jwks_uri` through `RemoteJwks`) verify it with
 * an asymmetric algorithm. The claims beyond the signature, `exp` and `nbf` are each caller's to check.
 */
import { Data, Effect, Option } from "effect"
import * as Jwt from "./Jwt.js"
import type { Realm } from "./Realm.js"
import * as RemoteJwks from "./RemoteJwks.js"
import { TrustedIssuers } from "./TrustedIssuers.js"

/** RFC 7518 §3.1: asymmetric JWS algorithms only (never `none`, never HMAC: a trusted issuer publishes public keys). */
export const algorithms = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"]

export class TrustedJwtRejected extends Data.TaggedError("TrustedJwtRejected")<{
  readonly reason:
    /** Not a decodable JWT (RFC 7519 §7.2), or no `iss` to look up. */
    | "malformed"
    /** `iss` is no trusted issuer of the realm. */
    | "untrusted_issuer"
    /** The issuer's `jwks_uri` could not be fetched or is no JWK Set (RemoteJwks logs why). */
    | "jwks_unavailable"
    /** No key of the issuer verifies the signature, or the algorithm is not an asymmetric one. */
    | "signature"
    /** Verified, but jose refused a claim (e.g. `nbf` in the future, a non-numeric `iat`). */
    | "invalid"
    | "expired"
}> {}

/** jose's error codes for a JWT that does not verify. */
const verifyReason = (code: string): TrustedJwtRejected["reason"] => {
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

const reject = (reason: TrustedJwtRejected["reason"]) => Effect.fail(new TrustedJwtRejected({ reason }))

/** draft-ietf-oauth-identity-assertion-authz-grant §3: the JOSE header `typ` of an Identity Assertion JWT Authorization Grant. */
export const idJagType = "oauth-id-jag+jwt"

/**
 * RFC 7515 §4.1.9: `typ` is a media type, compared without regard to case, its `application/` prefix optional; whether
 * it names an ID-JAG (RFC 8725 §3.11: explicit typing keeps one kind of JWT from being taken for another).
 */
export const isIdJag = (typ: unknown) => typeof typ === "string" && typ.toLowerCase().replace(/^application\//, "") === idJagType

/**
 * Verifies `token` with the keys of the trusted issuer its `iss` names; answers that issuer (`iss`, and its
 * registration), the verified payload and whether its `typ` says it is an ID-JAG. Unless `idJag` is "accepted" (the
 * JWT-bearer grant, which applies the draft's rules to it), an ID-JAG is refused (`invalid`): RFC 8725 §3.11, a grant
 * meant for one authorization server is never a token exchange's subject token.
 */
export const verify = (realm: Realm, token: string, options: { readonly idJag: "accepted" | "refused" } = { idJag: "refused" }) =>
  Effect.gen(function*() {
    const unverified = Jwt.unverifiedClaims(token)
    if (unverified === undefined) return yield* reject("malformed")
    const iss = unverified.iss
    // RFC 7523 §3 item 1: iss MUST be present; it names whose keys verify the JWT
    if (typeof iss !== "string" || iss === "") return yield* reject("malformed")
    const trusted = yield* Effect.flatMap(TrustedIssuers, (issuers) => issuers.find(realm.id, iss))
    if (Option.isNone(trusted)) return yield* reject("untrusted_issuer")
    const registered = trusted.value.keys
    const jwks = registered._tag === "Jwks"
      ? registered.jwks
      : yield* RemoteJwks.keys(registered.jwksUri, {
        addresses: RemoteJwks.adminRegisteredAddresses,
        // RFC 7515 §4.1.4: the kid says which key; one the cached set lacks may mean the issuer rotated
        kid: Jwt.unverifiedKid(token)
      }).pipe(Effect.mapError(() => new TrustedJwtRejected({ reason: "jwks_unavailable" })))
    // RFC 7523 §3 item 9: the JWT MUST be digitally signed; RFC 7515 §5.2: by a key of the issuer the JWT names
    const verified = yield* Jwt.verify(token, jwks, { algorithms, issuer: iss }).pipe(
      Effect.mapError((e) => new TrustedJwtRejected({ reason: verifyReason(e.reason) }))
    )
    const idJag = isIdJag(verified.protectedHeader.typ)
    if (idJag && options.idJag === "refused") return yield* reject("invalid")
    return { iss, trusted: trusted.value, payload: verified.payload, idJag }
  })
