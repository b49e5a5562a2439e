/** The admin API's realm bodies (CONTRACT §3). */
import { Schema } from "effect"
import { field } from "../Body.js"
import { DisplayName } from "./Fields.js"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import { created, ErrorBody, Owner, realm } from "./Endpoints.js"

/** CONTRACT §2: realm names. */
export const RealmName = field(Schema.String.pipe(Schema.pattern(/^[a-z0-9][a-z0-9-]{0,62}$/)), "must match ^[a-z0-9][a-z0-9-]{0,62}$")

export const CreateRealm = Schema.Struct({ name: RealmName })

export const RealmCreated = Schema.Struct({ name: Schema.String, issuer: Schema.String })

export const PatchRealm = Schema.Struct({
  display_name: Schema.optional(DisplayName),
  dynamic_registration: Schema.optional(field(Schema.Boolean, "must be a boolean"))
})

export const RealmSettings = Schema.Struct({
  name: Schema.String,
  issuer: Schema.String,
  display_name: Schema.optional(Schema.String),
  dynamic_registration: Schema.Boolean
})

/** The realm operations, for the OpenAPI document. */
export const RealmsApi = HttpApiGroup.make("realms")
  .add(HttpApiEndpoint.post("createRealm", "/admin/realms").setPayload(CreateRealm).addSuccess(created(RealmCreated))
    .addError(ErrorBody(409)))
  .add(HttpApiEndpoint.patch("patchRealm")`/admin/realms/${realm}`.setPayload(PatchRealm).addSuccess(RealmSettings))
  .addError(ErrorBody(400))
  .addError(ErrorBody(401))
  .addError(ErrorBody(404))
  .middlewareEndpoints(Owner)
