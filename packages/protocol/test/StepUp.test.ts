import { describe, expect, it } from "@effect/vitest"
import { ErrorResponse, StepUp } from "@tessera/protocol"
import { expectError } from "./support/Expect.js"

const now = 1_700_000_000
const prefix = `Bearer error="insufficient_user_authentication", error_description="A different authentication level is required"`

describe("RFC 9470 §3: StepUp.check", () => {
  const cases: ReadonlyArray<readonly [string, StepUp.Claims, StepUp.Requirement, StepUp.Result]> = [
    ["no requirement, no claims", {}, {}, { _tag: "Satisfied" }],
    ["no requirement, any claims", { auth_time: 0, acr: "x" }, {}, { _tag: "Satisfied" }],
    ["an empty acr_values list is no requirement", {}, { acrValues: [] }, { _tag: "Satisfied" }],
    ["max_age met", { auth_time: now - 100 }, { maxAge: 300 }, { _tag: "Satisfied" }],
    ["max_age met exactly at the limit", { auth_time: now - 300 }, { maxAge: 300 }, { _tag: "Satisfied" }],
    ["max_age exceeded by one second", { auth_time: now - 301 }, { maxAge: 300 }, { _tag: "Insufficient", maxAge: 300 }],
    ["max_age with auth_time missing", { acr: "urn:mfa" }, { maxAge: 300 }, { _tag: "Insufficient", maxAge: 300 }],
    ["max_age with a non-finite auth_time", { auth_time: NaN }, { maxAge: 300 }, { _tag: "Insufficient", maxAge: 300 }],
    ["max_age=0 with authentication this second", { auth_time: now }, { maxAge: 0 }, { _tag: "Satisfied" }],
    ["max_age=0 with authentication a second ago", { auth_time: now - 1 }, { maxAge: 0 }, { _tag: "Insufficient", maxAge: 0 }],
    ["acr in acr_values", { acr: "urn:mfa" }, { acrValues: ["urn:hw", "urn:mfa"] }, { _tag: "Satisfied" }],
    ["acr not in acr_values", { acr: "urn:pwd" }, { acrValues: ["urn:hw", "urn:mfa"] }, {
      _tag: "Insufficient",
      acrValues: ["urn:hw", "urn:mfa"]
    }],
    ["acr compared exactly (case)", { acr: "URN:MFA" }, { acrValues: ["urn:mfa"] }, { _tag: "Insufficient", acrValues: ["urn:mfa"] }],
    ["acr missing", { auth_time: now }, { acrValues: ["urn:mfa"] }, { _tag: "Insufficient", acrValues: ["urn:mfa"] }],
    ["both met", { auth_time: now - 10, acr: "urn:mfa" }, { maxAge: 60, acrValues: ["urn:mfa"] }, { _tag: "Satisfied" }],
    ["both: only max_age fails, the whole requirement comes back", { auth_time: now - 61, acr: "urn:mfa" }, {
      maxAge: 60,
      acrValues: ["urn:mfa"]
    }, { _tag: "Insufficient", maxAge: 60, acrValues: ["urn:mfa"] }],
    ["both: only acr fails, the whole requirement comes back", { auth_time: now - 10, acr: "urn:pwd" }, {
      maxAge: 60,
      acrValues: ["urn:mfa"]
    }, { _tag: "Insufficient", maxAge: 60, acrValues: ["urn:mfa"] }],
    ["both fail", {}, { maxAge: 60, acrValues: ["urn:mfa"] }, { _tag: "Insufficient", maxAge: 60, acrValues: ["urn:mfa"] }]
  ]
  for (const [name, claims, requirement, expected] of cases) {
    it(name, () => {
      expect(StepUp.check(claims, requirement, now)).toStrictEqual(expected)
    })
  }
})

describe("RFC 9470 §3: StepUp.challenge", () => {
  const cases: ReadonlyArray<readonly [string, StepUp.Insufficient, StepUp.ChallengeOptions, string]> = [
    ["acr_values alone (the RFC 9470 §3 example)", { _tag: "Insufficient", acrValues: ["myACR"] }, {}, `${prefix}, acr_values="myACR"`],
    ["acr_values space-separated in preference order", { _tag: "Insufficient", acrValues: ["urn:hw", "urn:mfa"] }, {},
      `${prefix}, acr_values="urn:hw urn:mfa"`],
    ["max_age alone", { _tag: "Insufficient", maxAge: 5 }, {}, `${prefix}, max_age="5"`],
    ["max_age=0", { _tag: "Insufficient", maxAge: 0 }, {}, `${prefix}, max_age="0"`],
    ["neither parameter", { _tag: "Insufficient" }, {}, prefix],
    ["an empty acr_values list is left out", { _tag: "Insufficient", acrValues: [] }, {}, prefix],
    ["every parameter, in the fixed order", { _tag: "Insufficient", maxAge: 300, acrValues: ["urn:mfa"] }, {
      realm: "api",
      resourceMetadata: "https://api.example.com/.well-known/oauth-protected-resource"
    }, `Bearer realm="api", error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="urn:mfa", max_age="300", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource"`],
    ["realm alone comes first", { _tag: "Insufficient", maxAge: 60 }, { realm: "example" },
      `Bearer realm="example", ${prefix.slice("Bearer ".length)}, max_age="60"`],
    ["resource_metadata alone comes last", { _tag: "Insufficient", acrValues: ["a"] }, { resourceMetadata: "https://rs/m" },
      `${prefix}, acr_values="a", resource_metadata="https://rs/m"`]
  ]
  for (const [name, insufficient, options, expected] of cases) {
    it(name, () => {
      expect(StepUp.challenge(insufficient, options)).toBe(expected)
    })
  }

  it("is what check's result asks for", () => {
    const result = StepUp.check({ auth_time: now - 1000, acr: "urn:pwd" }, { maxAge: 300, acrValues: ["urn:mfa"] }, now)
    if (result._tag !== "Insufficient") throw new Error("expected Insufficient")
    expect(StepUp.challenge(result, {})).toBe(`${prefix}, acr_values="urn:mfa", max_age="300"`)
  })
})

describe("RFC 9110 §11.2: quoted-string values", () => {
  it("backslash-escapes '\"' and '\\'", () => {
    expect(StepUp.challenge({ _tag: "Insufficient", acrValues: [`a"b\\c`] }, { realm: `r"\\` })).toBe(
      `Bearer realm="r\\"\\\\", ${prefix.slice("Bearer ".length)}, acr_values="a\\"b\\\\c"`
    )
  })

  it("keeps a comma, '=' and obs-text inside the quotes", () => {
    expect(StepUp.challenge({ _tag: "Insufficient" }, { realm: "a, b=c é" })).toBe(
      `Bearer realm="a, b=c é", ${prefix.slice("Bearer ".length)}`
    )
  })

  const bad = ["a\r\nSet-Cookie: x=1", "a\u0000b", "a\tb", "a\u007Fb", "a\u0085b", "\u202Eevil", "\u{1F600}"]
  for (const value of bad) {
    it(`refuses ${JSON.stringify(value)} in realm, resource_metadata and acr_values`, () => {
      expect(() => StepUp.challenge({ _tag: "Insufficient" }, { realm: value })).toThrow(TypeError)
      expect(() => StepUp.challenge({ _tag: "Insufficient" }, { resourceMetadata: value })).toThrow(TypeError)
      expect(() => StepUp.challenge({ _tag: "Insufficient", acrValues: [value.replaceAll(" ", "")] }, {})).toThrow(TypeError)
    })
  }

  it("refuses an acr value that is empty or holds a space (it would split the list)", () => {
    expect(() => StepUp.challenge({ _tag: "Insufficient", acrValues: ["a b"] }, {})).toThrow(TypeError)
    expect(() => StepUp.challenge({ _tag: "Insufficient", acrValues: ["a", ""] }, {})).toThrow(TypeError)
  })

  for (const maxAge of [-1, 1.5, NaN, Infinity]) {
    it(`refuses max_age ${maxAge}`, () => {
      expect(() => StepUp.challenge({ _tag: "Insufficient", maxAge }, {})).toThrow(TypeError)
    })
  }
})

describe("RFC 9470 §3: StepUp.errorResponse", () => {
  it("is a 401 insufficient_user_authentication with the challenge", () => {
    const error = StepUp.errorResponse({ _tag: "Insufficient", acrValues: ["urn:mfa"], maxAge: 60 }, { realm: "api" })
    const header = `Bearer realm="api", ${prefix.slice("Bearer ".length)}, acr_values="urn:mfa", max_age="60"`
    expectError(error, 401, {
      error: "insufficient_user_authentication",
      error_description: "A different authentication level is required"
    })
    expect(error.wwwAuthenticate).toBe(header)
    const response = error.toResponse()
    expect(response.status).toBe(401)
    expect(response.headers["www-authenticate"]).toBe(header)
    expect(response.headers["cache-control"]).toBe("no-store")
  })

  it("the code's default status is 401", () => {
    expect(ErrorResponse.make("insufficient_user_authentication").httpStatus).toBe(401)
  })
})
