/**
 * bench/shapes.ts: the checks the token benchmark runs on every answer of a row (issue 17: a row with a wrong answer
 * is reported as such). Each check must pass the answer the row expects and name what differs in one that is not.
 */
import { describe, expect, it } from "vitest"
import * as Shapes from "../bench/shapes.js"

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")
const jwt = (header: Record<string, unknown>, payload: Record<string, unknown>) => `${b64(header)}.${b64(payload)}.c2lnbmF0dXJl`

const expected: Shapes.TokenAnswer = {
  issuer: "http://127.0.0.1:1/realms/bench", resource: "https://api.bench.example/", scope: "read write", lifetime: 900,
  clientId: "c1", sub: "c1", refreshToken: false
}
const claims = { iss: expected.issuer, aud: expected.resource, client_id: "c1", sub: "c1", scope: "read write", iat: 1000, exp: 1900, jti: "j" }
const answer = (header: Record<string, unknown>, payload: Record<string, unknown>, members: Record<string, unknown> = {}) =>
  JSON.stringify({ access_token: jwt(header, payload), token_type: "Bearer", expires_in: 900, scope: "read write", ...members })
const es256 = { alg: "ES256", typ: "at+jwt", kid: "k" }

describe("bench/shapes.ts: RFC 6749 §5.1 token answers with an RFC 9068 access token", () => {
  const check = Shapes.tokenAnswer(expected)
  it("passes the expected answer", () => expect(check(answer(es256, claims))).toBeUndefined())
  it("names what differs", () => {
    expect(check(answer({ ...es256, alg: "RS256" }, claims))).toBe("alg \"RS256\", expected \"ES256\"")
    expect(check(answer(es256, { ...claims, aud: "https://other.example/" }))).toBe("aud \"https://other.example/\", expected \"https://api.bench.example/\"")
    expect(check(answer(es256, { ...claims, exp: 1300 }))).toBe("exp - iat 300, expected 900")
    expect(check(answer(es256, claims, { token_type: "DPoP" }))).toBe("token_type \"DPoP\", expected \"Bearer\"")
    expect(check(answer(es256, claims, { refresh_token: "r".repeat(32) }))).toBe("an unexpected refresh_token")
    expect(check("{\"error\":\"invalid_grant\"}")).toBe("no access_token")
    expect(check("<html>")).toBe("not JSON: <html>")
  })
  it("RFC 9449 §6.1: a DPoP answer is bound to the proof key; a code answer carries a refresh token", () => {
    const dpop = Shapes.tokenAnswer({ ...expected, jkt: "thumb" })
    expect(dpop(answer(es256, { ...claims, cnf: { jkt: "thumb" } }, { token_type: "DPoP" }))).toBeUndefined()
    expect(dpop(answer(es256, claims, { token_type: "DPoP" }))).toBe("cnf.jkt undefined, expected \"thumb\"")
    const code = Shapes.tokenAnswer({ ...expected, sub: "person", refreshToken: true })
    expect(code(answer(es256, { ...claims, sub: "person" }, { refresh_token: "r".repeat(32) }))).toBeUndefined()
    expect(code(answer(es256, { ...claims, sub: "person" }))).toBe("no refresh_token")
  })
})

describe("bench/shapes.ts: introspection, JWKS and discovery answers", () => {
  it("RFC 7662 §2.2", () => {
    const check = Shapes.introspectionAnswer({ clientId: "c1", resource: expected.resource, scope: "read write", lifetime: 900 })
    const good = { active: true, client_id: "c1", scope: "read write", token_type: "Bearer", aud: expected.resource, iat: 1000, exp: 1900 }
    expect(check(JSON.stringify(good))).toBeUndefined()
    expect(check(JSON.stringify({ active: false }))).toBe("active false, expected true")
  })
  it("RFC 7517 §5", () => {
    const check = Shapes.jwksAnswer(2)
    const keys = [{ kty: "EC", alg: "ES256", kid: "a", x: "x", y: "y" }, { kty: "RSA", alg: "RS256", kid: "b", n: "n", e: "AQAB" }]
    expect(check(JSON.stringify({ keys }))).toBeUndefined()
    expect(check(JSON.stringify({ keys: [keys[1]] }))).toBe("number of keys 1, expected 2")
    expect(check(JSON.stringify({ keys: [{ ...keys[0], d: "secret" }, keys[1]] }))).toBe("a private key member")
  })
  it("OIDC Discovery 1.0 §3", () => {
    const check = Shapes.discoveryAnswer(expected.issuer)
    const doc = { issuer: expected.issuer, token_endpoint: "t", jwks_uri: "j", authorization_endpoint: "a" }
    expect(check(JSON.stringify(doc))).toBeUndefined()
    expect(check(JSON.stringify({ ...doc, issuer: "http://other" }))).toBe(`issuer "http://other", expected "${expected.issuer}"`)
  })
})
