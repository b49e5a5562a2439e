/** Who may call the admin API (CONTRACT §3), and the one mapping from what the domain refuses to the contract's errors. */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { DateTime, Effect, Match, Schedule } from "effect"
import type { Schema } from "effect"
import { Hash } from "@tessera/domain"
import type { Conflict, Provisioning, StoreError } from "@tessera/domain"
import { Body, ErrorResponse } from "@tessera/protocol"
import * as Issuer from "../Issuer.js"
import { fromEither, handle, jsonBody } from "../Respond.js"
import { Secrets } from "../../Secrets.js"
import * as Caller from "./Caller.js"

/** RFC 6750 §3.1: a missing or wrong owner token. */
const unauthorized = new ErrorResponse.ErrorResponse({
  error: "invalid_token",
  error_description: "the admin API needs the owner's bearer token",
  wwwAuthenticate: `Bearer realm="tessera-admin", error="invalid_token"`
})

/** The owner's token, compared in constant time through its SHA-256 (equal lengths, no early exit). */
export const requireOwner = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  // RFC 9110 §11.1: the scheme is case-insensitive; RFC 6750 §2.1: b64token after one or more spaces
  const match = /^bearer +([A-Za-z0-9\-._~+/]+=*)$/i.exec(request.headers["authorization"] ?? "")
  if (match === null) return yield* unauthorized
  const secrets = yield* Secrets
  if (!Hash.constantTimeEqual(yield* Hash.sha256(match[1]!), secrets.adminTokenHash)) return yield* unauthorized
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
 * calls that need the realm's step-up scope when its admin resource declares one (realm-level deletes, key rotation).
 */
export type Access = "realm" | "owner" | "destructive"

/** Who is calling, or the contract's refusal (401 without a credential this call admits). */
const authenticate = (_access: Access) => Effect.as(requireOwner, Caller.owner)

const call = <R>(access: Access, handler: Effect.Effect<HttpServerResponse.HttpServerResponse, AdminError, R>) =>
  handle(authenticate(access).pipe(
    Effect.flatMap((caller) => Effect.provideService(retriedWithoutPrecondition(handler), Caller.AdminCaller, caller)),
    Effect.catchIf(isRefusal, (e) => Effect.fail(toErrorResponse(e)))
  ))

/** An admin call on one realm: authenticate first, then run; domain refusals become contract errors. */
export const admin = <R>(handler: Effect.Effect<HttpServerResponse.HttpServerResponse, AdminError, R>) => call("realm", handler)

/** An owner-only call (CONTRACT §3, marked "(owner)"). */
export const ownerOnly = <R>(handler: Effect.Effect<HttpServerResponse.HttpServerResponse, AdminError, R>) => call("owner", handler)

/** A destructive realm call: a delete under the realm, or key rotation (the realm may demand a step-up scope). */
export const destructive = <R>(handler: Effect.Effect<HttpServerResponse.HttpServerResponse, AdminError, R>) =>
  call("destructive", handler)

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
