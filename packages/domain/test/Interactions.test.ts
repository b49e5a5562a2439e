import { describe, expect, it } from "@effect/vitest"
import { DateTime, Duration, Either, Layer, Schema } from "effect"
import { Audit, Clients, Interactions, JobLock, Keys, LoginThrottle, MemoryDb, Realms, Resources, TrustedIssuers, Users } from "@tessera/domain"
import * as InteractionsContract from "./InteractionsContract.js"

const Memory = Layer.mergeAll(
  Realms.layerMemory, Clients.layerMemory, Users.layerMemory, Resources.layerMemory, TrustedIssuers.layerMemory,
  Keys.layerMemory, Audit.layerMemory, JobLock.layerMemory, Interactions.layerMemory, LoginThrottle.layerMemory
).pipe(Layer.provide(MemoryDb.layer))

InteractionsContract.suite("memory", Memory)

describe("the authorization request: Requested -> Authenticated -> Consented -> CodeIssued; Denied; Expired (pure, ADR 0054)", () => {
  const at = DateTime.unsafeMake("2026-11-29T12:00:00Z")
  const request: Interactions.Request = {
    clientId: "c1", redirectUri: "https://app.example/cb", redirectUriGiven: true, scopes: ["openid"], resources: [],
    codeChallenge: "x", responseMode: "query", prompt: [], acrValues: [], stepUp: false
  }
  const common = { realmId: "r1", id: "i1", request, csrfHash: "h", createdAt: at, expiresAt: DateTime.addDuration(at, Interactions.lifetime) }
  const requested = Interactions.start(common, undefined)
  const signedIn = Either.getOrThrow(Interactions.authenticate(requested, "sid-1", at))
  const refused = (reason: Interactions.InteractionRefused["reason"]) => Either.left(new Interactions.InteractionRefused({ reason }))
  const expiry = common.expiresAt

  it("OIDC Core §3.1.2.3: a request starts Requested, or Authenticated when the browser's session already counts", () => {
    expect(requested).toEqual(Interactions.Interaction.Requested({ ...common, version: 0 }))
    expect(Interactions.start(common, "sid-0")).toEqual(Interactions.Interaction.Authenticated({ ...common, sid: "sid-0", version: 0 }))
  })

  it("OIDC Core §3.1.2.3: signing in makes it Authenticated; signing in again on it replaces the session", () => {
    expect(signedIn).toEqual(Interactions.Interaction.Authenticated({ ...common, sid: "sid-1", version: 1 }))
    expect(Interactions.authenticate(signedIn, "sid-2", at)).toEqual(Either.right(Interactions.Interaction.Authenticated({ ...common, sid: "sid-2", version: 2 })))
  })

  it("OAuth 2.1 §4.1.2: allowing issues the code: Authenticated -> Consented -> CodeIssued in one write", () => {
    expect(Interactions.issueCode(signedIn, at)).toEqual(Either.right(Interactions.Interaction.CodeIssued({ ...common, sid: "sid-1", version: 2 })))
    expect(Interactions.consent(signedIn, at)).toEqual(Either.right(Interactions.Interaction.Consented({ ...common, sid: "sid-1", version: 2 })))
  })

  it("OAuth 2.1 §4.1.2.1: denying ends it Denied", () => {
    expect(Interactions.deny(signedIn, at)).toEqual(Either.right(Interactions.Interaction.Denied({ ...common, sid: "sid-1", version: 2 })))
  })

  it("CONTRACT §4: nobody decides a request nobody signed in for", () => {
    expect(Interactions.consent(requested, at)).toEqual(refused("not_authenticated"))
    expect(Interactions.issueCode(requested, at)).toEqual(refused("not_authenticated"))
    expect(Interactions.deny(requested, at)).toEqual(refused("not_authenticated"))
  })

  it.each([
    ["CodeIssued", Either.getOrThrow(Interactions.issueCode(signedIn, at))],
    ["Consented (a device's approval)", Either.getOrThrow(Interactions.consent(signedIn, at))],
    ["Denied", Either.getOrThrow(Interactions.deny(signedIn, at))]
  ] as const)("RFC 6749 §4.1.2 one code per authorization, §10.5 single use: a %s interaction answers no second form", (_, finished) => {
    expect(Interactions.open(finished, at)).toEqual(refused("finished"))
    expect(Interactions.authenticate(finished, "sid-2", at)).toEqual(refused("finished"))
    expect(Interactions.issueCode(finished, at)).toEqual(refused("finished"))
    expect(Interactions.deny(finished, at)).toEqual(refused("finished"))
  })

  it("Expired by time (Interactions.lifetime): every transition is refused from its expiry on, never before", () => {
    const justBefore = DateTime.subtractDuration(expiry, Duration.millis(1))
    expect(Either.isRight(Interactions.issueCode(signedIn, justBefore))).toBe(true)
    expect(Interactions.open(signedIn, expiry)).toEqual(refused("expired"))
    expect(Interactions.authenticate(requested, "sid-1", expiry)).toEqual(refused("expired"))
    expect(Interactions.issueCode(signedIn, expiry)).toEqual(refused("expired"))
    expect(Interactions.deny(signedIn, expiry)).toEqual(refused("expired"))
  })

  it("the stored request: Interactions.Request round-trips through JSON, and a request of another shape does not decode", () => {
    const full: Interactions.Request = { ...request, state: "s", nonce: "n", maxAge: 0, loginHint: "ada", dpopJkt: "j", device: { deviceCodeHash: "d", userCode: "ABCDEFGH" } }
    const decode = Schema.decodeUnknownEither(Interactions.Request)
    expect(decode(JSON.parse(JSON.stringify(full)))).toEqual(Either.right(full))
    expect(Either.isLeft(decode({ ...full, responseMode: "fragment" }))).toBe(true)
    expect(Either.isLeft(decode({ ...full, scopes: "openid" }))).toBe(true)
  })
})
