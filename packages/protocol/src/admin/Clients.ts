/** The admin API's client bodies (CONTRACT §3): RFC 7591 metadata, validated by `ClientMetadata`. */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import { Schema } from "effect"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import { field } from "../Body.js"
import { created, ErrorBody, noContent, Owner, realm } from "./Endpoints.js"
import { ListQuery, page } from "./Listing.js"

/** RFC 7591 §2 client metadata plus Tessera's `principal_type`, `resources` and `id_jag_targets` (validated by `ClientMetadata`). */
export const ClientMetadataBody = Schema.Struct({
  redirect_uris: Schema.optional(Schema.Array(Schema.String)),
  post_logout_redirect_uris: Schema.optional(Schema.Array(Schema.String)),
  grant_types: Schema.optional(Schema.Array(Schema.String)),
  response_types: Schema.optional(Schema.Array(Schema.Literal("code"))),
  token_endpoint_auth_method: Schema.optional(Schema.Literal("client_secret_basic", "client_secret_post", "private_key_jwt", "none")),
  jwks: Schema.optional(Schema.Unknown),
  jwks_uri: Schema.optional(Schema.String),
  scope: Schema.optional(Schema.String),
  client_name: Schema.optional(Schema.String),
  frontchannel_logout_uri: Schema.optional(Schema.String),
  frontchannel_logout_session_required: Schema.optional(Schema.Boolean),
  dpop_bound_access_tokens: Schema.optional(Schema.Boolean),
  /** OpenID Connect Registration §2 (CONTRACT §3): `web` or `native`; required only at dynamic registration (ADR 0046). */
  application_type: Schema.optional(Schema.Literal("web", "native")),
  principal_type: Schema.optional(Schema.Literal("app", "agent")),
  resources: Schema.optional(Schema.Array(Schema.String)),
  /** CONTRACT §5 "ID-JAG": the authorization servers an ID-JAG may be asked for, and this client's id at each. */
  id_jag_targets: Schema.optional(Schema.Array(Schema.Struct({ audience: Schema.String, client_id: Schema.String })))
})

export const ClientRegistered = Schema.extend(
  ClientMetadataBody,
  Schema.Struct({
    client_id: Schema.String,
    client_secret: Schema.optional(Schema.String),
    client_secret_expires_at: Schema.optional(Schema.Number),
    client_id_issued_at: Schema.Number
  })
)

/**
 * A registered client as the admin API reads it: RFC 7591 §3.2.1 without any secret, and, after a rotation with an
 * overlap window, until when (epoch seconds, as RFC 7591's `client_secret_expires_at`) the previous secret worked.
 */
export const ClientItem = Schema.extend(
  ClientMetadataBody,
  Schema.Struct({
    client_id: Schema.String,
    client_id_issued_at: Schema.Number,
    previous_secret_expires_at: Schema.optional(Schema.Number)
  })
)

export const ClientsQuery = ListQuery

export const ClientList = page("clients", ClientItem)

/**
 * PATCH: the RFC 7591 §2 fields to change, merged into the current metadata (a `null` removes a field, as RFC 7396
 * merge patch does) and then validated as at registration. Documentation only: `ClientMetadata.validate` decides.
 */
const nullable = <S extends Schema.Schema.Any>(schema: S) => Schema.optional(Schema.NullOr(schema))
export const ClientPatch = Schema.Struct({
  redirect_uris: nullable(Schema.Array(Schema.String)),
  post_logout_redirect_uris: nullable(Schema.Array(Schema.String)),
  grant_types: nullable(Schema.Array(Schema.String)),
  response_types: nullable(Schema.Array(Schema.Literal("code"))),
  token_endpoint_auth_method: nullable(Schema.Literal("client_secret_basic", "client_secret_post", "private_key_jwt", "none")),
  jwks: nullable(Schema.Unknown),
  jwks_uri: nullable(Schema.String),
  scope: nullable(Schema.String),
  client_name: nullable(Schema.String),
  frontchannel_logout_uri: nullable(Schema.String),
  frontchannel_logout_session_required: nullable(Schema.Boolean),
  dpop_bound_access_tokens: nullable(Schema.Boolean),
  application_type: nullable(Schema.Literal("web", "native")),
  principal_type: nullable(Schema.Literal("app", "agent")),
  resources: nullable(Schema.Array(Schema.String)),
  id_jag_targets: nullable(Schema.Array(Schema.Struct({ audience: Schema.String, client_id: Schema.String })))
})

/** CONTRACT §3: how long the replaced secret keeps working, in seconds (at most 604800, seven days; default 0). */
export const RotateSecret = Schema.Struct({
  previous_valid_for: Schema.optional(
    field(Schema.Number.pipe(Schema.int(), Schema.between(0, 604800)), "must be an integer number of seconds from 0 to 604800")
  )
})

/** The new secret, shown once, and until when (epoch seconds) the previous one works, when it still does. */
export const SecretRotated = Schema.Struct({
  client_secret: Schema.String,
  previous_secret_expires_at: Schema.optional(Schema.Number)
})

const clientId = HttpApiSchema.param("client_id", Schema.String)

/** The client operations, for the OpenAPI document. */
export const ClientsApi = HttpApiGroup.make("clients")
  .add(HttpApiEndpoint.post("createClient")`/admin/realms/${realm}/clients`.setPayload(ClientMetadataBody)
    .addSuccess(created(ClientRegistered)))
  .add(HttpApiEndpoint.get("listClients")`/admin/realms/${realm}/clients`.setUrlParams(ClientsQuery).addSuccess(ClientList))
  .add(HttpApiEndpoint.get("getClient")`/admin/realms/${realm}/clients/${clientId}`.addSuccess(ClientItem))
  .add(HttpApiEndpoint.patch("patchClient")`/admin/realms/${realm}/clients/${clientId}`.setPayload(ClientPatch)
    .addSuccess(ClientItem).addError(ErrorBody(412)))
  .add(HttpApiEndpoint.del("deleteClient")`/admin/realms/${realm}/clients/${clientId}`.addSuccess(noContent)
    .addError(ErrorBody(412)))
  .add(HttpApiEndpoint.post("rotateClientSecret")`/admin/realms/${realm}/clients/${clientId}/secret`.setPayload(RotateSecret)
    .addSuccess(SecretRotated).addError(ErrorBody(412)))
  .addError(ErrorBody(400))
  .addError(ErrorBody(401))
  .addError(ErrorBody(404))
  .middlewareEndpoints(Owner)
