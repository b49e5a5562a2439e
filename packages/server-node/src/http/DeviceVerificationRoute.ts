/**
 * The device verification page, GET and POST `{issuer}/device` (CONTRACT §4, RFC 8628 §3.3): the person enters the
 * user code (filled in from `verification_uri_complete`, never submitted for them, §5.4), then signs in and consents
 * with the sign-in flow's own forms. Wrong codes are throttled per client address, never per realm (§5.1, ADR 0027),
 * and logged.
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { DateTime, Effect, Either, Option } from "effect"
import { Authorize, DeviceFlow, Endpoints, Entropy, Hash, Session, Users } from "@tessera/domain"
import type { DeviceAuthorization, Interactions, Realm } from "@tessera/domain"
import { Form } from "@tessera/protocol"
import * as DevicePage from "../pages/DevicePage.js"
import * as FormBody from "./FormBody.js"
import { fromEither } from "./Respond.js"
import * as SignInCookies from "./SignInCookies.js"
import * as SignInFlow from "./SignInFlow.js"
import * as RequestContext from "./RequestContext.js"

type Shown = Omit<DevicePage.Input, "realmDisplayName" | "csrf" | "action">

/** The entry form carrying `csrf`, the token this browser's device cookie holds (double submit). */
const entryPage = (realm: Realm.Realm, issuer: string, csrf: string, input: Shown) =>
  DevicePage.enter({ ...input, realmDisplayName: realm.displayName ?? realm.name, csrf, action: Endpoints.deviceVerification(issuer) })

/** The entry form with a fresh CSRF token, and the device cookie that binds it to this browser. */
const freshEntryForm = (realm: Realm.Realm, issuer: string, input: Shown) =>
  Effect.flatMap(Entropy.token(32), (csrf) => SignInCookies.setDevice(realm.name, csrf)(entryPage(realm, issuer, csrf, input)))

/** GET: the form, with `user_code` from the query filled in when it is there (`verification_uri_complete`). */
const show = SignInFlow.pageRoute((realm, issuer) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const q = request.url.indexOf("?")
    const params = yield* fromEither(Form.parseQuery(q === -1 ? "" : request.url.slice(q + 1)))
    const typed = Either.getOrUndefined(Form.single(params, "user_code"))
    // only something that can be a code is echoed back into the form; anything else leaves it empty
    const userCode = typed !== undefined && typed.length <= 32 && /^[A-Za-z -]+$/.test(typed) ? typed : undefined
    return yield* freshEntryForm(realm, issuer, { userCode, prefilled: userCode !== undefined })
  }))

/** Why a code was refused, for the form (the log keeps the reason). */
const problemOf = (e: DeviceAuthorization.UserCodeRejected): DevicePage.Problem =>
  e.reason === "throttled" ? DevicePage.throttled(e.retryAfterSeconds ?? 1) : DevicePage.invalidCode

/**
 * POST: the code is checked (throttled), then the request it names becomes an interaction of the sign-in flow: the
 * login form when the person must sign in (no session, or a step-up scope: CONTRACT §5), else the consent page at once.
 */
const submit = SignInFlow.pageRoute((realm, issuer) =>
  Effect.gen(function*() {
    const params = yield* FormBody.params
    const csrf = yield* SignInFlow.field(params, "csrf")
    const cookie = SignInCookies.readDevice(yield* HttpServerRequest.HttpServerRequest)
    const typed = (yield* SignInFlow.field(params, "user_code")) ?? ""
    // what was typed goes back into the field to be corrected: printable ASCII of a code's length only
    const echo = /^[\x20-\x7E]{0,32}$/.test(typed) ? typed : undefined
    // the form must come from this browser's own page (login CSRF, RFC 9700 §4.4.1.8)
    if (csrf === undefined || cookie === undefined || !Hash.constantTimeEqual(csrf, cookie)) {
      return yield* freshEntryForm(realm, issuer, { userCode: echo, error: DevicePage.formExpired })
    }
    const context = yield* RequestContext.current
    const found = yield* DeviceFlow.find({ realm, typed, ip: context.ip }).pipe(
      Effect.map(Either.right),
      Effect.catchTag("UserCodeRejected", (e) => Effect.succeed(Either.left(e)))
    )
    if (Either.isLeft(found)) {
      yield* Effect.logWarning("device verification refused").pipe(
        Effect.annotateLogs({ realm: realm.name, reason: found.left.reason, ip: context.ip ?? "unknown" })
      )
      // the same form again: its token still matches this browser's cookie
      return entryPage(realm, issuer, csrf, { userCode: echo, error: problemOf(found.left) })
    }
    const device = found.right
    const client = yield* SignInFlow.clientOf(realm, device.clientId)
    const request: Interactions.Request = {
      clientId: client.clientId,
      // no redirect: the decision goes to the device authorization
      redirectUri: "",
      redirectUriGiven: false,
      scopes: device.scopes,
      resources: device.resources,
      codeChallenge: "",
      responseMode: "query",
      // RFC 8628 §5.4: the person always confirms on the consent page, whatever they allowed this client before
      prompt: ["consent"],
      acrValues: [],
      stepUp: device.stepUp,
      device: { deviceCodeHash: device.deviceCodeHash, userCode: device.userCode }
    }
    const session = yield* SignInFlow.currentSession(realm)
    const now = yield* DateTime.now
    const login = Authorize.needsLogin(session, request, now)
    const forms = yield* SignInFlow.begin(realm, issuer, client, request, login ? undefined : Option.getOrUndefined(session)?.sid)
    const cookieOf = SignInCookies.setInteraction(realm.name, forms.interactionId, forms.csrf)
    if (!login && Option.isSome(session)) return yield* Effect.flatMap(SignInFlow.consentPage(forms, session.value), cookieOf)
    // someone is signed in but a step-up scope asks them to confirm it's them
    const active = Option.filter(session, (s) => Session.isActive(s, now))
    const username = Option.isSome(active)
      ? Option.getOrUndefined(yield* Effect.flatMap(Users.Users, (u) => u.find(realm.id, active.value.sub)))?.username
      : undefined
    return yield* cookieOf(SignInFlow.loginPage(forms, { username, stepUp: Option.isSome(active) }))
  }))

export const Routes = HttpLayerRouter.addAll([
  HttpLayerRouter.route("GET", "/realms/:realm/device", show),
  HttpLayerRouter.route("POST", "/realms/:realm/device", submit)
])
