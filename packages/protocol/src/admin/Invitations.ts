/** The admin API's invitation bodies and answers (CONTRACT §3 invitations, §4 the invitation page; ADR 0037). */
import { Schema } from "effect"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import { field } from "../Body.js"
import { created, ErrorBody, noContent, Owner, realm } from "./Endpoints.js"
import { DisplayName } from "./Fields.js"
import { ListQuery, page } from "./Listing.js"
import { Mailable } from "../EmailAddress.js"
import { EmailAddress, Password, Role, Username } from "./Users.js"

/** CONTRACT §3 `expires_in`: default 604800 s. */
export const defaultExpiresIn = 604800
/** CONTRACT §3: at most 2592000 s (30 days). */
export const maxExpiresIn = 2592000
/** ADR 0037: at least 3600 s (an hour), so that a mailed link outlives slow delivery. */
export const minExpiresIn = 3600

export const CreateInvitation = Schema.Struct({
  // CONTRACT §3: the invitation is "mailed to `email`": an address the mailer can send to, by the mailer's own rule
  email: Schema.optional(field(Mailable, "must be one email address that can be mailed (ASCII local@domain)")),
  role: field(Role, "must be admin or member"),
  expires_in: Schema.optional(field(
    Schema.Number.pipe(Schema.int(), Schema.between(minExpiresIn, maxExpiresIn)),
    `must be an integer number of seconds from ${minExpiresIn} to ${maxExpiresIn}`
  ))
})

/** CONTRACT §3 201: the URL (with the secret, shown this once); `email` left out when absent. */
export const InvitationCreated = Schema.Struct({
  id: Schema.String,
  url: Schema.String,
  role: Role,
  email: Schema.optional(Schema.String),
  expires_at: Schema.String
})

export const InvitationStatus = Schema.Literal("pending", "accepted", "revoked", "expired")

/** CONTRACT §3: a listed invitation, never its URL. */
export const InvitationItem = Schema.Struct({
  id: Schema.String,
  role: Role,
  email: Schema.optional(Schema.String),
  status: InvitationStatus,
  expires_at: Schema.String
})

export const InvitationList = page("invitations", InvitationItem)

/** CONTRACT §4: the invitation page's form, by the rules of admin user creation (`username`, `password`, `name`). */
export const AcceptInvitation = Schema.Struct({
  username: Username,
  password: Password,
  name: Schema.optional(DisplayName)
})

const id = HttpApiSchema.param("id", Schema.String)

/** The invitation operations, for the OpenAPI document. */
export const InvitationsApi = HttpApiGroup.make("invitations")
  .add(HttpApiEndpoint.post("createInvitation")`/admin/realms/${realm}/invitations`.setPayload(CreateInvitation)
    .addSuccess(created(InvitationCreated)))
  .add(HttpApiEndpoint.get("listInvitations")`/admin/realms/${realm}/invitations`.setUrlParams(ListQuery)
    .addSuccess(InvitationList))
  .add(HttpApiEndpoint.del("revokeInvitation")`/admin/realms/${realm}/invitations/${id}`.addSuccess(noContent)
    .addError(ErrorBody(409)).addError(ErrorBody(412)))
  .addError(ErrorBody(400))
  .addError(ErrorBody(401))
  .addError(ErrorBody(404))
  .middlewareEndpoints(Owner)
