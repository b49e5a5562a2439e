/** The device authorization grant at the token endpoint (RFC 8628 §3.4-3.5): polling, and the tokens once approved. */
import { DateTime, Effect, Option } from "effect"
import type { Client } from "../Client.js"
import * as DeviceAuthorization from "../DeviceAuthorization.js"
import { DeviceAuthorizations } from "../DeviceAuthorizations.js"
import * as DeviceFlow from "../DeviceFlow.js"
import * as Hash from "../Hash.js"
import type { Realm } from "../Realm.js"
import { Grants } from "../Grants.js"
import type { RequestContext } from "../RequestContext.js"
import type * as Tokens from "../Tokens.js"
import * as TokenIssuance from "./TokenIssuance.js"
import * as Tracing from "../Tracing.js"

/** RFC 8628 §3.4: the grant type. */
export const grantType = "urn:ietf:params:oauth:grant-type:device_code"

export interface Command {
  readonly realm: Realm
  readonly issuer: string
  readonly client: Client
  readonly deviceCode: string
  /** RFC 8707 §2: which of the approved resources the access token is for (CONTRACT §5 without it). */
  readonly resource: string | undefined
  readonly context: RequestContext
  /** RFC 9449 §5: the key the request proved with a DPoP proof, or none; every access token minted is bound to it. */
  readonly dpopKey: Tokens.DpopKey
}

const unknown = () => new DeviceAuthorization.DeviceCodeRejected({ reason: "unknown" })

/**
 * One poll (RFC 8628 §3.4): the transition is written first (the poll's time, a grown interval, or Redeemed), so of two
 * racing polls of an approved code exactly one redeems it and gets the tokens; the other is told invalid_grant.
 */
export const handle = Effect.fnUntraced(function*(cmd: Command) {
  const now = yield* DateTime.now
  const deviceCodeHash = yield* Hash.sha256(cmd.deviceCode)
  // RFC 8707 §2: an audience the approved grant cannot give is refused before the code is spent, so the device may
  // ask again with another `resource`
  const current = Option.getOrUndefined(yield* Effect.flatMap(DeviceAuthorizations, (store) => store.find(cmd.realm.id, deviceCodeHash)))
  if (current?._tag === "Approved" && current.clientId === cmd.client.clientId) {
    const approved = yield* Effect.flatMap(Grants, (grants) => grants.find(cmd.realm.id, current.grantId))
    if (Option.isSome(approved)) yield* TokenIssuance.choiceFor({ ...cmd, grant: approved.value })
  }
  const { before, next } = yield* DeviceFlow.transition(
    cmd.realm.id,
    deviceCodeHash,
    unknown,
    (device) => DeviceAuthorization.poll(device, cmd.client.clientId, now),
    undefined
  )
  const outcome = DeviceAuthorization.outcomeOf(before, next)
  // RFC 8628 §3.5: authorization_pending, or slow_down with the interval now 5 s longer
  if (outcome !== "redeem" || next._tag !== "Redeemed") {
    return yield* new DeviceAuthorization.AuthorizationPending({ slowDown: outcome === "slow_down", interval: next.interval })
  }
  const grant = yield* Effect.flatMap(Grants, (grants) => grants.find(cmd.realm.id, next.grantId))
  if (Option.isNone(grant) || grant.value.revokedAt !== undefined) return yield* unknown()
  return yield* TokenIssuance.fromGrant({ ...cmd, grant: grant.value, grantType })
}, Tracing.span("DeviceCodeGrant.handle"))
