/**
 * Client authentication at the token, introspection and revocation endpoints: RFC 6749 §2.3.1 (client secrets),
 * RFC 7523 §2.2 and §3 (`private_key_jwt`), OIDC Core §9, and `none` for public clients (RFC 6749 §2.1).
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { Clock, Data, DateTime, Effect, Either, Option, Redacted } from "effect"
import { Client, Hash, JtiCache, Jwt, RemoteJwks } from "@tessera/domain"
import type { Realm, TokenSet } from "@tessera/domain"
import { ClientAuthentication } from "@tessera/protocol"
import type { Form } from "@tessera/protocol"
import * as ClientAddress from "./ClientAddress.js"
import * as ClientLookup from "./ClientLookup.js"

/** The endpoints where clients authenticate, under the realm's issuer. */
export const endpoints = (issuer: string) => ({
  token: `${issuer}/token`,
  introspection: `${issuer}/introspect`,
  revocation: `${issuer}/revoke`
})

/** RFC 7518 §3.1: the asymmetric JWS algorithms a client assertion may use (never `none`, never HMAC). */
export const assertionAlgs = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"]

const allMethods: ReadonlyArray<Client.AuthMethod> = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
/** Introspection reveals what a token holds: a public client, which can keep no secret, may not ask. */
const authenticatingMethods = allMethods.filter((method) => method !== "none")

/** RFC 8414 §2: the three endpoints, how clients authenticate at each, and the assertion algorithms. */
export const metadata = (issuer: string) => {
  const urls = endpoints(issuer)
  return {
    token_endpoint: urls.token,
    token_endpoint_auth_methods_supported: allMethods,
    token_endpoint_auth_signing_alg_values_supported: assertionAlgs,
    introspection_endpoint: urls.introspection,
    introspection_endpoint_auth_methods_supported: authenticatingMethods,
    introspection_endpoint_auth_signing_alg_values_supported: assertionAlgs,
    revocation_endpoint: urls.revocation,
    revocation_endpoint_auth_methods_supported: allMethods,
    revocation_endpoint_auth_signing_alg_values_supported: assertionAlgs
  }
}

/** RFC 7523 §3 leaves the lifetime to the server; Tessera takes at most 5 minutes (as CONTRACT §5 does for JWT-bearer). */
export const maxAssertionLifetimeSeconds = 300

export type Reason =
  | "credentials_malformed"
  | "unknown_client"
  | "wrong_secret"
  | "method_mismatch"
  | "none_not_allowed"
  | "jwks_unavailable"
  | "assertion_invalid"
  | "assertion_signature"
  | "assertion_expired"
  | "assertion_subject"
  | "assertion_audience"
  | "assertion_exp_missing"
  | "assertion_jti_missing"
  | "assertion_jti_length"
  | "assertion_lifetime"
  | "assertion_replayed"

/** The client did not prove who it is (RFC 6749 §5.2 invalid_client). `reason` and the rest are for the log only. */
export class ClientAuthFailed extends Data.TaggedError("ClientAuthFailed")<{
  readonly reason: Reason
  /** On `method_mismatch`, the method the client registered. */
  readonly registered?: Client.AuthMethod
  /** On `credentials_malformed`, what was wrong with them. */
  readonly detail?: string
}> {}

/** The one `error_description` of every client authentication failure. */
export const failed = "client authentication failed"

/**
 * RFC 6749 §5.2: 401 invalid_client with the Basic challenge (`ClientAuthentication.invalidClient`). One answer, the
 * same status, bytes and headers, whatever failed: an unknown client, a wrong secret, another method than the one
 * registered, a bad assertion or malformed credentials all read alike, so the answer says neither that a client
 * exists nor how it authenticates (ADR 0028). The reason goes to the log.
 */
export const invalidClient = (issuer: string) => (_failure: ClientAuthFailed) => ClientAuthentication.invalidClient(issuer, failed)

const fail = (reason: Reason) => Effect.fail(new ClientAuthFailed({ reason }))

/** jose's error codes for a client assertion that does not verify. */
const assertionReason = (code: string): Reason => {
  switch (code) {
    case "ERR_JWT_EXPIRED":
      return "assertion_expired"
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
    case "ERR_JWKS_NO_MATCHING_KEY":
    case "ERR_JWKS_MULTIPLE_MATCHING_KEYS":
    case "ERR_JOSE_ALG_NOT_ALLOWED":
    case "ERR_JOSE_NOT_SUPPORTED":
      return "assertion_signature"
    default:
      return "assertion_invalid"
  }
}

/**
 * RFC 7523 §3: verifies a client assertion with the client's registered keys (`jwks`, or its `jwks_uri` through
 * RemoteJwks, RFC 7591 §2): `iss` = `sub` = client_id, `aud` the
 * issuer or the token endpoint, `exp` in the future, at most 5 minutes of validity, and a `jti` never seen before.
 */
const verifyAssertion = (realm: Realm.Realm, issuer: string, client: Client.Client, assertion: string) =>
  Effect.gen(function*() {
    const { jwks: inline, jwksUri } = client.metadata
    // RFC 7591 §2: the keys are inline or at the jwks_uri (never both); a jwks_uri client's rotation is picked up by
    // the kid the assertion names (RemoteJwks refetches, bounded)
    const jwks = inline ?? (jwksUri === undefined ? undefined : yield* RemoteJwks.keys(jwksUri, {
      addresses: RemoteJwks.adminRegisteredAddresses,
      kid: Jwt.unverifiedKid(assertion)
    }).pipe(Effect.mapError(() => new ClientAuthFailed({ reason: "jwks_unavailable" }))))
    if (jwks === undefined) return yield* fail("assertion_signature")
    const verified = yield* Jwt.verify(assertion, jwks as unknown as Parameters<typeof Jwt.verify>[1], { algorithms: assertionAlgs }).pipe(
      Effect.mapError((e) => new ClientAuthFailed({ reason: assertionReason(e.reason) }))
    )
    const { iss, sub, aud, exp, iat, jti } = verified.payload
    // RFC 7523 §3 items 1 and 2: for client authentication, iss and sub MUST be the client_id
    if (iss !== client.clientId || sub !== client.clientId) return yield* fail("assertion_subject")
    // RFC 7523 §3 item 3: aud identifies the authorization server: its issuer or its token endpoint. One value only
    // (draft-ietf-oauth-rfc7523bis): an assertion meant for several audiences could be replayed here by any of them.
    const audiences = typeof aud === "string" ? [aud] : Array.isArray(aud) ? aud : []
    const ours = [issuer, endpoints(issuer).token]
    if (audiences.length !== 1 || !ours.includes(audiences[0]!)) return yield* fail("assertion_audience")
    // RFC 7523 §3 item 4: exp MUST be present, and the JWT rejected once it has passed
    if (typeof exp !== "number") return yield* fail("assertion_exp_missing")
    const now = yield* Jwt.nowSeconds
    if (exp <= now) return yield* fail("assertion_expired")
    // a short lifetime bounds how long the jti must be remembered (RFC 7523 §3 item 7)
    if (exp - now > maxAssertionLifetimeSeconds || (typeof iat === "number" && exp - iat > maxAssertionLifetimeSeconds)) {
      return yield* fail("assertion_lifetime")
    }
    // RFC 7523 §3 item 7: the server may refuse a jti it has seen; Tessera requires one and refuses replays
    if (typeof jti !== "string" || jti === "") return yield* fail("assertion_jti_missing")
    // CONTRACT §2 (never a 5xx): the jti keys the replay store, whose index entry has a bound (ADR 0047)
    if (jti.length > JtiCache.maxLength) return yield* fail("assertion_jti_length")
    const fresh = yield* Effect.flatMap(JtiCache.JtiCache, (seen) =>
      seen.remember(realm.id, client.clientId, jti, DateTime.unsafeMake(exp * 1000)))
    if (!fresh) return yield* fail("assertion_replayed")
  })

export interface Input {
  readonly realm: Realm.Realm
  readonly issuer: string
  readonly credentials: ClientAuthentication.ClientAuthentication
  /** Whether a public client naming itself (`none`) is enough at this endpoint. */
  readonly allowNone: boolean
}

/**
 * The client the credentials prove, which must use the method it registered (`token_endpoint_auth_method`, RFC 7591
 * §2; OIDC Core §9): a confidential client cannot fall back to `none`, nor a `private_key_jwt` client to a secret.
 */
export const authenticate = Effect.fn("ClientAuth.authenticate")(function*(input: Input) {
  const presented = input.credentials
  if (presented._tag === "None" && !input.allowNone) return yield* fail("none_not_allowed")
  // a registered client, or the one a client ID metadata document names (MCP "Client ID Metadata Documents")
  const found = yield* ClientLookup.find(input.realm, presented.clientId)
  if (Option.isNone(found)) {
    // hash anyway: an unknown client id takes as long as a wrong secret
    if (presented._tag === "Basic" || presented._tag === "Post") yield* Hash.sha256(Redacted.value(presented.clientSecret))
    return yield* fail("unknown_client")
  }
  const client = found.value
  const registered = client.metadata.tokenEndpointAuthMethod
  if (ClientAuthentication.authMethod(presented) !== registered) {
    return yield* Effect.fail(new ClientAuthFailed({ reason: "method_mismatch", registered }))
  }
  switch (presented._tag) {
    case "Basic":
    case "Post": {
      // client secrets are stored as base64url SHA-256: compare digests in constant time; the previous secret only
      // within its overlap window, by the Clock (CONTRACT §3 secret rotation, ADR 0032)
      const digest = yield* Hash.sha256(Redacted.value(presented.clientSecret))
      if (!secretMatches(client, digest, yield* Clock.currentTimeMillis)) return yield* fail("wrong_secret")
      break
    }
    case "Assertion":
      yield* verifyAssertion(input.realm, input.issuer, client, presented.assertion)
      break
    case "None":
      break
  }
  return client
})

/**
 * Whether `digest`, the base64url SHA-256 of a presented secret, is the client's at `nowMillis`: its current secret, or
 * the one a rotation replaced while its overlap window lasts (`Client.acceptedSecretHashes`). Each accepted hash is
 * compared in constant time, all of them every time.
 */
export const secretMatches = (client: Client.Client, digest: string, nowMillis: number) =>
  Client.acceptedSecretHashes(client, nowMillis).reduce((found, hash) => Hash.constantTimeEqual(digest, hash) || found, false)

/** Reads the credentials of a request whose form is `params` and authenticates the client. */
export const fromRequest = (input: Omit<Input, "credentials"> & { readonly params: Form.Params }) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const extracted = ClientAuthentication.extract({ authorization: request.headers["authorization"], params: input.params }, input.issuer)
    // credentials that are not credentials fail as every other client authentication does (invalidClient); a
    // malformed request (a repeated parameter, two methods at once) stays invalid_request
    const credentials = yield* Either.mapLeft(extracted, (refused) =>
      refused.error === "invalid_client"
        ? new ClientAuthFailed({ reason: "credentials_malformed", detail: refused.error_description ?? "" })
        : refused)
    return yield* authenticate({ ...input, credentials })
  })

/** How much of a User-Agent the audit trail keeps. */
const maxUserAgent = 512

/**
 * Who asked, for the audit trail (CONTRACT §7): the client's address (`ClientAddress`: the socket peer, or what
 * trusted proxies forwarded, CONTRACT §1) and the User-Agent, cut to a bounded length.
 */
export const requestContext = Effect.map(
  Effect.all([HttpServerRequest.HttpServerRequest, ClientAddress.current]),
  ([request, ip]) => contextOf(ip, request.headers["user-agent"])
)

/** `requestContext` from the client address and the User-Agent header as Node gives them. */
export const contextOf = (ip: string | undefined, userAgent: string | undefined): TokenSet.RequestContext => ({
  ...(ip !== undefined ? { ip } : {}),
  ...(userAgent !== undefined && userAgent !== "" ? { userAgent: userAgent.slice(0, maxUserAgent) } : {})
})
