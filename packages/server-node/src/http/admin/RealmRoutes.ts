/** CONTRACT §3 realms: create and change a realm's settings. */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import { Effect } from "effect"
import { Provisioning } from "@tessera/domain"
import { Admin } from "@tessera/protocol"
import * as Issuer from "../Issuer.js"
import { json } from "../Respond.js"
import { admin, decodeBody, realmName } from "./Auth.js"

const createRealm = admin(Effect.gen(function*() {
  const { name } = yield* decodeBody(Admin.CreateRealm)
  const realm = yield* Provisioning.createRealm(name)
  return json({ name: realm.name, issuer: yield* Issuer.of(realm.name) }, 201)
}))

const patchRealm = admin(Effect.gen(function*() {
  const name = yield* realmName
  const change = yield* decodeBody(Admin.PatchRealm)
  const realm = yield* Provisioning.updateRealm(name, {
    ...(change.display_name !== undefined ? { displayName: change.display_name } : {}),
    ...(change.dynamic_registration !== undefined ? { dynamicRegistration: change.dynamic_registration } : {})
  })
  return json({
    name: realm.name,
    issuer: yield* Issuer.of(realm.name),
    ...(realm.displayName !== undefined ? { display_name: realm.displayName } : {}),
    dynamic_registration: realm.dynamicRegistration
  })
}))

export const routes = [
  HttpLayerRouter.route("POST", "/admin/realms", createRealm),
  HttpLayerRouter.route("PATCH", "/admin/realms/:realm", patchRealm)
] as const
