import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, TestClock } from "effect"
import * as Jose from "jose"
import { AccessToken } from "@tessera/protocol"

const issuer = "https://as.example.com/realms/acme"
const audience = "https://mcp.example.com/mcp"
const now = 1_800_000_000

const keys = await (async () => {
  const es = await Jose.generateKeyPair("ES256", { extractable: true })
  const other = await Jose.generateKeyPair("ES256", { extractable: true })
  const hs = new TextEncoder().encode("a-shared-secret-of-at-least-32-bytes!!")
  const jwk = { ...(await Jose.exportJWK(es.publicKey)), kid: "k1", alg: "ES256", use: "sig" }
  return { es, other, hs, jwks: { keys: [jwk] } }
})()

const base = {
  iss: issuer,
  sub: "person-1",
  aud: audience,
  client_id: "client-1",
  scope: "mcp:tools payments:send",
  jti: "jti-1",
  iat: now - 10,
  exp: now + 600
}

const sign = (claims: Record<string, unknown>, header: Jose.JWTHeaderParameters = { alg: "ES256", kid: "k1", typ: "at+jwt" }, key: Jose.CryptoKey | Uint8Array = keys.es.privateKey) =>
  new Jose.SignJWT(claims).setProtectedHeader(header).sign(key)

const verify = (token: string, audienceOverride = audience) =>
  TestClock.setTime(now * 1000).pipe(
    Effect.zipRight(Effect.either(AccessToken.verifyAccessToken(token, { issuer, audience: audienceOverride, jwks: keys.jwks })))
  )

const reason = (result: Either.Either<unknown, AccessToken.AccessTokenRejected>) =>
  Either.isLeft(result) ? result.left.reason : "accepted"

describe("RFC 9068 §4: verifyAccessToken", () => {
  it.effect("a valid token's claims come back, scope split, act and cnf kept", () =>
    Effect.gen(function*() {
      const token = yield* Effect.promise(() =>
        sign({ ...base, auth_time: now - 60, acr: "pwd", act: { sub: "agent-1", act: { sub: "agent-0" } }, cnf: { jkt: "thumb" } })
      )
      const result = yield* verify(token)
      expect(result).toStrictEqual(Either.right({
        ...base,
        scope: ["mcp:tools", "payments:send"],
        auth_time: now - 60,
        acr: "pwd",
        act: { sub: "agent-1", act: { sub: "agent-0" } },
        cnf: { jkt: "thumb" }
      }))
    }))

  it.effect("§4 item 1: typ application/at+jwt is accepted too", () =>
    Effect.gen(function*() {
      const token = yield* Effect.promise(() => sign(base, { alg: "ES256", kid: "k1", typ: "application/at+jwt" }))
      expect(reason(yield* verify(token))).toBe("accepted")
    }))

  const refusals: ReadonlyArray<readonly [string, () => Promise<string>, AccessToken.Reason, string?]> = [
    ["§4 item 1: typ JWT (an ID token) is refused", () => sign(base, { alg: "ES256", kid: "k1", typ: "JWT" }), "type"],
    ["§4 item 1: a missing typ is refused", () => sign(base, { alg: "ES256", kid: "k1" }), "type"],
    ["§4 item 6: HS256 is refused", () => sign(base, { alg: "HS256", kid: "k1", typ: "at+jwt" }, keys.hs), "algorithm"],
    ["§4 item 6: alg none is refused", async () => `${Jose.base64url.encode(JSON.stringify({ alg: "none", typ: "at+jwt" }))}.${Jose.base64url.encode(JSON.stringify(base))}.`, "algorithm"],
    ["§4 item 5: a key not in the JWKS is refused", () => sign(base, { alg: "ES256", kid: "k2", typ: "at+jwt" }, keys.other.privateKey), "unknown_key"],
    ["§4 item 5: a signature by another key under a known kid is refused", () => sign(base, undefined, keys.other.privateKey), "signature"],
    ["§4 item 3: another issuer is refused", () => sign({ ...base, iss: "https://as.example.com/realms/other" }), "issuer"],
    ["§4 item 4: another resource is refused", () => sign({ ...base, aud: "https://other.example.com/mcp" }), "audience"],
    ["§4 item 4: the resource with a trailing slash is another resource", () => sign({ ...base, aud: `${audience}/` }), "audience"],
    ["§4 item 4: an audience list naming another resource too is refused", () => sign({ ...base, aud: [audience, "https://other.example.com/mcp"] }), "audience"],
    ["§4 item 7: an expired token is refused", () => sign({ ...base, exp: now - 1 }), "expired"],
    ["§4 item 7: a token whose nbf is to come is refused", () => sign({ ...base, nbf: now + 60 }), "not_yet_valid"],
    ["§2.2: a token without client_id is refused", () => sign({ ...base, client_id: undefined }), "claims"],
    ["§2.2: a token without jti is refused", () => sign({ ...base, jti: undefined }), "claims"],
    ["RFC 8693 §4.1: a malformed act is refused", () => sign({ ...base, act: { client: "x" } }), "claims"],
    ["RFC 9449 §6.1: a cnf without jkt is refused", () => sign({ ...base, cnf: { x5t: "x" } }), "claims"],
    ["a token that is no JWT is refused", async () => "not-a-jwt", "malformed"]
  ]
  for (const [name, make, expected] of refusals) {
    it.effect(name, () =>
      Effect.gen(function*() {
        const token = yield* Effect.promise(make)
        expect(reason(yield* verify(token))).toBe(expected)
      }))
  }

  it.effect("§4 item 4: an audience list holding only the resource is accepted", () =>
    Effect.gen(function*() {
      const token = yield* Effect.promise(() => sign({ ...base, aud: [audience] }))
      const result = yield* verify(token)
      expect(Either.map(result, (c) => c.aud)).toStrictEqual(Either.right(audience))
    }))

  it("header: the kid before verification; undefined for garbage", async () => {
    expect(AccessToken.header(await sign(base))).toStrictEqual({ alg: "ES256", kid: "k1", typ: "at+jwt" })
    expect(AccessToken.header("x.y.z")).toBeUndefined()
  })
})
