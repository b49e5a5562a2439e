/** CONTRACT §3 resources: RFC 8707 resource indicators and their scopes. */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import { Effect } from "effect"
import { Provisioning } from "@tessera/domain"
import { Admin, ErrorResponse } from "@tessera/protocol"
import { json } from "../Respond.js"
import { admin, decodeBody, realmName } from "./Auth.js"

const createResource = admin(Effect.gen(function*() {
  const name = yield* realmName
  const input = yield* decodeBody(Admin.CreateResource)
  const stepUpScopes = input.step_up_scopes ?? []
  if (!stepUpScopes.every((scope) => input.scopes.includes(scope))) {
    return yield* ErrorResponse.invalidRequest("'step_up_scopes' must be a subset of 'scopes'")
  }
  const resource = yield* Provisioning.registerResource(name, { uri: input.uri, scopes: input.scopes, stepUpScopes })
  return json({ uri: resource.uri, scopes: resource.scopes, step_up_scopes: resource.stepUpScopes }, 201)
}))

export const routes = [
  HttpLayerRouter.route("POST", "/admin/realms/:realm/resources", createResource)
] as const
