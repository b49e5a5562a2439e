/** ADR 0050: the claim rules of JWTs others sign, once, per profile (RFC 7523 §3, RFC 7519 §4.1, ID-JAG §4.4.1, RFC 8693 §2.1). */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, TestClock } from "effect"
import { JwtAssertion } from "@tessera/domain"

const issuer = "https://tessera.test/realms/r"
const now = 1_800_000_000

type Payload = Record<string, unknown>
const good: Payload = { aud: issuer, iat: now, exp: now + 60, jti: "j-1" }
const without = (claim: string): Payload => Object.fromEntries(Object.entries(good).filter(([k]) => k !== claim))

/** Each row: what is different from `good`, then the outcome per profile (a reason, or "ok"). */
const table: ReadonlyArray<readonly [string, Payload, { client: string; grant: string; idJag: string; subject: string }]> = [
  ["a good assertion", good, { client: "ok", grant: "ok", idJag: "ok", subject: "ok" }],
  ["§3 item 3: aud the token endpoint", { ...good, aud: `${issuer}/token` }, { client: "ok", grant: "ok", idJag: "audience", subject: "ok" }],
  ["§3 item 3: aud as a one-element array", { ...good, aud: [issuer] }, { client: "ok", grant: "ok", idJag: "ok", subject: "ok" }],
  ["§3 item 3: two audiences, ours among them", { ...good, aud: [issuer, "https://other.example"] }, { client: "audience", grant: "audience", idJag: "audience", subject: "audience" }],
  ["§3 item 3: another audience", { ...good, aud: "https://other.example" }, { client: "audience", grant: "audience", idJag: "audience", subject: "audience" }],
  ["§3 item 3: no aud", without("aud"), { client: "audience", grant: "audience", idJag: "audience", subject: "audience" }],
  ["§3 item 4: no exp", without("exp"), { client: "exp_missing", grant: "exp_missing", idJag: "exp_missing", subject: "exp_missing" }],
  ["§3 item 6: no iat", without("iat"), { client: "ok", grant: "iat_missing", idJag: "iat_missing", subject: "ok" }],
  ["RFC 7519 §4.1.6: iat 60 s ahead (the skew)", { ...good, iat: now + 60, exp: now + 360 }, { client: "ok", grant: "ok", idJag: "ok", subject: "ok" }],
  ["RFC 7519 §4.1.6: iat 61 s ahead", { ...good, iat: now + 61, exp: now + 120 }, { client: "iat_future", grant: "iat_future", idJag: "iat_future", subject: "iat_future" }],
  ["CONTRACT §5: exactly 300 s", { ...good, exp: now + 300 }, { client: "ok", grant: "ok", idJag: "ok", subject: "ok" }],
  ["CONTRACT §5: exp - iat 301 s", { ...good, exp: now + 301 }, { client: "lifetime", grant: "lifetime", idJag: "lifetime", subject: "ok" }],
  ["CONTRACT §5: exp - iat 301 s, iat in the past", { ...good, iat: now - 200, exp: now + 101 }, { client: "lifetime", grant: "lifetime", idJag: "lifetime", subject: "ok" }],
  ["no iat, exp 360 s ahead (300 + skew)", { ...without("iat"), exp: now + 360 }, { client: "ok", grant: "iat_missing", idJag: "iat_missing", subject: "ok" }],
  ["no iat, exp 361 s ahead", { ...without("iat"), exp: now + 361 }, { client: "lifetime", grant: "iat_missing", idJag: "iat_missing", subject: "ok" }],
  ["§3 item 7: no jti", without("jti"), { client: "jti_missing", grant: "jti_missing", idJag: "jti_missing", subject: "ok" }],
  ["§3 item 7: an empty jti", { ...good, jti: "" }, { client: "jti_missing", grant: "jti_missing", idJag: "jti_missing", subject: "ok" }],
  ["ADR 0047: a jti of 255 characters", { ...good, jti: "j".repeat(255) }, { client: "ok", grant: "ok", idJag: "ok", subject: "ok" }],
  ["ADR 0047: a jti of 256 characters", { ...good, jti: "j".repeat(256) }, { client: "jti_length", grant: "jti_length", idJag: "jti_length", subject: "ok" }]
]

type Check = (payload: Payload, issuer: string, rules: JwtAssertion.Rules) => Effect.Effect<unknown, JwtAssertion.JwtRejected>
const profiles: Record<string, { readonly rules: JwtAssertion.Rules; readonly check: Check }> = {
  client: { rules: JwtAssertion.clientAssertion, check: JwtAssertion.assertion },
  grant: { rules: JwtAssertion.grantAssertion, check: JwtAssertion.assertion },
  idJag: { rules: JwtAssertion.idJag, check: JwtAssertion.assertion },
  // RFC 8693 §2.1 (ADR 0013): a subject token has no lifetime bound and no jti
  subject: { rules: JwtAssertion.subjectToken, check: JwtAssertion.times }
}

describe("JwtAssertion (ADR 0050): one rule per claim, four profiles", () => {
  for (const [name, payload, outcomes] of table) {
    it.effect(name, () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(now * 1000)
        const got: Record<string, string> = {}
        for (const [profile, { rules, check }] of Object.entries(profiles)) {
          const result = yield* Effect.either(check(payload, issuer, rules))
          got[profile] = Either.isRight(result) ? "ok" : result.left.reason
        }
        expect(got).toEqual(outcomes)
      }))
  }
})
