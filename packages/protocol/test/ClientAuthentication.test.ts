import { describe, expect, it } from "@effect/vitest"
import { Redacted } from "effect"
import { ClientAuthentication, Form } from "@tessera/protocol"
import { expectError, expectNoEcho, hostile, left, right } from "./support/Expect.js"

const realm = "https://as.example/realms/acme"
const basicChallenge = `Basic realm="${realm}"`

const b64 = (bytes: string | Uint8Array) => Buffer.from(bytes).toString("base64")
const b64url = (text: string) => Buffer.from(text).toString("base64url")
const jwt = (claims: object) => `${b64url(JSON.stringify({ alg: "ES256", kid: "k1" }))}.${b64url(JSON.stringify(claims))}.c2lnbmF0dXJl`
const assertion = jwt({ iss: "s6BhdRkqt3", sub: "s6BhdRkqt3", aud: `${realm}/token`, jti: "1", exp: 1 })
const jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

type Params = Readonly<Record<string, string | ReadonlyArray<string> | undefined>>

const extract = (params: Params, authorization?: string) => {
  const body = new URLSearchParams()
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined) continue
    for (const v of typeof value === "string" ? [value] : value) body.append(name, v)
  }
  return ClientAuthentication.extract({ authorization, params: right(Form.parse(body.toString())) }, realm)
}

/** RFC 6749 §5.2: invalid_client, 401, and the Basic challenge on the rendered response. */
const expectInvalidClient = (result: ReturnType<typeof extract>, description: string) => {
  const error = left(result)
  expectError(error, 401, { error: "invalid_client", error_description: description })
  expect(error.wwwAuthenticate).toBe(basicChallenge)
  const response = error.toResponse()
  expect(response.status).toBe(401)
  expect(response.headers["www-authenticate"]).toBe(basicChallenge)
  expect(response.headers["cache-control"]).toBe("no-store")
  return error
}

const secretOf = (auth: ClientAuthentication.ClientAuthentication) =>
  auth._tag === "Basic" || auth._tag === "Post" ? Redacted.value(auth.clientSecret) : undefined

describe("RFC 6749 §2.3.1: client_secret_basic", () => {
  it("§2.3.1's example header", () => {
    const auth = right(extract({}, "Basic czZCaGRSa3F0Mzo3RmpmcDBaQnIxS3REUmJuZlZkbUl3"))
    expect(auth._tag).toBe("Basic")
    expect(auth.clientId).toBe("s6BhdRkqt3")
    expect(secretOf(auth)).toBe("7Fjfp0ZBr1KtDRbnfVdmIw")
  })

  it("RFC 9110 §11.1: the scheme is case-insensitive, and more than one space may follow it", () => {
    for (const scheme of ["basic", "BASIC", "bAsIc"]) {
      expect(right(extract({}, `${scheme} ${b64("a:b")}`)).clientId).toBe("a")
    }
    expect(right(extract({}, `Basic   ${b64("a:b")}`)).clientId).toBe("a")
  })

  it("§2.3.1: id and secret are form-url-decoded after base64", () => {
    const auth = right(extract({}, `Basic ${b64("my+client%3Aid:p%40ss+word%3A%2B%25")}`))
    expect(auth.clientId).toBe("my client:id")
    expect(secretOf(auth)).toBe("p@ss word:+%")
  })

  it("base64 padding is optional", () => {
    expect(right(extract({}, `Basic ${b64("ab:cd").replace(/=+$/, "")}`)).clientId).toBe("ab")
  })

  it("§3.2.1: client_id in the form too is allowed when it names the same client", () => {
    expect(right(extract({ client_id: "a" }, `Basic ${b64("a:b")}`)).clientId).toBe("a")
  })

  it("the secret never reaches JSON or a log line", () => {
    const auth = right(extract({}, `Basic ${b64("a:hunter2-secret")}`))
    expect(JSON.stringify(auth)).not.toContain("hunter2")
    expect(String(auth.clientId)).toBe("a")
  })

  const malformed: ReadonlyArray<readonly [string, string]> = [
    ["no credentials after the scheme", "Basic"],
    ["only spaces after the scheme", "Basic   "],
    ["not base64", "Basic !!!!"],
    ["base64 with a bad length", "Basic YWJjZ"],
    ["base64url instead of base64", `Basic ${Buffer.from("a:b~~~").toString("base64url")}`],
    ["no colon", `Basic ${b64("s6BhdRkqt3")}`],
    ["an empty client id", `Basic ${b64(":secret")}`],
    ["an empty secret", `Basic ${b64("s6BhdRkqt3:")}`],
    ["broken percent-encoding in the id", `Basic ${b64("%zz:secret")}`],
    ["broken percent-encoding in the secret", `Basic ${b64("id:%E0%A4%A")}`],
    ["bytes that are not UTF-8", `Basic ${b64(Uint8Array.of(0x61, 0x3a, 0xff))}`],
    ["a NUL byte in the id", `Basic ${b64("a\u0000b:secret")}`],
    ["an encoded NUL byte in the id", `Basic ${b64("a%00b:secret")}`],
    ["a line break in the secret", `Basic ${b64("id:a\r\nb")}`],
    ["markup in the id", `Basic ${b64("<script>alert(1)</script>%0A:secret")}`],
    ["trailing garbage", `Basic ${b64("a:b")} extra`],
    ["a huge value", `Basic ${"QUFB".repeat(50_000)}`]
  ]
  for (const [name, header] of malformed) {
    it(`§5.2: ${name} is invalid_client with the Basic challenge`, () => {
      const error = expectInvalidClient(extract({}, header), "the Basic credentials are malformed")
      expectNoEcho(error, header)
    })
  }

  it("§5.2: another scheme in the Authorization header is invalid_client with the Basic challenge", () => {
    for (const header of ["Bearer abc", "DPoP abc", "Digest username=\"a\"", "", "<script>", "Basic\u0000abc"]) {
      const error = expectInvalidClient(extract({}, header), "the Authorization header must use the Basic scheme")
      expectNoEcho(error, header)
    }
  })

  it("§3.2.1: a form client_id naming another client is invalid_request", () => {
    expectError(left(extract({ client_id: "other" }, `Basic ${b64("a:b")}`)), 400, {
      error: "invalid_request",
      error_description: "'client_id' does not match the Authorization header"
    })
  })

  it("RFC 7617 §2: the realm is a quoted-string", () => {
    expect(ClientAuthentication.challenge("a \"b\" \\c")).toBe("Basic realm=\"a \\\"b\\\" \\\\c\"")
  })
})

describe("RFC 6749 §2.3.1: client_secret_post", () => {
  it("client_id and client_secret in the body", () => {
    const auth = right(extract({ client_id: "s6BhdRkqt3", client_secret: "7Fjfp0ZBr1KtDRbnfVdmIw", grant_type: "x" }))
    expect(auth._tag).toBe("Post")
    expect(auth.clientId).toBe("s6BhdRkqt3")
    expect(secretOf(auth)).toBe("7Fjfp0ZBr1KtDRbnfVdmIw")
  })

  const cases: ReadonlyArray<readonly [string, Params, string]> = [
    ["client_id missing", { client_secret: "s" }, "'client_id' is required"],
    ["§3.1: client_secret repeated", { client_id: "c", client_secret: ["s", "t"] }, "'client_secret' must not be provided twice"],
    ["§3.1: client_id repeated", { client_id: ["c", "c"], client_secret: "s" }, "'client_id' must not be provided twice"],
    ["A.2: client_secret with a NUL byte", { client_id: "c", client_secret: "s\u0000" }, "'client_secret' must not contain NUL characters"],
    ["A.1: client_id with markup and a line break", { client_id: "<script>\n", client_secret: "s" }, "'client_id' must contain only printable ASCII characters"],
    ["client_secret too long", { client_id: "c", client_secret: "s".repeat(4097) }, "'client_secret' is too long"]
  ]
  for (const [name, params, description] of cases) {
    it(`${name} is invalid_request`, () => {
      const error = left(extract(params))
      expectError(error, 400, { error: "invalid_request", error_description: description })
      for (const value of Object.values(params).flat()) if (value !== undefined) expectNoEcho(error, value)
    })
  }
})

describe("RFC 7523 §2.2 / RFC 7521 §4.2: private_key_jwt", () => {
  it("the client is the assertion's sub when client_id is absent", () => {
    const auth = right(extract({ client_assertion_type: jwtBearer, client_assertion: assertion }))
    expect(auth).toEqual(ClientAuthentication.ClientAuthentication.Assertion({ clientId: "s6BhdRkqt3", assertion }))
  })

  it("RFC 7521 §4.2: client_id may be sent too, naming the same client", () => {
    expect(right(extract({ client_id: "s6BhdRkqt3", client_assertion_type: jwtBearer, client_assertion: assertion })))
      .toEqual(ClientAuthentication.ClientAuthentication.Assertion({ clientId: "s6BhdRkqt3", assertion }))
  })

  const invalidRequest: ReadonlyArray<readonly [string, Params, string]> = [
    ["client_assertion_type missing", { client_assertion: assertion }, "'client_assertion_type' is required"],
    ["client_assertion missing", { client_assertion_type: jwtBearer }, "'client_assertion' is required"],
    ["client_assertion repeated", { client_assertion_type: jwtBearer, client_assertion: [assertion, assertion] }, "'client_assertion' must not be provided twice"],
    ["client_assertion_type repeated", { client_assertion_type: [jwtBearer, jwtBearer], client_assertion: assertion }, "'client_assertion_type' must not be provided twice"]
  ]
  for (const [name, params, description] of invalidRequest) {
    it(`${name} is invalid_request`, () => {
      expectError(left(extract(params)), 400, { error: "invalid_request", error_description: description })
    })
  }

  const invalidClient: ReadonlyArray<readonly [string, Params, string]> = [
    ["RFC 7523 §2.2: another assertion type", { client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:saml2-bearer", client_assertion: assertion }, "'client_assertion_type' is not supported"],
    ["an assertion type with markup", { client_assertion_type: "<script>alert(1)</script>", client_assertion: assertion }, "'client_assertion_type' is not supported"],
    ["not a JWT", { client_assertion_type: jwtBearer, client_assertion: "abc" }, "'client_assertion' must be a compact JWT"],
    ["two parts", { client_assertion_type: jwtBearer, client_assertion: "a.b" }, "'client_assertion' must be a compact JWT"],
    ["unsigned (empty signature)", { client_assertion_type: jwtBearer, client_assertion: `${assertion.split(".").slice(0, 2).join(".")}.` }, "'client_assertion' must be a compact JWT"],
    ["a JWE (five parts)", { client_assertion_type: jwtBearer, client_assertion: "a.b.c.d.e" }, "'client_assertion' must be a compact JWT"],
    ["markup", { client_assertion_type: jwtBearer, client_assertion: "<script>.a.b" }, "'client_assertion' must be a compact JWT"],
    ["a payload that is not JSON", { client_assertion_type: jwtBearer, client_assertion: `e30.${b64url("not json")}.c2ln` }, "'client_assertion' must name the client in its sub claim"],
    ["a payload that is a JSON array", { client_assertion_type: jwtBearer, client_assertion: `e30.${b64url("[]")}.c2ln` }, "'client_assertion' must name the client in its sub claim"],
    ["no sub", { client_assertion_type: jwtBearer, client_assertion: jwt({ iss: "c" }) }, "'client_assertion' must name the client in its sub claim"],
    ["a sub that is not a string", { client_assertion_type: jwtBearer, client_assertion: jwt({ sub: 42 }) }, "'client_assertion' must name the client in its sub claim"],
    ["a sub with a NUL byte", { client_assertion_type: jwtBearer, client_assertion: jwt({ sub: "a\u0000" }) }, "'client_assertion' must name the client in its sub claim"],
    ["RFC 7523 §3: client_id that is not the sub", { client_id: "other", client_assertion_type: jwtBearer, client_assertion: assertion }, "'client_assertion' must name the client in its sub claim"]
  ]
  for (const [name, params, description] of invalidClient) {
    it(`${name} is invalid_client`, () => {
      const error = expectInvalidClient(extract(params), description)
      for (const value of Object.values(params).flat()) if (value !== undefined) expectNoEcho(error, value)
    })
  }
})

describe("RFC 6749 §2.1 and §3.2.1: public clients (none)", () => {
  it("client_id alone", () => {
    const auth = right(extract({ client_id: "https://app.example/client.json", grant_type: "authorization_code" }))
    expect(auth).toEqual(ClientAuthentication.ClientAuthentication.None({ clientId: "https://app.example/client.json" }))
  })

  it("§5.2: no client authentication included is invalid_client with the Basic challenge", () => {
    expectInvalidClient(extract({}), "client authentication is required")
    expectInvalidClient(extract({ client_id: "" }), "client authentication is required")
  })
})

describe("RFC 6749 §2.3: MUST NOT use more than one authentication method", () => {
  const cases: ReadonlyArray<readonly [string, Params, string | undefined]> = [
    ["Basic and client_secret", { client_id: "a", client_secret: "b" }, `Basic ${b64("a:b")}`],
    ["Basic and client_assertion", { client_assertion_type: jwtBearer, client_assertion: assertion }, `Basic ${b64("a:b")}`],
    ["Basic and client_assertion_type alone", { client_assertion_type: jwtBearer }, `Basic ${b64("a:b")}`],
    ["client_secret and client_assertion", { client_id: "a", client_secret: "b", client_assertion_type: jwtBearer, client_assertion: assertion }, undefined],
    ["a malformed header and client_secret", { client_id: "a", client_secret: "b" }, "Basic !!!"]
  ]
  for (const [name, params, header] of cases) {
    it(`${name} is invalid_request`, () => {
      expectError(left(extract(params, header)), 400, {
        error: "invalid_request",
        error_description: "the client must use only one authentication method"
      })
    })
  }
})

describe("hostile input in every client authentication parameter", () => {
  it("a fixed-text refusal or the value verbatim", () => {
    for (const name of ["client_id", "client_secret", "client_assertion", "client_assertion_type"]) {
      for (const value of hostile) {
        const result = extract({ client_id: "c", [name]: value })
        if (result._tag === "Left") expectNoEcho(result.left, value)
        else expect(["client_id", "client_secret"]).toContain(name)
      }
    }
  })

  it("the domain's refusal uses the same challenge", () => {
    const error = ClientAuthentication.invalidClient(realm)
    expectError(error, 401, { error: "invalid_client" })
    expect(error.toResponse().headers["www-authenticate"]).toBe(basicChallenge)
  })
})
