/**
 * DPoP (RFC 9449): checking a proof (§4.3), the key's thumbprint (§6.1, RFC 7638), the access token hash (§4.2
 * `ath`), and a protected resource's checks of a DPoP-bound token (§7). WebCrypto through jose, no storage and no
 * clock of its own: the `jti` replay check (§11.1) and server nonces (§8, §9) are the caller's, passed in.
 */
import { Data, Effect } from "effect"
import * as Jose from "jose"
import * as AccessToken from "./AccessToken.js"
import * as Challenge from "./Challenge.js"
import * as ErrorResponse from "./ErrorResponse.js"
import * as Jwks from "./Jwks.js"
import * as Syntax from "./Syntax.js"

/**
 * RFC 9449 §4.2 and §11.6: the asymmetric JWS algorithms (RFC 7518 §3.1, RFC 8037 §3.1) accepted for proofs, the
 * same as for access tokens; never `none`, never a MAC.
 */
export const algorithms: ReadonlyArray<string> = AccessToken.algorithms

/** The acceptance window of a proof's `iat` (RFC 9449 §11.1), in seconds (ADR 0017). */
export interface Window {
  /** How long after its `iat` a proof is still accepted. */
  readonly maxAge: number
  /** How far ahead of the server's clock `iat` may be (a client clock that runs fast). */
  readonly maxSkew: number
}

/** ADR 0017: a proof is accepted from 30 seconds before its `iat` (by the server's clock) until 60 seconds after. */
export const defaultWindow: Window = { maxAge: 60, maxSkew: 30 }

/** RFC 9449 §11.1: a `jti` longer than this is refused rather than stored (a replay cache holds every one it sees). */
export const maxJtiLength = 128

/** Why a proof was refused. `use_dpop_nonce` for the nonce reasons (§8, §9), `invalid_dpop_proof` otherwise (§5, §7.1). */
export type Reason =
  | "missing"
  | "multiple"
  | "malformed"
  | "typ"
  | "alg"
  | "jwk"
  | "signature"
  | "jti"
  | "htm"
  | "htu"
  | "iat"
  | "stale"
  | "ath"
  | "replayed"
  | "nonce_missing"
  | "nonce_invalid"

/** Fixed texts, never the proof's own values (RFC 6749 §5.2 character set). */
export const descriptions: Record<Reason, string> = {
  missing: "a DPoP proof is required",
  multiple: "there must be exactly one DPoP header",
  malformed: "the DPoP header must be one JWT in JWS compact serialization",
  typ: "the DPoP proof's 'typ' must be dpop+jwt",
  alg: "the DPoP proof's 'alg' must be an asymmetric algorithm of 'dpop_signing_alg_values_supported'",
  jwk: "the DPoP proof's 'jwk' must be a public key for its 'alg'",
  signature: "the DPoP proof's signature does not verify with its 'jwk'",
  jti: `the DPoP proof must have a 'jti' of 1 to ${maxJtiLength} characters`,
  htm: "the DPoP proof's 'htm' does not match the request method",
  htu: "the DPoP proof's 'htu' does not match the request URI",
  iat: "the DPoP proof must have a numeric 'iat'",
  stale: "the DPoP proof's 'iat' is outside the accepted window",
  ath: "the DPoP proof's 'ath' does not match the access token",
  replayed: "the DPoP proof was already used ('jti' seen before)",
  nonce_missing: "the DPoP proof must carry the nonce of the DPoP-Nonce header",
  nonce_invalid: "the DPoP proof's nonce is not a current nonce of this server"
}

/** A proof that is not valid, and why (RFC 9449 §4.3). */
export class ProofRejected extends Data.TaggedError("ProofRejected")<{ readonly reason: Reason }> {
  /** RFC 9449 §8, §9: a nonce problem is `use_dpop_nonce`; anything else `invalid_dpop_proof` (§5, §7.1). */
  get error(): "invalid_dpop_proof" | "use_dpop_nonce" {
    return this.reason === "nonce_missing" || this.reason === "nonce_invalid" ? "use_dpop_nonce" : "invalid_dpop_proof"
  }

  get description(): string {
    return descriptions[this.reason]
  }
}

/** The request a proof must match, and the server's policy. */
export interface Expected<E = never, R = never> {
  /** §4.3 item 8: the request's HTTP method. */
  readonly method: string
  /** §4.3 item 9: the request's URI as the client addressed it (the server's public URL); query and fragment are ignored. */
  readonly uri: string
  /** §4.3 item 12, §7: the access token presented with the proof, whose hash the proof's `ath` must be. */
  readonly accessToken?: string | undefined
  /** The server's time, in seconds since the epoch. */
  readonly now: number
  /** §4.3 item 5: acceptable algorithms, a subset of `algorithms` (the default). */
  readonly algorithms?: ReadonlyArray<string>
  readonly window?: Window
  /**
   * §4.3 item 10, §8, §9: when given, the proof must carry a nonce this server issued, and this says whether it did
   * (and that it is still current). Without it, nonces are not used and a `nonce` claim is ignored.
   */
  readonly nonce?: (nonce: string) => Effect.Effect<boolean, E, R>
  /**
   * §11.1: remembers the proof's `jti` for `uri` until `expiresAt` and answers whether it was new. Called last, once
   * every other check passed, so a refused proof spends nothing. Without it, replays within the window go unnoticed.
   */
  readonly unique?: (proof: Proof) => Effect.Effect<boolean, E, R>
}

/** A valid proof. */
export interface Proof {
  /** RFC 7638: the base64url SHA-256 thumbprint of the proof's key, the `jkt` a token is bound to (§6.1). */
  readonly jkt: string
  readonly jti: string
  /** The request URI the proof is for, normalized (§4.3): what a replay cache keys the `jti` by (§11.1). */
  readonly htu: string
  readonly iat: number
  /** Seconds since the epoch: after this the proof is refused as stale, so a replay cache may forget its `jti`. */
  readonly expiresAt: number
  readonly nonce?: string
  /** The public key. */
  readonly jwk: Jose.JWK
}

// RFC 9449 §4.1 / RFC 9110 §11.2: token68, and here the JWS compact serialization (RFC 7515 §7.1) in it
const compactJws = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/

const unreservedByte = /[A-Za-z0-9\-._~]/

/**
 * RFC 9449 §4.3 (RFC 3986 §6.2.2, §6.2.3): a URI normalized for comparing `htu`: the WHATWG parser lowercases the
 * scheme and host, drops the default port, gives an empty path "/" and removes dot segments; then percent-encodings
 * are upper-cased and those of unreserved characters decoded; query and fragment are dropped. Undefined when the
 * value is not an absolute http(s) URI, or holds credentials (RFC 9110 §4.2.4: treated as an error).
 */
export const normalizeUri = (value: string): string | undefined => {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return undefined
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return undefined
  if (url.username !== "" || url.password !== "") return undefined
  const path = url.pathname.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16))
    return unreservedByte.test(char) ? char : `%${hex.toUpperCase()}`
  })
  return `${url.protocol}//${url.host}${path}`
}

/** RFC 9449 §4.2: `ath`, the base64url SHA-256 of the access token's ASCII. */
export const ath = (accessToken: string) =>
  Effect.promise(() => globalThis.crypto.subtle.digest("SHA-256", new TextEncoder().encode(accessToken))).pipe(
    Effect.map((digest) => Jose.base64url.encode(new Uint8Array(digest)))
  )

/** RFC 7638 §3: the base64url SHA-256 thumbprint of a public JWK (RFC 9449 §6.1 `jkt`). */
export const thumbprint = (jwk: Jose.JWK) => Effect.promise(() => Jose.calculateJwkThumbprint(jwk, "sha256"))

const reject = (reason: Reason) => Effect.fail(new ProofRejected({ reason }))

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

// RFC 7515 §4.1.9: typ is a media type, compared case-insensitively, "application/" may be left out
const isDpopTyp = (typ: unknown) => typeof typ === "string" && ["dpop+jwt", "application/dpop+jwt"].includes(typ.toLowerCase())

/**
 * Imported proof keys and their thumbprints, by algorithm and the `jwk` exactly as sent. A client signs many proofs
 * with one key, and importing a JWK costs about twice what verifying a signature does, so the import and the RFC 7638
 * hash are done once per key: a memo of two pure functions, not state. Bounded; the oldest entry goes first.
 */
const imported = new Map<string, { readonly key: CryptoKey; readonly jkt: string }>()
const importedLimit = 1024

const importProofKey = (alg: string, jwk: Jose.JWK) =>
  Effect.gen(function*() {
    const id = `${alg} ${JSON.stringify(jwk)}`
    const known = imported.get(id)
    if (known !== undefined) return known
    const key = yield* Effect.tryPromise({ try: () => Jose.importJWK(jwk, alg), catch: () => "jwk" as const })
    // a public JWK imports as a public CryptoKey (private members were refused before); anything else does not verify
    if (key instanceof Uint8Array || key.type !== "public") return yield* Effect.fail("jwk" as const)
    const entry = { key, jkt: yield* thumbprint(jwk) }
    if (imported.size >= importedLimit) imported.delete(imported.keys().next().value!)
    imported.set(id, entry)
    return entry
  })

/** What jose's failure to verify means for the proof: the key did not fit, or the signature is wrong. */
const verifyReason = (e: unknown): Reason => {
  const code = (e as { code?: string }).code
  return code === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" ? "signature" : code === "ERR_JWS_INVALID" ? "malformed" : "jwk"
}

/**
 * Checks the `DPoP` header of a request (RFC 9449 §4.3, every item): one header, one compact JWS, `typ` dpop+jwt, an
 * acceptable asymmetric `alg`, a public `jwk` that verifies the signature, `jti`, `htm` and `htu` matching the
 * request, `iat` within the window, `ath` when an access token comes along, the server's nonce when it requires one,
 * and a `jti` not seen before (when `unique` is given). The header value is as the server read it: a list, or one
 * string (Node joins repeated headers with ", ", which is no JWT).
 */
export const verify = <E = never, R = never>(
  header: string | ReadonlyArray<string> | undefined,
  expected: Expected<E, R>
): Effect.Effect<Proof, ProofRejected | E, R> =>
  Effect.gen(function*() {
    if (header === undefined || (typeof header !== "string" && header.length === 0)) return yield* reject("missing")
    // §4.3 item 1: not more than one DPoP header
    if (typeof header !== "string" && header.length > 1) return yield* reject("multiple")
    const value = typeof header === "string" ? header : header[0]!
    if (value.includes(",")) return yield* reject("multiple")
    // §4.3 item 2: a single well-formed JWT
    if (!compactJws.test(value)) return yield* reject("malformed")
    let protectedHeader: Jose.ProtectedHeaderParameters
    try {
      protectedHeader = Jose.decodeProtectedHeader(value)
    } catch {
      return yield* reject("malformed")
    }
    // §4.3 item 4, §11.3: typ dpop+jwt, so that no JWT made for another purpose passes
    if (!isDpopTyp(protectedHeader.typ)) return yield* reject("typ")
    // §4.3 item 5, §11.6: an asymmetric algorithm the server accepts; never none, never a MAC
    const accepted = expected.algorithms ?? algorithms
    const alg = protectedHeader.alg
    if (typeof alg !== "string" || !accepted.includes(alg) || !algorithms.includes(alg)) return yield* reject("alg")
    // §4.2, §4.3 item 7: jwk is a public key, no private or symmetric key members
    const jwk = protectedHeader.jwk
    if (!isObject(jwk) || typeof Jwks.validatePublic({ keys: [jwk] }) === "string") return yield* reject("jwk")
    // §4.3 item 6: the signature verifies with that key
    const key = yield* importProofKey(alg, jwk as Jose.JWK).pipe(Effect.catchAll(() => reject("jwk")))
    const verified = yield* Effect.tryPromise({
      try: () => Jose.compactVerify(value, key.key, { algorithms: [alg] }),
      catch: verifyReason
    }).pipe(Effect.catchAll((reason) => reject(reason)))
    let payload: unknown
    try {
      payload = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(verified.payload))
    } catch {
      return yield* reject("malformed")
    }
    // CONTRACT §2: the jti is stored (the replay cache): a claim no store can hold makes the proof malformed, as does
    // nesting no claim has (refused before it is walked)
    if (!isObject(payload) || !Syntax.isShallowJson(payload) || !Syntax.isStorableJson(payload)) return yield* reject("malformed")
    // §4.2, §4.3 item 3: jti, htm, htu, iat are required; §11.1: an unnecessarily large jti is refused
    const { jti, htm, htu, iat, nonce } = payload
    if (typeof jti !== "string" || jti.length === 0 || jti.length > maxJtiLength) return yield* reject("jti")
    // §4.3 item 8: htm matches the method (RFC 9110 §9.1: methods are case-sensitive)
    if (htm !== expected.method) return yield* reject("htm")
    // §4.3 item 9: htu matches the request URI, ignoring query and fragment, after normalization
    const normalized = typeof htu === "string" ? normalizeUri(htu) : undefined
    if (normalized === undefined || normalized !== normalizeUri(expected.uri)) return yield* reject("htu")
    if (typeof iat !== "number" || !Number.isFinite(iat)) return yield* reject("iat")
    // §4.3 item 12, §7: ath is the hash of the access token presented with the proof
    if (expected.accessToken !== undefined && payload["ath"] !== (yield* ath(expected.accessToken))) return yield* reject("ath")
    // §4.3 item 10, §8: the server's nonce, when it requires one; §11.3: never accepted without it once required
    if (expected.nonce !== undefined) {
      if (typeof nonce !== "string" || nonce.length === 0) return yield* reject("nonce_missing")
      if (!(yield* expected.nonce(nonce))) return yield* reject("nonce_invalid")
    }
    // §4.3 item 11, §11.1: created within the window, by the server's clock
    const window = expected.window ?? defaultWindow
    if (iat < expected.now - window.maxAge || iat > expected.now + window.maxSkew) return yield* reject("stale")
    const proof: Proof = {
      jkt: key.jkt,
      jti,
      htu: normalized,
      iat,
      expiresAt: Math.ceil(iat + window.maxAge),
      ...(expected.nonce !== undefined && typeof nonce === "string" ? { nonce } : {}),
      jwk: jwk as Jose.JWK
    }
    // §11.1: a jti is accepted once for the URI while the proof could be accepted
    if (expected.unique !== undefined && !(yield* expected.unique(proof))) return yield* reject("replayed")
    return proof
  })

/** The credentials of a protected resource request: RFC 6750 §2.1 `Bearer` or RFC 9449 §7.1 `DPoP`. */
export interface Credentials {
  readonly scheme: "Bearer" | "DPoP"
  readonly token: string
}

// RFC 9110 §11.2 token68 after the scheme (case-insensitive, §11.1) and one or more spaces (RFC 6750 §2.1, RFC 9449 §7.1)
const authorization = /^(bearer|dpop) +([A-Za-z0-9\-._~+/]+=*)$/i

/** The `Authorization` header's scheme and token, or undefined when it is neither `Bearer` nor `DPoP` with a token68. */
export const credentials = (header: string): Credentials | undefined => {
  const match = authorization.exec(header)
  if (match === null) return undefined
  return { scheme: match[1]!.toLowerCase() === "dpop" ? "DPoP" : "Bearer", token: match[2]! }
}

/** The key a verified access token is bound to (RFC 9449 §6.1 `cnf.jkt`), if it is DPoP-bound. */
export const boundKey = (claims: object): string | undefined => {
  const cnf = (claims as { readonly cnf?: unknown }).cnf
  return isObject(cnf) && typeof cnf["jkt"] === "string" ? cnf["jkt"] : undefined
}

/** A protected resource refuses how a token came with (or without) its proof (RFC 9449 §7.1, §7.2). */
export class BindingRejected extends Data.TaggedError("BindingRejected")<{
  readonly reason:
    /** §7.2: a DPoP-bound token presented as a bearer token. */
    | "bearer_bound"
    /** §7.1: the `DPoP` scheme with a token that is not DPoP-bound. */
    | "not_bound"
    /** §7.1, §6: the proof's key is not the one the token is bound to. */
    | "key_mismatch"
}> {}

export const bindingDescriptions: Record<BindingRejected["reason"], string> = {
  bearer_bound: "the access token is DPoP-bound: present it with the DPoP scheme and a DPoP proof",
  not_bound: "the access token is not DPoP-bound: present it with the Bearer scheme",
  key_mismatch: "Invalid DPoP key binding"
}

/** The request of a protected resource, for `verifyPresentation`. */
export interface Presentation<E = never, R = never> extends Omit<Expected<E, R>, "accessToken"> {
  readonly credentials: Credentials
  /** The claims of the access token, already verified (signature, issuer, audience, expiry); its `cnf` is read. */
  readonly claims: object
  /** The request's `DPoP` header, as `verify` takes it. */
  readonly proof: string | ReadonlyArray<string> | undefined
}

/**
 * A protected resource's DPoP checks of a verified access token (RFC 9449 §7.1, §7.2): a DPoP-bound token must come
 * with the `DPoP` scheme and a valid proof (with `ath`) of the very key it is bound to; a bound token presented as a
 * bearer token is refused; a token that is not bound must come as a bearer token, and needs no proof. Answers the
 * proof when there is one.
 */
export const verifyPresentation = <E = never, R = never>(
  input: Presentation<E, R>
): Effect.Effect<Proof | undefined, ProofRejected | BindingRejected | E, R> =>
  Effect.gen(function*() {
    const jkt = boundKey(input.claims)
    if (input.credentials.scheme === "Bearer") {
      // §7.2: a protected resource supporting both schemes MUST reject a DPoP-bound token received as a bearer token
      if (jkt !== undefined) return yield* new BindingRejected({ reason: "bearer_bound" })
      return undefined
    }
    if (jkt === undefined) return yield* new BindingRejected({ reason: "not_bound" })
    // §7.1: check the proof (§4.3, with ath) and that its key is the token's
    const proof = yield* verify(input.proof, { ...input, accessToken: input.credentials.token })
    if (proof.jkt !== jkt) return yield* new BindingRejected({ reason: "key_mismatch" })
    return proof
  })

/** Where a protected resource's challenges point, and what it accepts. */
export interface ChallengeOptions {
  /** RFC 6750 §3, RFC 9449 §7.1: the protection space. */
  readonly realm?: string
  /** RFC 9449 §7.1: the algorithms advertised in `algs` (default: `algorithms`). */
  readonly algorithms?: ReadonlyArray<string>
}

/** RFC 9449 §7.1: the `DPoP` challenge, with `error` and `error_description` when there is an error. */
export const challenge = (options: ChallengeOptions, error?: { readonly error: string; readonly description: string }): string =>
  Challenge.challenge("DPoP", [
    ...(options.realm !== undefined ? [["realm", options.realm] as const] : []),
    ...(error !== undefined ? [["error", error.error] as const, ["error_description", error.description] as const] : []),
    ["algs", (options.algorithms ?? algorithms).join(" ")]
  ])

/**
 * A protected resource's 401 for a refused proof or binding (RFC 9449 §7.1, §9): `invalid_dpop_proof`,
 * `use_dpop_nonce` (the caller adds the `DPoP-Nonce` header) or, for the binding, `invalid_token` (RFC 6750 §3.1).
 * The challenge is the scheme the client used (§7.2): `DPoP` with the error, or for a bound token sent as a bearer
 * token `Bearer` with the error followed by the `DPoP` challenge it should use.
 */
export const resourceError = (rejection: ProofRejected | BindingRejected, options: ChallengeOptions = {}): ErrorResponse.ErrorResponse => {
  const error = rejection._tag === "ProofRejected"
    ? { error: rejection.error, description: rejection.description }
    : { error: "invalid_token" as const, description: bindingDescriptions[rejection.reason] }
  const wwwAuthenticate = rejection._tag === "BindingRejected" && rejection.reason === "bearer_bound"
    ? `${
      Challenge.challenge("Bearer", [
        ...(options.realm !== undefined ? [["realm", options.realm] as const] : []),
        ["error", error.error],
        ["error_description", error.description]
      ])
    }, ${challenge(options)}`
    : challenge(options, error)
  return new ErrorResponse.ErrorResponse({ error: error.error, error_description: error.description, status: 401, wwwAuthenticate })
}

/** The token endpoint's 400 for a refused proof (RFC 9449 §5: `invalid_dpop_proof`; §8: `use_dpop_nonce`). */
export const tokenEndpointError = (rejection: ProofRejected): ErrorResponse.ErrorResponse =>
  ErrorResponse.make(rejection.error, rejection.description)
