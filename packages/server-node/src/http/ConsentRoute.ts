/**
 * The consent form (CONTRACT §4, OAuth 2.1 §4.1.2 and §4.1.2.1): GET `{issuer}/consent?interaction=<id>` shows it
 * after the login form; its POST with `decision=allow` remembers the consent and sends the code, `decision=deny`
 * sends `access_denied`. The interaction is used once: a replayed form is the error page. For a device (RFC 8628 §3.3)
 * the decision goes to its device authorization instead, and the page says it is done.
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { DateTime, Effect, Option } from "effect"
import { Authorize, DeviceFlow, Hash, Interactions } from "@tessera/domain"
import type { Client, DeviceAuthorization, Realm, Session } from "@tessera/domain"
import { ErrorResponse, Form } from "@tessera/protocol"
import * as DevicePage from "../pages/DevicePage.js"
import * as AuthorizationResponse from "./AuthorizationResponse.js"
import * as FormBody from "./FormBody.js"
import { fromEither } from "./Respond.js"
import * as SignInCookies from "./SignInCookies.js"
import * as SignInFlow from "./SignInFlow.js"
import * as RequestContext from "./RequestContext.js"

const consent = SignInFlow.pageRoute((realm, issuer) =>
  Effect.gen(function*() {
    const params = yield* FormBody.params
    const { interaction } = yield* SignInFlow.verifiedInteraction(realm, params)
    const decision = yield* SignInFlow.field(params, "decision")
    if (decision !== "allow" && decision !== "deny") return yield* SignInFlow.refuse("The form must say allow or deny.")
    // the consent form is shown only to someone signed in; their session must still be there
    const session = yield* SignInFlow.sessionOf(realm, interaction)
    const signedIn = yield* SignInFlow.allowed(Interactions.authenticated(interaction, yield* DateTime.now))
    const request = interaction.request
    const client = yield* SignInFlow.clientOf(realm, request.clientId)
    const context = yield* RequestContext.current
    const forms = { realm, issuer, client, request }
    if (decision === "allow" && request.device === undefined) {
      const response = yield* SignInFlow.allow(forms, signedIn, session, Authorize.grantConsent({ realm, session, request, context }))
      return yield* SignInCookies.clearInteraction(realm.name, interaction.id)(response)
    }
    // ADR 0035: a device is never approved for someone who may not be given what it asked
    const refused = decision === "allow" ? yield* SignInFlow.refusedPerson(forms, session) : Option.none()
    const now = yield* DateTime.now
    // single use: of two racing submissions one decides the interaction, the other gets the error page
    const approves = decision === "allow" && Option.isNone(refused)
    yield* SignInFlow.advance<Interactions.Interaction>(approves ? Interactions.consent(signedIn, now) : Interactions.deny(signedIn, now))
    if (Option.isSome(refused)) return yield* SignInCookies.clearInteraction(realm.name, interaction.id)(refused.value)
    if (request.device !== undefined) {
      const response = yield* decideDevice({ realm, client, session, request, device: request.device, allow: decision === "allow", context })
      return yield* SignInCookies.clearInteraction(realm.name, interaction.id)(response)
    }
    const response = yield* Authorize.denyConsent({ realm, session, request, context }).pipe(
      // OAuth 2.1 §4.1.2.1: access_denied, "the resource owner ... denied the request"; RFC 9700 §4.11.2 (attack
      // 2): a person who refused a client nobody here has approved is not sent to it regardless (ADR 0026)
      Effect.zipRight(AuthorizationResponse.errorToClient(
        client,
        SignInFlow.target(client, request),
        issuer,
        ErrorResponse.make("access_denied", "the person denied the request")
      ))
    )
    return yield* SignInCookies.clearInteraction(realm.name, interaction.id)(response)
  }))

/**
 * RFC 8628 §3.3: the person's decision on a device. Approval is written with `device.approved` (and the consent
 * remembered as at authorize); denial with `consent.denied`. A code that expired or was decided meanwhile is the
 * error page.
 */
const decideDevice = (input: {
  readonly realm: Realm.Realm
  readonly client: Client.Client
  readonly session: Session.Session
  readonly request: Interactions.Request
  readonly device: Interactions.DeviceRef
  readonly allow: boolean
  readonly context: Authorize.RequestContext
}) => {
  const { realm, session, request, context } = input
  const decision = { realm, session, deviceCodeHash: input.device.deviceCodeHash, context }
  return (input.allow
    ? DeviceFlow.approve(decision).pipe(Effect.zipRight(Authorize.grantConsent({ realm, session, request, context })))
    : DeviceFlow.deny(decision)).pipe(
      Effect.as(DevicePage.done({
        realmDisplayName: realm.displayName ?? realm.name,
        clientName: SignInFlow.clientName(input.client),
        approved: input.allow
      })),
      Effect.catchTag("UserCodeRejected", (e: DeviceAuthorization.UserCodeRejected) =>
        e.reason === "expired"
          ? SignInFlow.refuse("This code has expired. Start again on your device.", "expired_token")
          : SignInFlow.refuse("This code was already used. Start again on your device."))
    )
}

/**
 * GET `{issuer}/consent?interaction=<id>`: the consent form after a successful login (POST/redirect/GET). Only the
 * browser that started the interaction has its cookie, whose value is the CSRF token the form carries.
 */
const show = SignInFlow.pageRoute((realm, issuer) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const q = request.url.indexOf("?")
    const params = yield* fromEither(Form.parseQuery(q === -1 ? "" : request.url.slice(q + 1)))
    const interaction = yield* SignInFlow.liveInteraction(realm, yield* SignInFlow.field(params, "interaction"))
    const csrf = SignInCookies.readInteraction(request, interaction.id)
    if (csrf === undefined || !Hash.constantTimeEqual(yield* Hash.sha256(csrf), interaction.csrfHash)) {
      return yield* SignInFlow.otherBrowser()
    }
    const session = yield* SignInFlow.sessionOf(realm, interaction)
    const client = yield* SignInFlow.clientOf(realm, interaction.request.clientId)
    return yield* SignInFlow.consentPage(
      { realm, issuer, client, interactionId: interaction.id, csrf, request: interaction.request },
      session
    )
  }))

export const Routes = HttpLayerRouter.addAll([
  HttpLayerRouter.route("GET", "/realms/:realm/consent", show),
  HttpLayerRouter.route("POST", "/realms/:realm/consent", consent)
])
