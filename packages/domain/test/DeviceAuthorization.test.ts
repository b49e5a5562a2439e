import { describe, expect, it } from "@effect/vitest"
import { DateTime, Duration, Effect, Either, Layer } from "effect"
import { DeviceAuthorization, Entropy, UserCode } from "@tessera/domain"

const t0 = DateTime.unsafeMake("2026-11-29T12:00:00Z")
const at = (seconds: number) => DateTime.addDuration(t0, Duration.millis(seconds * 1000))
const { DeviceAuthorization: States } = DeviceAuthorization

const pending = States.Pending({
  realmId: "r", deviceCodeHash: "h", userCode: "BCDFGHJK", clientId: "c", scopes: ["read"], resources: ["https://api.example"],
  stepUp: false, interval: 5, createdAt: t0, expiresAt: DateTime.addDuration(t0, DeviceAuthorization.lifetime), version: 1
})
const approved = States.Approved({ ...pending, sub: "s", grantId: "g", version: 2 })
const denied = States.Denied({ ...pending, sub: "s", version: 2 })
const redeemed = States.Redeemed({ ...approved, version: 3 })

const reasonOr = <A>(result: Either.Either<A, { readonly reason: string }>, ok: (a: A) => string) =>
  Either.match(result, { onLeft: (e) => e.reason, onRight: ok })

describe("RFC 8628 §3.4-3.5: polling (pure)", () => {
  const outcome = (device: DeviceAuthorization.DeviceAuthorization, clientId: string, seconds: number) =>
    reasonOr(DeviceAuthorization.poll(device, clientId, at(seconds)), (next) => DeviceAuthorization.outcomeOf(device, next))

  it.each([
    ["pending, first poll at once: authorization_pending", pending, "c", 0, "pending"],
    ["approved: redeem", approved, "c", 30, "redeem"],
    ["denied: access_denied", denied, "c", 30, "denied"],
    ["redeemed: invalid_grant (replayed)", redeemed, "c", 30, "replayed"],
    ["another client's code: invalid_grant", approved, "d", 30, "client_mismatch"],
    ["another client's redeemed code: still client_mismatch", redeemed, "d", 30, "client_mismatch"],
    ["pending at 599.999 s: still pending", pending, "c", 599.999, "pending"],
    ["pending at 600 s: expired_token", pending, "c", 600, "expired"],
    ["approved at 600 s: expired_token (the session has concluded)", approved, "c", 600, "expired"],
    ["denied at 600 s: expired_token", denied, "c", 600, "expired"]
  ] as const)("%s", (_, device, clientId, seconds, expected) => {
    expect(outcome(device, clientId, seconds)).toBe(expected)
  })

  it("§3.5: a poll sooner than the interval after the last is slow_down, +5 s for this and every later poll", () => {
    const first = Either.getOrThrow(DeviceAuthorization.poll(pending, "c", at(1)))
    expect(first).toEqual(States.Pending({ ...pending, lastPolledAt: at(1), version: 2 }))
    // 4.999 s later: too soon
    const second = Either.getOrThrow(DeviceAuthorization.poll(first, "c", at(5.999)))
    expect(DeviceAuthorization.outcomeOf(first, second)).toBe("slow_down")
    expect(second).toEqual(States.Pending({ ...pending, interval: 10, lastPolledAt: at(5.999), version: 3 }))
    // the interval is now 10 s: 9 s later is too soon again, 10 s later is fine
    const third = Either.getOrThrow(DeviceAuthorization.poll(second, "c", at(14.999)))
    expect(DeviceAuthorization.outcomeOf(second, third)).toBe("slow_down")
    expect(third.interval).toBe(15)
    const fourth = Either.getOrThrow(DeviceAuthorization.poll(third, "c", at(29.999)))
    expect(DeviceAuthorization.outcomeOf(third, fourth)).toBe("pending")
    expect(fourth).toEqual(States.Pending({ ...pending, interval: 15, lastPolledAt: at(29.999), version: 5 }))
  })

  it("an approved code is redeemed once, keeping who approved and the grant", () => {
    const next = Either.getOrThrow(DeviceAuthorization.poll(approved, "c", at(7)))
    expect(next).toEqual(States.Redeemed({ ...approved, lastPolledAt: at(7), version: 3 }))
    expect(reasonOr(DeviceAuthorization.poll(next, "c", at(8)), () => "ok")).toBe("replayed")
  })
})

describe("RFC 8628 §3.3: the person's decision (pure)", () => {
  it.each([
    ["pending: approved", pending, 599, "approved"],
    ["pending at 600 s: expired", pending, 600, "expired"],
    ["already approved: decided", approved, 1, "decided"],
    ["denied: decided", denied, 1, "decided"],
    ["redeemed: decided", redeemed, 1, "decided"]
  ] as const)("approve %s", (_, device, seconds, expected) => {
    expect(reasonOr(DeviceAuthorization.approve(device, { sub: "s", grantId: "g" }, at(seconds)), (d) => d._tag.toLowerCase()))
      .toBe(expected)
  })

  it("approve and deny keep the request, record who decided, and bump the version", () => {
    expect(Either.getOrThrow(DeviceAuthorization.approve(pending, { sub: "s", grantId: "g" }, at(1)))).toEqual(approved)
    expect(Either.getOrThrow(DeviceAuthorization.deny(pending, { sub: "s" }, at(1)))).toEqual(denied)
    expect(reasonOr(DeviceAuthorization.deny(approved, { sub: "s" }, at(1)), () => "ok")).toBe("decided")
    expect(reasonOr(DeviceAuthorization.deny(pending, { sub: "s" }, at(600)), () => "ok")).toBe("expired")
  })
})

describe("RFC 8628 §6.1: user codes", () => {
  it.effect("8 characters of BCDFGHJKLMNPQRSTVWXZ, every letter reachable, formatted XXXX-XXXX", () =>
    Effect.gen(function*() {
      const codes = yield* Effect.all(Array.from({ length: 500 }, () => UserCode.make))
      for (const code of codes) {
        expect(code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{8}$/)
        expect(UserCode.format(code)).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/)
      }
      expect(new Set(codes.join("")).size).toBe(20)
      expect(new Set(codes).size).toBe(500)
    }).pipe(Effect.provide(Entropy.layer)))

  it.effect("bytes of 240 and above are drawn again, so no letter is favoured", () =>
    Effect.gen(function*() {
      // the first draw is all biased bytes but two; the rest comes from the second
      const draws = [[255, 240, 0, 19, 250, 241, 242, 243], [20, 39, 1, 2, 3, 4, 5, 6]]
      const entropy = Layer.succeed(Entropy.Entropy, Entropy.Entropy.of({
        bytes: () => Effect.sync(() => new Uint8Array(draws.shift()!)),
        uuid: Effect.succeed("unused")
      }))
      expect(yield* UserCode.make.pipe(Effect.provide(entropy))).toBe("BZBZCDFG")
    }))

  it.each([
    ["WDJB-MJHT", "WDJBMJHT"],
    ["wdjb-mjht", "WDJBMJHT"],
    ["wdjbmjht", "WDJBMJHT"],
    [" WdJb MjHt ", "WDJBMJHT"],
    ["WDJB--MJHT", "WDJBMJHT"],
    ["WDJB-MJH", undefined],
    ["WDJB-MJHTX", undefined],
    ["WDJB-MJHA", undefined],
    ["WDJB-MJH1", undefined],
    ["WDJB_MJHT", undefined],
    ["", undefined],
    [`${"-".repeat(30)}WDJBMJHT`, undefined]
  ] as const)("§6.1 case-insensitive, dashes and spaces ignored: %j -> %j", (typed, expected) => {
    expect(UserCode.normalize(typed)).toBe(expected)
  })
})
