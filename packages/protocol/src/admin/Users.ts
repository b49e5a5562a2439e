/** The admin API's user bodies (CONTRACT §3). */
import { Schema } from "effect"
import { field } from "../Body.js"
import { DisplayName, noControlOrSpace } from "./Fields.js"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import { created, ErrorBody, Owner, realm } from "./Endpoints.js"

export const CreateUser = Schema.Struct({
  username: field(
    Schema.String.pipe(Schema.minLength(1), Schema.maxLength(255), Schema.pattern(noControlOrSpace)),
    "must be 1 to 255 characters without spaces or control characters"
  ),
  // NIST SP 800-63B §5.1.1.2: at least 8 characters; a cap keeps hashing bounded
  password: field(Schema.String.pipe(Schema.minLength(8), Schema.maxLength(1024)), "must be a string of 8 to 1024 characters"),
  email: Schema.optional(field(Schema.String.pipe(Schema.pattern(/^[^\s@]+@[^\s@]+$/), Schema.maxLength(320)), "must be an email address")),
  name: Schema.optional(DisplayName)
})

export const UserCreated = Schema.Struct({ sub: Schema.String, username: Schema.String })

/** The user operations, for the OpenAPI document. */
export const UsersApi = HttpApiGroup.make("users")
  .add(HttpApiEndpoint.post("createUser")`/admin/realms/${realm}/users`.setPayload(CreateUser).addSuccess(created(UserCreated))
    .addError(ErrorBody(409)))
  .addError(ErrorBody(400))
  .addError(ErrorBody(401))
  .addError(ErrorBody(404))
  .middlewareEndpoints(Owner)
