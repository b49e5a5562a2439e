/** The admin API's user bodies and answers (CONTRACT §3 users, their sessions and grants; ADR 0031). */
import { Schema } from "effect"
import { field } from "../Body.js"
import { DisplayName, noControlOrSpace } from "./Fields.js"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import { created, ErrorBody, noContent, Owner, realm } from "./Endpoints.js"
import { ListQuery, page } from "./Listing.js"

/** ADR 0031: `admin` (may get the realm's `tessera:admin` resource) and `member` (the plain person). */
export const Role = Schema.Literal("admin", "member")

export const Roles = field(
  Schema.Array(Role).pipe(Schema.filter((roles) => new Set(roles).size === roles.length)),
  "must be an array of distinct roles: admin, member"
)

// NIST SP 800-63B §5.1.1.2: at least 8 characters; a cap keeps hashing bounded
export const Password = field(Schema.String.pipe(Schema.minLength(8), Schema.maxLength(1024)), "must be a string of 8 to 1024 characters")

export const EmailAddress = Schema.String.pipe(Schema.pattern(/^[^\s@]+@[^\s@]+$/), Schema.maxLength(320))

export const Username = field(
  Schema.String.pipe(Schema.minLength(1), Schema.maxLength(255), Schema.pattern(noControlOrSpace)),
  "must be 1 to 255 characters without spaces or control characters"
)

export const CreateUser = Schema.Struct({
  username: Username,
  password: Password,
  email: Schema.optional(field(EmailAddress, "must be an email address")),
  name: Schema.optional(DisplayName),
  roles: Schema.optional(Roles)
})

export const UserCreated = Schema.Struct({ sub: Schema.String, username: Schema.String })

/** A user as the admin API shows it; an absent `email` or `name` is left out (as RFC 7591 leaves out absent metadata). */
export const UserItem = Schema.Struct({
  sub: Schema.String,
  username: Schema.String,
  email: Schema.optional(Schema.String),
  name: Schema.optional(Schema.String),
  roles: Schema.Array(Role),
  disabled: Schema.Boolean,
  created_at: Schema.String
})

/** `q`: a prefix of the username or the email, compared without regard to case (as usernames are). */
export const UsersQuery = Schema.Struct({
  ...ListQuery.fields,
  q: Schema.optional(field(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(320), Schema.pattern(/^[^\p{Cc}]+$/u)),
    "must be 1 to 320 characters without control characters"))
})

export const UserList = page("users", UserItem)

/**
 * PATCH: each field present is changed; `null` clears `email` or `name` (RFC 7396 JSON Merge Patch reads `null` so).
 * `disabled: true` ends the person's sessions and revokes their grants.
 */
export const UpdateUser = Schema.Struct({
  email: Schema.optional(field(Schema.NullOr(EmailAddress), "must be an email address or null")),
  name: Schema.optional(field(Schema.NullOr(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200))), "must be a string of 1 to 200 characters or null")),
  roles: Schema.optional(Roles),
  disabled: Schema.optional(field(Schema.Boolean, "must be true or false"))
})

export const SetPassword = Schema.Struct({ password: Password })

export const SessionItem = Schema.Struct({
  sid: Schema.String,
  created_at: Schema.String,
  auth_time: Schema.String,
  /** The clients that got tokens in the session. */
  clients: Schema.Array(Schema.String)
})

export const SessionList = page("sessions", SessionItem)

export const GrantItem = Schema.Struct({
  grant_id: Schema.String,
  client_id: Schema.String,
  scopes: Schema.Array(Schema.String),
  resources: Schema.Array(Schema.String),
  created_at: Schema.String
})

export const GrantList = page("grants", GrantItem)

const sub = HttpApiSchema.param("sub", Schema.String)
const sid = HttpApiSchema.param("sid", Schema.String)
const grantId = HttpApiSchema.param("grant_id", Schema.String)

/** The user operations, for the OpenAPI document. */
export const UsersApi = HttpApiGroup.make("users")
  .add(HttpApiEndpoint.post("createUser")`/admin/realms/${realm}/users`.setPayload(CreateUser).addSuccess(created(UserCreated))
    .addError(ErrorBody(409)))
  .add(HttpApiEndpoint.get("listUsers")`/admin/realms/${realm}/users`.setUrlParams(UsersQuery).addSuccess(UserList))
  .add(HttpApiEndpoint.get("getUser")`/admin/realms/${realm}/users/${sub}`.addSuccess(UserItem))
  .add(HttpApiEndpoint.patch("patchUser")`/admin/realms/${realm}/users/${sub}`.setPayload(UpdateUser).addSuccess(UserItem)
    .addError(ErrorBody(412)))
  .add(HttpApiEndpoint.del("deleteUser")`/admin/realms/${realm}/users/${sub}`.addSuccess(noContent).addError(ErrorBody(412)))
  .add(HttpApiEndpoint.put("setUserPassword")`/admin/realms/${realm}/users/${sub}/password`.setPayload(SetPassword)
    .addSuccess(noContent).addError(ErrorBody(412)))
  .add(HttpApiEndpoint.get("listUserSessions")`/admin/realms/${realm}/users/${sub}/sessions`.setUrlParams(ListQuery)
    .addSuccess(SessionList))
  .add(HttpApiEndpoint.del("endUserSession")`/admin/realms/${realm}/users/${sub}/sessions/${sid}`.addSuccess(noContent))
  .add(HttpApiEndpoint.get("listUserGrants")`/admin/realms/${realm}/users/${sub}/grants`.setUrlParams(ListQuery)
    .addSuccess(GrantList))
  .add(HttpApiEndpoint.del("revokeUserGrant")`/admin/realms/${realm}/users/${sub}/grants/${grantId}`.addSuccess(noContent))
  .addError(ErrorBody(400))
  .addError(ErrorBody(401))
  .addError(ErrorBody(404))
  .middlewareEndpoints(Owner)
