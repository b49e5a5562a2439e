/** The admin API (CONTRACT §3): JSON in and out, the owner's bearer token, nothing half-written. */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { DateTime, Effect, Match, Option } from "effect"
import type { Schema } from "effect"
import { Audit, AuditEvent, Base64Url, Hash, Provisioning, SigningKeys } from "@tessera/domain"
import type { Conflict, SigningKey, StoreError } from "@tessera/domain"
import { Admin, AdminApi, Body, ClientMetadata, ErrorResponse, Jwks } from "@tessera/protocol"
import * as Issuer from "./Issuer.js"
import { fromEither, handle, json, jsonBody } from "./Respond.js"
import { Secrets } from "../Secrets.js"

/** RFC 6750 §3.1: a missing or wrong owner token. */
const unauthorized = new ErrorResponse.ErrorResponse({
  error: "invalid_token",
  error_description: "the admin API needs the owner's bearer token",
  wwwAuthenticate: `Bearer realm="tessera-admin", error="invalid_token"`
})

/** The owner's token, compared in constant time through its SHA-256 (equal lengths, no early exit). */
const requireOwner = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  // RFC 9110 §11.1: the scheme is case-insensitive; RFC 6750 §2.1: b64token after one or more spaces
  const match = /^bearer +([A-Za-z0-9\-._~+/]+=*)$/i.exec(request.headers["authorization"] ?? "")
  if (match === null) return yield* unauthorized
  const secrets = yield* Secrets
  if (!Hash.constantTimeEqual(yield* Hash.sha256(match[1]!), secrets.adminTokenHash)) return yield* unauthorized
})

const realmNotFound = ErrorResponse.make("not_found", "unknown realm")

/** The one mapping from what provisioning can refuse to the contract's errors. */
type Refusal = Provisioning.RealmNotFound | Conflict.AlreadyExists | Conflict.KeyRingChanged | Provisioning.ClientMetadataRejected

const toErrorResponse = Match.type<Refusal>().pipe(
  Match.tagsExhaustive({
    KeyRingChanged: () => ErrorResponse.make("conflict", "the keys changed meanwhile; try again"),
    RealmNotFound: () => realmNotFound,
    AlreadyExists: ({ entity }) => ErrorResponse.make("conflict", `the ${entity.replace("_", " ")} already exists`),
    ClientMetadataRejected: ({ detail }) => ErrorResponse.make("invalid_client_metadata", detail)
  })
)

/** An owner-only endpoint: authenticate first, then run; domain refusals become contract errors. */
const admin = <R>(
  handler: Effect.Effect<
    ReturnType<typeof json>,
    ErrorResponse.ErrorResponse | Refusal | StoreError.StoreError,
    R
  >
) =>
  handle(requireOwner.pipe(
    Effect.zipRight(handler),
    Effect.catchIf(
      (e): e is Refusal => e._tag !== "ErrorResponse" && e._tag !== "StoreError",
      (e) => Effect.fail(toErrorResponse(e))
    )
  ))

const decodeBody = <A, I>(schema: Schema.Schema<A, I>) =>
  Effect.flatMap(jsonBody, (body) => fromEither(Body.decode(schema)(body)))

const realmName = Effect.map(Issuer.realmParam(realmNotFound), (realm) => realm.name)

const iso = (at: DateTime.Utc) => DateTime.formatIso(at)

const createRealm = admin(Effect.gen(function*() {
  const { name } = yield* decodeBody(Admin.CreateRealm)
  const realm = yield* Provisioning.createRealm(name)
  return json({ name: realm.name, issuer: yield* Issuer.of(realm.name) }, 201)
}))

const patchRealm = admin(Effect.gen(function*() {
  const name = yield* realmName
  const change = yield* decodeBody(Admin.PatchRealm)
  const realm = yield* Provisioning.updateRealm(name, {
    ...(change.display_name !== undefined ? { displayName: change.display_name } : {}),
    ...(change.dynamic_registration !== undefined ? { dynamicRegistration: change.dynamic_registration } : {})
  })
  return json({
    name: realm.name,
    issuer: yield* Issuer.of(realm.name),
    ...(realm.displayName !== undefined ? { display_name: realm.displayName } : {}),
    dynamic_registration: realm.dynamicRegistration
  })
}))

const createUser = admin(Effect.gen(function*() {
  const name = yield* realmName
  const input = yield* decodeBody(Admin.CreateUser)
  const user = yield* Provisioning.createUser(name, input)
  return json({ sub: user.sub, username: user.username }, 201)
}))

const createClient = admin(Effect.gen(function*() {
  const name = yield* realmName
  const metadata = yield* fromEither(ClientMetadata.validate(yield* jsonBody))
  const { client, secret } = yield* Provisioning.registerClient(name, metadata)
  return json(ClientMetadata.toResponse({
    clientId: client.clientId,
    ...(Option.isSome(secret) ? { clientSecret: secret.value } : {}),
    issuedAt: Math.floor(DateTime.toEpochMillis(client.createdAt) / 1000),
    metadata
  }), 201)
}))

const createResource = admin(Effect.gen(function*() {
  const name = yield* realmName
  const input = yield* decodeBody(Admin.CreateResource)
  const stepUpScopes = input.step_up_scopes ?? []
  if (!stepUpScopes.every((scope) => input.scopes.includes(scope))) {
    return yield* ErrorResponse.invalidRequest("'step_up_scopes' must be a subset of 'scopes'")
  }
  const resource = yield* Provisioning.registerResource(name, { uri: input.uri, scopes: input.scopes, stepUpScopes })
  return json({ uri: resource.uri, scopes: resource.scopes, step_up_scopes: resource.stepUpScopes }, 201)
}))

const createTrustedIssuer = admin(Effect.gen(function*() {
  const name = yield* realmName
  const input = yield* decodeBody(Admin.CreateTrustedIssuer)
  if ((input.jwks === undefined) === (input.jwks_uri === undefined)) {
    return yield* ErrorResponse.invalidRequest("exactly one of 'jwks' and 'jwks_uri' is required")
  }
  const jwks = input.jwks === undefined ? undefined : Jwks.validatePublic(input.jwks)
  if (typeof jwks === "string") return yield* ErrorResponse.invalidRequest(`'jwks' ${jwks}`)
  const keys = jwks !== undefined
    ? { _tag: "Jwks" as const, jwks }
    : { _tag: "JwksUri" as const, jwksUri: input.jwks_uri! }
  const trusted = yield* Provisioning.registerTrustedIssuer(name, { issuer: input.issuer, keys })
  return json({
    issuer: trusted.issuer,
    ...(trusted.keys._tag === "Jwks" ? { jwks: trusted.keys.jwks } : { jwks_uri: trusted.keys.jwksUri })
  }, 201)
}))

const keyView = (key: SigningKey.SigningKey) => ({
  kid: key.kid,
  alg: key.alg,
  status: key.status,
  created_at: iso(key.createdAt),
  ...(key.status !== "retired" ? { activates_at: iso(key.activatesAt) } : {}),
  ...(key.expiresAt !== undefined ? { expires_at: iso(key.expiresAt) } : {})
})

const keys = admin(Effect.gen(function*() {
  const realm = yield* Issuer.realmParam(realmNotFound)
  return json({ keys: (yield* SigningKeys.list(realm.id)).map(keyView) })
}))

const rotateKeys = admin(Effect.gen(function*() {
  const realm = yield* Issuer.realmParam(realmNotFound)
  yield* SigningKeys.rotate(realm, AuditEvent.owner, "requested by the owner")
  return json({ keys: (yield* SigningKeys.list(realm.id)).map(keyView) })
}))

/** Audit cursors are opaque to clients: the position of the last event of the page. */
const encodeCursor = (seq: number) => Base64Url.encode(new TextEncoder().encode(`seq:${seq}`))
const decodeCursor = (cursor: string) => {
  let text: string
  try {
    text = new TextDecoder().decode(Base64Url.decode(cursor))
  } catch {
    return undefined
  }
  const match = /^seq:([1-9][0-9]{0,15})$/.exec(text)
  return match === null ? undefined : Number(match[1])
}

const eventView = (e: AuditEvent.AuditEvent) => ({
  id: e.id,
  at: iso(e.at),
  realm: e.realm,
  type: e.type,
  actor: e.actor,
  ...(e.subject !== undefined ? { subject: e.subject } : {}),
  ...(e.clientId !== undefined ? { client_id: e.clientId } : {}),
  ...(e.grantType !== undefined ? { grant_type: e.grantType } : {}),
  ...(e.resource !== undefined ? { resource: e.resource } : {}),
  ...(e.scope !== undefined ? { scope: e.scope } : {}),
  ...(e.act !== undefined ? { act: e.act } : {}),
  result: e.result,
  ...(e.reason !== undefined ? { reason: e.reason } : {}),
  ...(e.ip !== undefined ? { ip: e.ip } : {}),
  ...(e.userAgent !== undefined ? { user_agent: e.userAgent } : {})
})

const audit = admin(Effect.gen(function*() {
  const realm = yield* Issuer.realmParam(realmNotFound)
  const request = yield* HttpServerRequest.HttpServerRequest
  const params = new URL(request.url, "http://localhost").searchParams
  for (const key of new Set(params.keys())) {
    if (params.getAll(key).length > 1) return yield* ErrorResponse.invalidRequest(`'${key}' must not be given twice`)
  }
  const query = yield* fromEither(Body.decode(Admin.AuditQuery)(Object.fromEntries(params)))
  const before = query.cursor === undefined ? undefined : decodeCursor(query.cursor)
  if (query.cursor !== undefined && before === undefined) {
    return yield* ErrorResponse.invalidRequest("'cursor' must be a cursor from an earlier page")
  }
  const limit = Math.min(query.limit ?? Admin.defaultAuditLimit, Admin.maxAuditLimit)
  const found = yield* Effect.flatMap(Audit.Audit, (trail) =>
    trail.query(realm.id, {
      ...(query.type !== undefined ? { type: query.type } : {}),
      ...(query.subject !== undefined ? { subject: query.subject } : {}),
      ...(query.actor !== undefined ? { actor: query.actor } : {}),
      ...(query.client_id !== undefined ? { clientId: query.client_id } : {}),
      ...(query.since !== undefined ? { since: DateTime.unsafeMake(query.since) } : {}),
      ...(query.until !== undefined ? { until: DateTime.unsafeMake(query.until) } : {}),
      ...(before !== undefined ? { before } : {}),
      // one more than asked tells whether another page exists
      limit: limit + 1
    }))
  const page = found.slice(0, limit)
  const last = page[page.length - 1]
  return json({
    events: page.map((stored) => eventView(stored.event)),
    next_cursor: found.length > limit && last !== undefined ? encodeCursor(last.seq) : null
  })
}))

/** CONTRACT §3: checks the realm's audit hash chain from its first event. */
const verifyAudit = admin(Effect.gen(function*() {
  const realm = yield* Issuer.realmParam(realmNotFound)
  const verdict = yield* Effect.flatMap(Audit.Audit, (trail) => trail.verify(realm.id))
  return json(verdict.ok ? { ok: true, events: verdict.events } : { ok: false, first_broken: verdict.firstBroken })
}))

/** The admin API's OpenAPI document: public, like any API description. */
const openApi = Effect.sync(() => json(AdminApi.openApi(), 200, { "cache-control": "public, max-age=300" }))

export const Routes = HttpLayerRouter.addAll([
  HttpLayerRouter.route("GET", "/admin/openapi.json", openApi),
  HttpLayerRouter.route("POST", "/admin/realms", createRealm),
  HttpLayerRouter.route("PATCH", "/admin/realms/:realm", patchRealm),
  HttpLayerRouter.route("POST", "/admin/realms/:realm/users", createUser),
  HttpLayerRouter.route("POST", "/admin/realms/:realm/clients", createClient),
  HttpLayerRouter.route("POST", "/admin/realms/:realm/resources", createResource),
  HttpLayerRouter.route("POST", "/admin/realms/:realm/trusted-issuers", createTrustedIssuer),
  HttpLayerRouter.route("GET", "/admin/realms/:realm/audit", audit),
  HttpLayerRouter.route("GET", "/admin/realms/:realm/audit/verify", verifyAudit),
  HttpLayerRouter.route("GET", "/admin/realms/:realm/keys", keys),
  HttpLayerRouter.route("POST", "/admin/realms/:realm/keys/rotate", rotateKeys)
])
