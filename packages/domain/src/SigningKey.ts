/**
 * The signing-key lifecycle (DESIGN "signing key"): Next -> Active -> Retired -> Deleted, as tagged states with pure
 * transitions (ADR 0054); the store replaces a realm's whole ring by compare-and-set on its version.
 */
import { Data, DateTime, Duration, Either, Option, Schema } from "effect"

/** ES256 signs access tokens; RS256 signs ID tokens (OIDC Core §15.1: RS256 is the default every RP supports). */
export type Alg = "ES256" | "RS256"
export const algs: ReadonlyArray<Alg> = ["ES256", "RS256"]

/** AES-256-GCM ciphertext of the private JWK, base64url. */
export interface Sealed {
  readonly iv: string
  readonly ciphertext: string
}

/** What a key is in every state. */
interface Common {
  readonly kid: string
  readonly alg: Alg
  /** Public members only (RFC 7517 §4, RFC 7518 §6): what the JWKS shows. */
  readonly publicJwk: Readonly<Record<string, unknown>>
  readonly sealedPrivateJwk: Sealed
  readonly createdAt: DateTime.Utc
}

export type SigningKey = Data.TaggedEnum<{
  /** Published before it signs (CONTRACT §2 `jwks_uri`): it starts signing at `activatesAt`. */
  Next: Common & { readonly activatesAt: DateTime.Utc }
  /** The one key of its alg that signs; it started at `activatesAt`. */
  Active: Common & { readonly activatesAt: DateTime.Utc }
  /** Signs no more, still published until `expiresAt`, when every token it signed has expired (then Deleted: gone). */
  Retired: Common & { readonly activatesAt: DateTime.Utc; readonly expiresAt: DateTime.Utc }
}>
export const SigningKey = Data.taggedEnum<SigningKey>()

export type Next = Extract<SigningKey, { readonly _tag: "Next" }>
export type Active = Extract<SigningKey, { readonly _tag: "Active" }>
export type Retired = Extract<SigningKey, { readonly _tag: "Retired" }>

/** CONTRACT §3: the state's name on the admin API (and in the stored ring). */
export type Status = "next" | "active" | "retired"
export const status = (key: SigningKey): Status =>
  SigningKey.$match(key, { Next: (): Status => "next", Active: (): Status => "active", Retired: (): Status => "retired" })

const storedFields = {
  kid: Schema.String,
  alg: Schema.Literal("ES256", "RS256"),
  publicJwk: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  sealedPrivateJwk: Schema.Struct({ iv: Schema.String, ciphertext: Schema.String }),
  createdAt: Schema.DateTimeUtc,
  activatesAt: Schema.DateTimeUtc
}

/** A key in any state, as a schema's type side (checked by its tag only: the stored side checks every field). */
const Key = Schema.declare((u: unknown): u is SigningKey =>
  SigningKey.$is("Next")(u) || SigningKey.$is("Active")(u) || SigningKey.$is("Retired")(u))

/**
 * A key in its stored form (the ring's JSON): the state under CONTRACT §3's name `status`, the expiry a retired key's
 * alone. Decoding gives the tagged state; a stored key of no known state, or a retired one without its expiry, fails.
 */
export const Stored = Schema.transform(
  Schema.Union(
    Schema.Struct({ status: Schema.Literal("next", "active"), ...storedFields }),
    Schema.Struct({ status: Schema.Literal("retired"), ...storedFields, expiresAt: Schema.DateTimeUtc })
  ),
  Key,
  {
    strict: true,
    decode: ({ status, ...key }) =>
      "expiresAt" in key ? SigningKey.Retired(key) : status === "next" ? SigningKey.Next(key) : SigningKey.Active(key),
    encode: (key) => SigningKey.$match(key, {
      Next: ({ _tag, ...k }) => ({ status: "next" as const, ...k }),
      Active: ({ _tag, ...k }) => ({ status: "active" as const, ...k }),
      Retired: ({ _tag, ...k }) => ({ status: "retired" as const, ...k })
    })
  }
)

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

/** Pure: a fresh key pair becomes the next key, published now, signing a rotation interval from now. */
export const asNext = (fresh: Fresh, now: DateTime.Utc, policy: Policy): Next =>
  SigningKey.Next({ ...fresh, createdAt: now, activatesAt: DateTime.addDuration(now, policy.rotateEvery) })

/** Pure: Next -> Active, signing from `now`. */
export const activate = (key: Next, now: DateTime.Utc): Active => SigningKey.Active({ ...key, activatesAt: now })

/**
 * Pure: Active -> Retired at `now`: it signs no more, and stays published until every token it signed has expired
 * (DESIGN "signing key": retired stays in JWKS until its tokens expire).
 */
export const retire = (key: Active, now: DateTime.Utc, policy: Policy): Retired =>
  SigningKey.Retired({ ...key, expiresAt: DateTime.addDuration(now, policy.maxTokenLifetime) })

/** A new realm's ring: for each alg one active key (signing from now) and one next key. */
export const initial = (
  fresh: { readonly active: ReadonlyArray<Fresh>; readonly next: ReadonlyArray<Fresh> },
  now: DateTime.Utc,
  policy: Policy
): Ring => ({
  version: 1,
  keys: [
    ...fresh.active.map((f) => SigningKey.Active({ ...f, createdAt: now, activatesAt: now })),
    ...fresh.next.map((f) => asNext(f, now, policy))
  ]
})

/** Retired keys whose every token has expired are gone (Retired -> Deleted). */
export const isLive = (key: SigningKey, now: DateTime.Utc) => key._tag !== "Retired" || DateTime.greaterThan(key.expiresAt, now)

/** What the JWKS publishes: active, next, and retired keys that may still verify a token. */
export const published = (ring: Ring, now: DateTime.Utc) => ring.keys.filter((key) => isLive(key, now))

const isNext = (key: SigningKey): key is Next => key._tag === "Next"
const isActive = (key: SigningKey): key is Active => key._tag === "Active"

/** The scheduler rotates when some next key has reached its activation time. */
export const isDue = (ring: Ring, now: DateTime.Utc) =>
  ring.keys.some((key) => isNext(key) && DateTime.lessThanOrEqualTo(key.activatesAt, now))

/** Some retired key is past its expiry and can be deleted. */
export const hasExpired = (ring: Ring, now: DateTime.Utc) => ring.keys.some((key) => !isLive(key, now))

/** The next moment this ring needs the scheduler: a next key's activation or a retired key's expiry. */
export const nextChange = (ring: Ring): Option.Option<DateTime.Utc> => {
  const moments = ring.keys.flatMap((key) =>
    SigningKey.$match(key, { Next: (k) => [k.activatesAt], Active: () => [], Retired: (k) => [k.expiresAt] })
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
    const active = own.filter(isActive)
    const [promoted, ...laterNext] = own.filter(isNext).sort(oldestFirst)
    const replacement = fresh.find((f) => f.alg === alg)
    if (active.length !== 1 || promoted === undefined || replacement === undefined) {
      return Either.left(new RingBroken({ reason: `the ${alg} ring has no single active key and next key` }))
    }
    keys.push(
      ...own.filter((key) => key._tag === "Retired"),
      ...active.map((key) => retire(key, now, policy)),
      activate(promoted, now),
      ...laterNext,
      asNext(replacement, now, policy)
    )
  }
  return Either.right({ version: ring.version + 1, keys })
}

/** The ring's invariant: for each alg exactly one active key and at least one next key. */
export const isWhole = (ring: Ring) =>
  algs.every((alg) =>
    ring.keys.filter((key) => key.alg === alg && isActive(key)).length === 1 &&
    ring.keys.some((key) => key.alg === alg && isNext(key))
  )
