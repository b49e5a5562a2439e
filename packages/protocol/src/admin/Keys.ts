/** The admin API's key views (CONTRACT §3). */
import { Schema } from "effect"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import { ErrorBody, Owner, realm } from "./Endpoints.js"

export const KeyView = Schema.Struct({
  kid: Schema.String,
  alg: Schema.String,
  status: Schema.Literal("next", "active", "retired"),
  created_at: Schema.String,
  activates_at: Schema.optional(Schema.String),
  expires_at: Schema.optional(Schema.String)
})

export const KeyList = Schema.Struct({ keys: Schema.Array(KeyView) })

/** The key operations, for the OpenAPI document. */
export const KeysApi = HttpApiGroup.make("keys")
  .add(HttpApiEndpoint.get("keys")`/admin/realms/${realm}/keys`.addSuccess(KeyList))
  .add(HttpApiEndpoint.post("rotateKeys")`/admin/realms/${realm}/keys/rotate`.addSuccess(KeyList))
  .addError(ErrorBody(400))
  .addError(ErrorBody(401))
  .addError(ErrorBody(404))
  .middlewareEndpoints(Owner)
