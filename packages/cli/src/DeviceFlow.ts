/**
 * RFC 8628 as the device: the device authorization request (§3.1), the answer to show the person (§3.2-3.3), and
 * polling the token endpoint (§3.4-3.5) until the person approves, denies, or the code expires.
 */
import { Clock, Duration, Effect, Schema } from "effect"
import * as AuthServer from "./AuthServer.js"
import * as Output from "./Output.js"

export type { Answer } from "./AuthServer.js"

/** RFC 8628 §3.4: the device code grant's `grant_type`. */
export const grantType = "urn:ietf:params:oauth:grant-type:device_code"

/** RFC 8628 §3.2: the device authorization response (`verification_uri_complete` is optional there). */
export const Started = Schema.Struct({
  device_code: Schema.String,
  user_code: Schema.String,
  verification_uri: Schema.String,
  verification_uri_complete: Schema.optional(Schema.String),
  expires_in: Schema.Number,
  interval: Schema.optional(Schema.Number)
})
export type Started = typeof Started.Type

/** RFC 8628 §3.2: "If no value is provided, clients MUST use 5 as the default." */
const defaultInterval = 5

/** RFC 8628 §3.1: asks for a device code for `scope` at `resource` (RFC 8707), as `tessera-cli`. */
export const start = (metadata: AuthServer.Metadata, scope: string, resource: string) =>
  Effect.flatMap(
    AuthServer.postForm(metadata.device_authorization_endpoint, { scope, resource }),
    (answer) => AuthServer.expect(answer, Started, "the device authorization request")
  )

/** What the person is told (§3.3): where to go and which code to enter; the code alone is not a credential. */
export const instructions = (started: Started) =>
  [
    `To sign in, open ${Output.safe(started.verification_uri)} and enter the code ${Output.safe(started.user_code)}`,
    ...(started.verification_uri_complete !== undefined ? [`or open ${Output.safe(started.verification_uri_complete)}`] : []),
    "Waiting for approval..."
  ].join("\n")

/** Posts the poll; a parameter so the loop can be tested without a server. */
export type Send = (url: string, params: Readonly<Record<string, string>>) => Effect.Effect<AuthServer.Answer, AuthServer.SessionRefused>

/**
 * RFC 8628 §3.4-3.5: waits `interval` seconds, then polls; `authorization_pending` polls again, `slow_down` adds 5
 * seconds to the interval for this and every later poll (§3.5), anything else ends it: the tokens, or the refusal
 * (`access_denied`, `expired_token`, `invalid_grant`, ...). Gives up on its own once `expires_in` has passed.
 */
export const poll = (metadata: AuthServer.Metadata, started: Started, send: Send = AuthServer.postForm) =>
  Effect.gen(function*() {
    const deadline = (yield* Clock.currentTimeMillis) + started.expires_in * 1000
    let interval = Math.max(started.interval ?? defaultInterval, 1)
    while (true) {
      yield* Effect.sleep(Duration.seconds(interval))
      const answer = yield* send(metadata.token_endpoint, { grant_type: grantType, device_code: started.device_code })
      if (answer.status === 200) return yield* AuthServer.expect(answer, AuthServer.TokenResponse, "the token request")
      const refusal = AuthServer.refusalOf(answer, "the token request")
      if (refusal.error === "slow_down") interval += 5 // RFC 8628 §3.5
      else if (refusal.error !== "authorization_pending") return yield* refusal
      if ((yield* Clock.currentTimeMillis) + interval * 1000 > deadline) {
        return yield* new AuthServer.SessionRefused({ error: "expired_token", description: "the code expired before anyone approved it" })
      }
    }
  })
