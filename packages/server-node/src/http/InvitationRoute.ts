/**
 * The invitation page, GET and POST `{issuer}/invitations/<secret>` (CONTRACT §4, issue 14, ADR 0037): the form,
 * bound to the browser that loaded it by a double-submit CSRF cookie (as the device form), and acceptance: the user
 * with the invitation's role and email, once. Used, revoked or expired: 410; unknown: 404; bad input: the form again
 * (400, or 409 for a taken username), the invitation still pending.
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect, Either } from "effect"
import { Entropy, Hash, InvitationAdmin } from "@tessera/domain"
import type { Invitation, Realm } from "@tessera/domain"
import { Admin, Body, ErrorResponse, Form } from "@tessera/protocol"
import { AppConfig } from "../AppConfig.js"
import * as InvitationPage from "../pages/InvitationPage.js"
import * as FormBody from "./FormBody.js"
import * as SignInFlow from "./SignInFlow.js"

/** The form's CSRF cookie: scoped to the realm's invitation pages, HttpOnly, SameSite=Lax, Secure over https. */
const cookieName = "tessera_invitation"

const setCsrf = (realmName: string, csrf: string) => (response: HttpServerResponse.HttpServerResponse) =>
  Effect.map(AppConfig, (config) =>
    HttpServerResponse.unsafeSetCookie(response, cookieName, csrf, {
      path: `/realms/${realmName}/invitations`,
      httpOnly: true,
      sameSite: "lax",
      secure: config.publicUrl.startsWith("https:"),
      maxAge: "1 hour"
    }))

const displayName = (realm: Realm.Realm) => realm.displayName ?? realm.name

/** The invitation the path's secret names, or the page that answers instead (404 unknown, 410 no longer usable). */
const invitationOf = (realm: Realm.Realm) =>
  Effect.gen(function*() {
    const secret = (yield* HttpRouter.params)["secret"] ?? ""
    return yield* InvitationAdmin.findBySecret(realm, secret).pipe(
      Effect.map(Either.right),
      Effect.catchTag("NotFound", () => Effect.succeed(Either.left(InvitationPage.unknown())))
    )
  })

/** The form again after bad input, with the token this browser's cookie already holds. */
const formAgain = (realm: Realm.Realm, invitation: Invitation.Invitation, csrf: string, shown: Partial<InvitationPage.FormInput>) =>
  Effect.succeed(InvitationPage.form({ realmDisplayName: displayName(realm), role: invitation.role, csrf, ...shown }))

/** The form with a fresh CSRF token and the cookie that binds it to this browser. */
const freshForm = (realm: Realm.Realm, invitation: Invitation.Invitation, shown: Partial<InvitationPage.FormInput> = {}) =>
  Effect.flatMap(Entropy.token(32), (csrf) =>
    setCsrf(realm.name, csrf)(InvitationPage.form({ realmDisplayName: displayName(realm), role: invitation.role, csrf, ...shown })))

const show = SignInFlow.pageRoute((realm) =>
  Effect.gen(function*() {
    const found = yield* invitationOf(realm)
    if (Either.isLeft(found)) return found.left
    const invitation = found.right
    const refused = InvitationAdmin.usable(invitation, yield* Effect.clockWith((c) => c.currentTimeMillis))
    if (refused !== undefined) return InvitationPage.gone(refused)
    return yield* freshForm(realm, invitation)
  }))

/** What the form says about a field the protocol refused: its fixed message, never the input. */
const problemOf = (e: ErrorResponse.ErrorResponse) => e.error_description ?? "The form could not be read."

/** The fields of the form, by the rules of admin user creation (`Admin.AcceptInvitation`), or the message to show. */
const fieldsOf = (params: Form.Params) => {
  const values: Record<string, string> = {}
  for (const name of ["username", "password", "name"] as const) {
    // CONTRACT §2: text no store can hold (a NUL) is bad input like any other
    if (Form.isUnstorable(params, name)) return Either.left(`'${name}' must not contain NUL characters`)
    const value = Form.single(params, name)
    if (Either.isLeft(value)) return Either.left(problemOf(value.left))
    // an empty optional field is what a browser sends for one left blank
    if (value.right !== undefined) values[name] = value.right
  }
  return Either.mapLeft(Body.decode(Admin.AcceptInvitation)(values), problemOf)
}

/** What was typed, to show again: printable text of a field's length only, never the password. */
const echo = (params: Form.Params | undefined, name: string, max: number) => {
  if (params === undefined) return undefined
  const value = Either.getOrUndefined(Form.single(params, name))
  return value !== undefined && value.length <= max && /^[^\p{Cc}]*$/u.test(value) ? value : undefined
}

const submit = SignInFlow.pageRoute((realm) =>
  Effect.gen(function*() {
    const found = yield* invitationOf(realm)
    if (Either.isLeft(found)) return found.left
    const invitation = found.right
    const now = yield* Effect.clockWith((c) => c.currentTimeMillis)
    const refused = InvitationAdmin.usable(invitation, now)
    if (refused !== undefined) return InvitationPage.gone(refused)
    // CONTRACT §2: a body over 64 KiB is 413, a body that is not a form (broken UTF-8, bad escapes) 400: the form again
    const read = yield* Effect.either(FormBody.params)
    if (Either.isLeft(read)) {
      return yield* freshForm(realm, invitation, {
        error: read.left.httpStatus === 413 ? "The form was too large." : "The form could not be read.",
        status: read.left.httpStatus === 413 ? 413 : 400
      })
    }
    const params = read.right
    const typed = { username: echo(params, "username", 255), name: echo(params, "name", 200) }
    // the form must come from a page this browser loaded (login CSRF, RFC 9700 §4.4.1.8)
    const csrf = Either.getOrUndefined(Form.single(params, "csrf"))
    const cookie = (yield* HttpServerRequest.HttpServerRequest).cookies[cookieName]
    if (csrf === undefined || cookie === undefined || !Hash.constantTimeEqual(csrf, cookie)) {
      return yield* freshForm(realm, invitation, { ...typed, error: "The form has expired. Submit it again.", status: 400 })
    }
    const fields = fieldsOf(params)
    if (Either.isLeft(fields)) return yield* formAgain(realm, invitation, csrf, { ...typed, error: fields.left, status: 400 })
    return yield* InvitationAdmin.accept(realm, invitation, fields.right).pipe(
      Effect.flatMap((user) =>
        Effect.gen(function*() {
          yield* Effect.logInfo("invitation accepted").pipe(Effect.annotateLogs({ realm: realm.name, invitation: invitation.id }))
          return yield* setCsrf(realm.name, "")(InvitationPage.accepted({ realmDisplayName: displayName(realm), username: user.username }))
        })),
      Effect.catchTags({
        InvitationRefused: (e) => Effect.succeed(InvitationPage.gone(e.reason)),
        // ADR 0037: a taken username is 409, the invitation still pending
        AlreadyExists: () =>
          formAgain(realm, invitation, csrf, { ...typed, error: "That username is taken. Choose another.", status: 409 }),
        NotFound: () => Effect.succeed(InvitationPage.unknown()),
        Stale: () => formAgain(realm, invitation, csrf, { ...typed, error: "The invitation changed meanwhile. Submit it again.", status: 409 })
      })
    )
  }))

export const Routes = HttpLayerRouter.addAll([
  HttpLayerRouter.route("GET", "/realms/:realm/invitations/:secret", show),
  HttpLayerRouter.route("POST", "/realms/:realm/invitations/:secret", submit)
])
