/** OIDC RP-Initiated Logout 1.0 §2-§4 and Front-Channel Logout 1.0 §2: the logout decisions, as table tests. */
import { describe, expect, it } from "@effect/vitest"
import { DateTime, Effect, Either, Option } from "effect"
import { createHmac } from "node:crypto"
import { Logout, Session } from "@tessera/domain"
import type { Client } from "@tessera/domain"
import type { JWTPayload } from "jose"
import * as ClientFixture from "./ClientFixture.js"

const at = DateTime.unsafeMake("2026-12-07T12:00:00Z")
const issuer = "https://id.example/realms/r1"

const clientWith = (clientId: string, metadata: Partial<Client.Metadata> = {}) =>
  ClientFixture.clientWith({ postLogoutRedirectUris: ["https://app.example/bye", "https://app.example/bye?from=op"], ...metadata }, clientId)
const app = clientWith("app")
const active = Session.begin({ realmId: "r1", sid: "s1", cookieHash: "h", sub: "u1", acr: Session.passwordAcr, amr: Session.passwordAmr }, at)

describe("OIDC Core §2 and RP-Initiated Logout §2: the client a hint names", () => {
  it.each<readonly [string, JWTPayload, Logout.Hint]>([
    ["a single audience", { aud: "app" }, { audiences: ["app"], clientId: "app" }],
    ["a one-element array", { aud: ["app"] }, { audiences: ["app"], clientId: "app" }],
    ["azp among several audiences", { aud: ["app", "api"], azp: "app" }, { audiences: ["app", "api"], clientId: "app" }],
    ["several audiences, no azp: none", { aud: ["app", "api"] }, { audiences: ["app", "api"], clientId: undefined }],
    ["azp that is not an audience: none", { aud: ["app", "api"], azp: "evil" }, { audiences: ["app", "api"], clientId: undefined }],
    ["no aud", {}, { audiences: [], clientId: undefined }]
  ])("%s", (_, payload, hint) => {
    expect(Logout.hintOf(payload)).toEqual(hint)
  })
})

describe("RP-Initiated Logout §2: client_id and id_token_hint", () => {
  const hint: Logout.Hint = { audiences: ["app", "api"], clientId: "app" }
  it.each([
    ["neither: no client", undefined, undefined, Either.right(undefined)],
    ["client_id alone", "other", undefined, Either.right("other")],
    ["the hint alone: its client", undefined, hint, Either.right("app")],
    ["both, client_id an audience of the hint: client_id", "api", hint, Either.right("api")],
    ["both, client_id not an audience: MUST be refused", "other", hint, Either.left(new Logout.LogoutRejected({ reason: "client_mismatch" }))]
  ] as const)("%s", (_, clientId, h, expected) => {
    expect(Logout.clientIdOf(clientId, h)).toEqual(expected)
  })
})

describe("RP-Initiated Logout §3: the post-logout redirect only to an exact registered match", () => {
  it.each([
    ["registered: redirect, with state", "https://app.example/bye", "st", { client: app, redirectUri: "https://app.example/bye", state: "st" }],
    ["registered with its own query", "https://app.example/bye?from=op", undefined, { client: app, redirectUri: "https://app.example/bye?from=op" }],
    ["a trailing slash more: no redirect, state dropped", "https://app.example/bye/", "st", { client: app }],
    ["another case of the host: no redirect", "https://APP.example/bye", "st", { client: app }],
    ["a query more: no redirect", "https://app.example/bye?from=op&x=1", "st", { client: app }],
    ["none asked: no redirect", undefined, "st", { client: app }]
  ] as const)("%s", (_, uri, state, expected) => {
    expect(Logout.targetOf(app, uri, state)).toEqual(expected)
  })
  it("§2: no client named, nothing to match against: no redirect", () => {
    expect(Logout.targetOf(undefined, "https://app.example/bye", "st")).toEqual({})
  })
})

describe("RP-Initiated Logout §2: which session is asked about, and which ends", () => {
  const ended = Session.end(active, at)
  const later = DateTime.addDuration(at, Session.lifetime)
  it.each([
    ["none", Option.none(), at, Option.none(), Option.none()],
    ["active: asked, ends", Option.some(active), at, Option.some(active), Option.some(active)],
    ["expired: not asked (signed out already), still ends when confirmed", Option.some(active), later, Option.none(), Option.some(active)],
    ["ended (a replayed confirmation): neither", Option.some(ended), at, Option.none(), Option.none()]
  ] as const)("%s", (_, session, now, confirm, end) => {
    expect(Logout.toConfirm(session, now)).toEqual(confirm)
    expect(Logout.toEnd(session)).toEqual(end)
  })
})

describe("Front-Channel Logout §2: which clients are told", () => {
  it("each registered frontchannel_logout_uri once, in the session's order; none of its own; never Tessera's own origin", () => {
    const clients = [
      clientWith("a", { frontchannelLogoutUri: "https://a.example/fcl?t=1" }),
      clientWith("none"),
      clientWith("own", { frontchannelLogoutUri: "https://id.example/healthz" }),
      clientWith("b", { frontchannelLogoutUri: "https://b.example/fcl" }),
      clientWith("a-again", { frontchannelLogoutUri: "https://a.example/fcl?t=1" })
    ]
    expect(Logout.frontChannelUris(issuer, clients)).toEqual(["https://a.example/fcl?t=1", "https://b.example/fcl"])
  })
})

describe("RP-Initiated Logout §2 confirmation form: its CSRF token binds the cookie, the realm and every carried value", () => {
  const cookie = "pS3cr3t-session-cookie-value_0123456789abcdefg"
  const carried: Logout.Carried = { clientId: "app", postLogoutRedirectUri: "https://app.example/bye", state: "st" }
  // what the route computed before the rule moved to domain: forms shown before an upgrade still verify after it
  const byNode = (key: string, realmId: string, c: Logout.Carried) =>
    createHmac("sha256", key)
      .update(JSON.stringify(["tessera/logout", realmId, c.clientId ?? null, c.postLogoutRedirectUri ?? null, c.state ?? null]))
      .digest("base64url")

  it.effect("base64url HMAC-SHA-256 keyed by the cookie over the realm and the carried values; it matches itself", () =>
    Effect.gen(function*() {
      for (const c of [carried, { clientId: undefined, postLogoutRedirectUri: undefined, state: undefined }, { ...carried, state: "é 🚀\u0000\"]" }]) {
        const token = yield* Logout.csrfToken(cookie, "r1", c)
        expect(token).toBe(byNode(cookie, "r1", c))
        expect(yield* Logout.csrfMatches(token, cookie, "r1", c)).toBe(true)
      }
    }))

  it.effect.each([
    ["another session's cookie", "other-cookie", "r1", carried],
    ["another realm", cookie, "r2", carried],
    ["client_id changed", cookie, "r1", { ...carried, clientId: "evil" }],
    ["client_id dropped", cookie, "r1", { ...carried, clientId: undefined }],
    ["post_logout_redirect_uri changed", cookie, "r1", { ...carried, postLogoutRedirectUri: "https://evil.example/bye" }],
    ["post_logout_redirect_uri dropped", cookie, "r1", { ...carried, postLogoutRedirectUri: undefined }],
    ["state changed", cookie, "r1", { ...carried, state: "st2" }],
    ["state dropped", cookie, "r1", { ...carried, state: undefined }],
    ["a value moved to another field", cookie, "r1", { clientId: "st", postLogoutRedirectUri: "https://app.example/bye", state: "app" }],
    ["the empty string for an absent value", cookie, "r1", { ...carried, state: "" }]
  ] as const)("%s: mismatch", ([, otherCookie, realmId, other]) =>
    Effect.gen(function*() {
      const token = yield* Logout.csrfToken(cookie, "r1", carried)
      expect(yield* Logout.csrfMatches(token, otherCookie, realmId, other)).toBe(false)
    }))

  it.effect("no csrf field, an empty one, or the token cut short or lengthened: mismatch", () =>
    Effect.gen(function*() {
      const token = yield* Logout.csrfToken(cookie, "r1", carried)
      for (const posted of [undefined, "", token.slice(0, -1), `${token}A`]) {
        expect(yield* Logout.csrfMatches(posted, cookie, "r1", carried)).toBe(false)
      }
    }))

  it.effect("an empty cookie (a browser may send `name=`) still gives node's token, never a defect", () =>
    Effect.gen(function*() {
      const token = yield* Logout.csrfToken("", "r1", carried)
      expect(token).toBe(byNode("", "r1", carried))
      expect(yield* Logout.csrfMatches(token, "x", "r1", carried)).toBe(false)
    }))
})
