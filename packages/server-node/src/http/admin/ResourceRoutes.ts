/** CONTRACT §3 resources: RFC 8707 resource indicators, their scopes and how the consent page names them. */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect } from "effect"
import { AdminAccess, Provisioning, Resource, ResourceAdmin } from "@tessera/domain"
import { Resources } from "@tessera/domain"
import { Admin, ErrorResponse } from "@tessera/protocol"
import { AppConfig } from "../../AppConfig.js"
import { json } from "../Respond.js"
import { admin, decodeBody, destructive, iso, realmName, realmParam, resourceChange } from "./Auth.js"
import * as Caller from "./Caller.js"
import * as ETag from "./ETag.js"
import * as Listing from "./Listing.js"

const item = (resource: Resource.Resource): typeof Admin.ResourceItem.Type => ({
  id: resource.id,
  uri: resource.uri,
  scopes: resource.scopes,
  step_up_scopes: resource.stepUpScopes,
  ...(resource.displayName !== undefined ? { display_name: resource.displayName } : {}),
  scope_descriptions: resource.scopeDescriptions ?? {},
  created_at: iso(resource.createdAt)
})

const tag = (resource: Resource.Resource) => ETag.of(resource.id, resource.version)

/** Settings that do not stand (CONTRACT §3: 400). */
const rejected = <A, E, R>(effect: Effect.Effect<A, E | Provisioning.ResourceRejected, R>) =>
  Effect.catchIf(
    effect,
    (e): e is Provisioning.ResourceRejected => e instanceof Provisioning.ResourceRejected,
    ({ detail }) => Effect.fail(ErrorResponse.invalidRequest(detail))
  )

/** ADR 0033: a client's registration that lists the resource would otherwise name nothing (or, emptied, everything). */
const inUse = <A, E, R>(effect: Effect.Effect<A, E | Resources.ResourceInUse, R>) =>
  Effect.catchIf(
    effect,
    (e): e is Resources.ResourceInUse => e instanceof Resources.ResourceInUse,
    ({ clientIds }) =>
      Effect.fail(ErrorResponse.make("conflict", `clients list this resource in 'resources' (${clientIds.join(", ")}); remove it from them first`))
  )

/** Whether `resource` is the realm's built-in admin resource under this server's public URL (ADR 0035). */
const isBuiltIn = (realm: { readonly name: string }, resource: Resource.Resource) =>
  Effect.map(AppConfig, (config) => resource.uri === AdminAccess.resourceUri(config.publicUrl, realm.name))

const reserved = ErrorResponse.invalidRequest(`'${AdminAccess.scope}' is reserved to the realm's built-in admin resource`)

const createResource = admin(rejected(Effect.gen(function*() {
  const name = yield* realmName
  const input = yield* decodeBody(Admin.CreateResource)
  // ADR 0035: tessera:admin, and URIs under the admin API, name only the built-in admin resources
  const origin = (yield* AppConfig).publicUrl
  if (Resource.sameUri(AdminAccess.resourceUri(origin, name), input.uri)) {
    return yield* ErrorResponse.make("conflict", "the realm's admin resource is built in: it exists already")
  }
  if (AdminAccess.isAdmin(input)) return yield* reserved
  if (AdminAccess.underAdminApi(origin, input.uri)) {
    return yield* ErrorResponse.invalidRequest("'uri' under the admin API names a realm's built-in admin resource; it cannot be registered")
  }
  const resource = yield* Provisioning.registerResource(name, {
    uri: input.uri,
    scopes: input.scopes,
    stepUpScopes: input.step_up_scopes ?? [],
    displayName: input.display_name,
    scopeDescriptions: input.scope_descriptions
  }, yield* Caller.actor)
  return json(item(resource), 201, ETag.header(tag(resource)))
})))

const listResources = admin(Effect.gen(function*() {
  const realm = yield* realmParam
  const { window } = yield* Listing.query(Admin.ListQuery)
  const { items, ...next } = Listing.page(yield* ResourceAdmin.list(realm, window), window, (r) => r.id)
  return json({ resources: items.map(item), ...next })
}))

/** The realm in the path and the resource `{id}` names in it (404 `not_found` when it has none such). */
const current = Effect.gen(function*() {
  const realm = yield* realmParam
  const id = (yield* HttpRouter.params)["id"] ?? ""
  return { realm, resource: yield* ResourceAdmin.read(realm, id) }
})

const getResource = admin(Effect.gen(function*() {
  const { resource } = yield* current
  return yield* ETag.answer(item(resource), tag(resource))
}))

const patchResource = resourceChange(rejected(Effect.gen(function*() {
  const { realm, resource } = yield* current
  yield* ETag.precondition(tag(resource))
  const input = yield* decodeBody(Admin.PatchResource)
  // ADR 0033: a resource indicator is an identity; tokens, grants and consents name it
  if (input.uri !== undefined && input.uri !== resource.uri) {
    return yield* ErrorResponse.invalidRequest("'uri' cannot be changed: register a new resource and delete this one")
  }
  if (input.scopes !== undefined) {
    const scopes = { scopes: input.scopes }
    if (yield* isBuiltIn(realm, resource)) {
      // CONTRACT §3: the built-in resource is what tessera:admin tokens are for; it keeps the scope
      if (!AdminAccess.isAdmin(scopes)) return yield* ErrorResponse.invalidRequest(`the built-in admin resource keeps '${AdminAccess.scope}' in 'scopes'`)
    } else if (AdminAccess.isAdmin(scopes) && !AdminAccess.isAdmin(resource)) {
      return yield* reserved
    }
  }
  const updated = yield* ResourceAdmin.update(realm, resource, {
    scopes: input.scopes,
    stepUpScopes: input.step_up_scopes,
    displayName: input.display_name,
    scopeDescriptions: input.scope_descriptions
  }, yield* Caller.actor)
  return json(item(updated), 200, ETag.header(tag(updated)))
})))

const deleteResource = destructive(inUse(Effect.gen(function*() {
  const { realm, resource } = yield* current
  if (yield* isBuiltIn(realm, resource)) {
    return yield* ErrorResponse.make("conflict", "the realm's admin resource is built in: it cannot be deleted")
  }
  yield* ETag.precondition(tag(resource))
  yield* ResourceAdmin.remove(realm, resource, yield* Caller.actor)
  return HttpServerResponse.empty({ status: 204, headers: { "cache-control": "no-store" } })
})))

export const routes = [
  HttpLayerRouter.route("POST", "/admin/realms/:realm/resources", createResource),
  HttpLayerRouter.route("GET", "/admin/realms/:realm/resources", listResources),
  HttpLayerRouter.route("GET", "/admin/realms/:realm/resources/:id", getResource),
  HttpLayerRouter.route("PATCH", "/admin/realms/:realm/resources/:id", patchResource),
  HttpLayerRouter.route("DELETE", "/admin/realms/:realm/resources/:id", deleteResource)
] as const
