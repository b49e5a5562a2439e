/** CONTRACT §3 users: create, list, read, change, delete, set a password; a person's sessions and grants (ADR 0031). */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Duration, Effect, Option } from "effect"
import { Conflict, Fetcher, Provisioning, Grants, Sessions, UserAdmin, Users } from "@tessera/domain"
import type { GrantRecord, Realm, Session, User } from "@tessera/domain"
import { Admin, Body, ErrorResponse } from "@tessera/protocol"
import { AppConfig } from "../../AppConfig.js"
import { withQuery } from "../AuthorizationResponse.js"
import * as ClientLookup from "../ClientLookup.js"
import * as Issuer from "../Issuer.js"
import { fromEither, json, jsonBody } from "../Respond.js"
import { admin, decodeBody, destructive, iso, realmParam } from "./Auth.js"
import * as Caller from "./Caller.js"
import * as ETag from "./ETag.js"
import * as Listing from "./Listing.js"

/** The wire form of a user; an absent email or name is left out (ADR 0031). */
const userItem = (user: User.User) => ({
  sub: user.sub,
  username: user.username,
  ...(user.email !== undefined ? { email: user.email } : {}),
  ...(user.name !== undefined ? { name: user.name } : {}),
  roles: user.roles,
  disabled: user.disabled,
  created_at: iso(user.createdAt)
})

const tagOf = (user: User.User) => ETag.of(user.sub, user.version)

const sessionItem = (session: Session.Session) => ({
  sid: session.sid,
  created_at: iso(session.createdAt),
  auth_time: iso(session.authTime),
  clients: session.clientIds
})

const grantItem = (grant: GrantRecord.GrantRecord) => ({
  grant_id: grant.grantId,
  client_id: grant.clientId,
  scopes: grant.scopes,
  resources: grant.resources,
  created_at: iso(grant.createdAt)
})

/**
 * A path segment naming a row (`sub`, `sid`, `grant_id`): text no row can hold (a control character, say) names none,
 * so it is `NotFound` without asking the store.
 */
const pathId = (name: string, entity: Conflict.Entity) =>
  Effect.flatMap(HttpRouter.params, (params) => {
    const value = params[name] ?? ""
    return /^[^\p{Cc}\p{Cs}]{1,1024}$/u.test(value) ? Effect.succeed(value) : Effect.fail(new Conflict.NotFound({ entity }))
  })

/** The realm and the user the path names (404 `not_found` for either). */
const realmAndUser = Effect.gen(function*() {
  const realm = yield* realmParam
  const user = yield* UserAdmin.find(realm, yield* pathId("sub", "user"))
  return { realm, user }
})

/** How long one front-channel logout request may take, and all of them together (ADR 0031). */
const frontChannelTimeout = Duration.seconds(3)
const frontChannelBudget = Duration.seconds(5)

/**
 * ADR 0031: OIDC Front-Channel Logout 1.0 §2-3 has the browser load each client's `frontchannel_logout_uri`; an admin
 * call has no browser, so Tessera GETs each URI itself, with `iss` and `sid` (as the signed-out page's iframes carry
 * them), after the commit, through the Fetcher (public addresses only, no redirects, bounded), within a time budget.
 * A failure is logged and never fails the admin call: the session has already ended.
 */
const frontChannelLogout = (realm: Realm.Realm, ended: ReadonlyArray<Session.Session>) =>
  Effect.gen(function*() {
    if (ended.length === 0) return
    const config = yield* AppConfig
    const issuer = yield* Issuer.of(realm.name)
    const urls: Array<string> = []
    for (const session of ended) {
      for (const clientId of session.clientIds) {
        const client = yield* ClientLookup.find(realm, clientId).pipe(Effect.orElseSucceed(() => Option.none()))
        const uri = Option.getOrUndefined(client)?.metadata.frontchannelLogoutUri
        if (uri !== undefined) urls.push(withQuery(uri, [["iss", issuer], ["sid", session.sid]]))
      }
    }
    const options: Fetcher.Options = {
      timeout: frontChannelTimeout,
      maxBytes: 64 * 1024,
      // a client's URI is the client's to choose: never an internal address (the dev flag adds loopback, as for documents)
      addresses: config.devInsecureCimd ? "public_or_loopback" : "public",
      allowHttp: config.devInsecureCimd,
      accept: "text/html"
    }
    yield* Effect.forEach(urls, (url) =>
      Fetcher.get(url, options).pipe(
        Effect.zipRight(Effect.logInfo("front-channel logout sent", new URL(url).origin)),
        Effect.catchAll((e) => Effect.logWarning("front-channel logout failed", new URL(url).origin, e.reason, e.detail ?? ""))
      ), { concurrency: 8, discard: true }).pipe(
        Effect.timeout(frontChannelBudget),
        Effect.catchAll(() => Effect.logWarning("front-channel logout ran out of time", realm.name))
      )
  })

const noContent = HttpServerResponse.empty({ status: 204, headers: { "cache-control": "no-store" } })

const createUser = admin(Effect.gen(function*() {
  const realm = yield* realmParam
  const input = yield* decodeBody(Admin.CreateUser)
  const user = yield* Provisioning.createUser(realm.name, input, yield* Caller.actor)
  return json({ sub: user.sub, username: user.username }, 201)
}))

const listUsers = admin(Effect.gen(function*() {
  const realm = yield* realmParam
  const { query, window } = yield* Listing.query(Admin.UsersQuery)
  const rows = yield* UserAdmin.list(realm, query.q, window)
  const { items, ...next } = Listing.page(rows, window, Users.sortKey)
  return json({ users: items.map(userItem), ...next })
}))

const getUser = admin(Effect.gen(function*() {
  const { user } = yield* realmAndUser
  return yield* ETag.answer(userItem(user), tagOf(user))
}))

/** What PATCH refuses: a password has its own call (which ends sessions); a username and a sub are identities. */
const unchangeable = {
  password: "'password' is set with PUT .../password",
  username: "'username' cannot be changed",
  sub: "'sub' cannot be changed"
}

const patchUser = admin(Effect.gen(function*() {
  const { realm, user } = yield* realmAndUser
  const body = yield* jsonBody
  // a field PATCH cannot change is refused, not ignored: an operator must not believe a password was reset
  for (const [field, why] of Object.entries(unchangeable)) {
    if (field in body) return yield* ErrorResponse.invalidRequest(why)
  }
  const change = yield* fromEither(Body.decode(Admin.UpdateUser)(body))
  yield* ETag.precondition(tagOf(user))
  const changed = yield* UserAdmin.update(realm, user, change, yield* Caller.actor)
  yield* frontChannelLogout(realm, changed.ended)
  return json(userItem(changed.user), 200, ETag.header(tagOf(changed.user)))
}))

const deleteUser = destructive(Effect.gen(function*() {
  const { realm, user } = yield* realmAndUser
  yield* ETag.precondition(tagOf(user))
  const ended = yield* UserAdmin.remove(realm, user, yield* Caller.actor)
  yield* frontChannelLogout(realm, ended)
  return noContent
}))

const setPassword = admin(Effect.gen(function*() {
  const { realm, user } = yield* realmAndUser
  const { password } = yield* decodeBody(Admin.SetPassword)
  yield* ETag.precondition(tagOf(user))
  const changed = yield* UserAdmin.setPassword(realm, user, password, yield* Caller.actor)
  yield* frontChannelLogout(realm, changed.ended)
  return noContent
}))

const listSessions = admin(Effect.gen(function*() {
  const realm = yield* realmParam
  const sub = yield* pathId("sub", "user")
  const { window } = yield* Listing.query(Admin.ListQuery)
  const rows = yield* UserAdmin.sessions(realm, sub, window)
  const { items, ...next } = Listing.page(rows, window, Sessions.sortKey)
  return json({ sessions: items.map(sessionItem), ...next })
}))

const endSession = destructive(Effect.gen(function*() {
  const realm = yield* realmParam
  const sub = yield* pathId("sub", "user")
  const session = yield* UserAdmin.endSession(realm, sub, yield* pathId("sid", "session"), yield* Caller.actor)
  yield* frontChannelLogout(realm, [session])
  return noContent
}))

const listGrants = admin(Effect.gen(function*() {
  const realm = yield* realmParam
  const sub = yield* pathId("sub", "user")
  const { window } = yield* Listing.query(Admin.ListQuery)
  const rows = yield* UserAdmin.grants(realm, sub, window)
  const { items, ...next } = Listing.page(rows, window, Grants.sortKey)
  return json({ grants: items.map(grantItem), ...next })
}))

const revokeGrant = destructive(Effect.gen(function*() {
  const realm = yield* realmParam
  const sub = yield* pathId("sub", "user")
  yield* UserAdmin.revokeGrant(realm, sub, yield* pathId("grant_id", "grant"), yield* Caller.actor)
  return noContent
}))

export const routes = [
  HttpLayerRouter.route("POST", "/admin/realms/:realm/users", createUser),
  HttpLayerRouter.route("GET", "/admin/realms/:realm/users", listUsers),
  HttpLayerRouter.route("GET", "/admin/realms/:realm/users/:sub", getUser),
  HttpLayerRouter.route("PATCH", "/admin/realms/:realm/users/:sub", patchUser),
  HttpLayerRouter.route("DELETE", "/admin/realms/:realm/users/:sub", deleteUser),
  HttpLayerRouter.route("PUT", "/admin/realms/:realm/users/:sub/password", setPassword),
  HttpLayerRouter.route("GET", "/admin/realms/:realm/users/:sub/sessions", listSessions),
  HttpLayerRouter.route("DELETE", "/admin/realms/:realm/users/:sub/sessions/:sid", endSession),
  HttpLayerRouter.route("GET", "/admin/realms/:realm/users/:sub/grants", listGrants),
  HttpLayerRouter.route("DELETE", "/admin/realms/:realm/users/:sub/grants/:grant_id", revokeGrant)
] as const
