/** The signing-key lifecycle (DESIGN "signing key"): Next -> Active -> Retired -> Deleted, as pure transitions. */
import { Data, DateTime, Duration, Either, Option } from "effect"

/** ES256 signs access tokens; RS256 signs ID tokens (OIDC Core §15.1: RS256 is the default every RP supports). */
export type Alg = "ES256" | "RS256"
export const algs: ReadonlyArray<Alg> = ["ES256", "RS256"]

export type Status = "next" | "active" | "retired"

/** AES-256-GCM ciphertext of the private JWK, base64url. */
export interface Sealed {
  readonly iv: string
  readonly ciphertext: string
}

export interface SigningKey {
  readonly kid: string
  readonly alg: Alg
  readonly status: Status
  /** Public members only (RFC 7517 §4, RFC 7518 §6): what the JWKS shows. */
  readonly publicJwk: Readonly<Record<string, unknown>>
  readonly sealedPrivateJwk: Sealed
  readonly createdAt: DateTime.Utc
  /** next: when it will start signing; active: when it started. */
  readonly activatesAt: DateTime.Utc
  /** retired: when every token it signed has expired and it leaves the JWKS. */
  readonly expiresAt?: DateTime.Utc
}

export interface Ring {
  /** Bumped on every change, for compare-and-set in the store. */
  readonly version: number
  readonly keys: ReadonlyArray<SigningKey>
}

export interface Policy {
  /** How long a key signs before the scheduler rotates it. */
  readonly rotateEvery: Duration.Duration
  /** `Cache-Control: max-age` of the JWKS; a next key is published at least twice this long before it signs. */
  readonly jwksMaxAge: Duration.Duration
  /** The longest lifetime of any token a key signs: a retired key stays published this long. */
  readonly maxTokenLifetime: Duration.Duration
}

export const defaultPolicy: Policy = {
  rotateEvery: Duration.days(30),
  jwksMaxAge: Duration.minutes(10),
  maxTokenLifetime: Duration.hours(1)
}

export class PolicyInvalid extends Data.TaggedError("PolicyInvalid")<{ readonly reason: string }> {}

/** A next key must be published for at least 2 x the JWKS cache lifetime before it signs. */
export const checkPolicy = (policy: Policy): Either.Either<Policy, PolicyInvalid> =>
  Duration.lessThan(policy.rotateEvery, Duration.times(policy.jwksMaxAge, 2))
    ? Either.left(new PolicyInvalid({ reason: "the rotation interval must be at least twice the JWKS cache lifetime" }))
    : Either.right(policy)

export class RingBroken extends Data.TaggedError("RingBroken")<{ readonly reason: string }> {}

/** A freshly generated key pair, before it has a place in the lifecycle. */
export interface Fresh {
  readonly kid: string
  readonly alg: Alg
  readonly publicJwk: Readonly<Record<string, unknown>>
  readonly sealedPrivateJwk: Sealed
}

const asNext = (fresh: Fresh, now: DateTime.Utc, policy: Policy): SigningKey => ({
  ...fresh,
  status: "next",
  createdAt: now,
  activatesAt: DateTime.addDuration(now, policy.rotateEvery)
})

/** A new realm's ring: for each alg one active key (signing from now) and one next key. */
export const initial = (
  fresh: { readonly active: ReadonlyArray<Fresh>; readonly next: ReadonlyArray<Fresh> },
  now: DateTime.Utc,
  policy: Policy
): Ring => ({
  version: 1,
  keys: [
    ...fresh.active.map((f): SigningKey => ({ ...f, status: "active", createdAt: now, activatesAt: now })),
    ...fresh.next.map((f) => asNext(f, now, policy))
  ]
})

/** Retired keys whose every token has expired are gone (Retired -> Deleted). */
export const isLive = (key: SigningKey, now: DateTime.Utc) =>
  key.status !== "retired" || (key.expiresAt !== undefined && DateTime.greaterThan(key.expiresAt, now))

/** What the JWKS publishes: active, next, and retired keys that may still verify a token. */
export const published = (ring: Ring, now: DateTime.Utc) => ring.keys.filter((key) => isLive(key, now))

/** The scheduler rotates when some next key has reached its activation time. */
export const isDue = (ring: Ring, now: DateTime.Utc) =>
  ring.keys.some((key) => key.status === "next" && DateTime.lessThanOrEqualTo(key.activatesAt, now))

/** Some retired key is past its expiry and can be deleted. */
export const hasExpired = (ring: Ring, now: DateTime.Utc) => ring.keys.some((key) => !isLive(key, now))

/** The next moment this ring needs the scheduler: a next key's activation or a retired key's expiry. */
export const nextChange = (ring: Ring): Option.Option<DateTime.Utc> => {
  const moments = ring.keys.flatMap((key) =>
    key.status === "next" ? [key.activatesAt] : key.status === "retired" && key.expiresAt !== undefined ? [key.expiresAt] : []
  )
  return moments.reduce<Option.Option<DateTime.Utc>>(
    (earliest, at) => Option.isSome(earliest) && DateTime.lessThanOrEqualTo(earliest.value, at) ? earliest : Option.some(at),
    Option.none()
  )
}

/** Drops the retired keys whose tokens have all expired. */
export const prune = (ring: Ring, now: DateTime.Utc): Ring => ({
  version: ring.version + 1,
  keys: ring.keys.filter((key) => isLive(key, now))
})

const oldestFirst = (a: SigningKey, b: SigningKey) => DateTime.toEpochMillis(a.activatesAt) - DateTime.toEpochMillis(b.activatesAt)

/**
 * Rotation, per alg: the oldest next key becomes active, the active key is retired until every token it
 * signed has expired, and a fresh next key is added; expired retired keys are dropped.
 */
export const rotate = (
  ring: Ring,
  fresh: ReadonlyArray<Fresh>,
  now: DateTime.Utc,
  policy: Policy
): Either.Either<Ring, RingBroken> => {
  const keys: Array<SigningKey> = []
  for (const alg of algs) {
    const own = ring.keys.filter((key) => key.alg === alg && isLive(key, now))
    const active = own.filter((key) => key.status === "active")
    const [promoted, ...laterNext] = own.filter((key) => key.status === "next").sort(oldestFirst)
    const replacement = fresh.find((f) => f.alg === alg)
    if (active.length !== 1 || promoted === undefined || replacement === undefined) {
      return Either.left(new RingBroken({ reason: `the ${alg} ring has no single active key and next key` }))
    }
    keys.push(
      ...own.filter((key) => key.status === "retired"),
      ...active.map((key): SigningKey => ({
        ...key,
        status: "retired",
        expiresAt: DateTime.addDuration(now, policy.maxTokenLifetime)
      })),
      { ...promoted, status: "active", activatesAt: now },
      ...laterNext,
      asNext(replacement, now, policy)
    )
  }
  return Either.right({ version: ring.version + 1, keys })
}

/** The ring's invariant: for each alg exactly one active key and at least one next key. */
export const isWhole = (ring: Ring) =>
  algs.every((alg) =>
    ring.keys.filter((key) => key.alg === alg && key.status === "active").length === 1 &&
    ring.keys.some((key) => key.alg === alg && key.status === "next")
  )
