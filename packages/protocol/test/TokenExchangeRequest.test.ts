import { describe, expect, it } from "@effect/vitest"
import { TokenRequest } from "@tessera/protocol"
import { expectError, left, right } from "./support/Expect.js"

const grant = "urn:ietf:params:oauth:grant-type:token-exchange"
const accessToken = "urn:ietf:params:oauth:token-type:access_token"
const jwt = "urn:ietf:params:oauth:token-type:jwt"
const api = "https://api.example/x"
const idToken = "urn:ietf:params:oauth:token-type:id_token"
const idJag = "urn:ietf:params:oauth:token-type:id-jag"
const as = "https://as.example/realms/mcp"

const parse = (pairs: ReadonlyArray<readonly [string, string]>) =>
  TokenRequest.parse(new URLSearchParams(pairs as Array<[string, string]>).toString())

const base = [["grant_type", grant], ["subject_token", "a.b.c"], ["subject_token_type", accessToken]] as const

describe("RFC 8693 §2.1: the token exchange request", () => {
  it("the least request, and every optional parameter", () => {
    expect(right(parse(base))).toStrictEqual(new TokenRequest.TokenExchange({
      grant_type: grant, subject_token: "a.b.c", subject_token_type: accessToken, resource: []
    }))
    expect(right(parse([
      ...base, ["actor_token", "d.e.f"], ["actor_token_type", accessToken], ["requested_token_type", accessToken],
      ["scope", "read write read"], ["resource", api]
    ]))).toStrictEqual(new TokenRequest.TokenExchange({
      grant_type: grant, subject_token: "a.b.c", subject_token_type: accessToken, actor_token: "d.e.f",
      actor_token_type: accessToken, requested_token_type: accessToken, scope: ["read", "write"], resource: [api]
    }))
  })

  it("§3: a jwt subject token (a trusted issuer's, ADR 0013) is taken; as actor or requested type it is not", () => {
    expect(right(parse([["grant_type", grant], ["subject_token", "a.b.c"], ["subject_token_type", jwt]]))).toStrictEqual(
      new TokenRequest.TokenExchange({ grant_type: grant, subject_token: "a.b.c", subject_token_type: jwt, resource: [] })
    )
    const invalid = (description: string) => ({ error: "invalid_request", error_description: description })
    expectError(left(parse([...base, ["requested_token_type", jwt]])), 400, invalid("unsupported requested_token_type"))
    expectError(left(parse([...base, ["actor_token", "d.e.f"], ["actor_token_type", jwt]])), 400, invalid("unsupported actor_token_type"))
  })

  it("`audience` is read as `resource`; both at once is invalid_request", () => {
    expect(right(parse([...base, ["audience", api]])).resource).toStrictEqual([api])
    expectError(left(parse([...base, ["audience", api], ["resource", api]])), 400, {
      error: "invalid_request", error_description: "'resource' and 'audience' must not both be given"
    })
    expectError(left(parse([...base, ["audience", "not-a-uri"]])), 400, {
      error: "invalid_target", error_description: "'audience' must be an absolute URI without a fragment"
    })
  })

  it("§2.2.2: missing or unsupported parameters are invalid_request", () => {
    const invalid = (description: string) => ({ error: "invalid_request", error_description: description })
    expectError(left(parse([["grant_type", grant], ["subject_token_type", accessToken]])), 400, invalid("'subject_token' is required"))
    expectError(left(parse([["grant_type", grant], ["subject_token", "a.b.c"]])), 400, invalid("'subject_token_type' is required"))
    for (const type of ["urn:ietf:params:oauth:token-type:refresh_token", "x"]) {
      expectError(left(parse([["grant_type", grant], ["subject_token", "a.b.c"], ["subject_token_type", type]])), 400,
        invalid("unsupported subject_token_type"))
      expectError(left(parse([...base, ["requested_token_type", type]])), 400, invalid("unsupported requested_token_type"))
      expectError(left(parse([...base, ["actor_token", "d.e.f"], ["actor_token_type", type]])), 400, invalid("unsupported actor_token_type"))
    }
    expectError(left(parse([...base, ["actor_token", "d.e.f"]])), 400, invalid("'actor_token_type' is required with 'actor_token'"))
    expectError(left(parse([...base, ["actor_token_type", accessToken]])), 400,
      invalid("'actor_token_type' must not be sent without 'actor_token'"))
    expectError(left(parse([...base, ["subject_token", "x.y.z"]])), 400, invalid("'subject_token' must not be provided twice"))
  })

  it("§2.1 / draft-ietf-oauth-identity-assertion-authz-grant §4.3: the ID-JAG request, and an ID token subject for nothing else", () => {
    const jag = [["grant_type", grant], ["subject_token", "a.b.c"], ["subject_token_type", idToken], ["requested_token_type", idJag]] as const
    expect(right(parse([...jag, ["audience", as]]))).toStrictEqual(new TokenRequest.IdJagExchange({
      grant_type: grant, subject_token: "a.b.c", subject_token_type: idToken, requested_token_type: idJag, audience: as, resource: []
    }))
    expect(right(parse([...jag, ["audience", as], ["resource", api], ["scope", "a b a"]]))).toStrictEqual(new TokenRequest.IdJagExchange({
      grant_type: grant, subject_token: "a.b.c", subject_token_type: idToken, requested_token_type: idJag, audience: as,
      scope: ["a", "b"], resource: [api]
    }))
    const invalid = (description: string) => ({ error: "invalid_request", error_description: description })
    expectError(left(parse([["grant_type", grant], ["subject_token", "a.b.c"], ["subject_token_type", idToken]])), 400,
      invalid(`an ID token is exchanged only for an ID-JAG: 'requested_token_type' must be ${idJag}`))
    expectError(left(parse([...base, ["requested_token_type", idJag], ["audience", as]])), 400,
      invalid(`an ID-JAG is issued for an ID token: 'subject_token_type' must be ${idToken}`))
    expectError(left(parse(jag)), 400, invalid("'audience' is required: the issuer of the authorization server the ID-JAG is for"))
    expectError(left(parse([...jag, ["audience", as], ["audience", api]])), 400,
      { error: "invalid_target", error_description: "an ID-JAG is for one authorization server: one 'audience'" })
    expectError(left(parse([...jag, ["audience", "as"]])), 400,
      { error: "invalid_target", error_description: "'audience' must be an absolute URI without a fragment" })
    expectError(left(parse([...jag, ["audience", as], ["actor_token_type", accessToken]])), 400,
      invalid("'actor_token' is not taken with an ID-JAG request"))
    expectError(left(parse([...jag, ["audience", as], ["requested_token_type", idJag]])), 400,
      invalid("'requested_token_type' must not be provided twice"))
  })
})
