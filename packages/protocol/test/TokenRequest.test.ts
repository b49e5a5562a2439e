import { describe, expect, it } from "@effect/vitest"
import { Match } from "effect"
import { TokenRequest } from "@tessera/protocol"
import { expectError, expectNoEcho, hostile, left, right } from "./support/Expect.js"

/** RFC 7636 Appendix B: the example verifier. */
const verifier = "dBjftJeZ4CVP-mJ92K9qXYcpOvFOrEd5obcFoNTjpAc"

type Params = Readonly<Record<string, string | ReadonlyArray<string> | undefined>>

const form = (params: Params) => {
  const body = new URLSearchParams()
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined) continue
    for (const v of typeof value === "string" ? [value] : value) body.append(name, v)
  }
  return body.toString()
}

/** RFC 6749 §4.1.3's example, with the RFC 7636 verifier. */
const code: Params = {
  grant_type: "authorization_code",
  code: "SplxlOBeZQQYbYS6WxSbIA",
  redirect_uri: "https://client.example.com/cb",
  code_verifier: verifier
}
const refresh: Params = { grant_type: "refresh_token", refresh_token: "tGzv3JOkF0XG5Qx2TlKWIA" }

const parse = (params: Params) => TokenRequest.parse(form(params))

describe("RFC 6749 §4.1.3 / OAuth 2.1 §4.1.3: authorization_code", () => {
  it("the example request", () => {
    expect(right(parse(code))).toStrictEqual(new TokenRequest.AuthorizationCode({
      grant_type: "authorization_code",
      code: "SplxlOBeZQQYbYS6WxSbIA",
      redirect_uri: "https://client.example.com/cb",
      code_verifier: verifier,
      resource: []
    }))
  })

  it("RFC 8707 §2: resource may repeat; duplicates and empty values are dropped; client auth parameters are ignored", () => {
    const request = right(parse({
      ...code,
      resource: ["https://api.example.com/mcp", "", "https://b.example/", "https://api.example.com/mcp"],
      client_id: "c",
      client_secret: "s",
      scope: "ignored here"
    }))
    expect(request).toStrictEqual(new TokenRequest.AuthorizationCode({
      grant_type: "authorization_code",
      code: "SplxlOBeZQQYbYS6WxSbIA",
      redirect_uri: "https://client.example.com/cb",
      code_verifier: verifier,
      resource: ["https://api.example.com/mcp", "https://b.example/"]
    }))
  })

  it("OAuth 2.1 §4.1.3: redirect_uri is required only if the authorization request had it: missing or empty, it is absent", () => {
    for (const redirect_uri of [undefined, ""]) {
      const request = right(parse({ ...code, redirect_uri }))
      expect(request).toStrictEqual(new TokenRequest.AuthorizationCode({
        grant_type: "authorization_code",
        code: "SplxlOBeZQQYbYS6WxSbIA",
        code_verifier: verifier,
        resource: []
      }))
      expect("redirect_uri" in request).toBe(false)
    }
  })

  it("RFC 7636 §4.1: verifiers of 43 and 128 unreserved characters", () => {
    for (const v of ["a".repeat(43), "-._~".repeat(32)]) {
      expect(right(parse({ ...code, code_verifier: v }))).toMatchObject({ code_verifier: v })
    }
  })

  const cases: ReadonlyArray<readonly [string, Params, string, string]> = [
    ["code missing", { code: undefined }, "invalid_request", "'code' is required"],
    ["code empty", { code: "" }, "invalid_request", "'code' is required"],
    ["RFC 6749 §3.1: code repeated", { code: ["a", "b"] }, "invalid_request", "'code' must not be provided twice"],
    ["RFC 6749 A.11: code with a NUL byte", { code: "a\u0000b" }, "invalid_request", "'code' must not contain NUL characters"],
    ["code not ASCII", { code: "cöde" }, "invalid_request", "'code' must contain only printable ASCII characters"],
    ["code too long", { code: "c".repeat(4097) }, "invalid_request", "'code' is too long"],
    ["redirect_uri repeated", { redirect_uri: ["https://a/cb", "https://a/cb"] }, "invalid_request", "'redirect_uri' must not be provided twice"],
    ["redirect_uri with a fragment", { redirect_uri: "https://client.example.com/cb#f" }, "invalid_request", "'redirect_uri' must be an absolute URI without a fragment"],
    ["redirect_uri relative", { redirect_uri: "cb" }, "invalid_request", "'redirect_uri' must be an absolute URI without a fragment"],
    ["code_verifier missing", { code_verifier: undefined }, "invalid_request", "'code_verifier' is required"],
    ["code_verifier repeated", { code_verifier: [verifier, verifier] }, "invalid_request", "'code_verifier' must not be provided twice"],
    ["RFC 7636 §4.1: code_verifier of 42 characters", { code_verifier: "a".repeat(42) }, "invalid_request", "'code_verifier' must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~"],
    ["RFC 7636 §4.1: code_verifier of 129 characters", { code_verifier: "a".repeat(129) }, "invalid_request", "'code_verifier' must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~"],
    ["RFC 7636 §4.1: code_verifier with '+'", { code_verifier: `${verifier.slice(1)}+` }, "invalid_request", "'code_verifier' must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~"],
    ["RFC 7636 §4.1: code_verifier with markup", { code_verifier: `<script>${verifier}</script>` }, "invalid_request", "'code_verifier' must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~"],
    ["RFC 8707 §2: resource relative", { resource: "/api" }, "invalid_target", "'resource' must be an absolute URI without a fragment"],
    ["RFC 8707 §2: resource with a fragment", { resource: ["https://a.example/", "https://b.example/#x"] }, "invalid_target", "'resource' must be an absolute URI without a fragment"],
    ["resource too long", { resource: `https://a.example/${"r".repeat(5000)}` }, "invalid_request", "'resource' is too long"]
  ]
  for (const [name, changes, error, description] of cases) {
    it(name, () => {
      const refusal = left(parse({ ...code, ...changes }))
      expectError(refusal, 400, { error, error_description: description })
      for (const value of Object.values(changes).flat()) if (value !== undefined) expectNoEcho(refusal, value)
    })
  }
})

describe("RFC 6749 §6: refresh_token", () => {
  it("without scope", () => {
    expect(right(parse(refresh))).toStrictEqual(new TokenRequest.RefreshToken({
      grant_type: "refresh_token",
      refresh_token: "tGzv3JOkF0XG5Qx2TlKWIA",
      resource: []
    }))
  })

  it("with a narrower scope and a resource; an empty scope is no scope", () => {
    expect(right(parse({ ...refresh, scope: "openid email openid", resource: "https://api.example.com/" })))
      .toStrictEqual(new TokenRequest.RefreshToken({
        grant_type: "refresh_token",
        refresh_token: "tGzv3JOkF0XG5Qx2TlKWIA",
        scope: ["openid", "email"],
        resource: ["https://api.example.com/"]
      }))
    expect(right(parse({ ...refresh, scope: "" }))).not.toHaveProperty("scope")
  })

  const cases: ReadonlyArray<readonly [string, Params, string, string]> = [
    ["refresh_token missing", { refresh_token: undefined }, "invalid_request", "'refresh_token' is required"],
    ["refresh_token repeated", { refresh_token: ["a", "b"] }, "invalid_request", "'refresh_token' must not be provided twice"],
    ["RFC 6749 A.17: refresh_token with a line break", { refresh_token: "a\nb" }, "invalid_request", "'refresh_token' must contain only printable ASCII characters"],
    ["RFC 6749 §3.3: scope with a doubled space", { scope: "a  b" }, "invalid_scope", "'scope' must be scope tokens separated by single spaces"],
    ["RFC 6749 §3.3: scope with a double quote", { scope: "a\"b" }, "invalid_scope", "'scope' must be scope tokens separated by single spaces"],
    ["scope repeated", { scope: ["a", "b"] }, "invalid_request", "'scope' must not be provided twice"]
  ]
  for (const [name, changes, error, description] of cases) {
    it(name, () => {
      expectError(left(parse({ ...refresh, ...changes })), 400, { error, error_description: description })
    })
  }
})

describe("RFC 6749 §4.4.2: client_credentials", () => {
  it("scope and resources are optional", () => {
    expect(right(parse({ grant_type: "client_credentials" }))).toStrictEqual(new TokenRequest.ClientCredentials({
      grant_type: "client_credentials",
      resource: []
    }))
    expect(right(parse({ grant_type: "client_credentials", scope: "mcp:tools", resource: ["https://a/", "https://b/"] })))
      .toStrictEqual(new TokenRequest.ClientCredentials({
        grant_type: "client_credentials",
        scope: ["mcp:tools"],
        resource: ["https://a/", "https://b/"]
      }))
  })

  it("RFC 8707 §2: a bad resource is invalid_target", () => {
    expectError(left(parse({ grant_type: "client_credentials", resource: "urn" })), 400, {
      error: "invalid_target",
      error_description: "'resource' must be an absolute URI without a fragment"
    })
  })
})

describe("RFC 7523 §2.1: urn:ietf:params:oauth:grant-type:jwt-bearer", () => {
  const jwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"
  it("assertion is required; scope and resource are optional", () => {
    expect(right(parse({ grant_type: jwtBearer, assertion: "eyJh.eyJz.c2ln" }))).toStrictEqual(new TokenRequest.JwtBearer({
      grant_type: jwtBearer, assertion: "eyJh.eyJz.c2ln", resource: []
    }))
    expect(right(parse({ grant_type: jwtBearer, assertion: "eyJh.eyJz.c2ln", scope: "read read", resource: "https://a/" })))
      .toStrictEqual(new TokenRequest.JwtBearer({ grant_type: jwtBearer, assertion: "eyJh.eyJz.c2ln", scope: ["read"], resource: ["https://a/"] }))
    expectError(left(parse({ grant_type: jwtBearer })), 400, { error: "invalid_request", error_description: "'assertion' is required" })
  })

  it("RFC 6749 §5.2: an assertion that is not JWS compact syntax is invalid_request, its value never echoed", () => {
    for (const assertion of ["not-a-jwt", "a.b", "a.b.c.d.e", "a..c", "a.b.c=", "<script>.b.c", "a b.c.d"]) {
      const error = left(parse({ grant_type: jwtBearer, assertion }))
      expectError(error, 400, { error: "invalid_request", error_description: "'assertion' must be a JWT in JWS compact serialization" })
      expectNoEcho(error, assertion)
    }
    expectError(left(parse({ grant_type: jwtBearer, assertion: ["a.b.c", "d.e.f"] })), 400, {
      error: "invalid_request", error_description: "'assertion' must not be provided twice"
    })
  })
})

describe("RFC 6749 §5.2: grant_type", () => {
  it("missing, empty or repeated is invalid_request", () => {
    const cases: ReadonlyArray<readonly [Params, string]> = [
      [{ code: "x" }, "'grant_type' is required"],
      [{ grant_type: "" }, "'grant_type' is required"],
      [{ grant_type: ["authorization_code", "refresh_token"] }, "'grant_type' must not be provided twice"],
      [{ grant_type: ["refresh_token", "refresh_token"] }, "'grant_type' must not be provided twice"]
    ]
    for (const [params, description] of cases) {
      expectError(left(parse(params)), 400, { error: "invalid_request", error_description: description })
    }
  })

  it("OAuth 2.1 §10: implicit and password, and anything unknown, are unsupported_grant_type", () => {
    const unsupported = [
      "implicit", "password", "Authorization_Code", "urn:ietf:params:oauth:grant-type:saml2-bearer", "authorization_code ",
      // CONTRACT §2: a NUL is refused before any parameter is judged (Form.test.ts)
      ...hostile.filter((v) => v.length <= 4096 && !v.includes("\u0000"))
    ]
    for (const grant_type of unsupported) {
      const refusal = left(parse({ ...code, grant_type }))
      expectError(refusal, 400, { error: "unsupported_grant_type", error_description: "'grant_type' is not supported" })
      expectNoEcho(refusal, grant_type)
    }
    expectError(left(parse({ grant_type: "x".repeat(4097) })), 400, { error: "invalid_request", error_description: "'grant_type' is too long" })
  })
})

describe("RFC 6749 §3.2: the form itself", () => {
  const refusals: ReadonlyArray<readonly [string, string, string]> = [
    ["broken percent-encoding", "grant_type=authorization_code&code=%zz", "the request is not valid form encoding"],
    ["a cut UTF-8 sequence", "grant_type=refresh_token&refresh_token=%E0%A4%A", "the request is not valid form encoding"],
    ["STYLE §8's example: code twice", "grant_type=authorization_code&code=a&code=b", "'code' must not be provided twice"],
    ["too many parameters", `grant_type=client_credentials${"&x=1".repeat(100)}`, "the request has too many parameters"]
  ]
  for (const [name, body, description] of refusals) {
    it(name, () => {
      expectError(left(TokenRequest.parse(body)), 400, { error: "invalid_request", error_description: description })
    })
  }

  it("hostile values in every parameter: a fixed-text refusal or the value verbatim", () => {
    for (const name of ["code", "redirect_uri", "code_verifier", "resource", "refresh_token", "scope"]) {
      for (const value of hostile) {
        for (const base of [code, refresh, { grant_type: "client_credentials" }]) {
          const result = parse({ ...base, [name]: value })
          if (result._tag === "Left") expectNoEcho(result.left, value)
        }
      }
    }
  })

  it("STYLE §5: the token route dispatches with Match on grant_type", () => {
    const grant = Match.type<TokenRequest.TokenRequest>().pipe(Match.discriminatorsExhaustive("grant_type")({
      authorization_code: (r) => `code ${r.code}`,
      refresh_token: (r) => `refresh ${r.refresh_token}`,
      client_credentials: () => "client",
      "urn:ietf:params:oauth:grant-type:jwt-bearer": (r) => `jwt-bearer ${r.assertion}`,
      "urn:ietf:params:oauth:grant-type:token-exchange": (r) => `exchange ${r.subject_token}`,
      "urn:ietf:params:oauth:grant-type:device_code": (r) => `device ${r.device_code}`
    }))
    expect(grant(right(parse(code)))).toBe("code SplxlOBeZQQYbYS6WxSbIA")
    expect(grant(right(parse(refresh)))).toBe("refresh tGzv3JOkF0XG5Qx2TlKWIA")
    expect(grant(right(parse({ grant_type: "client_credentials" })))).toBe("client")
    expect(grant(right(parse({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion: "a.b.c" })))).toBe("jwt-bearer a.b.c")
    expect(grant(right(parse({ grant_type: deviceCode, device_code: "GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS" }))))
      .toBe("device GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS")
  })
})

const deviceCode = "urn:ietf:params:oauth:grant-type:device_code"

describe("RFC 8628 §3.4: the device access token request", () => {
  it("§3.4's example: grant_type and device_code (client_id is client authentication's)", () => {
    expect(right(parse({ grant_type: deviceCode, device_code: "GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS", client_id: "1406020730" })))
      .toStrictEqual(new TokenRequest.DeviceCode({ grant_type: deviceCode, device_code: "GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS", resource: [] }))
  })

  it("RFC 8707 §2: resource may be given to pick the token's audience", () => {
    expect(right(parse({ grant_type: deviceCode, device_code: "d", resource: ["https://api.example/", "https://api.example/"] })))
      .toStrictEqual(new TokenRequest.DeviceCode({ grant_type: deviceCode, device_code: "d", resource: ["https://api.example/"] }))
  })

  it("device_code is required, once, printable ASCII", () => {
    const invalid = (error_description: string) => ({ error: "invalid_request", error_description })
    expectError(left(parse({ grant_type: deviceCode })), 400, invalid("'device_code' is required"))
    expectError(left(parse({ grant_type: deviceCode, device_code: "" })), 400, invalid("'device_code' is required"))
    expectError(left(parse({ grant_type: deviceCode, device_code: ["a", "b"] })), 400, invalid("'device_code' must not be provided twice"))
    expectError(left(parse({ grant_type: deviceCode, device_code: "caf\u00e9" })), 400, invalid("'device_code' must contain only printable ASCII characters"))
  })
})
