/**
 * The admin API described as an `HttpApi`, used only to publish its OpenAPI document (`/admin/openapi.json`).
 * It is served by plain routes so that every decode failure is the contract's `invalid_request` JSON.
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as HttpApiSecurity from "@effect/platform/HttpApiSecurity"
import * as OpenApi from "@effect/platform/OpenApi"
import { Schema } from "effect"
import * as Admin from "./Admin.js"
import { ErrorCode } from "./ErrorResponse.js"

const realm = HttpApiSchema.param("realm", Schema.String)

const ErrorBody = (status: number) =>
  Schema.Struct({ error: ErrorCode, error_description: Schema.optional(Schema.String) }).pipe(
    (s) => s.annotations(HttpApiSchema.annotations({ status }))
  )

/** RFC 7591 §2 client metadata plus Tessera's `principal_type` and `resources` (validated by `ClientMetadata`). */
const ClientMetadataBody = Schema.Struct({
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

const ClientRegistered = Schema.extend(
  ClientMetadataBody,
  Schema.Struct({
    client_id: Schema.String,
    client_secret: Schema.optional(Schema.String),
    client_secret_expires_at: Schema.optional(Schema.Number),
    client_id_issued_at: Schema.Number
  })
)

/** The owner's bearer token (`TESSERA_ADMIN_TOKEN`): declared for the document; checked by the routes. */
class Owner extends HttpApiMiddleware.Tag<Owner>()("Owner", { security: { owner: HttpApiSecurity.bearer } }) {}

const created = <S extends Schema.Schema.Any>(schema: S) => schema.annotations(HttpApiSchema.annotations({ status: 201 })) as S

const admin = HttpApiGroup.make("admin")
  .add(HttpApiEndpoint.post("createRealm", "/admin/realms").setPayload(Admin.CreateRealm).addSuccess(created(Admin.RealmCreated))
    .addError(ErrorBody(409)))
  .add(HttpApiEndpoint.patch("patchRealm")`/admin/realms/${realm}`.setPayload(Admin.PatchRealm).addSuccess(Admin.RealmSettings))
  .add(HttpApiEndpoint.post("createUser")`/admin/realms/${realm}/users`.setPayload(Admin.CreateUser).addSuccess(created(Admin.UserCreated))
    .addError(ErrorBody(409)))
  .add(HttpApiEndpoint.post("createClient")`/admin/realms/${realm}/clients`.setPayload(ClientMetadataBody)
    .addSuccess(created(ClientRegistered)))
  .add(HttpApiEndpoint.post("createResource")`/admin/realms/${realm}/resources`.setPayload(Admin.CreateResource)
    .addSuccess(created(Admin.ResourceCreated)).addError(ErrorBody(409)))
  .add(HttpApiEndpoint.post("createTrustedIssuer")`/admin/realms/${realm}/trusted-issuers`.setPayload(Admin.CreateTrustedIssuer)
    .addSuccess(created(Admin.TrustedIssuerCreated)).addError(ErrorBody(409)))
  .add(HttpApiEndpoint.get("audit")`/admin/realms/${realm}/audit`.setUrlParams(Admin.AuditQuery).addSuccess(Admin.AuditPage))
  .add(HttpApiEndpoint.get("verifyAudit")`/admin/realms/${realm}/audit/verify`.addSuccess(Admin.AuditVerdict))
  .add(HttpApiEndpoint.get("keys")`/admin/realms/${realm}/keys`.addSuccess(Admin.KeyList))
  .add(HttpApiEndpoint.post("rotateKeys")`/admin/realms/${realm}/keys/rotate`.addSuccess(Admin.KeyList))
  .addError(ErrorBody(400))
  .addError(ErrorBody(401))
  .addError(ErrorBody(404))
  .middlewareEndpoints(Owner)

export const Api = HttpApi.make("tessera-admin").add(admin).annotateContext(OpenApi.annotations({
  title: "Tessera admin API",
  description: "Owner operations on realms, users, clients, resources, trusted issuers, keys and the audit trail."
}))

const decodeErrorRef = "#/components/schemas/HttpApiDecodeError"

/** Removes HttpApi's own decode-error schema: the routes answer every malformed request with `ErrorBody`. */
const withoutDecodeError = (node: unknown): unknown => {
  if (Array.isArray(node)) return node.map(withoutDecodeError)
  if (typeof node !== "object" || node === null) return node
  const entries = Object.entries(node).map(([key, value]) => {
    if (key === "anyOf" && Array.isArray(value)) {
      const kept = value.filter((v) => (v as { $ref?: string }).$ref !== decodeErrorRef)
      return [key, kept.map(withoutDecodeError)] as const
    }
    return [key, withoutDecodeError(value)] as const
  }).filter(([key]) => key !== "HttpApiDecodeError" && key !== "Issue" && key !== "PropertyKey")
  const object = Object.fromEntries(entries) as Record<string, unknown>
  // an anyOf left with one member is that member
  if (Array.isArray(object["anyOf"]) && (object["anyOf"] as Array<unknown>).length === 1) {
    const { anyOf, ...rest } = object
    return { ...rest, ...((anyOf as Array<Record<string, unknown>>)[0]) }
  }
  return object
}

/** The OpenAPI 3.1 document of the admin API. */
export const openApi = () => withoutDecodeError(OpenApi.fromApi(Api)) as OpenApi.OpenAPISpec
