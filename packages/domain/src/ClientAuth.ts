/**
 * Client authentication policy (RFC 6749 §2.3.1 client secrets, RFC 7523 §2.2 and §3 `private_key_jwt`, OIDC Core §9,
 * `none` for public clients, RFC 6749 §2.1): which client the presented credentials prove. Reading them off a request
 * and answering `invalid_client` are the HTTP adapter's (server-node `http/ClientCredentials.ts`).
 */
import { Clock, Data, Effect, Option, Redacted } from "effect"
import * as Client from "./Client.js"
import * as Hash from "./Hash.js"
import * as Jwt from "./Jwt.js"
import * as JwtAssertion from "./JwtAssertion.js"
import type { Realm } from "./Realm.js"
import * as RemoteJwks from "./RemoteJwks.js"
import type { StoreError } from "./StoreError.js"
import * as Tracing from "./Tracing.js"

/** RFC 7591 §2 `token_endpoint_auth_method`: every method Tessera takes. */
export const methods: ReadonlyArray<Client.AuthMethod> = Client.AuthMethod.literals

/** Introspection reveals what a token holds: a public client, which can keep no secret, may not ask. */
export const authenticatingMethods = methods.filter((method) => method !== "none")

/**
 * The credentials a client presented, not yet checked against its registration (the protocol's
 * `ClientAuthentication`, which the domain may not import, has this shape). Secrets are `Redacted`.
 */
export type Credentials =
  /** RFC 6749 §2.3.1: HTTP Basic (`client_secret_basic`) or the form (`client_secret_post`). */
  | { readonly _tag: "Basic" | "Post"; readonly clientId: string; readonly clientSecret: Redacted.Redacted<string> }
  /** RFC 7523 §2.2: `clientId` only says which client's keys verify the assertion. */
  | { readonly _tag: "Assertion"; readonly clientId: string; readonly assertion: string }
  /** RFC 6749 §2.1 and §3.2.1: a public client names itself. */
  | { readonly _tag: "None"; readonly clientId: string }

/** The RFC 7591 `token_endpoint_auth_method` the credentials correspond to (OIDC Core §9). */
export const methodOf = (credentials: Credentials): Client.AuthMethod => {
  switch (credentials._tag) {
    case "Basic":
      return "client_secret_basic"
    case "Post":
      return "client_secret_post"
    case "Assertion":
      return "private_key_jwt"
    case "None":
      return "none"
  }
}

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
const verifyAssertion = (realm: Realm, issuer: string, client: Client.Client, assertion: string) =>
  Effect.gen(function*() {
    const { jwks: inline, jwksUri } = client.metadata
    // RFC 7591 §2: the keys are inline or at the jwks_uri (never both); a jwks_uri client's rotation is picked up by
    // the kid the assertion names (RemoteJwks refetches, bounded)
    const jwks = inline ?? (jwksUri === undefined ? undefined : yield* RemoteJwks.keys(jwksUri, {
      addresses: RemoteJwks.adminRegisteredAddresses,
      kid: Jwt.unverifiedKid(assertion)
    }).pipe(Effect.mapError(() => new ClientAuthFailed({ reason: "jwks_unavailable" }))))
    if (jwks === undefined) return yield* fail("assertion_signature")
    const { payload } = yield* JwtAssertion.verifySignature(assertion, jwks as unknown as Jwt.KeySet, { idJag: "refused" })
    // RFC 7523 §3 items 1 and 2: for client authentication, iss and sub MUST be the client_id
    if (payload.iss !== client.clientId || payload.sub !== client.clientId) return yield* fail("assertion_subject")
    const claims = yield* JwtAssertion.assertion(payload, issuer, JwtAssertion.clientAssertion)
    // RFC 7523 §3 item 7: spent now, whatever the request goes on to ask; per realm and client (its iss)
    yield* JwtAssertion.spend(realm.id, client.clientId, claims)
  }).pipe(Effect.catchTag("JwtRejected", (e) => fail(assertionReason(e.reason))))

/**
 * Whether `digest`, the base64url SHA-256 of a presented secret, is the client's at `nowMillis`: its current secret, or
 * the one a rotation replaced while its overlap window lasts (`Client.acceptedSecretHashes`). Each accepted hash is
 * compared in constant time, all of them every time.
 */
export const secretMatches = (client: Client.Client, digest: string, nowMillis: number) =>
  Client.acceptedSecretHashes(client, nowMillis).reduce((found, hash) => Hash.constantTimeEqual(digest, hash) || found, false)

export interface Input<R> {
  readonly realm: Realm
  readonly issuer: string
  readonly credentials: Credentials
  /** Whether a public client naming itself (`none`) is enough at this endpoint. */
  readonly allowNone: boolean
  /** The client a client_id names, if any: a registered one, or one a client ID metadata document describes. */
  readonly find: (clientId: string) => Effect.Effect<Option.Option<Client.Client>, StoreError, R>
}

/**
 * The client the credentials prove, which must use the method it registered (`token_endpoint_auth_method`, RFC 7591
 * §2; OIDC Core §9): a confidential client cannot fall back to `none`, nor a `private_key_jwt` client to a secret.
 */
export const authenticate = Effect.fnUntraced(function*<R>(input: Input<R>) {
  const presented = input.credentials
  if (presented._tag === "None" && !input.allowNone) return yield* fail("none_not_allowed")
  const found = yield* input.find(presented.clientId)
  if (Option.isNone(found)) {
    // hash anyway: an unknown client id takes as long as a wrong secret
    if (presented._tag === "Basic" || presented._tag === "Post") yield* Hash.sha256(Redacted.value(presented.clientSecret))
    return yield* fail("unknown_client")
  }
  const client = found.value
  const registered = client.metadata.tokenEndpointAuthMethod
  if (methodOf(presented) !== registered) return yield* Effect.fail(new ClientAuthFailed({ reason: "method_mismatch", registered }))
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
}, Tracing.span("ClientAuth.authenticate"))
