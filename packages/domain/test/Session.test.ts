import { describe, expect, it } from "@effect/vitest"
import { DateTime, Duration } from "effect"
import { Session } from "@tessera/domain"

const at = DateTime.unsafeMake("2026-11-29T12:00:00Z")
const later = (d: Duration.DurationInput) => DateTime.addDuration(at, d)
const started = Session.begin({ realmId: "r1", sid: "s1", cookieHash: "h", sub: "u1", acr: Session.passwordAcr, amr: Session.passwordAmr }, at)

describe("Session: Active -> Ended (pure transitions, ADR 0054)", () => {
  it("OIDC Core §2: a sign-in begins an Active session, authenticated now, for the session lifetime, with no clients", () => {
    expect(started).toEqual(Session.Session.Active({
      realmId: "r1", sid: "s1", cookieHash: "h", sub: "u1", acr: Session.passwordAcr, amr: ["pwd"],
      createdAt: at, authTime: at, expiresAt: later(Session.lifetime), clientIds: []
    }))
  })

  it.each([
    ["active, within its lifetime", started, later(Duration.hours(11)), true],
    ["active, at its expiry", started, later(Session.lifetime), false],
    ["ended", Session.end(started, at), at, false]
  ] as const)("isActive: %s", (_, session, now, expected) => {
    expect(Session.isActive(session, now)).toBe(expected)
  })

  it("RP-Initiated Logout 1.0 §2: logging out ends the session at that moment", () => {
    expect(Session.end(started, later("1 minute"))).toEqual(Session.Session.Ended({ ...started, endedAt: later("1 minute") }))
  })

  it("RP-Initiated Logout 1.0 §2: a replayed logout changes nothing: the first end is the one kept", () => {
    const ended = Session.end(started, later("1 minute"))
    expect(Session.end(ended, later("2 minutes"))).toEqual(ended)
  })

  it("Front-Channel Logout 1.0 §2: a client that got tokens in the session is added once, in either state", () => {
    const withC1 = Session.withClient(Session.withClient(started, "c1"), "c1")
    expect(withC1).toEqual(Session.Session.Active({ ...started, clientIds: ["c1"] }))
    expect(Session.withClient(Session.end(withC1, at), "c2")).toEqual(Session.Session.Ended({ ...started, clientIds: ["c1", "c2"], endedAt: at }))
  })

  it.each([
    ["active", started, ["openid"], true],
    ["active past its expiry (the code was issued while it was live)", started, ["openid"], true],
    ["ended", Session.end(started, at), ["openid", "profile"], false],
    ["gone (the person deleted)", undefined, ["openid"], false],
    ["ended, offline_access granted (OIDC Core §11)", Session.end(started, at), ["openid", "offline_access"], true],
    ["gone, offline_access granted", undefined, ["offline_access"], true]
  ] as const)("ADR 0062 codeOutlives: %s", (_, session, scopes, expected) => {
    expect(Session.codeOutlives(session, scopes)).toBe(expected)
  })
})
