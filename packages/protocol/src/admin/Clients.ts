/** The admin API's client bodies (CONTRACT §3): RFC 7591 metadata, validated by `ClientMetadata`. */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import { Schema } from "effect"
import { created, ErrorBody, Owner, realm } from "./Endpoints.js"

/** RFC 7591 §2 client metadata plus Tessera's `principal_type` and `resources` (validated by `ClientMetadata`). */
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
  principal_type: Schema.optional(Schema.Literal("app", "agent")),
  resources: Schema.optional(Schema.Array(Schema.String))
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

/** The client operations, for the OpenAPI document. */
export const ClientsApi = HttpApiGroup.make("clients")
  .add(HttpApiEndpoint.post("createClient")`/admin/realms/${realm}/clients`.setPayload(ClientMetadataBody)
    .addSuccess(created(ClientRegistered)))
  .addError(ErrorBody(400))
  .addError(ErrorBody(401))
  .addError(ErrorBody(404))
  .middlewareEndpoints(Owner)
