/** CONTRACT §3 trusted issuers: whose assertions the RFC 7523 grant (and ID-JAG) accepts. */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect } from "effect"
import { Provisioning, TrustedIssuerAdmin } from "@tessera/domain"
import type { TrustedIssuer } from "@tessera/domain"
import { Admin, ErrorResponse, Jwks } from "@tessera/protocol"
import { json } from "../Respond.js"
import { admin, decodeBody, destructive, iso, realmName, realmParam } from "./Auth.js"
import * as Caller from "./Caller.js"
import * as ETag from "./ETag.js"
import * as Listing from "./Listing.js"

const item = (trusted: TrustedIssuer.TrustedIssuer): typeof Admin.TrustedIssuerItem.Type => ({
  id: trusted.id,
  issuer: trusted.issuer,
  ...(trusted.keys._tag === "Jwks" ? { jwks: trusted.keys.jwks } : { jwks_uri: trusted.keys.jwksUri }),
  id_jag: trusted.idJag,
  provision_users: trusted.provisionUsers,
  created_at: iso(trusted.createdAt)
})

const tag = (trusted: TrustedIssuer.TrustedIssuer) => ETag.of(trusted.id, trusted.version)

/** The keys a body gives: inline `jwks` (public keys only, RFC 7517 §4) or a `jwks_uri`, never both; none is `undefined`. */
const keysOf = (input: { readonly jwks?: unknown; readonly jwks_uri?: string | undefined }) =>
  Effect.gen(function*() {
    if (input.jwks !== undefined && input.jwks_uri !== undefined) {
      return yield* ErrorResponse.invalidRequest("only one of 'jwks' and 'jwks_uri' may be given")
    }
    if (input.jwks_uri !== undefined) return { _tag: "JwksUri" as const, jwksUri: input.jwks_uri }
    if (input.jwks === undefined) return undefined
    const jwks = Jwks.validatePublic(input.jwks)
    if (typeof jwks === "string") return yield* ErrorResponse.invalidRequest(`'jwks' ${jwks}`)
    return { _tag: "Jwks" as const, jwks }
  })

const createTrustedIssuer = admin(Effect.gen(function*() {
  const name = yield* realmName
  const input = yield* decodeBody(Admin.CreateTrustedIssuer)
  if ((input.jwks === undefined) === (input.jwks_uri === undefined)) {
    return yield* ErrorResponse.invalidRequest("exactly one of 'jwks' and 'jwks_uri' is required")
  }
  const keys = (yield* keysOf(input))!
  const trusted = yield* Provisioning.registerTrustedIssuer(name, {
    issuer: input.issuer,
    keys,
    idJag: input.id_jag,
    provisionUsers: input.provision_users
  }, yield* Caller.actor)
  return json(item(trusted), 201, ETag.header(tag(trusted)))
}))

const listTrustedIssuers = admin(Effect.gen(function*() {
  const realm = yield* realmParam
  const { window } = yield* Listing.query(Admin.ListQuery)
  const { items, ...next } = Listing.page(yield* TrustedIssuerAdmin.list(realm, window), window, (t) => t.id)
  return json({ trusted_issuers: items.map(item), ...next })
}))

/** The realm in the path and the trusted issuer `{id}` names in it (404 `not_found` when it has none such). */
const current = Effect.gen(function*() {
  const realm = yield* realmParam
  const id = (yield* HttpRouter.params)["id"] ?? ""
  return { realm, trusted: yield* TrustedIssuerAdmin.read(realm, id) }
})

const getTrustedIssuer = admin(Effect.gen(function*() {
  const { trusted } = yield* current
  return yield* ETag.answer(item(trusted), tag(trusted))
}))

const patchTrustedIssuer = admin(Effect.gen(function*() {
  const { realm, trusted } = yield* current
  yield* ETag.precondition(tag(trusted))
  const input = yield* decodeBody(Admin.PatchTrustedIssuer)
  // ADR 0033: the issuer names whose assertions these are (and, for ID-JAG, whose subjects link to users)
  if (input.issuer !== undefined && input.issuer !== trusted.issuer) {
    return yield* ErrorResponse.invalidRequest("'issuer' cannot be changed: register a new trusted issuer and delete this one")
  }
  const updated = yield* TrustedIssuerAdmin.update(realm, trusted, {
    keys: yield* keysOf(input),
    idJag: input.id_jag,
    provisionUsers: input.provision_users
  }, yield* Caller.actor)
  return json(item(updated), 200, ETag.header(tag(updated)))
}))

const deleteTrustedIssuer = destructive(Effect.gen(function*() {
  const { realm, trusted } = yield* current
  yield* ETag.precondition(tag(trusted))
  yield* TrustedIssuerAdmin.remove(realm, trusted, yield* Caller.actor)
  return HttpServerResponse.empty({ status: 204, headers: { "cache-control": "no-store" } })
}))

export const routes = [
  HttpLayerRouter.route("POST", "/admin/realms/:realm/trusted-issuers", createTrustedIssuer),
  HttpLayerRouter.route("GET", "/admin/realms/:realm/trusted-issuers", listTrustedIssuers),
  HttpLayerRouter.route("GET", "/admin/realms/:realm/trusted-issuers/:id", getTrustedIssuer),
  HttpLayerRouter.route("PATCH", "/admin/realms/:realm/trusted-issuers/:id", patchTrustedIssuer),
  HttpLayerRouter.route("DELETE", "/admin/realms/:realm/trusted-issuers/:id", deleteTrustedIssuer)
] as const
