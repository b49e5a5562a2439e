/**
 * The device authorization grant (RFC 8628): DESIGN's "device authorization" flow, Pending -> Approved / Denied ->
 * Redeemed, with Expired reached by time. Every transition here is pure; the store makes each one atomic
 * (compare-and-set on `version`), so two racing polls can never both redeem.
 */
import { Data, DateTime, Duration, Either, Schema } from "effect"
import { optional } from "./Fields.js"

/** RFC 8628 §3.2 `expires_in`: how long the device code and the user code live. */
export const lifetime = Duration.minutes(10)

/** RFC 8628 §3.2 `interval`, in seconds: CONTRACT §5 says at most 5. */
export const initialInterval = 5

/** RFC 8628 §3.5 slow_down: "the interval MUST be increased by 5 seconds for this and all subsequent requests". */
export const slowDownSeconds = 5

/** What the device asked for, and where it stands. Shared by every state. */
interface Common {
  readonly realmId: string
  /** base64url(SHA-256) of the device code: the code itself is never stored (DESIGN "Data and isolation"). */
  readonly deviceCodeHash: string
  /** The user code, normalized (`UserCode.normalize`): 8 letters of `UserCode.alphabet`, no dash. */
  readonly userCode: string
  readonly clientId: string
  /** RFC 6749 §3.3 / RFC 8707 §2: the scopes and resources the request may have, checked as at authorize. */
  readonly scopes: ReadonlyArray<string>
  readonly resources: ReadonlyArray<string>
  /** CONTRACT §5 "Step-up": a step-up scope was asked, so the person signs in again whatever their session says. */
  readonly stepUp: boolean
  /** RFC 8628 §3.2 `interval` in seconds, grown by every slow_down (§3.5). */
  readonly interval: number
  /** The last poll, if any: the next one must wait `interval` seconds after it. */
  readonly lastPolledAt?: DateTime.Utc
  readonly createdAt: DateTime.Utc
  readonly expiresAt: DateTime.Utc
  /** Bumped by every transition: the store writes a state only over the version it was computed from. */
  readonly version: number
}

export type DeviceAuthorization = Data.TaggedEnum<{
  Pending: Common
  /** The person approved on the verification page; `grantId` names the grant the tokens will come from. */
  Approved: Common & { readonly sub: string; readonly grantId: string }
  Denied: Common & { readonly sub: string }
  /** The device got its tokens: the device code is spent. */
  Redeemed: Common & { readonly sub: string; readonly grantId: string }
}>
export const DeviceAuthorization = Data.taggedEnum<DeviceAuthorization>()

const common = {
  realmId: Schema.String,
  deviceCodeHash: Schema.String,
  userCode: Schema.String,
  clientId: Schema.String,
  scopes: Schema.Array(Schema.String),
  resources: Schema.Array(Schema.String),
  stepUp: Schema.Boolean,
  interval: Schema.Number,
  lastPolledAt: optional(Schema.DateTimeUtcFromSelf),
  createdAt: Schema.DateTimeUtcFromSelf,
  expiresAt: Schema.DateTimeUtcFromSelf,
  version: Schema.Number
}

/**
 * A device authorization in any state, as a schema (issue 18, ADR 0053): what the store decodes its rows into.
 * Decoded values are plain objects of the same shape as `DeviceAuthorization`'s constructors make.
 */
export const schema: Schema.Schema<DeviceAuthorization> = Schema.Union(
  Schema.TaggedStruct("Pending", common),
  Schema.TaggedStruct("Approved", { ...common, sub: Schema.String, grantId: Schema.String }),
  Schema.TaggedStruct("Denied", { ...common, sub: Schema.String }),
  Schema.TaggedStruct("Redeemed", { ...common, sub: Schema.String, grantId: Schema.String })
)

export type Pending = Extract<DeviceAuthorization, { readonly _tag: "Pending" }>

/** Whether the device code still lives at `now` (RFC 8628 §3.2 `expires_in`). */
export const isLive = (device: DeviceAuthorization, now: DateTime.Utc) => DateTime.lessThan(now, device.expiresAt)

/**
 * The token endpoint refuses the device code (RFC 8628 §3.5): `expired` is expired_token, `denied` access_denied,
 * the rest invalid_grant (RFC 6749 §5.2: unknown, already redeemed, or issued to another client).
 */
export class DeviceCodeRejected extends Data.TaggedError("DeviceCodeRejected")<{
  readonly reason: "unknown" | "replayed" | "client_mismatch" | "expired" | "denied"
}> {}

/** RFC 8628 §3.5: the person has not decided yet: authorization_pending, or slow_down when polled too soon. */
export class AuthorizationPending extends Data.TaggedError("AuthorizationPending")<{
  readonly slowDown: boolean
  /** The interval now in force, in seconds. */
  readonly interval: number
}> {}

/**
 * The verification page refuses a user code: not the shape of one, no such code, its time is up, it was already
 * approved or denied, or too many wrong codes were entered (RFC 8628 §5.1).
 */
export class UserCodeRejected extends Data.TaggedError("UserCodeRejected")<{
  readonly reason: "malformed" | "unknown" | "expired" | "decided" | "throttled"
  /** Set when `throttled`. */
  readonly retryAfterSeconds?: number
}> {}

const bump = <A extends DeviceAuthorization>(device: A) => device.version + 1

/**
 * Pure: a poll by `clientId` at `now` (RFC 8628 §3.4-3.5), as the next state to write.
 * - another client's code, or one already redeemed: invalid_grant;
 * - past `expires_in`, whatever the person did: expired_token (the session has concluded);
 * - denied: access_denied;
 * - approved: Redeemed, and the tokens are issued once that is written;
 * - pending: authorization_pending, or slow_down when this poll comes sooner than `interval` seconds after the
 *   previous one; either way the poll's time is recorded, and slow_down adds 5 s to the interval for good.
 */
export const poll = (device: DeviceAuthorization, clientId: string, now: DateTime.Utc): Either.Either<DeviceAuthorization, DeviceCodeRejected> => {
  // RFC 8628 §3.4: the device code was issued to this client
  if (device.clientId !== clientId) return Either.left(new DeviceCodeRejected({ reason: "client_mismatch" }))
  if (device._tag === "Redeemed") return Either.left(new DeviceCodeRejected({ reason: "replayed" }))
  // RFC 8628 §3.5 expired_token: "the device_code has expired, and the device authorization session has concluded"
  if (!isLive(device, now)) return Either.left(new DeviceCodeRejected({ reason: "expired" }))
  switch (device._tag) {
    case "Denied":
      // RFC 8628 §3.5 access_denied: "the authorization request was denied"
      return Either.left(new DeviceCodeRejected({ reason: "denied" }))
    case "Approved":
      return Either.right(DeviceAuthorization.Redeemed({ ...device, lastPolledAt: now, version: bump(device) }))
    case "Pending": {
      // RFC 8628 §3.5: a client polling sooner than `interval` after its previous poll is told to slow down
      const tooSoon = device.lastPolledAt !== undefined &&
        DateTime.toEpochMillis(now) - DateTime.toEpochMillis(device.lastPolledAt) < device.interval * 1000
      return Either.right(DeviceAuthorization.Pending({
        ...device,
        interval: tooSoon ? device.interval + slowDownSeconds : device.interval,
        lastPolledAt: now,
        version: bump(device)
      }))
    }
  }
}

/** Pure: what the device is told once a poll's next state is written: tokens, slow_down (the interval grew), or pending. */
export const outcomeOf = (before: DeviceAuthorization, next: DeviceAuthorization): "redeem" | "slow_down" | "pending" =>
  next._tag === "Redeemed" ? "redeem" : next.interval > before.interval ? "slow_down" : "pending"

/** Pure: whether the person may still decide on this request at `now` (verification page, RFC 8628 §3.3). */
export const decidable = (device: DeviceAuthorization, now: DateTime.Utc): Either.Either<Pending, UserCodeRejected> => {
  if (device._tag !== "Pending") return Either.left(new UserCodeRejected({ reason: "decided" }))
  if (!isLive(device, now)) return Either.left(new UserCodeRejected({ reason: "expired" }))
  return Either.right(device)
}

/** Pure: the person approves (RFC 8628 §3.3), as `sub`, with the grant the tokens will stem from. */
export const approve = (device: DeviceAuthorization, input: { readonly sub: string; readonly grantId: string }, now: DateTime.Utc) =>
  Either.map(decidable(device, now), (pending) =>
    DeviceAuthorization.Approved({ ...pending, sub: input.sub, grantId: input.grantId, version: bump(pending) }))

/** Pure: the person denies (RFC 8628 §3.3): the device is told access_denied. */
export const deny = (device: DeviceAuthorization, input: { readonly sub: string }, now: DateTime.Utc) =>
  Either.map(decidable(device, now), (pending) => DeviceAuthorization.Denied({ ...pending, sub: input.sub, version: bump(pending) }))
