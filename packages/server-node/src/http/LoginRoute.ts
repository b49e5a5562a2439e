/**
 * The login form's POST `{issuer}/login` (CONTRACT §4, issue 4 items 2-3): CSRF bound to the interaction and the
 * browser, throttling with `Retry-After`, argon2id in constant time, audit; on success the session cookie and a 303
 * to the consent form (or the code, when consent is already remembered). A failure shows the form again.
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import { DateTime, Effect } from "effect"
import { Interactions, Login } from "@tessera/domain"
import { Form } from "@tessera/protocol"
import * as LoginPage from "../pages/LoginPage.js"
import * as FormBody from "./FormBody.js"
import * as SignInCookies from "./SignInCookies.js"
import * as SignInFlow from "./SignInFlow.js"
import * as RequestContext from "./RequestContext.js"

const login = SignInFlow.pageRoute((realm, issuer) =>
  Effect.gen(function*() {
    const params = yield* FormBody.params
    const { interaction, csrf } = yield* SignInFlow.verifiedInteraction(realm, params)
    const client = yield* SignInFlow.clientOf(realm, interaction.request.clientId)
    const forms: SignInFlow.Forms = { realm, issuer, client, interactionId: interaction.id, csrf, request: interaction.request }
    // a missing field is a failed attempt like any other: throttled, verified against the dummy hash, audited; so is
    // text no store can hold (CONTRACT §2: a NUL), which can be no one's username or password
    const credential = (name: string) => Form.isUnstorable(params, name) ? Effect.succeed(undefined) : SignInFlow.field(params, name)
    const username = (yield* credential("username")) ?? ""
    const password = (yield* credential("password")) ?? ""
    const context = yield* RequestContext.current

    return yield* Login.authenticate({
      realm,
      username,
      password,
      clientId: client.clientId,
      stepUp: interaction.request.stepUp,
      context
    }).pipe(
      Effect.matchEffect({
        onFailure: (e) =>
          e._tag === "LoginRejected"
            ? Effect.succeed(SignInFlow.loginPage(forms, {
              username,
              error: e.reason === "throttled" ? LoginPage.throttled(e.retryAfterSeconds ?? 1) : LoginPage.invalidCredentials
            }))
            : Effect.fail(e),
        onSuccess: (success) =>
          Effect.gen(function*() {
            const now = yield* DateTime.now
            const authenticated = yield* SignInFlow.advance(Interactions.authenticate(interaction, success.session.sid, now))
            const response = yield* SignInFlow.afterLogin(forms, authenticated, success.session)
            return yield* SignInCookies.setSession(realm.name, success.cookie)(response)
          })
      })
    )
  }))

export const Routes = HttpLayerRouter.addAll([
  HttpLayerRouter.route("POST", "/realms/:realm/login", login)
])
