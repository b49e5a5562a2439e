/** CONTRACT §3 keys: the realm's signing keys and their rotation. */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import { Effect } from "effect"
import { Provisioning, SigningKey, SigningKeys } from "@tessera/domain"
import { json } from "../Respond.js"
import { admin, destructive, iso, realmParam } from "./Auth.js"
import * as Caller from "./Caller.js"

const keyView = (key: SigningKey.SigningKey) => ({
  kid: key.kid,
  alg: key.alg,
  status: SigningKey.status(key),
  created_at: iso(key.createdAt),
  ...(key._tag === "Retired" ? { expires_at: iso(key.expiresAt) } : { activates_at: iso(key.activatesAt) })
})

const keys = admin(Effect.gen(function*() {
  const realm = yield* realmParam
  return json({ keys: (yield* SigningKeys.list(realm.id)).map(keyView) })
}))

const rotateKeys = destructive(Effect.gen(function*() {
  const realm = yield* realmParam
  const actor = yield* Caller.actor
  const published = yield* SigningKeys.rotate(realm, actor, Provisioning.rotationReason(actor))
  return json({ keys: published.map(keyView) })
}))

export const routes = [
  HttpLayerRouter.route("GET", "/admin/realms/:realm/keys", keys),
  HttpLayerRouter.route("POST", "/admin/realms/:realm/keys/rotate", rotateKeys)
] as const
