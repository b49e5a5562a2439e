/**
 * CONTRACT §3 clients: RFC 7591 metadata, validated as dynamic registration validates it, at registration and at every
 * update; list, read, update, delete and secret rotation (ADR 0032). No answer but the registration's and the
 * rotation's ever holds a secret.
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { DateTime, Duration, Effect, Option } from "effect"
import { AdminAccess, Client, ClientAdmin, Clients, Provisioning } from "@tessera/domain"
import { Admin, ClientMetadata, ErrorResponse, Syntax } from "@tessera/protocol"
import { fromEither, json, jsonBody } from "../Respond.js"
import { admin, decodeBody, destructive, realmName } from "./Auth.js"
import * as Caller from "./Caller.js"
import * as ETag from "./ETag.js"
import * as Listing from "./Listing.js"

const epochSeconds = (at: DateTime.Utc) => Math.floor(DateTime.toEpochMillis(at) / 1000)

/** RFC 7591 §3.2.1 without any secret; `previous_secret_expires_at` after a rotation that kept the old secret a while. */
const itemOf = (client: Client.Client) => ({
  ...ClientMetadata.toResponse({ clientId: client.clientId, issuedAt: epochSeconds(client.createdAt), metadata: client.metadata }),
  ...(client.previousSecretExpiresAt !== undefined ? { previous_secret_expires_at: epochSeconds(client.previousSecretExpiresAt) } : {})
})

const tagOf = (client: Client.Client) => ETag.of(client.clientId, Client.versionOf(client))

const unknownClient = ErrorResponse.make("not_found", "unknown client")

/**
 * The client the path names, read with its version (404 for an id that names no row of the realm: another realm's, a
 * client ID metadata document URL, or text no store could hold).
 */
const clientParam = Effect.gen(function*() {
  const name = yield* realmName
  const id = (yield* HttpRouter.params)["client_id"] ?? ""
  if (id === "" || !Syntax.isStorable(id) || Syntax.hasControl(id)) return yield* unknownClient
  return { name, ...(yield* ClientAdmin.find(name, id)) }
})

const createClient = admin(Effect.gen(function*() {
  const name = yield* realmName
  const metadata = yield* fromEither(ClientMetadata.validate(yield* jsonBody))
  const { client, secret } = yield* Provisioning.registerClient(name, metadata, { _tag: "Admin", actor: yield* Caller.actor })
  return json(ClientMetadata.toResponse({
    clientId: client.clientId,
    ...(Option.isSome(secret) ? { clientSecret: secret.value } : {}),
    issuedAt: epochSeconds(client.createdAt),
    metadata
  }), 201)
}))

const listClients = admin(Effect.gen(function*() {
  const name = yield* realmName
  const { window } = yield* Listing.query(Admin.ClientsQuery)
  const rows = yield* ClientAdmin.list(name, window)
  const { items, ...next } = Listing.page(rows, window, Clients.sortKey)
  return json({ clients: items.map(itemOf), ...next })
}))

const getClient = admin(Effect.gen(function*() {
  const { client } = yield* clientParam
  return yield* ETag.answer(itemOf(client), tagOf(client))
}))

/** The fields a PATCH may not carry: the secret has its own call. */
const secretFields = ["client_secret", "client_secret_expires_at"]

/** ADR 0035: `tessera-cli` is built in (CONTRACT §3): it is neither changed nor deleted through the API. */
const notBuiltIn = (client: Client.Client, verb: string) =>
  client.clientId === AdminAccess.cliClientId
    ? Effect.fail(ErrorResponse.make("conflict", `'${AdminAccess.cliClientId}' is built in: it cannot be ${verb}`))
    : Effect.void

const patchClient = admin(Effect.gen(function*() {
  const { name, client } = yield* clientParam
  yield* notBuiltIn(client, "changed")
  yield* ETag.precondition(tagOf(client))
  const body = yield* jsonBody
  const secretField = secretFields.find((field) => field in body)
  if (secretField !== undefined) {
    return yield* ErrorResponse.make("invalid_client_metadata", `'${secretField}' cannot be set; POST .../secret rotates the secret`)
  }
  // the current metadata with the fields given replaced (RFC 7396: a null removes one), then validated exactly as at
  // registration (RFC 7591 §2); read-only fields of the response (client_id, client_id_issued_at) are ignored there
  const { client_id: _id, client_id_issued_at: _issued, ...current } = itemOf(client)
  const merged = Object.fromEntries(Object.entries({ ...current, ...body }).filter(([, value]) => value !== null))
  const metadata = yield* fromEither(ClientMetadata.validate(merged))
  const updated = yield* ClientAdmin.update(name, client, metadata, yield* Caller.actor)
  return json(itemOf(updated), 200, ETag.header(tagOf(updated)))
}))

const deleteClient = destructive(Effect.gen(function*() {
  const { name, client } = yield* clientParam
  yield* notBuiltIn(client, "deleted")
  yield* ETag.precondition(tagOf(client))
  yield* ClientAdmin.remove(name, client, yield* Caller.actor)
  return HttpServerResponse.empty({ status: 204, headers: { "cache-control": "no-store" } })
}))

const secretNotUsed = ErrorResponse.invalidRequest(
  "the client does not authenticate with a secret ('token_endpoint_auth_method' is neither client_secret_basic nor client_secret_post)"
)

const rotateSecret = admin(Effect.gen(function*() {
  const { name, client } = yield* clientParam
  yield* ETag.precondition(tagOf(client))
  const input = yield* decodeBody(Admin.RotateSecret)
  const rotated = yield* ClientAdmin.rotateSecret(name, client, Duration.seconds(input.previous_valid_for ?? 0), yield* Caller.actor).pipe(
    Effect.catchTag("SecretNotUsed", () => Effect.fail(secretNotUsed))
  )
  // epoch seconds, as RFC 7591 §3.2.1's client_secret_expires_at
  return json({
    client_secret: rotated.secret,
    ...(Option.isSome(rotated.previousExpiresAt) ? { previous_secret_expires_at: epochSeconds(rotated.previousExpiresAt.value) } : {})
  })
}))

export const routes = [
  HttpLayerRouter.route("POST", "/admin/realms/:realm/clients", createClient),
  HttpLayerRouter.route("GET", "/admin/realms/:realm/clients", listClients),
  HttpLayerRouter.route("GET", "/admin/realms/:realm/clients/:client_id", getClient),
  HttpLayerRouter.route("PATCH", "/admin/realms/:realm/clients/:client_id", patchClient),
  HttpLayerRouter.route("DELETE", "/admin/realms/:realm/clients/:client_id", deleteClient),
  HttpLayerRouter.route("POST", "/admin/realms/:realm/clients/:client_id/secret", rotateSecret)
] as const
