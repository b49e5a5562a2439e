/** jose, wrapped once: times come from Effect's Clock, failures become `TokenInvalid` with jose's reason code. */
import { Clock, Data, Effect } from "effect"
import * as Jose from "jose"
import * as Base64Url from "./Base64Url.js"
import { Crypto } from "./Crypto.js"
import type * as SigningKey from "./SigningKey.js"

export class TokenInvalid extends Data.TaggedError("TokenInvalid")<{
  /** jose's error code (`ERR_JWT_EXPIRED`, `ERR_JWS_SIGNATURE_VERIFICATION_FAILED`, ...) or Tessera's reason. */
  readonly reason: string
}> {}

/** Seconds since the epoch, from the Clock. */
export const nowSeconds = Effect.map(Clock.currentTimeMillis, (ms) => Math.floor(ms / 1000))

const encoder = new TextEncoder()
const segment = (value: unknown) => Base64Url.encodeText(JSON.stringify(value))

/**
 * Signs `claims` (which carry their own iat/exp) as a compact JWS (RFC 7515 §7.1): the same bytes jose's `SignJWT`
 * gives for header `{alg, kid, typ}`, signed with `key` as `Crypto.importSigningKey` opened it.
 */
export const sign = (
  claims: Jose.JWTPayload,
  key: { readonly kid: string; readonly alg: SigningKey.Alg; readonly key: unknown },
  typ: string
) =>
  Effect.flatMap(Crypto, (crypto) => {
    const input = signingInput(claims, key, typ)
    return Effect.map(crypto.sign(key.key, key.alg, encoder.encode(input)), (signature) => compact(input, signature))
  })

/** RFC 7515 §7.1: the JWS Signing Input, `BASE64URL(header) || '.' || BASE64URL(payload)`, header `{alg, kid, typ}`. */
export const signingInput = (claims: Jose.JWTPayload, key: { readonly kid: string; readonly alg: SigningKey.Alg }, typ: string) =>
  `${segment({ alg: key.alg, kid: key.kid, typ })}.${segment(claims)}`

/** RFC 7515 §7.1: the compact serialization of a signing input and its signature. */
export const compact = (input: string, signature: Uint8Array) => `${input}.${Base64Url.encode(signature)}`

// U+0000 (PostgreSQL's text and jsonb refuse it) or a lone surrogate (no UTF-8 encodes one): the rule of the protocol's
// `Syntax.isStorable`, which the domain may not import
const unstorable = /\u0000|\p{Cs}/u

/**
 * CONTRACT §2: whether every string of a JWT's claims (keys included) can be stored as it is. A JWT anyone signed
 * (a DPoP proof, a client assertion, a trusted issuer's assertion) brings claims Tessera stores (`jti`) or looks up
 * (`iss`, `sub`): one that cannot be stored does not decode, so it is refused as a malformed JWT, never a store failure.
 */
export const storableClaims = (value: unknown): boolean => {
  if (typeof value === "string") return !unstorable.test(value)
  if (Array.isArray(value)) return value.every(storableClaims)
  if (typeof value === "object" && value !== null) {
    return Object.entries(value).every(([key, v]) => !unstorable.test(key) && storableClaims(v))
  }
  return true
}

/** A JWK Set (RFC 7517 §5), as registered or fetched: its keys are opened when a JWT is verified with it. */
export interface KeySet {
  readonly keys: ReadonlyArray<Readonly<Record<string, unknown>>>
}

/** The keys a JWT is verified with, opened once and kept (`keySet`). */
export type Verifier = Jose.JWTVerifyGetKey

/**
 * A JWK Set as a `Verifier`: jose's local key set, which opens (imports) each key the first time a JWT names it and
 * keeps it, so a set made once and used for many JWTs imports each key once (`SigningKeys.verifier`).
 */
export const keySet = (jwks: KeySet): Verifier =>
  Jose.createLocalJWKSet(jwks as Jose.JSONWebKeySet)

/** Verifies a JWT against a JWK Set at the Clock's time; claims that cannot be stored (`storableClaims`) fail it. */
export const verify = (
  token: string,
  jwks: KeySet | Verifier,
  options: Omit<Jose.JWTVerifyOptions, "currentDate">
) =>
  Effect.flatMap(Clock.currentTimeMillis, (ms) =>
    Effect.tryPromise({
      try: () => Jose.jwtVerify(token, typeof jwks === "function" ? jwks : keySet(jwks), { ...options, currentDate: new Date(ms) }),
      catch: (e) => new TokenInvalid({ reason: (e as { code?: string }).code ?? "ERR_JWT_INVALID" })
    }).pipe(Effect.filterOrFail((verified) => storableClaims(verified.payload), () => new TokenInvalid({ reason: "ERR_JWT_INVALID" }))))

/**
 * A JWT's claims before any check, to learn which keys verify it (its `iss`); nothing read here may be trusted until
 * `verify` succeeds. Undefined when the JWT does not decode (RFC 7519 §7.2), or its claims cannot be stored.
 */
export const unverifiedClaims = (token: string): Jose.JWTPayload | undefined => {
  try {
    const claims = Jose.decodeJwt(token)
    return storableClaims(claims) ? claims : undefined
  } catch {
    return undefined
  }
}

/** The `kid` of a JWS's protected header before any check (RFC 7515 §4.1.4), to pick or refetch keys; untrusted. */
export const unverifiedKid = (token: string): string | undefined => {
  try {
    const kid = Jose.decodeProtectedHeader(token).kid
    return typeof kid === "string" && storableClaims(kid) ? kid : undefined
  } catch {
    return undefined
  }
}
