/** CONTRACT §3 realms: create, list, read, change and delete (ADR 0030). */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect } from "effect"
import { Provisioning, RealmAdmin } from "@tessera/domain"
import type { Realm } from "@tessera/domain"
import { Admin, ErrorResponse } from "@tessera/protocol"
import { AppConfig } from "../../AppConfig.js"
import * as Issuer from "../Issuer.js"
import { json } from "../Respond.js"
import { admin, decodeBody, ownerOnly, realmParam } from "./Auth.js"
import * as Caller from "./Caller.js"
import * as ETag from "./ETag.js"
import * as Listing from "./Listing.js"

/** CONTRACT §3: the realm's settings. */
const settings = (realm: Realm.Realm) =>
  Effect.map(Issuer.of(realm.name), (issuer) => ({
    name: realm.name,
    issuer,
    ...(realm.displayName !== undefined ? { display_name: realm.displayName } : {}),
    dynamic_registration: realm.dynamicRegistration
  }))

/** A new realm of a deleted one's name has another id, so an old tag never matches it. */
const tagOf = (realm: Realm.Realm) => ETag.of(realm.id, realm.version)

const createRealm = ownerOnly(Effect.gen(function*() {
  const { name } = yield* decodeBody(Admin.CreateRealm)
  const realm = yield* Provisioning.createRealm(name, (yield* AppConfig).publicUrl)
  return json({ name: realm.name, issuer: yield* Issuer.of(realm.name) }, 201)
}))

const listRealms = ownerOnly(Effect.gen(function*() {
  const { window } = yield* Listing.query(Admin.ListQuery)
  const { items, ...next } = Listing.page(yield* RealmAdmin.list(window), window, RealmAdmin.sortKey)
  return json({ realms: yield* Effect.forEach(items, settings), ...next })
}))

const getRealm = admin(Effect.gen(function*() {
  const realm = yield* realmParam
  return yield* ETag.answer(yield* settings(realm), tagOf(realm))
}))

const patchRealm = admin(Effect.gen(function*() {
  const realm = yield* realmParam
  const change = yield* decodeBody(Admin.PatchRealm)
  yield* ETag.precondition(tagOf(realm))
  const updated = yield* RealmAdmin.update(realm, {
    ...(change.display_name !== undefined ? { displayName: change.display_name } : {}),
    ...(change.dynamic_registration !== undefined ? { dynamicRegistration: change.dynamic_registration } : {})
  }, yield* Caller.actor)
  return json(yield* settings(updated), 200, ETag.header(tagOf(updated)))
}))

/** CONTRACT §3: `?confirm=R`, exactly once and naming the realm, or nothing is deleted. */
const confirmed = (realm: Realm.Realm) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const given = new URL(request.url, "http://localhost").searchParams.getAll("confirm")
    if (given.length !== 1 || given[0] !== realm.name) {
      return yield* ErrorResponse.invalidRequest("'confirm' must be given once, equal to the realm's name")
    }
  })

const deleteRealm = ownerOnly(Effect.gen(function*() {
  const realm = yield* realmParam
  yield* confirmed(realm)
  yield* ETag.precondition(tagOf(realm))
  yield* RealmAdmin.remove(realm, yield* Caller.actor)
  return HttpServerResponse.empty({ status: 204, headers: { "cache-control": "no-store" } })
}))

export const routes = [
  HttpLayerRouter.route("POST", "/admin/realms", createRealm),
  HttpLayerRouter.route("GET", "/admin/realms", listRealms),
  HttpLayerRouter.route("GET", "/admin/realms/:realm", getRealm),
  HttpLayerRouter.route("PATCH", "/admin/realms/:realm", patchRealm),
  HttpLayerRouter.route("DELETE", "/admin/realms/:realm", deleteRealm)
] as const
