/** CONTRACT §3 invitations: create (and mail), list, revoke (issue 14, ADR 0037). */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { DateTime, Duration, Effect } from "effect"
import { Conflict, Invitation, InvitationAdmin } from "@tessera/domain"
import { Admin, ErrorResponse } from "@tessera/protocol"
import * as Issuer from "../Issuer.js"
import { json } from "../Respond.js"
import { admin, decodeBody, destructive, iso, realmParam } from "./Auth.js"
import * as Caller from "./Caller.js"
import * as ETag from "./ETag.js"
import * as Listing from "./Listing.js"

/** ADR 0037: the page's URL carries the secret in its path (never a query string), under the realm's issuer. */
export const pageUrl = (issuer: string, secret: string) => `${issuer}/invitations/${secret}`

const tagOf = (invitation: Invitation.Invitation) => ETag.of(invitation.id, invitation.version)

/** CONTRACT §3: a listed invitation, its status as of `now`, never its URL; an absent email is left out. */
const item = (invitation: Invitation.Invitation, now: DateTime.Utc) => ({
  id: invitation.id,
  role: invitation.role,
  ...(invitation.email !== undefined ? { email: invitation.email } : {}),
  status: Invitation.status(invitation, now),
  expires_at: iso(invitation.expiresAt)
})

/** ADR 0037: revoking what is no longer pending is 409, saying which. */
const refused = (e: Invitation.InvitationRefused) =>
  ErrorResponse.make("conflict", e.reason === "expired" ? "the invitation has expired" : `the invitation is already ${e.reason}`)

/** Invitation ids are UUIDs (lower-case, as `Entropy.uuid` makes them): anything else names none. */
const invitationId = Effect.flatMap(HttpRouter.params, (params) => {
  const value = params["id"] ?? ""
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(value)
    ? Effect.succeed(value)
    : Effect.fail(new Conflict.NotFound({ entity: "invitation" }))
})

const createInvitation = admin(Effect.gen(function*() {
  const realm = yield* realmParam
  const input = yield* decodeBody(Admin.CreateInvitation)
  const issuer = yield* Issuer.of(realm.name)
  const { invitation, url } = yield* InvitationAdmin.create(realm, {
    role: input.role,
    email: input.email,
    lifetime: input.expires_in !== undefined ? Duration.seconds(input.expires_in) : undefined
  }, yield* Caller.actor, (secret) => pageUrl(issuer, secret))
  return json({
    id: invitation.id,
    url,
    role: invitation.role,
    ...(invitation.email !== undefined ? { email: invitation.email } : {}),
    expires_at: iso(invitation.expiresAt)
  }, 201, ETag.header(tagOf(invitation)))
}))

const listInvitations = admin(Effect.gen(function*() {
  const realm = yield* realmParam
  const { window } = yield* Listing.query(Admin.ListQuery)
  const rows = yield* InvitationAdmin.list(realm, window)
  const now = yield* DateTime.now
  const { items, ...next } = Listing.page(rows, window, Invitation.sortKey)
  return json({ invitations: items.map((i) => item(i, now)), ...next })
}))

const revokeInvitation = destructive(Effect.gen(function*() {
  const realm = yield* realmParam
  const invitation = yield* InvitationAdmin.find(realm, yield* invitationId)
  // CONTRACT §3: DELETE honours If-Match
  yield* ETag.precondition(tagOf(invitation))
  yield* InvitationAdmin.revoke(realm, invitation, yield* Caller.actor).pipe(
    Effect.catchTag("InvitationRefused", (e) => Effect.fail(refused(e)))
  )
  return HttpServerResponse.empty({ status: 204, headers: { "cache-control": "no-store" } })
}))

export const routes = [
  HttpLayerRouter.route("POST", "/admin/realms/:realm/invitations", createInvitation),
  HttpLayerRouter.route("GET", "/admin/realms/:realm/invitations", listInvitations),
  HttpLayerRouter.route("DELETE", "/admin/realms/:realm/invitations/:id", revokeInvitation)
] as const
