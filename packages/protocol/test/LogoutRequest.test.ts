/** OIDC RP-Initiated Logout 1.0 §2: the logout request's syntax, and the confirmation's carried values. */
import { describe, expect, it } from "@effect/vitest"
import { Form, LogoutRequest } from "@tessera/protocol"
import { expectError, left, right } from "./support/Expect.js"

const decode = (query: string) => LogoutRequest.decode(right(Form.parseQuery(query)))
const none: LogoutRequest.LogoutRequest = {
  idTokenHint: undefined, logoutHint: undefined, clientId: undefined, postLogoutRedirectUri: undefined, state: undefined, uiLocales: undefined
}

describe("OIDC RP-Initiated Logout 1.0 §2: the request", () => {
  it("every parameter is OPTIONAL: none is a request", () => {
    expect(right(decode(""))).toStrictEqual(none)
  })

  it("each parameter read; unknown ones ignored, empty ones absent (RFC 6749 §3.1)", () => {
    expect(right(decode("id_token_hint=h&logout_hint=l&client_id=c&post_logout_redirect_uri=https%3A%2F%2Frp%2Fbye&state=s%20t&ui_locales=en&x=1&client_id=")))
      .toStrictEqual({ idTokenHint: "h", logoutHint: "l", clientId: "c", postLogoutRedirectUri: "https://rp/bye", state: "s t", uiLocales: "en" })
  })

  it.each(["id_token_hint", "logout_hint", "client_id", "post_logout_redirect_uri", "state", "ui_locales"])(
    "RFC 6749 §3.1: '%s' twice is invalid_request; too long and NUL are too (CONTRACT §2)",
    (name) => {
      expectError(left(decode(`${name}=a&${name}=b`)), 400, { error: "invalid_request", error_description: `'${name}' must not be provided twice` })
      expectError(left(decode(`${name}=${"x".repeat(4097)}`)), 400, { error: "invalid_request", error_description: `'${name}' is too long` })
      expectError(left(decode(`${name}=a%00b`)), 400, { error: "invalid_request", error_description: `'${name}' must not contain NUL characters` })
    }
  )

  it("the first bad parameter in §2's order is the one reported", () => {
    expectError(left(decode("ui_locales=a&ui_locales=b&id_token_hint=%00")), 400, {
      error: "invalid_request", error_description: "'id_token_hint' must not contain NUL characters"
    })
  })

  it("encode gives back the same request", () => {
    const request = right(decode("state=%26%3D&client_id=c&post_logout_redirect_uri=https%3A%2F%2Frp%2Fbye%3Fa%3D1"))
    expect(LogoutRequest.encode(request)).toBe("client_id=c&post_logout_redirect_uri=https%3A%2F%2Frp%2Fbye%3Fa%3D1&state=%26%3D")
    expect(right(decode(LogoutRequest.encode(request)))).toStrictEqual(request)
    expect(LogoutRequest.encode(none)).toBe("")
  })
})

describe("the confirmation's carried values (Tessera's form, §2 \"SHOULD ask the End-User\")", () => {
  it("client, matched redirect URI and state round-trip; nothing carried is an empty query", () => {
    const carried = { clientId: "c 1", postLogoutRedirectUri: "https://rp/bye?x=1", state: "s&t" }
    const query = LogoutRequest.encodeConfirmation(carried)
    expect(query).toBe("client_id=c+1&post_logout_redirect_uri=https%3A%2F%2Frp%2Fbye%3Fx%3D1&state=s%26t")
    expect(right(LogoutRequest.decodeConfirmation(right(Form.parseQuery(query))))).toStrictEqual(carried)
    expect(LogoutRequest.encodeConfirmation({ clientId: undefined, postLogoutRedirectUri: undefined, state: undefined })).toBe("")
  })

  it("RFC 6749 §3.1 and CONTRACT §2 as for the request", () => {
    expectError(left(LogoutRequest.decodeConfirmation(right(Form.parseQuery("state=a&state=b")))), 400, {
      error: "invalid_request", error_description: "'state' must not be provided twice"
    })
    expectError(left(LogoutRequest.decodeConfirmation(right(Form.parseQuery("client_id=%00")))), 400, {
      error: "invalid_request", error_description: "'client_id' must not contain NUL characters"
    })
  })
})
