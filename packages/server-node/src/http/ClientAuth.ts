/**
 * Client authentication at the token, introspection and revocation endpoints: RFC 6749 §2.3.1 (client secrets),
 * RFC 7523 §2.2 and §3 (`private_key_jwt`), OIDC Core §9, and `none` for public clients (RFC 6749 §2.1).
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { Clock, Data, Effect, Either, Option, Redacted } from "effect"
import { Client, Endpoints, Hash, Jwt, JwtAssertion, RemoteJwks } from "@tessera/domain"
import type { Realm, TokenSet } from "@tessera/domain"
import { ClientAuthentication } from "@tessera/protocol"
import type { Form } from "@tessera/protocol"
import * as ClientAddress from "./ClientAddress.js"
import * as ClientLookup from "./ClientLookup.js"

const allMethods: ReadonlyArray<Client.AuthMethod> = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
/** Introspection reveals what a token holds: a public client, which can keep no secret, may not ask. */
const authenticatingMethods = allMethods.filter((method) => method !== "none")

/** RFC 8414 §2: the three endpoints, how clients authenticate at each, and the assertion algorithms. */
export const metadata = (issuer: string) => ({
  token_endpoint: Endpoints.token(issuer),
  token_endpoint_auth_methods_supported: allMethods,
  token_endpoint_auth_signing_alg_values_supported: JwtAssertion.algorithms,
  introspection_endpoint: Endpoints.introspection(issuer),
  introspection_endpoint_auth_methods_supported: authenticatingMethods,
  introspection_endpoint_auth_signing_alg_values_supported: JwtAssertion.algorithms,
  revocation_endpoint: Endpoints.revocation(issuer),
  revocation_endpoint_auth_methods_supported: allMethods,
  revocation_endpoint_auth_signing_alg_values_supported: JwtAssertion.algorithms
})

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
  | "assertion_iat_future"
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

/** The shared rules' refusal of a client assertion, as client authentication's (log only: the wire is one answer). */
const assertionReason = (reason: JwtAssertion.Reason): Reason => {
  switch (reason) {
    case "signature":
    case "untrusted_issuer":
      return "assertion_signature"
    case "jwks_unavailable":
      return "jwks_unavailable"
    case "malformed":
    case "invalid":
    case "iat_missing":
      return "assertion_invalid"
    default:
      return `assertion_${reason}`
  }
}

/**
 * RFC 7523 §3: verifies a client assertion with the client's registered keys (`jwks`, or its `jwks_uri` through
 * RemoteJwks, RFC 7591 §2): `iss` = `sub` = client_id, then the rules every assertion follows
 * (`JwtAssertion.clientAssertion`: `aud` the issuer or the token endpoint, `exp` in the future, at most 5 minutes of
 * validity, `iat` and `nbf` within the clock skew, a `jti` never seen before). The jti is spent at once.
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
    const { payload } = yield* JwtAssertion.verifySignature(assertion, jwks as unknown as Parameters<typeof Jwt.verify>[1], { idJag: "refused" })
    // RFC 7523 §3 items 1 and 2: for client authentication, iss and sub MUST be the client_id
    if (payload.iss !== client.clientId || payload.sub !== client.clientId) return yield* fail("assertion_subject")
    const claims = yield* JwtAssertion.assertion(payload, issuer, JwtAssertion.clientAssertion)
    // RFC 7523 §3 item 7: spent now, whatever the request goes on to ask; per realm and client (its iss)
    yield* JwtAssertion.spend(realm.id, client.clientId, claims)
  }).pipe(Effect.catchTag("JwtRejected", (e) => fail(assertionReason(e.reason))))

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
