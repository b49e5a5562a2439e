/** Who may call the admin API (CONTRACT §3), and the one mapping from what the domain refuses to the contract's errors. */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { DateTime, Effect, Match, Option, Schedule } from "effect"
import type { Schema } from "effect"
import { AccessTokens, AdminAccess, Clients, Hash, Introspection, Jwt, Provisioning, Realm, RealmPin, Resources, StoreError, Users } from "@tessera/domain"
import type { Conflict } from "@tessera/domain"
import { Body, Challenge, Dpop, ErrorResponse } from "@tessera/protocol"
import { AppConfig } from "../../AppConfig.js"
import * as DpopProof from "../DpopProof.js"
import * as Issuer from "../Issuer.js"
import { fromEither, handle, jsonBody } from "../Respond.js"
import { Secrets } from "../../Secrets.js"
import * as Caller from "./Caller.js"

/** RFC 6750 §3: the protection space of the admin API's challenges. */
const protectionSpace = "tessera-admin"

/** RFC 6750 §3.1: a missing credential, or one that is neither the owner's token nor an access token. */
const unauthorized = new ErrorResponse.ErrorResponse({
  error: "invalid_token",
  error_description: "the admin API needs the owner's token or a tenant admin's access token",
  wwwAuthenticate: `Bearer realm="${protectionSpace}", error="invalid_token"`
})

/** The owner's token, compared in constant time through its SHA-256 (equal lengths, no early exit). */
const isOwnerToken = (token: string) =>
  Effect.flatMap(Secrets, (secrets) => Effect.map(Hash.sha256(token), (hash) => Hash.constantTimeEqual(hash, secrets.adminTokenHash)))

/**
 * A tenant admin's token refused: 401 `invalid_token` (RFC 6750 §3.1, or RFC 9449 §7.1 under the DPoP scheme) or 403
 * `insufficient_scope`, with the challenge of the scheme the client used.
 */
const refuse = (scheme: Dpop.Credentials["scheme"], error: "invalid_token" | "insufficient_scope", description: string) =>
  new ErrorResponse.ErrorResponse({
    error,
    error_description: description,
    status: error === "invalid_token" ? 401 : 403,
    wwwAuthenticate: scheme === "DPoP"
      ? Dpop.challenge({ realm: protectionSpace }, { error, description })
      : Challenge.challenge("Bearer", [["realm", protectionSpace], ["error", error]])
  })

const invalidToken = (scheme: Dpop.Credentials["scheme"]) =>
  refuse(scheme, "invalid_token", "the access token is invalid, expired, or not for the admin API")

/** CONTRACT §3: the owner-only calls answer a tenant admin 403. */
const ownerOnlyCall = (scheme: Dpop.Credentials["scheme"]) => refuse(scheme, "insufficient_scope", "only the owner may make this call")

/**
 * CONTRACT §3, §6, RFC 6750 §3.1: a destructive call without the realm's step-up scope is 403 `insufficient_scope`
 * whose `scope` holds the token's scopes and then the step-up scopes, so a fresh login asking for exactly that keeps
 * what the token had.
 */
const stepUpNeeded = (scheme: Dpop.Credentials["scheme"], held: ReadonlyArray<string>, stepUp: ReadonlyArray<string>) =>
  new ErrorResponse.ErrorResponse({
    error: "insufficient_scope",
    error_description: `this call needs a fresh login with the scope ${stepUp.join(" or ")}`,
    status: 403,
    wwwAuthenticate: Challenge.challenge(scheme, [
      ["error", "insufficient_scope"],
      ["scope", [...held, ...stepUp.filter((s) => !held.includes(s))].join(" ")]
    ])
  })

/** The realm whose issuer `iss` is (CONTRACT §2: `$TESSERA_PUBLIC_URL/realms/<name>`), read before the signature is. */
const realmOfIssuer = (iss: unknown) =>
  Effect.gen(function*() {
    const config = yield* AppConfig
    const prefix = `${config.publicUrl}/realms/`
    if (typeof iss !== "string" || !iss.startsWith(prefix)) return Option.none()
    const name = iss.slice(prefix.length)
    if (!Realm.namePattern.test(name)) return Option.none()
    return yield* Effect.option(Provisioning.findRealm(name))
  })

/**
 * A tenant admin of one realm (CONTRACT §3): an access token its realm issued, verified as userinfo and introspection
 * verify Tessera's own tokens (`Introspection.activeAccessToken`: the realm's keys, `iss`, `exp`, and
 * `AccessTokens.active`), for exactly the realm's admin resource, presented as RFC 9449 §7 says when DPoP-bound, with
 * scope `tessera:admin`, and whose person still holds role `admin` (or whose client still lists the admin resource).
 */
const tenantAdmin = (access: Access, credentials: Dpop.Credentials) =>
  Effect.gen(function*() {
    const { scheme, token } = credentials
    const request = yield* HttpServerRequest.HttpServerRequest
    const found = yield* realmOfIssuer(Jwt.unverifiedClaims(token)?.iss)
    if (Option.isNone(found)) return yield* invalidToken(scheme)
    const realm = found.value
    const issuer = yield* Issuer.of(realm.name)
    const resource = AdminAccess.resourceOfIssuer(issuer)
    // RFC 9449 §9: with nonces required, every answer to a request with a proof carries the current one
    const nonce = request.headers["dpop"] !== undefined ? yield* DpopProof.nonceHeader(realm) : {}
    const withNonce = (e: ErrorResponse.ErrorResponse) => ErrorResponse.withHeaders(e, nonce)
    const active = yield* Introspection.activeAccessToken(realm, issuer, token, { audience: resource })
    if (Option.isNone(active)) return yield* withNonce(invalidToken(scheme))
    const claims = active.value
    // CONTRACT §3: `aud` is the realm's admin resource, and only it (a token for several audiences is not this one's)
    if (!(claims.aud === resource || (Array.isArray(claims.aud) && claims.aud.length === 1 && claims.aud[0] === resource))) {
      return yield* withNonce(invalidToken(scheme))
    }
    // RFC 9449 §7.1, §7.2: a DPoP-bound token with the DPoP scheme and a proof of its key for this request (`htu` the
    // request's URL under the public origin, without query, §4.2); a bound token sent as a bearer token is refused
    const config = yield* AppConfig
    const path = new URL(request.url, "http://localhost").pathname
    yield* Dpop.verifyPresentation({
      credentials,
      claims,
      proof: request.headers["dpop"],
      method: request.method,
      uri: `${config.publicUrl}${path}`,
      ...(yield* DpopProof.policy(realm))
    }).pipe(
      Effect.catchTags({
        ProofRejected: (e) => Effect.fail(withNonce(Dpop.resourceError(e, { realm: protectionSpace }))),
        BindingRejected: (e) => Effect.fail(withNonce(Dpop.resourceError(e, { realm: protectionSpace })))
      })
    )
    const scopes = claims.scope.split(" ").filter((s) => s.length > 0)
    // CONTRACT §3: scope `tessera:admin`
    if (!scopes.includes(AdminAccess.scope)) {
      return yield* withNonce(refuse(scheme, "insufficient_scope", `the access token lacks the scope ${AdminAccess.scope}`))
    }
    const person = AccessTokens.isPerson({ sub: claims.sub, clientId: claims.client_id })
    if (person) {
      // CONTRACT §3: only users with role `admin`, now (a role removed since the token was issued counts)
      const user = yield* Effect.flatMap(Users.Users, (users) => users.find(realm.id, claims.sub))
      if (Option.isNone(user)) return yield* withNonce(invalidToken(scheme))
      if (!user.value.roles.includes("admin")) {
        return yield* withNonce(refuse(scheme, "insufficient_scope", "the person is not an admin of this realm"))
      }
    } else {
      // CONTRACT §3: a confidential client registered with the admin resource (still listing it)
      const client = yield* Effect.flatMap(Clients.Clients, (clients) => clients.find(realm.id, claims.client_id))
      if (Option.isNone(client)) return yield* withNonce(invalidToken(scheme))
      if (!(client.value.metadata.resources ?? []).includes(resource)) {
        return yield* withNonce(refuse(scheme, "insufficient_scope", "the client is not registered with the admin resource"))
      }
    }
    // CONTRACT §3: owner-only calls are 403; another realm, existing or not, is 404 as an unknown realm is to the owner
    if (access === "owner") return yield* withNonce(ownerOnlyCall(scheme))
    if ((yield* HttpRouter.params)["realm"] !== realm.name) return yield* withNonce(realmNotFound)
    if (access === "destructive" || (access === "resource-change" && (yield* pathNamesAdminResource(realm.id, resource)))) {
      // CONTRACT §3: a destructive call needs the step-up scope the realm's admin resource declares, if it declares one;
      // so does a change of the admin resource itself, or a tenant admin could drop that step-up and then skip it
      const declared = yield* Effect.flatMap(Resources.Resources, (resources) => resources.find(realm.id, resource))
      const stepUp = Option.match(declared, { onNone: () => [], onSome: (r) => r.stepUpScopes })
      if (stepUp.length > 0 && !stepUp.some((s) => scopes.includes(s))) return yield* withNonce(stepUpNeeded(scheme, scopes, stepUp))
    }
    const caller: Caller.Caller = {
      _tag: "TenantAdmin",
      realmId: realm.id,
      realmName: realm.name,
      // CONTRACT §7: a person is a `tenant_admin` actor, an automation client a `client` actor
      actor: person ? { type: "tenant_admin", id: claims.sub } : { type: "client", id: claims.client_id },
      scopes
    }
    return { caller, nonce }
  })

/** Whether the resource the path names (`:id`) is the realm's admin resource. */
const pathNamesAdminResource = (realmId: string, adminResource: string) =>
  Effect.gen(function*() {
    const id = (yield* HttpRouter.params)["id"]
    if (id === undefined) return false
    const named = yield* Effect.flatMap(Resources.Resources, (resources) => resources.findById(realmId, id))
    return Option.isSome(named) && named.value.uri === adminResource
  })

export const realmNotFound = ErrorResponse.make("not_found", "unknown realm")

/** What the domain can refuse an admin call. */
export type Refusal =
  | Provisioning.RealmNotFound
  | Conflict.AlreadyExists
  | Conflict.NotFound
  | Conflict.Stale
  | Conflict.KeyRingChanged
  | Provisioning.ClientMetadataRejected

const entityName = (entity: Conflict.Entity) => entity.replace("_", " ")

export const toErrorResponse = Match.type<Refusal>().pipe(
  Match.tagsExhaustive({
    KeyRingChanged: () => ErrorResponse.make("conflict", "the keys changed meanwhile; try again"),
    RealmNotFound: () => realmNotFound,
    AlreadyExists: ({ entity }) => ErrorResponse.make("conflict", `the ${entityName(entity)} already exists`),
    NotFound: ({ entity }) => ErrorResponse.make("not_found", `unknown ${entityName(entity)}`),
    // RFC 9110 §13.1.1: the If-Match (or the version read just before) no longer names the current representation
    Stale: ({ entity }) => ErrorResponse.make("precondition_failed", `the ${entityName(entity)} changed since it was read`),
    ClientMetadataRejected: ({ detail }) => ErrorResponse.make("invalid_client_metadata", detail)
  })
)

const isRefusal = (e: { readonly _tag: string }): e is Refusal => e._tag !== "ErrorResponse" && e._tag !== "StoreError"

type AdminError = ErrorResponse.ErrorResponse | Refusal | StoreError.StoreError

/**
 * Which callers an admin call admits (CONTRACT §3): `realm` calls (`/admin/realms/R/**`) the owner and R's tenant
 * admins; `owner` calls only the owner (a tenant admin gets 403 `insufficient_scope`); `destructive` calls are realm
 * calls that need the realm's step-up scope when its admin resource declares one (realm-level deletes, key rotation);
 * `resource-change` calls are realm calls that are destructive when the resource they change is the admin resource.
 */
export type Access = "realm" | "owner" | "destructive" | "resource-change"

/**
 * Who is calling, or the contract's refusal (CONTRACT §3): the owner's bearer token, or a tenant admin's access token
 * (Bearer or DPoP, RFC 6750 §2.1, RFC 9449 §7.1); 401 without a credential this call admits.
 */
const authenticate = (access: Access) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const header = request.headers["authorization"]
    if (header === undefined) return yield* unauthorized
    const credentials = Dpop.credentials(header)
    if (credentials === undefined) return yield* unauthorized
    if (credentials.scheme === "Bearer" && (yield* isOwnerToken(credentials.token))) return { caller: Caller.owner, nonce: {} }
    // anything else that is not a compact JWS is no credential of the admin API (the owner's token mistyped, say)
    if (Jwt.unverifiedClaims(credentials.token) === undefined) return yield* unauthorized
    return yield* tenantAdmin(access, credentials)
  })

const call = <R>(access: Access, handler: Effect.Effect<HttpServerResponse.HttpServerResponse, AdminError, R>) =>
  handle(authenticate(access).pipe(
    Effect.flatMap(({ caller, nonce }) => {
      const run = Effect.provideService(retriedWithoutPrecondition(handler), Caller.AdminCaller, caller)
      // issue 14: a tenant admin's call runs with its realm pinned: no store answers it for another realm (RealmPin)
      return caller._tag === "Owner" ? run : run.pipe(
        RealmPin.pinned(caller.realmId),
        Effect.map((response) => HttpServerResponse.setHeaders(response, nonce)),
        Effect.mapError((e) => e._tag === "ErrorResponse" ? ErrorResponse.withHeaders(e, nonce) : e)
      )
    }),
    Effect.catchIf(isRefusal, (e) => Effect.fail(toErrorResponse(e))),
    // CONTRACT §3: a realm deleted after the call found it is an unknown realm (issue 15, ADR 0030)
    Effect.catchIf((e) => e._tag === "StoreError" && StoreError.isRealmGone(e), () => Effect.fail(realmNotFound))
  ))

/** An admin call on one realm: authenticate first, then run; domain refusals become contract errors. */
export const admin = <R>(handler: Effect.Effect<HttpServerResponse.HttpServerResponse, AdminError, R>) => call("realm", handler)

/** An owner-only call (CONTRACT §3, marked "(owner)"). */
export const ownerOnly = <R>(handler: Effect.Effect<HttpServerResponse.HttpServerResponse, AdminError, R>) => call("owner", handler)

/** A destructive realm call: a delete under the realm, or key rotation (the realm may demand a step-up scope). */
export const destructive = <R>(handler: Effect.Effect<HttpServerResponse.HttpServerResponse, AdminError, R>) =>
  call("destructive", handler)

/** A change of a resource: destructive when it is the realm's admin resource (its step-up must not be dropped without it). */
export const resourceChange = <R>(handler: Effect.Effect<HttpServerResponse.HttpServerResponse, AdminError, R>) =>
  call("resource-change", handler)

/** How often a change that lost its compare-and-set is run again on a fresh read when the caller set no precondition. */
const staleRetries = 16

const changedMeanwhile = (entity: Conflict.Entity) =>
  ErrorResponse.make("conflict", `the ${entityName(entity)} kept changing meanwhile; try again`)

/**
 * RFC 9110 §13.1.1: 412 answers a precondition the caller set. Without `If-Match` there is none: a change that lost
 * its compare-and-set to a concurrent one read a version that is gone, and it is run again on a fresh read (it wrote
 * nothing); still losing after `staleRetries` rounds, it is 409 `conflict`.
 */
const retriedWithoutPrecondition = <R>(
  handler: Effect.Effect<HttpServerResponse.HttpServerResponse, AdminError, R>
): Effect.Effect<HttpServerResponse.HttpServerResponse, AdminError, R | HttpServerRequest.HttpServerRequest> =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
    request.headers["if-match"] !== undefined
      ? handler
      : handler.pipe(
        Effect.retry({
          while: (e: AdminError) => e._tag === "Stale",
          // each round of racing writers has one winner: n writers settle within n - 1 rounds
          // (at once: no sleep, which a test's clock would hold)
          schedule: Schedule.recurs(staleRetries)
        }),
        Effect.catchTag("Stale", (e) => Effect.fail(changedMeanwhile(e.entity)))
      ))

/** The JSON body decoded with `schema` (CONTRACT §2: bounded; CONTRACT §3: 400 `invalid_request` when malformed). */
export const decodeBody = <A, I>(schema: Schema.Schema<A, I>) =>
  Effect.flatMap(jsonBody, (body) => fromEither(Body.decode(schema)(body)))

/** The realm named in the path (404 `not_found` when there is none). */
export const realmParam = Issuer.realmParam(realmNotFound)

export const realmName = Effect.map(realmParam, (realm) => realm.name)

export const iso = (at: DateTime.Utc) => DateTime.formatIso(at)
