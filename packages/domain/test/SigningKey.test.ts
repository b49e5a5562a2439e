import { describe, expect, it } from "@effect/vitest"
import { DateTime, Duration, Either, Option, Schema } from "effect"
import { SigningKey } from "@tessera/domain"

const t0 = DateTime.unsafeMake("2026-01-01T00:00:00Z")
const policy = SigningKey.defaultPolicy
const fresh = (kid: string, alg: SigningKey.Alg): SigningKey.Fresh => ({
  kid, alg, publicJwk: { kid }, sealedPrivateJwk: { iv: "", ciphertext: "" }
})
const initial = SigningKey.initial(
  { active: [fresh("a-es", "ES256"), fresh("a-rs", "RS256")], next: [fresh("n-es", "ES256"), fresh("n-rs", "RS256")] },
  t0,
  policy
)
const statusOf = (ring: SigningKey.Ring) => Object.fromEntries(ring.keys.map((k) => [k.kid, SigningKey.status(k)]))
const rotateAt = (ring: SigningKey.Ring, at: DateTime.Utc, tag: string) =>
  Either.getOrThrow(SigningKey.rotate(ring, [fresh(`${tag}-es`, "ES256"), fresh(`${tag}-rs`, "RS256")], at, policy))

describe("SigningKey transitions (pure)", () => {
  it("initial: one active signing from now and one next activating a rotation interval later, per alg", () => {
    expect(statusOf(initial)).toEqual({ "a-es": "active", "a-rs": "active", "n-es": "next", "n-rs": "next" })
    expect(initial.keys.find((k) => k.kid === "n-es")!.activatesAt).toEqual(DateTime.addDuration(t0, policy.rotateEvery))
    expect(SigningKey.isWhole(initial)).toBe(true)
  })

  it.each([
    ["a minute before the next key's activation", Duration.subtract(policy.rotateEvery, Duration.minutes(1)), false],
    ["at the activation", policy.rotateEvery, true],
    ["after it", Duration.sum(policy.rotateEvery, Duration.days(3)), true]
  ])("isDue %s", (_, elapsed, due) => {
    expect(SigningKey.isDue(initial, DateTime.addDuration(t0, elapsed))).toBe(due)
  })

  it("rotate: next -> active, active -> retired until the longest token lifetime, a fresh next", () => {
    const at = DateTime.addDuration(t0, policy.rotateEvery)
    const ring = rotateAt(initial, at, "f")
    expect(ring.version).toBe(2)
    expect(statusOf(ring)).toEqual({ "a-es": "retired", "a-rs": "retired", "n-es": "active", "n-rs": "active", "f-es": "next", "f-rs": "next" })
    expect(ring.keys.find((k) => k.kid === "a-es")).toEqual(SigningKey.SigningKey.Retired({
      ...initial.keys.find((k) => k.kid === "a-es")!, expiresAt: DateTime.addDuration(at, policy.maxTokenLifetime)
    }))
    expect(ring.keys.find((k) => k.kid === "n-es")!.activatesAt).toEqual(at)
    expect(SigningKey.isWhole(ring)).toBe(true)
  })

  it("published: retired keys verify until their expiry, then leave; prune deletes them", () => {
    const at = DateTime.addDuration(t0, policy.rotateEvery)
    const ring = rotateAt(initial, at, "f")
    const justBefore = DateTime.addDuration(at, Duration.subtract(policy.maxTokenLifetime, Duration.millis(1)))
    const expiry = DateTime.addDuration(at, policy.maxTokenLifetime)
    expect(SigningKey.published(ring, justBefore).map((k) => k.kid)).toContain("a-es")
    expect(SigningKey.published(ring, expiry).map((k) => k.kid)).not.toContain("a-es")
    expect(SigningKey.hasExpired(ring, justBefore)).toBe(false)
    expect(SigningKey.hasExpired(ring, expiry)).toBe(true)
    expect(SigningKey.prune(ring, expiry).keys.map((k) => k.kid).sort()).toEqual(["f-es", "f-rs", "n-es", "n-rs"])
  })

  it("rotate drops retired keys that have expired, so the ring does not grow", () => {
    const first = rotateAt(initial, DateTime.addDuration(t0, policy.rotateEvery), "f")
    const second = rotateAt(first, DateTime.addDuration(t0, Duration.times(policy.rotateEvery, 2)), "g")
    expect(statusOf(second)).toEqual({ "n-es": "retired", "n-rs": "retired", "f-es": "active", "f-rs": "active", "g-es": "next", "g-rs": "next" })
  })

  it("rotate refuses a ring without a next key rather than leave no active key", () => {
    const broken = { version: 1, keys: initial.keys.filter((k) => k.kid !== "n-rs") }
    const result = SigningKey.rotate(broken, [fresh("f-es", "ES256"), fresh("f-rs", "RS256")], t0, policy)
    expect(Either.isLeft(result)).toBe(true)
    expect(SigningKey.isWhole(broken)).toBe(false)
  })

  it("nextChange: the earliest activation or retirement expiry", () => {
    expect(SigningKey.nextChange(initial)).toEqual(Option.some(DateTime.addDuration(t0, policy.rotateEvery)))
    const at = DateTime.addDuration(t0, policy.rotateEvery)
    expect(SigningKey.nextChange(rotateAt(initial, at, "f"))).toEqual(Option.some(DateTime.addDuration(at, policy.maxTokenLifetime)))
  })
})

describe("SigningKey states: Next -> Active -> Retired -> Deleted (ADR 0054)", () => {
  const next = SigningKey.asNext(fresh("k", "ES256"), t0, policy)
  const at = DateTime.addDuration(t0, policy.rotateEvery)

  it("CONTRACT §2 jwks_uri: a next key is published a rotation interval before it signs", () => {
    expect(next).toEqual(SigningKey.SigningKey.Next({ ...fresh("k", "ES256"), createdAt: t0, activatesAt: at }))
    expect(SigningKey.status(next)).toBe("next")
  })

  it("activate: the next key signs from now", () => {
    expect(SigningKey.activate(next, at)).toEqual(SigningKey.SigningKey.Active({ ...fresh("k", "ES256"), createdAt: t0, activatesAt: at }))
  })

  it("retire: the active key stays published until every token it signed has expired (maxTokenLifetime)", () => {
    const retired = SigningKey.retire(SigningKey.activate(next, at), at, policy)
    expect(retired).toEqual(SigningKey.SigningKey.Retired({
      ...fresh("k", "ES256"), createdAt: t0, activatesAt: at, expiresAt: DateTime.addDuration(at, policy.maxTokenLifetime)
    }))
    expect(SigningKey.status(retired)).toBe("retired")
    expect(SigningKey.isLive(retired, DateTime.addDuration(at, Duration.subtract(policy.maxTokenLifetime, Duration.millis(1))))).toBe(true)
    expect(SigningKey.isLive(retired, DateTime.addDuration(at, policy.maxTokenLifetime))).toBe(false)
  })

  it("Stored: each state round-trips through the ring's stored form, under CONTRACT §3's status names", () => {
    const keys = rotateAt(initial, at, "f").keys
    const stored = Schema.encodeSync(Schema.Array(SigningKey.Stored))(keys)
    expect(stored.map((k) => k.status)).toEqual(keys.map(SigningKey.status))
    expect(Schema.decodeUnknownSync(Schema.Array(SigningKey.Stored))(JSON.parse(JSON.stringify(stored)))).toEqual(keys)
  })

  // a regression pin: the stored side's union already refuses these on encode, so PgKeys.encodeRing fails before writing
  it("Stored: an ill-formed state does not encode, so no ring that cannot be read back is written", () => {
    const active = SigningKey.activate(next, at)
    const encode = Schema.encodeEither(SigningKey.Stored)
    expect(Either.isLeft(encode({ ...active, _tag: "Retired" } as unknown as SigningKey.SigningKey))).toBe(true)
    expect(Either.isLeft(encode({ ...active, activatesAt: "2026-01-01" } as unknown as SigningKey.SigningKey))).toBe(true)
    expect(() => Schema.encodeSync(Schema.Array(SigningKey.Stored))([next, { ...active, _tag: "Retired" } as unknown as SigningKey.SigningKey]))
      .toThrow()
    expect(Either.isRight(encode(active))).toBe(true)
  })

  it("Stored: a key of no known state, or a retired key without its expiry, does not decode", () => {
    const [stored] = Schema.encodeSync(Schema.Array(SigningKey.Stored))([next])
    const decode = Schema.decodeUnknownEither(SigningKey.Stored)
    expect(Either.isLeft(decode({ ...JSON.parse(JSON.stringify(stored)), status: "deleted" }))).toBe(true)
    expect(Either.isLeft(decode({ ...JSON.parse(JSON.stringify(stored)), status: "retired" }))).toBe(true)
    expect(Either.isRight(decode(JSON.parse(JSON.stringify(stored))))).toBe(true)
  })
})
