import { describe, expect, it } from "@effect/vitest"
import { DateTime, Duration, Either, Option } from "effect"
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
const statusOf = (ring: SigningKey.Ring) => Object.fromEntries(ring.keys.map((k) => [k.kid, k.status]))
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
    expect(ring.keys.find((k) => k.kid === "a-es")!.expiresAt).toEqual(DateTime.addDuration(at, policy.maxTokenLifetime))
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
