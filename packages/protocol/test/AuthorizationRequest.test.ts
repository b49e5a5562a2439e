import { describe, expect, it } from "@effect/vitest"
import { AuthorizationRequest } from "@tessera/protocol"
import { expectError, expectNoEcho, hostile, left, right } from "./support/Expect.js"

/** RFC 7636 Appendix B: the S256 challenge of the example verifier. */
const challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
/** RFC 9449 §10: an example JWK thumbprint. */
const jkt = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
const idToken = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIyNDgyODk3NjEwMDEifQ.c2lnbmF0dXJl"

type Params = Readonly<Record<string, string | ReadonlyArray<string> | undefined>>

/** OIDC Core §3.1.2.1's example request, with PKCE S256. */
const base: Params = {
  response_type: "code",
  client_id: "s6BhdRkqt3",
  redirect_uri: "https://client.example.org/cb",
  scope: "openid profile",
  state: "af0ifjsldkj",
  code_challenge: challenge,
  code_challenge_method: "S256"
}

/** A query string from `base` overridden by `changes` (undefined drops a parameter, an array repeats it). */
const query = (changes: Params = {}) => {
  const search = new URLSearchParams()
  for (const [name, value] of Object.entries({ ...base, ...changes })) {
    if (value === undefined) continue
    for (const v of typeof value === "string" ? [value] : value) search.append(name, v)
  }
  return `?${search.toString()}`
}

const parse = (changes: Params = {}) => AuthorizationRequest.parse(query(changes))

const expected = {
  clientId: "s6BhdRkqt3",
  redirectUri: "https://client.example.org/cb",
  responseType: "code",
  responseMode: "query",
  scope: ["openid", "profile"],
  state: "af0ifjsldkj",
  codeChallenge: challenge,
  codeChallengeMethod: "S256",
  resource: [],
  prompt: [],
  acrValues: [],
  uiLocales: []
} as const

describe("OAuth 2.1 §4.1.1 / OIDC Core §3.1.2.1: a valid authorization request", () => {
  it("§3.1.2.1: the example request, with PKCE S256", () => {
    expect(right(parse())).toStrictEqual(expected)
  })

  it("OAuth 2.1 §4.1.1: only client_id, response_type and PKCE are needed outside OpenID Connect", () => {
    const minimal = AuthorizationRequest.parse(
      `response_type=code&client_id=c&code_challenge=${challenge}&code_challenge_method=S256`
    )
    expect(right(minimal)).toStrictEqual({
      clientId: "c",
      responseType: "code",
      responseMode: "query",
      codeChallenge: challenge,
      codeChallengeMethod: "S256",
      resource: [],
      prompt: [],
      acrValues: [],
      uiLocales: []
    })
  })

  it("every optional parameter, parsed", () => {
    const request = right(parse({
      response_mode: "form_post",
      scope: "openid profile email openid offline_access",
      nonce: "n-0S6_WzA2Mj",
      resource: ["https://api.example.com/mcp", "https://other.example/", "https://api.example.com/mcp"],
      prompt: "login consent login",
      max_age: "0300",
      login_hint: "janedoe@example.com",
      acr_values: "urn:mace:incommon:iap:silver 1",
      ui_locales: "fr-CA fr en",
      id_token_hint: idToken,
      dpop_jkt: jkt,
      display: "popup",
      unknown_extension: "ignored"
    }))
    expect(request).toStrictEqual({
      ...expected,
      responseMode: "form_post",
      scope: ["openid", "profile", "email", "offline_access"],
      nonce: "n-0S6_WzA2Mj",
      resource: ["https://api.example.com/mcp", "https://other.example/"],
      prompt: ["login", "consent"],
      maxAge: 300,
      loginHint: "janedoe@example.com",
      acrValues: ["urn:mace:incommon:iap:silver", "1"],
      uiLocales: ["fr-CA", "fr", "en"],
      idTokenHint: idToken,
      dpopJkt: jkt
    })
  })

  it("OIDC Core §3.1.2.1: prompt=none alone; max_age=0", () => {
    const request = right(parse({ prompt: "none", max_age: "0" }))
    expect(request.prompt).toStrictEqual(["none"])
    expect(request.maxAge).toBe(0)
  })

  it("RFC 6749 §3.1: parameters sent without a value are treated as omitted", () => {
    const { state: _, ...withoutState } = expected
    expect(right(parse({ state: "", nonce: "", prompt: "", resource: ["", "https://rs.example/"], response_mode: "" })))
      .toStrictEqual({ ...withoutState, resource: ["https://rs.example/"] })
  })

  it("the request may arrive as a POST form body (OIDC Core §3.1.2.1)", () => {
    expect(right(AuthorizationRequest.parse(query().slice(1)))).toStrictEqual(expected)
  })

  it("RFC 6749 §3.1: unrecognized parameters are ignored, even repeated or over-long", () => {
    expect(right(parse({ foo: ["1", "2"], bar: "x".repeat(10_000) }))).toStrictEqual(expected)
  })

  it("state keeps any printable ASCII verbatim (escaping is the renderer's job)", () => {
    expect(right(parse({ state: "<script>alert('x')</script>" })).state).toBe("<script>alert('x')</script>")
  })
})

describe("OAuth 2.1 §4.1.2.1: bad client_id or redirect_uri shows the error page, never redirects", () => {
  const cases: ReadonlyArray<readonly [string, string, string]> = [
    ["client_id missing", query({ client_id: undefined }), "'client_id' is required"],
    ["client_id empty", query({ client_id: "" }), "'client_id' is required"],
    ["client_id repeated", query({ client_id: ["a", "b"] }), "'client_id' must not be provided twice"],
    ["client_id with a NUL byte", query({ client_id: "s6Bh\u0000dRkqt3" }), "'client_id' must not contain NUL characters"],
    ["client_id with a line break", query({ client_id: "a\r\nb" }), "'client_id' must contain only printable ASCII characters"],
    ["client_id not ASCII", query({ client_id: "clïent" }), "'client_id' must contain only printable ASCII characters"],
    ["client_id too long", query({ client_id: "c".repeat(4097) }), "'client_id' is too long"],
    ["redirect_uri repeated", query({ redirect_uri: ["https://a.example/cb", "https://b.example/cb"] }), "'redirect_uri' must not be provided twice"],
    ["RFC 6749 §3.1.2: redirect_uri relative", query({ redirect_uri: "/cb" }), "'redirect_uri' must be an absolute URI without a fragment"],
    ["RFC 6749 §3.1.2: redirect_uri with a fragment", query({ redirect_uri: "https://client.example.org/cb#x" }), "'redirect_uri' must be an absolute URI without a fragment"],
    ["redirect_uri with a space", query({ redirect_uri: "https://client.example.org/c b" }), "'redirect_uri' must be an absolute URI without a fragment"],
    ["redirect_uri with markup", query({ redirect_uri: "https://x/<script>" }), "'redirect_uri' must be an absolute URI without a fragment"],
    ["redirect_uri too long", query({ redirect_uri: `https://client.example.org/${"a".repeat(5000)}` }), "'redirect_uri' is too long"],
    ["OIDC Core §3.1.2.1: redirect_uri REQUIRED with scope openid", query({ redirect_uri: undefined }), "'redirect_uri' is required for OpenID Connect requests"],
    ["broken percent-encoding anywhere", `${query()}&x=%E0%A4%A`, "the request is not valid form encoding"],
    ["broken percent-encoding in client_id", query().replace("client_id=s6BhdRkqt3", "client_id=%zz"), "the request is not valid form encoding"],
    ["too many parameters", `${query()}${"&x=1".repeat(100)}`, "the request has too many parameters"]
  ]
  for (const [name, input, description] of cases) {
    it(name, () => {
      const failure = left(AuthorizationRequest.parse(input))
      expect(failure._tag).toBe("Page")
      expectError(failure.error, 400, { error: "invalid_request", error_description: description })
      expectNoEcho(failure.error, input)
    })
  }

  it("a Page failure carries nothing to redirect with", () => {
    expect(Object.keys(left(parse({ client_id: undefined }))).sort()).toStrictEqual(["_tag", "error"])
  })
})

describe("OAuth 2.1 §4.1.2.1: other errors go back to the redirect URI with state", () => {
  const context = {
    _tag: "Redirect",
    clientId: "s6BhdRkqt3",
    redirectUri: "https://client.example.org/cb",
    state: "af0ifjsldkj",
    responseMode: "query"
  } as const
  const cases: ReadonlyArray<readonly [string, Params, string, string]> = [
    // OAuth 2.1 §4.1.1 and §4.1.2.1: response_type
    ["response_type missing", { response_type: undefined }, "invalid_request", "'response_type' is required"],
    ["response_type repeated", { response_type: ["code", "code"] }, "invalid_request", "'response_type' must not be provided twice"],
    ["response_type token (implicit, OAuth 2.1 §10)", { response_type: "token" }, "unsupported_response_type", "only the 'code' response type is supported"],
    ["response_type id_token", { response_type: "id_token" }, "unsupported_response_type", "only the 'code' response type is supported"],
    ["response_type code id_token (hybrid)", { response_type: "code id_token" }, "unsupported_response_type", "only the 'code' response type is supported"],
    ["response_type code token", { response_type: "code token" }, "unsupported_response_type", "only the 'code' response type is supported"],
    ["response_type none", { response_type: "none" }, "unsupported_response_type", "only the 'code' response type is supported"],
    ["response_type in upper case", { response_type: "CODE" }, "unsupported_response_type", "only the 'code' response type is supported"],
    ["response_type with markup", { response_type: "<script>alert(1)</script>" }, "unsupported_response_type", "only the 'code' response type is supported"],
    // OIDC Core §6
    ["request object", { request: idToken }, "request_not_supported", "'request' is not supported"],
    ["request_uri", { request_uri: "urn:ietf:params:oauth:request_uri:abc" }, "request_uri_not_supported", "'request_uri' is not supported"],
    ["request repeated", { request: [idToken, idToken] }, "invalid_request", "'request' must not be provided twice"],
    // RFC 6749 §3.3
    ["scope with a doubled space", { scope: "openid  profile" }, "invalid_scope", "'scope' must be scope tokens separated by single spaces"],
    ["scope with a trailing space", { scope: "openid " }, "invalid_scope", "'scope' must be scope tokens separated by single spaces"],
    ["scope with a double quote", { scope: "openid a\"b" }, "invalid_scope", "'scope' must be scope tokens separated by single spaces"],
    ["scope with a backslash", { scope: "openid a\\b" }, "invalid_scope", "'scope' must be scope tokens separated by single spaces"],
    ["scope with a line break", { scope: "openid\nprofile" }, "invalid_scope", "'scope' must be scope tokens separated by single spaces"],
    ["scope with a NUL byte", { scope: "openid pro\u0000file" }, "invalid_request", "'scope' must not contain NUL characters"],
    ["scope not ASCII", { scope: "openid prüfen" }, "invalid_scope", "'scope' must be scope tokens separated by single spaces"],
    ["scope repeated", { scope: ["openid", "profile"] }, "invalid_request", "'scope' must not be provided twice"],
    // RFC 7636 §4.3 and §4.2, OAuth 2.1 §4.1.1
    ["code_challenge missing", { code_challenge: undefined }, "invalid_request", "'code_challenge' is required"],
    ["code_challenge and method missing", { code_challenge: undefined, code_challenge_method: undefined }, "invalid_request", "'code_challenge' is required"],
    ["code_challenge of 42 characters", { code_challenge: challenge.slice(1) }, "invalid_request", "'code_challenge' must be a base64url SHA-256 of the code verifier (43 characters)"],
    ["code_challenge of 44 characters", { code_challenge: `${challenge}A` }, "invalid_request", "'code_challenge' must be a base64url SHA-256 of the code verifier (43 characters)"],
    ["code_challenge in hex (64 characters)", { code_challenge: "a".repeat(64) }, "invalid_request", "'code_challenge' must be a base64url SHA-256 of the code verifier (43 characters)"],
    ["code_challenge with base64 '+' and '='", { code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+c=" }, "invalid_request", "'code_challenge' must be a base64url SHA-256 of the code verifier (43 characters)"],
    ["code_challenge repeated", { code_challenge: [challenge, challenge] }, "invalid_request", "'code_challenge' must not be provided twice"],
    ["code_challenge_method missing (OAuth 2.1 defaults to plain)", { code_challenge_method: undefined }, "invalid_request", "'code_challenge_method' is required: only S256 is supported"],
    ["code_challenge_method plain", { code_challenge_method: "plain" }, "invalid_request", "'code_challenge_method' is not supported: only S256 is"],
    ["code_challenge_method s256 (case-sensitive)", { code_challenge_method: "s256" }, "invalid_request", "'code_challenge_method' is not supported: only S256 is"],
    ["code_challenge_method unknown", { code_challenge_method: "S512" }, "invalid_request", "'code_challenge_method' is not supported: only S256 is"],
    ["code_challenge_method repeated", { code_challenge_method: ["S256", "S256"] }, "invalid_request", "'code_challenge_method' must not be provided twice"],
    // RFC 8707 §2
    ["resource relative", { resource: "/api" }, "invalid_target", "'resource' must be an absolute URI without a fragment"],
    ["resource with a fragment", { resource: "https://api.example.com/#x" }, "invalid_target", "'resource' must be an absolute URI without a fragment"],
    ["one bad resource among good ones", { resource: ["https://a.example/", "not a uri"] }, "invalid_target", "'resource' must be an absolute URI without a fragment"],
    ["resource with markup", { resource: "<script>alert(1)</script>" }, "invalid_target", "'resource' must be an absolute URI without a fragment"],
    // OIDC Core §3.1.2.1: prompt
    ["prompt none with login", { prompt: "none login" }, "invalid_request", "'prompt' must not combine none with other values"],
    ["prompt login with none", { prompt: "consent none" }, "invalid_request", "'prompt' must not combine none with other values"],
    ["prompt unknown", { prompt: "create" }, "invalid_request", "'prompt' must be none, login, consent or select_account"],
    ["prompt with a doubled space", { prompt: "login  consent" }, "invalid_request", "'prompt' must be none, login, consent or select_account"],
    ["prompt repeated", { prompt: ["login", "consent"] }, "invalid_request", "'prompt' must not be provided twice"],
    // OIDC Core §3.1.2.1: max_age
    ["max_age negative", { max_age: "-1" }, "invalid_request", "'max_age' must be a non-negative integer of at most 10 digits"],
    ["max_age fractional", { max_age: "1.5" }, "invalid_request", "'max_age' must be a non-negative integer of at most 10 digits"],
    ["max_age not a number", { max_age: "soon" }, "invalid_request", "'max_age' must be a non-negative integer of at most 10 digits"],
    ["max_age with a sign", { max_age: "+5" }, "invalid_request", "'max_age' must be a non-negative integer of at most 10 digits"],
    ["max_age of 11 digits", { max_age: "12345678901" }, "invalid_request", "'max_age' must be a non-negative integer of at most 10 digits"],
    // free text and the rest
    ["nonce with a NUL byte", { nonce: "n\u0000n" }, "invalid_request", "'nonce' must not contain NUL characters"],
    ["nonce repeated", { nonce: ["a", "b"] }, "invalid_request", "'nonce' must not be provided twice"],
    ["nonce too long", { nonce: "n".repeat(4097) }, "invalid_request", "'nonce' is too long"],
    ["login_hint with a line break", { login_hint: "jane\r\nSet-Cookie: x" }, "invalid_request", "'login_hint' must not contain control characters"],
    ["acr_values with a doubled space", { acr_values: "a  b" }, "invalid_request", "'acr_values' must be values separated by single spaces"],
    ["ui_locales with an underscore", { ui_locales: "en_US" }, "invalid_request", "'ui_locales' must be language tags separated by single spaces"],
    ["ui_locales with markup", { ui_locales: "<script>" }, "invalid_request", "'ui_locales' must be language tags separated by single spaces"],
    ["id_token_hint not a JWT", { id_token_hint: "abc" }, "invalid_request", "'id_token_hint' must be a compact JWT"],
    ["id_token_hint unsigned (empty signature)", { id_token_hint: "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0." }, "invalid_request", "'id_token_hint' must be a compact JWT"],
    ["RFC 9449 §10: dpop_jkt of 42 characters", { dpop_jkt: jkt.slice(1) }, "invalid_request", "'dpop_jkt' must be a base64url SHA-256 JWK thumbprint"],
    ["RFC 9449 §10: dpop_jkt padded", { dpop_jkt: `${jkt}=` }, "invalid_request", "'dpop_jkt' must be a base64url SHA-256 JWK thumbprint"]
  ]
  for (const [name, changes, error, description] of cases) {
    it(name, () => {
      const failure = left(parse(changes))
      expect({ ...failure, error: undefined }).toStrictEqual({ ...context, error: undefined })
      expectError(failure.error, 400, { error, error_description: description })
      for (const value of Object.values(changes).flat()) if (value !== undefined) expectNoEcho(failure.error, value)
    })
  }

  it("response_mode=form_post is kept for delivering the error", () => {
    const failure = left(parse({ response_mode: "form_post", code_challenge: undefined }))
    expect(failure).toMatchObject({ _tag: "Redirect", responseMode: "form_post", state: "af0ifjsldkj" })
  })

  it("an unsupported response_mode is reported by query (the default for code)", () => {
    for (const mode of ["fragment", "web_message", "<script>"]) {
      const failure = left(parse({ response_mode: mode }))
      expect({ ...failure, error: undefined }).toStrictEqual({ ...context, error: undefined })
      expectError(failure.error, 400, { error: "invalid_request", error_description: "'response_mode' must be query or form_post" })
    }
  })

  it("a repeated, malformed or over-long state is not echoed", () => {
    const cases: ReadonlyArray<readonly [Params, string]> = [
      [{ state: ["a", "b"] }, "'state' must not be provided twice"],
      [{ state: "a\u0000b" }, "'state' must not contain NUL characters"],
      [{ state: "é" }, "'state' must contain only printable ASCII characters"],
      [{ state: "s".repeat(4097) }, "'state' is too long"]
    ]
    for (const [changes, description] of cases) {
      const failure = left(parse(changes))
      const { state: _, ...withoutState } = context
      expect({ ...failure, error: undefined }).toStrictEqual({ ...withoutState, error: undefined })
      expectError(failure.error, 400, { error: "invalid_request", error_description: description })
    }
  })

  it("without redirect_uri (OAuth 2.1, one registered) the domain picks the registered one", () => {
    const failure = left(parse({ scope: "profile", redirect_uri: undefined, response_type: "token" }))
    const { redirectUri: _, ...withoutRedirect } = context
    expect({ ...failure, error: undefined }).toStrictEqual({ ...withoutRedirect, error: undefined })
  })
})

describe("hostile input: never an exception, never an echo", () => {
  const names = [
    "client_id", "redirect_uri", "response_type", "response_mode", "scope", "state", "nonce", "code_challenge",
    "code_challenge_method", "resource", "prompt", "max_age", "login_hint", "acr_values", "ui_locales",
    "id_token_hint", "dpop_jkt", "request", "request_uri"
  ]
  for (const name of names) {
    it(`every hostile value in '${name}'`, () => {
      for (const value of hostile) {
        const result = parse({ [name]: value })
        if (result._tag === "Left") expectNoEcho(result.left.error, value)
        // syntax that allows markup keeps it verbatim, for the domain to look up and the pages to escape
        else expect(["client_id", "state", "nonce", "login_hint", "scope", "acr_values"]).toContain(name)
      }
    })
  }

  it("a huge query is refused without decoding it all", () => {
    const failure = left(AuthorizationRequest.parse(`${query()}${"&a=%3Cscript%3E".repeat(100_000)}`))
    expect(failure._tag).toBe("Page")
    expectError(failure.error, 400, { error: "invalid_request", error_description: "the request has too many parameters" })
  })
})
