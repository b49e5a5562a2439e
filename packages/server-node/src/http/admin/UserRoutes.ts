/** CONTRACT §3 users. */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import { Effect } from "effect"
import { Provisioning } from "@tessera/domain"
import { Admin } from "@tessera/protocol"
import { json } from "../Respond.js"
import { admin, decodeBody, realmName } from "./Auth.js"

const createUser = admin(Effect.gen(function*() {
  const name = yield* realmName
  const input = yield* decodeBody(Admin.CreateUser)
  const user = yield* Provisioning.createUser(name, input)
  return json({ sub: user.sub, username: user.username }, 201)
}))

export const routes = [
  HttpLayerRouter.route("POST", "/admin/realms/:realm/users", createUser)
] as const
