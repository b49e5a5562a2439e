/** A resource server's step-up check and its `insufficient_user_authentication` challenge (RFC 9470). */
import { param } from "./Challenge.js"
import * as ErrorResponse from "./ErrorResponse.js"

/** The access token's claims about the authentication event (RFC 9470 §6.1, RFC 9068 §2.2.1). */
export interface Claims {
  /** Seconds since the epoch when the person last actively authenticated (OIDC Core §2). */
  readonly auth_time?: number
  /** The authentication context class reference that authentication satisfied (OIDC Core §2). */
  readonly acr?: string
}

/** What a protected resource (or one of its operations) requires of the authentication event. */
export interface Requirement {
  /** RFC 9470 §3 `max_age`: the most seconds allowed since the last active authentication. */
  readonly maxAge?: number
  /** RFC 9470 §3 `acr_values`: acceptable `acr` values in order of preference; empty means no `acr` requirement. */
  readonly acrValues?: ReadonlyArray<string>
}

/** The token's authentication is good enough. */
export interface Satisfied {
  readonly _tag: "Satisfied"
}

/**
 * The token's authentication is not good enough: carries the whole requirement (every parameter it sets, not
 * only the one that failed), so one new authorization request with these values satisfies it.
 */
export interface Insufficient {
  readonly _tag: "Insufficient"
  readonly maxAge?: number
  readonly acrValues?: ReadonlyArray<string>
}

export type Result = Satisfied | Insufficient

/** Where the challenge points the client: the RFC 6750 §3 `realm` and the RFC 9728 §5.1 `resource_metadata` URL. */
export interface ChallengeOptions {
  readonly realm?: string
  readonly resourceMetadata?: string
}

const satisfied: Satisfied = { _tag: "Satisfied" }

/** RFC 9470 §3: the fixed, human-readable `error_description` of the challenge. */
export const description = "A different authentication level is required"

/**
 * Checks a verified token's `auth_time` and `acr` against a requirement (RFC 9470 §3).
 *
 * Insufficient when `maxAge` is set and `auth_time` is missing, not a finite number, or more than `maxAge` seconds
 * before `nowSeconds` (OIDC Core §3.1.2.1: exactly `maxAge` seconds is still fine); or when `acrValues` is non-empty
 * and `acr` is missing or not one of them (compared exactly). A requirement with neither is always satisfied.
 * Pass only claims from an access token the caller has already verified.
 */
export const check = (claims: Claims, requirement: Requirement, nowSeconds: number): Result => {
  const { acrValues, maxAge } = requirement
  const acrRequired = acrValues !== undefined && acrValues.length > 0
  if (maxAge === undefined && !acrRequired) return satisfied
  const authTime = claims.auth_time
  const tooOld = maxAge !== undefined &&
    (typeof authTime !== "number" || !Number.isFinite(authTime) || !(nowSeconds - authTime <= maxAge))
  const wrongAcr = acrRequired && (typeof claims.acr !== "string" || !acrValues.includes(claims.acr))
  if (!tooOld && !wrongAcr) return satisfied
  return {
    _tag: "Insufficient",
    ...(maxAge !== undefined ? { maxAge } : {}),
    ...(acrRequired ? { acrValues } : {})
  }
}

/**
 * The `WWW-Authenticate` value for an `Insufficient` result (RFC 9470 §3), e.g.
 * `Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="urn:mfa"`.
 *
 * Parameters come in this fixed order, each only when it applies: `realm` (RFC 6750 §3), `error`,
 * `error_description`, `acr_values` (space-separated, in preference order), `max_age` (RFC 9470 §3),
 * `resource_metadata` (RFC 9728 §5.1). Every value is a quoted-string (RFC 9110 §11.2).
 *
 * The inputs are the resource server's own configuration, so a bad one is a programming error and throws a
 * `TypeError`: a control character or a code point above U+00FF in any value, an empty `acr` value or one holding a
 * space (it would split the list), or a `maxAge` that is not a non-negative integer.
 */
export const challenge = (insufficient: Insufficient, options: ChallengeOptions = {}): string => {
  const params: Array<string> = []
  if (options.realm !== undefined) params.push(param("realm", options.realm))
  params.push(param("error", "insufficient_user_authentication"))
  params.push(param("error_description", description))
  const { acrValues, maxAge } = insufficient
  if (acrValues !== undefined && acrValues.length > 0) {
    for (const value of acrValues) {
      if (value === "" || value.includes(" ")) {
        throw new TypeError("StepUp.challenge: an acr value is empty or holds a space")
      }
    }
    params.push(param("acr_values", acrValues.join(" ")))
  }
  if (maxAge !== undefined) {
    if (!Number.isSafeInteger(maxAge) || maxAge < 0) {
      throw new TypeError("StepUp.challenge: max_age is not a non-negative integer")
    }
    params.push(param("max_age", String(maxAge)))
  }
  if (options.resourceMetadata !== undefined) params.push(param("resource_metadata", options.resourceMetadata))
  return `Bearer ${params.join(", ")}`
}

/**
 * The 401 for an `Insufficient` result (RFC 9470 §3): body `{"error": "insufficient_user_authentication",
 * "error_description": "A different authentication level is required"}` and the `challenge` as `WWW-Authenticate`.
 * Throws like `challenge`.
 */
export const errorResponse = (insufficient: Insufficient, options: ChallengeOptions = {}): ErrorResponse.ErrorResponse =>
  new ErrorResponse.ErrorResponse({
    error: "insufficient_user_authentication",
    error_description: description,
    status: 401,
    wwwAuthenticate: challenge(insufficient, options)
  })
