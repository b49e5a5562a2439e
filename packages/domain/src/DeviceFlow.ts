/**
 * The device authorization grant's steps outside the token endpoint (RFC 8628 §3.1-3.3): starting a request, finding
 * it by the user code a person types (throttled, §5.1), and the person's approval or denial.
 */
import { DateTime, Duration, Effect, Either, Option } from "effect"
import type { AuditEvent } from "./AuditEvent.js"
import type { Access } from "./Authorize.js"
import * as Authorize from "./Authorize.js"
import type { Client } from "./Client.js"
import * as DeviceAuthorization from "./DeviceAuthorization.js"
import { DeviceAuthorizationChanged, DeviceAuthorizations } from "./DeviceAuthorizations.js"
import * as Entropy from "./Entropy.js"
import type { RequestContext } from "./RequestContext.js"
import * as Hash from "./Hash.js"
import type { Realm } from "./Realm.js"
import type { Session } from "./Session.js"
import { Grants } from "./Grants.js"
import { StoreError } from "./StoreError.js"
import * as UserCode from "./UserCode.js"
import { UserCodeThrottle } from "./UserCodeThrottle.js"
import * as Tracing from "./Tracing.js"

/** What the device authorization endpoint answers (RFC 8628 §3.2), before the URIs are added. */
export interface Started {
  /** 256 random bits, base64url: only its SHA-256 is stored. */
  readonly deviceCode: string
  /** Normalized; shown as `UserCode.format`. */
  readonly userCode: string
  readonly expiresIn: number
  readonly interval: number
}

/** A fresh user code collides with a stored one about once in 20^8 / (codes held): a few draws are plenty. */
const userCodeDraws = 5

/**
 * RFC 8628 §3.1-3.2: a new Pending request for what `access` allows the client (checked as at the authorization
 * endpoint), with a fresh device code and user code, for `DeviceAuthorization.lifetime`.
 */
export const start = Effect.fnUntraced(function*(input: { readonly realm: Realm; readonly client: Client; readonly access: Access }) {
  const store = yield* DeviceAuthorizations
  const now = yield* DateTime.now
  const deviceCode = yield* Entropy.token(32)
  const deviceCodeHash = yield* Hash.sha256(deviceCode)
  const insert = Effect.flatMap(UserCode.make, (userCode) =>
    Effect.as(
      store.insert(DeviceAuthorization.DeviceAuthorization.Pending({
        realmId: input.realm.id,
        deviceCodeHash,
        userCode,
        clientId: input.client.clientId,
        scopes: input.access.scopes,
        resources: input.access.resources,
        stepUp: input.access.stepUp,
        interval: DeviceAuthorization.initialInterval,
        createdAt: now,
        expiresAt: DateTime.addDuration(now, DeviceAuthorization.lifetime),
        version: 1
      })),
      userCode
    ))
  const userCode = yield* insert.pipe(
    Effect.retry({ times: userCodeDraws - 1, while: (e) => e._tag === "UserCodeTaken" }),
    Effect.catchTag("UserCodeTaken", (cause) => Effect.fail(new StoreError({ cause })))
  )
  return {
    deviceCode,
    userCode,
    expiresIn: Duration.toSeconds(DeviceAuthorization.lifetime),
    interval: DeviceAuthorization.initialInterval
  } satisfies Started
}, Tracing.span("DeviceFlow.start"))

/**
 * The Pending request a person's typed code names in this realm (RFC 8628 §3.3), if they may still decide on it.
 * §5.1: each code is reserved against the address before it is looked up (a refusal keeps the reservation as a
 * failure, a right code takes it back); while the address must wait, no code is looked up (ADR 0027).
 */
export const find = Effect.fnUntraced(function*(input: { readonly realm: Realm; readonly typed: string; readonly ip: string | undefined }) {
  const throttle = yield* UserCodeThrottle
  const now = yield* DateTime.now
  const verdict = yield* throttle.reserve(input.realm.id, input.ip, now)
  if (verdict._tag === "Throttled") {
    return yield* new DeviceAuthorization.UserCodeRejected({ reason: "throttled", retryAfterSeconds: verdict.retryAfterSeconds })
  }
  const code = UserCode.normalize(input.typed)
  const found = code === undefined
    ? Either.left(new DeviceAuthorization.UserCodeRejected({ reason: "malformed" }))
    : Option.match(yield* Effect.flatMap(DeviceAuthorizations, (s) => s.findByUserCode(input.realm.id, code)), {
      onNone: () => Either.left(new DeviceAuthorization.UserCodeRejected({ reason: "unknown" })),
      onSome: (device) => DeviceAuthorization.decidable(device, now)
    })
  if (Either.isLeft(found)) return yield* found.left
  yield* throttle.release(input.realm.id, input.ip, now)
  return found.right
}, Tracing.span("DeviceFlow.find"))

/** How many times a transition is decided again after losing its compare-and-set to a concurrent one. */
const attempts = 20

/**
 * Reads the authorization, decides the next state with `decide` (pure), and writes it with `event` over the version it
 * read. A lost compare-and-set (a concurrent poll or decision) decides again on what the winner wrote.
 */
export const transition = <E>(
  realmId: string,
  deviceCodeHash: string,
  unknown: () => E,
  decide: (device: DeviceAuthorization.DeviceAuthorization) => Either.Either<DeviceAuthorization.DeviceAuthorization, E>,
  event: AuditEvent | undefined
) =>
  Effect.gen(function*() {
    const store = yield* DeviceAuthorizations
    const found = yield* store.find(realmId, deviceCodeHash)
    if (Option.isNone(found)) return yield* Effect.fail(unknown())
    const next = yield* Either.match(decide(found.value), { onLeft: Effect.fail, onRight: Effect.succeed })
    yield* store.update(next, event)
    return { before: found.value, next }
  }).pipe(
    Effect.retry({ times: attempts - 1, while: (e) => e instanceof DeviceAuthorizationChanged }),
    // still losing after that many rounds: the store is overrun, and the caller may try again later
    Effect.catchIf((e): e is DeviceAuthorizationChanged => e instanceof DeviceAuthorizationChanged, (cause) => Effect.fail(new StoreError({ cause })))
  )

export interface Decision {
  readonly realm: Realm
  readonly session: Session
  readonly deviceCodeHash: string
  readonly context: RequestContext
}

const unknownCode = () => new DeviceAuthorization.UserCodeRejected({ reason: "unknown" })

/**
 * RFC 8628 §3.3: the person approves. Their grant (with the session's `auth_time`, `acr`, `amr`) is stored, then the
 * request becomes Approved together with its `device.approved` event (CONTRACT §7), in one transaction.
 */
export const approve = Effect.fnUntraced(function*(input: Decision) {
  const { realm, session } = input
  const now = yield* DateTime.now
  const device = yield* Effect.flatMap(DeviceAuthorizations, (s) => s.find(realm.id, input.deviceCodeHash))
  if (Option.isNone(device)) return yield* unknownCode()
  const pending = yield* Either.match(DeviceAuthorization.decidable(device.value, now), { onLeft: Effect.fail, onRight: Effect.succeed })
  const grant = yield* Authorize.grantFor({
    realm, session, clientId: pending.clientId, scopes: pending.scopes, resources: pending.resources
  })
  yield* Effect.flatMap(Grants, (grants) => grants.insert(grant, undefined))
  const event = yield* Authorize.decisionEvent({ realm, session, request: pending, context: input.context }, {
    type: "device.approved",
    result: "success"
  })
  yield* transition(realm.id, input.deviceCodeHash, unknownCode, (d) =>
    DeviceAuthorization.approve(d, { sub: session.sub, grantId: grant.grantId }, now), event)
}, Tracing.span("DeviceFlow.approve"))

/** RFC 8628 §3.3: the person denies; the request becomes Denied with its `consent.denied` event, in one transaction. */
export const deny = Effect.fnUntraced(function*(input: Decision) {
  const { realm, session } = input
  const now = yield* DateTime.now
  const device = yield* Effect.flatMap(DeviceAuthorizations, (s) => s.find(realm.id, input.deviceCodeHash))
  if (Option.isNone(device)) return yield* unknownCode()
  const event = yield* Authorize.consentDenied({ realm, session, request: device.value, context: input.context })
  yield* transition(realm.id, input.deviceCodeHash, unknownCode, (d) => DeviceAuthorization.deny(d, { sub: session.sub }, now), event)
}, Tracing.span("DeviceFlow.deny"))
