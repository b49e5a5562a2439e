/** The admin API's realm bodies (CONTRACT §3). */
import { Schema } from "effect"
import { field } from "../Body.js"
import { DisplayName } from "./Fields.js"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import { created, ErrorBody, noContent, Owner, realm } from "./Endpoints.js"
import { ListQuery, page } from "./Listing.js"

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

/** CONTRACT §3 `GET /admin/realms`: the realms' settings in name order. */
export const RealmList = page("realms", RealmSettings)

/** CONTRACT §3 `DELETE /admin/realms/R?confirm=R`: the realm's name, once, or nothing is deleted. */
export const DeleteRealmQuery = Schema.Struct({ confirm: RealmName })

/** The realm operations, for the OpenAPI document. */
export const RealmsApi = HttpApiGroup.make("realms")
  .add(HttpApiEndpoint.post("createRealm", "/admin/realms").setPayload(CreateRealm).addSuccess(created(RealmCreated))
    .addError(ErrorBody(409)))
  .add(HttpApiEndpoint.get("listRealms", "/admin/realms").setUrlParams(ListQuery).addSuccess(RealmList))
  .add(HttpApiEndpoint.get("getRealm")`/admin/realms/${realm}`.addSuccess(RealmSettings))
  .add(HttpApiEndpoint.patch("patchRealm")`/admin/realms/${realm}`.setPayload(PatchRealm).addSuccess(RealmSettings)
    .addError(ErrorBody(412)))
  .add(HttpApiEndpoint.del("deleteRealm")`/admin/realms/${realm}`.setUrlParams(DeleteRealmQuery).addSuccess(noContent)
    .addError(ErrorBody(412)))
  .addError(ErrorBody(400))
  .addError(ErrorBody(401))
  .addError(ErrorBody(404))
  .middlewareEndpoints(Owner)
