/** The admin API's resource bodies (CONTRACT §3). */
import { Schema } from "effect"
import { field } from "../Body.js"
import { absoluteUri, Scopes } from "./Fields.js"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import { created, ErrorBody, Owner, realm } from "./Endpoints.js"

/** RFC 8707 §2: an absolute URI without a fragment. */
export const ResourceUri = field(Schema.String.pipe(Schema.filter(absoluteUri)), "must be an absolute URI without a fragment")

export const CreateResource = Schema.Struct({
  uri: ResourceUri,
  scopes: field(Scopes.pipe(Schema.minItems(1)), "must be a non-empty array of distinct scope tokens (RFC 6749 §3.3)"),
  step_up_scopes: Schema.optional(Scopes)
})

export const ResourceCreated = Schema.Struct({
  uri: Schema.String,
  scopes: Schema.Array(Schema.String),
  step_up_scopes: Schema.Array(Schema.String)
})

/** The resource operations, for the OpenAPI document. */
export const ResourcesApi = HttpApiGroup.make("resources")
  .add(HttpApiEndpoint.post("createResource")`/admin/realms/${realm}/resources`.setPayload(CreateResource)
    .addSuccess(created(ResourceCreated)).addError(ErrorBody(409)))
  .addError(ErrorBody(400))
  .addError(ErrorBody(401))
  .addError(ErrorBody(404))
  .middlewareEndpoints(Owner)
