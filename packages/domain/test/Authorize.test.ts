import { describe, expect, it } from "@effect/vitest"
import { DateTime, Duration, Either, Option } from "effect"
import { Authorize, LoginThrottle, Session } from "@tessera/domain"
import type { Client, Interactions, Resource } from "@tessera/domain"
import { at, clientWith } from "./ClientFixture.js"

const resource = (uri: string, scopes: ReadonlyArray<string>, stepUpScopes: ReadonlyArray<string> = []): Resource.Resource =>
  ({ realmId: "r1", id: uri, version: 1, uri, scopes, stepUpScopes, createdAt: at })

describe("OAuth 2.1 §4.1.1 / RFC 8252 §7.3: redirect URI matching", () => {
  const cases: ReadonlyArray<readonly [string, string, boolean]> = [
    ["https://app.example/cb", "https://app.example/cb", true],
    ["https://app.example/cb", "https://app.example/cb/", false],
    ["https://app.example/cb", "https://app.example:443/cb", false],
    ["https://app.example/cb", "https://APP.example/cb", false],
    ["https://app.example/cb?a=1", "https://app.example/cb?a=1", true],
    ["https://app.example/cb?a=1", "https://app.example/cb?a=2", false],
    ["com.example.app:/cb", "com.example.app:/cb", true],
    // RFC 8252 §7.3: loopback, any port
    ["http://127.0.0.1/cb", "http://127.0.0.1:51234/cb", true],
    ["http://127.0.0.1:8080/cb", "http://127.0.0.1/cb", true],
    ["http://[::1]/cb", "http://[::1]:1/cb", true],
    ["http://localhost/cb", "http://localhost:65535/cb", true],
    ["http://127.0.0.1", "http://127.0.0.1:5000", true],
    ["http://127.0.0.1/cb", "http://127.0.0.1:5000/cb2", false],
    ["http://127.0.0.1/cb", "http://localhost:5000/cb", false],
    ["http://127.0.0.1/cb", "https://127.0.0.1:5000/cb", false],
    ["http://127.0.0.1/cb", "http://127.0.0.1:5000/cb?x", false],
    ["http://127.0.0.1/cb", "http://127.0.0.1.evil.example:5000/cb", false],
    ["http://127.0.0.1/cb", "http://127.0.0.1:5000@evil.example/cb", false],
    // not loopback: the port is part of the exact match
    ["https://app.example:8443/cb", "https://app.example:9443/cb", false]
  ]
  for (const [registered, requested, expected] of cases) {
    it(`${registered} vs ${requested}: ${expected}`, () => {
      expect(Authorize.redirectUriMatches(registered, requested)).toBe(expected)
    })
  }

  it("RFC 6749 §3.1.2.3: omitted with exactly one registered, else refused", () => {
    expect(Authorize.redirectUriFor(clientWith(), undefined)).toEqual(Either.right("https://app.example/cb"))
    const two = clientWith({ redirectUris: ["https://a.example/cb", "https://b.example/cb"] })
    expect(Either.getLeft(Authorize.redirectUriFor(two, undefined)).pipe(Option.map((e) => e.reason))).toEqual(Option.some("missing"))
    expect(Either.getLeft(Authorize.redirectUriFor(two, "https://c.example/cb")).pipe(Option.map((e) => e.reason)))
      .toEqual(Option.some("not_registered"))
    // the requested one, exactly as given (with its port), is where the answer goes
    const loopback = clientWith({ redirectUris: ["http://127.0.0.1/cb"] })
    expect(Authorize.redirectUriFor(loopback, "http://127.0.0.1:4000/cb")).toEqual(Either.right("http://127.0.0.1:4000/cb"))
  })
})

describe("RFC 8707 §2 / RFC 6749 §3.3: which scopes and resources a request may have", () => {
  const mcp = resource("https://mcp.example/mcp", ["mcp:tools", "payments:send"], ["payments:send"])
  const api = resource("https://api.example/", ["read"])
  const realmResources = [mcp, api]
  const access = (client: Client.Client, requestedScopes: ReadonlyArray<string> | undefined, requestedResources: ReadonlyArray<string> = []) =>
    Authorize.access({ client, realmResources, requestedScopes, requestedResources })
  const reason = (e: Either.Either<unknown, { readonly _tag: string; readonly reason: string }>) =>
    Either.isLeft(e) ? `${e.left._tag}:${e.left.reason}` : "ok"

  it("OIDC scopes and the requested resource's scopes", () => {
    expect(access(clientWith(), ["openid", "mcp:tools"], [mcp.uri]))
      .toEqual(Either.right({ scopes: ["openid", "mcp:tools"], resources: [mcp.uri], stepUp: false }))
    // a scope of another resource than the one requested
    expect(reason(access(clientWith(), ["read"], [mcp.uri]))).toBe("ScopeRejected:not_granted")
  })

  it("unknown or not allowed resources are invalid_target", () => {
    expect(reason(access(clientWith(), ["openid"], ["https://unknown.example/"]))).toBe("TargetRejected:unknown_resource")
    expect(reason(access(clientWith({ resources: [mcp.uri] }), ["read"], [api.uri]))).toBe("TargetRejected:not_allowed")
  })

  it("without resource: the client's listed resources, else the realm's resources whose scopes were asked", () => {
    expect(access(clientWith({ resources: [mcp.uri] }), ["openid"]))
      .toEqual(Either.right({ scopes: ["openid"], resources: [mcp.uri], stepUp: false }))
    expect(access(clientWith(), ["read"])).toEqual(Either.right({ scopes: ["read"], resources: [api.uri], stepUp: false }))
    expect(access(clientWith(), ["openid"])).toEqual(Either.right({ scopes: ["openid"], resources: [], stepUp: false }))
    // a scope of a resource the client may not use
    expect(reason(access(clientWith({ resources: [mcp.uri] }), ["read"]))).toBe("ScopeRejected:not_granted")
  })

  it("the client's registered scope limits what it may ask; without scope it is the default", () => {
    const limited = clientWith({ scope: "openid mcp:tools" })
    expect(reason(access(limited, ["openid", "profile"]))).toBe("ScopeRejected:not_granted")
    expect(access(limited, undefined)).toEqual(Either.right({ scopes: ["openid", "mcp:tools"], resources: [mcp.uri], stepUp: false }))
    expect(access(clientWith(), undefined)).toEqual(Either.right({ scopes: [], resources: [], stepUp: false }))
  })

  it("CONTRACT §5: a step-up scope of a granted resource marks the request", () => {
    expect(access(clientWith(), ["payments:send"], [mcp.uri]))
      .toEqual(Either.right({ scopes: ["payments:send"], resources: [mcp.uri], stepUp: true }))
  })

  it("OAuth 2.1 §4.1: the client must be registered for the code grant", () => {
    expect(Either.isRight(Authorize.checkClient(clientWith()))).toBe(true)
    expect(reason(Authorize.checkClient(clientWith({ grantTypes: ["client_credentials"], responseTypes: [] })))).toBe("ClientNotAllowed:grant_type")
  })
})

describe("OIDC Core §3.1.2.1: when the person signs in again", () => {
  const session = Session.Session.Active({
    realmId: "r1", sid: "s1", cookieHash: "h", sub: "u1", createdAt: at, authTime: at, acr: Session.passwordAcr, amr: ["pwd"],
    expiresAt: DateTime.addDuration(at, Session.lifetime), clientIds: []
  })
  const request: Interactions.Request = {
    clientId: "c1", redirectUri: "https://app.example/cb", redirectUriGiven: true, scopes: ["openid"], resources: [],
    codeChallenge: "x", responseMode: "query", prompt: [], acrValues: [], stepUp: false
  }
  const later = (minutes: number) => DateTime.addDuration(at, Duration.minutes(minutes))
  const cases: ReadonlyArray<readonly [string, Option.Option<Session.Session>, Partial<Interactions.Request>, number, boolean]> = [
    ["no session", Option.none(), {}, 0, true],
    ["a usable session", Option.some(session), {}, 0, false],
    ["an ended session", Option.some(Session.end(session, at)), {}, 1, true],
    ["an expired session", Option.some(session), {}, 12 * 60, true],
    ["prompt=login", Option.some(session), { prompt: ["login"] }, 0, true],
    ["prompt=select_account", Option.some(session), { prompt: ["select_account"] }, 0, true],
    ["prompt=consent alone", Option.some(session), { prompt: ["consent"] }, 0, false],
    ["a step-up scope", Option.some(session), { stepUp: true }, 0, true],
    ["max_age=0", Option.some(session), { maxAge: 0 }, 0, true],
    ["max_age not yet passed", Option.some(session), { maxAge: 600 }, 10, false],
    ["max_age passed", Option.some(session), { maxAge: 600 }, 11, true],
    ["acr_values with the session's class", Option.some(session), { acrValues: ["urn:x", Session.passwordAcr] }, 0, false],
    ["acr_values of another class", Option.some(session), { acrValues: ["urn:example:mfa"] }, 0, true]
  ]
  for (const [name, s, changes, minutes, expected] of cases) {
    it(`${name}: ${expected ? "sign in" : "the session is enough"}`, () => {
      expect(Authorize.needsLogin(s, { ...request, ...changes }, later(minutes))).toBe(expected)
    })
  }

  it("consent is needed unless the remembered one covers scopes and resources, and never with prompt=consent", () => {
    const consent = Option.some({ realmId: "r1", sub: "u1", clientId: "c1", scopes: ["openid", "read"], resources: ["https://api.example/"], grantedAt: at })
    expect(Authorize.needsConsent(Option.none(), request)).toBe(true)
    expect(Authorize.needsConsent(consent, request)).toBe(false)
    expect(Authorize.needsConsent(consent, { ...request, prompt: ["consent"] })).toBe(true)
    expect(Authorize.needsConsent(consent, { ...request, scopes: ["openid", "email"] })).toBe(true)
    expect(Authorize.needsConsent(consent, { ...request, resources: ["https://other.example/"] })).toBe(true)
  })
})

describe("LoginThrottle: the progressive delay, pure (ADR 0027)", () => {
  const b: LoginThrottle.Backoff = { burst: 3, base: Duration.seconds(1), cap: Duration.minutes(15), forgetAfter: Duration.hours(24) }
  it("no wait within the burst, then 1 s doubling per failure up to the 15-minute cap", () => {
    expect(Array.from({ length: 16 }, (_, n) => LoginThrottle.waitAfter(n, b) / 1000)).toEqual([
      0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900
    ])
    expect(LoginThrottle.waitAfter(10_000, b)).toBe(900_000)
  })
  const t = (n: number) => LoginThrottle.Verdict.Throttled({ retryAfterSeconds: n })
  const allowed = LoginThrottle.Verdict.Allowed()
  const day = 24 * 3600_000
  const cases: ReadonlyArray<readonly [string, LoginThrottle.Count | undefined, number, LoginThrottle.Verdict]> = [
    ["no failures", undefined, 0, allowed],
    ["within the burst", { failures: 2, last: 1000 }, 1000, allowed],
    ["the burst used: 1 s after the last failure", { failures: 3, last: 1000 }, 1000, t(1)],
    ["the wait over", { failures: 3, last: 1000 }, 2000, allowed],
    ["each failure doubles it", { failures: 5, last: 1000 }, 1000, t(4)],
    ["less than a second left is still 1 s", { failures: 5, last: 1000 }, 4999, t(1)],
    ["the cap", { failures: 40, last: 0 }, 0, t(900)],
    ["quiet for a day: forgotten", { failures: 40, last: 0 }, day, allowed],
    ["not quite a day: still counted (the wait itself is long over)", { failures: 40, last: 0 }, day - 1, allowed],
    ["a reservation counted at the cap keeps the cap", { failures: 41, last: day - 1 }, day - 1, t(900)]
  ]
  for (const [name, count, now, expected] of cases) {
    it(name, () => {
      expect(LoginThrottle.verdictOf(count, b, now)).toEqual(expected)
    })
  }
  it("a count forgotten after a day starts over at one failure", () => {
    expect(LoginThrottle.counted({ failures: 40, last: 0 }, b, day)).toEqual({ failures: 1, last: day })
    expect(LoginThrottle.counted({ failures: 4, last: 0 }, b, 1)).toEqual({ failures: 5, last: 1 })
    expect(LoginThrottle.released({ failures: 4, last: 7 }, b, 9)).toEqual({ failures: 3, last: 7 })
    expect(LoginThrottle.released(undefined, b, 9)).toEqual({ failures: 0, last: 9 })
  })
  it("a reservation is all or nothing: the stricter key decides and nothing is counted when throttled", () => {
    const keys: LoginThrottle.Keys = [["a", b], ["b", { ...b, burst: 1 }]]
    expect(LoginThrottle.reservation([undefined, { failures: 1, last: 0 }], keys, 0)).toEqual({ verdict: t(1), next: undefined })
    expect(LoginThrottle.reservation([undefined, undefined], keys, 0))
      .toEqual({ verdict: allowed, next: [{ failures: 1, last: 0 }, { failures: 1, last: 0 }] })
  })

  it("the stricter of two verdicts wins", () => {
    expect(LoginThrottle.combine(allowed, allowed)).toEqual(allowed)
    expect(LoginThrottle.combine(allowed, t(5))).toEqual(t(5))
    expect(LoginThrottle.combine(t(9), t(5))).toEqual(t(9))
  })
})
