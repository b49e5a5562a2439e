/** CONTRACT §3 keys: the realm's signing keys and their rotation. */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import { Effect } from "effect"
import { Provisioning, SigningKeys } from "@tessera/domain"
import type { SigningKey } from "@tessera/domain"
import { json } from "../Respond.js"
import { admin, destructive, iso, realmParam } from "./Auth.js"
import * as Caller from "./Caller.js"

const keyView = (key: SigningKey.SigningKey) => ({
  kid: key.kid,
  alg: key.alg,
  status: key.status,
  created_at: iso(key.createdAt),
  ...(key.status !== "retired" ? { activates_at: iso(key.activatesAt) } : {}),
  ...(key.expiresAt !== undefined ? { expires_at: iso(key.expiresAt) } : {})
})

const keys = admin(Effect.gen(function*() {
  const realm = yield* realmParam
  return json({ keys: (yield* SigningKeys.list(realm.id)).map(keyView) })
}))

const rotateKeys = destructive(Effect.gen(function*() {
  const realm = yield* realmParam
  const actor = yield* Caller.actor
  yield* SigningKeys.rotate(realm, actor, Provisioning.rotationReason(actor))
  return json({ keys: (yield* SigningKeys.list(realm.id)).map(keyView) })
}))

export const routes = [
  HttpLayerRouter.route("GET", "/admin/realms/:realm/keys", keys),
  HttpLayerRouter.route("POST", "/admin/realms/:realm/keys/rotate", rotateKeys)
] as const
