/**
 * Dynamic client registration (RFC 7591 §3), POST `{issuer}/register` (ADR 0020): per realm, off by default (the
 * owner turns it on with `PATCH /admin/realms/R {"dynamic_registration": true}`, CONTRACT §3); when on, open to
 * anyone but rate-limited, for public clients only, and the 201 echoes every registered field (RFC 7591 §3.2.1).
 * Deprecated by MCP 2026-07-28 ("Dynamic Client Registration"), kept for compatibility, and requiring
 * `application_type` (ADR 0046).
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import { DateTime, Duration, Effect, Either } from "effect"
import { Endpoints, Provisioning, RateLimit } from "@tessera/domain"
import type { Realm } from "@tessera/domain"
import { ClientMetadata, ErrorResponse } from "@tessera/protocol"
import * as RequestContext from "./RequestContext.js"
import * as Cors from "./Cors.js"
import * as Issuer from "./Issuer.js"
import { fromEither, handle, json, jsonBody } from "./Respond.js"

/** Per node: registrations per realm and address, and per realm (ADR 0020). */
export const perAddress: RateLimit.Limit = { limit: 10, window: Duration.minutes(1) }
export const perRealm: RateLimit.Limit = { limit: 100, window: Duration.minutes(1) }
const addressRule = RateLimit.rule("registration.address", perAddress)
const realmRule = RateLimit.rule("registration.realm", perRealm)

/**
 * The endpoint, when the realm has dynamic registration on (RFC 8414 §2 `registration_endpoint`). MCP 2026-07-28
 * deprecates dynamic registration in favour of client ID metadata documents (ADR 0046): it stays for older clients.
 */
export const metadata = (realm: Realm.Realm, issuer: string) =>
  realm.dynamicRegistration ? { registration_endpoint: Endpoints.registration(issuer) } : {}

const off = ErrorResponse.make("access_denied", "dynamic client registration is off in this realm")

const throttled = (seconds: number) =>
  Effect.succeed(
    ErrorResponse.make("temporarily_unavailable", "too many registrations; try again later", 429)
      .toResponse({ "retry-after": String(seconds) })
  )

/**
 * RFC 7591 §2 as a dynamically registered client may use it: public (`token_endpoint_auth_method` `none`, also when
 * absent), an app (agents, `resources` and `id_jag_targets` are the owner's to register), and no `scope` limit (§3.2.1:
 * the server may replace values): the scopes come from the realm's resources and the person's consent, so a client that
 * registered with its first scope can still step up to more (MCP "Scope Selection Strategy").
 */
const publicClient = (body: Record<string, unknown>) => {
  const method = body["token_endpoint_auth_method"] ?? "none"
  if (method !== "none") {
    return Either.left(ErrorResponse.make("invalid_client_metadata", "only public clients ('token_endpoint_auth_method': 'none') may register here"))
  }
  if (body["principal_type"] !== undefined && body["principal_type"] !== "app") {
    return Either.left(ErrorResponse.make("invalid_client_metadata", "agents are registered by the realm's owner"))
  }
  if (body["resources"] !== undefined) {
    return Either.left(ErrorResponse.make("invalid_client_metadata", "'resources' is set by the realm's owner"))
  }
  // CONTRACT §5 "ID-JAG": which authorization servers the client gets ID-JAGs for, as whom, is the owner's trust (ADR 0048)
  if (body["id_jag_targets"] !== undefined) {
    return Either.left(ErrorResponse.make("invalid_client_metadata", "'id_jag_targets' is set by the realm's owner"))
  }
  // MCP 2026-07-28 "Application Type and Redirect URI Constraints": clients MUST send it (ADR 0046)
  if (body["application_type"] === undefined) {
    return Either.left(ErrorResponse.make("invalid_client_metadata", "'application_type' is required: 'native' or 'web'"))
  }
  const { scope: _scope, ...rest } = body
  return ClientMetadata.validate({ ...rest, token_endpoint_auth_method: "none" })
}

const register =
  Cors.open(handle(Effect.gen(function*() {
    const realm = yield* Issuer.realmParam(Issuer.unknownRealm)
    if (!realm.dynamicRegistration) return yield* off
    const context = yield* RequestContext.current
    const limits = yield* RateLimit.RateLimit
    const now = yield* DateTime.now
    const address = yield* limits.take(addressRule, `${realm.id} ${context.ip ?? ""}`, now)
    const verdict = address._tag === "Throttled" ? address : yield* limits.take(realmRule, realm.id, now)
    if (verdict._tag === "Throttled") return yield* throttled(verdict.retryAfterSeconds)
    const metadata = yield* fromEither(publicClient(yield* jsonBody))
    const { client } = yield* Provisioning.registerClient(realm.name, metadata, { _tag: "Dynamic", context }).pipe(
      Effect.catchTags({
        RealmNotFound: () => Effect.fail(Issuer.unknownRealm),
        ClientMetadataRejected: ({ detail }) => Effect.fail(ErrorResponse.make("invalid_client_metadata", detail)),
        // two random 128-bit ids collided: the client may simply try again
        AlreadyExists: () => Effect.fail(ErrorResponse.make("temporarily_unavailable", "try again", 503))
      })
    )
    // RFC 7591 §3.2.1: the client information response, every registered field (public: no client_secret)
    return json(ClientMetadata.toResponse({
      clientId: client.clientId,
      issuedAt: Math.floor(DateTime.toEpochMillis(client.createdAt) / 1000),
      metadata
    }), 201)
  })))

export const Routes = HttpLayerRouter.use((router) =>
  Effect.gen(function*() {
    yield* router.add("POST", "/realms/:realm/register", register)
    yield* router.add("OPTIONS", "/realms/:realm/register", Cors.preflight("POST"))
  })
)
