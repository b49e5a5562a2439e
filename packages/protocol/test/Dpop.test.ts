import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as Jose from "jose"
import { Dpop } from "@tessera/protocol"
import { expectError, hostile } from "./support/Expect.js"
import * as Proofs from "./support/DpopProofs.js"

const now = 1_700_000_000
const uri = "https://as.example/realms/acme/token"
const expected: Dpop.Expected = { method: "POST", uri, now }

const base = { htm: "POST", htu: uri, iat: now }

/** The reason a header is refused, or "valid". */
const outcome = <E>(header: string | ReadonlyArray<string> | undefined, exp: Dpop.Expected<E> = expected as Dpop.Expected<E>) =>
  Effect.map(Effect.either(Dpop.verify(header, exp)), Either.match({
    onLeft: (e) => (e as { _tag?: string })._tag === "ProofRejected" ? (e as Dpop.ProofRejected).reason : `other: ${String(e)}`,
    onRight: () => "valid"
  }))

describe("RFC 9449 §4.3: checking DPoP proofs", () => {
  it.effect("a valid proof: the key's RFC 7638 thumbprint, jti, normalized htu, iat and when the window closes", () =>
    Effect.gen(function*() {
      const key = yield* Effect.promise(() => Proofs.key())
      const header = yield* Effect.promise(() => Proofs.proof(key, { ...base, claims: { jti: "j-1" } }))
      const proof = yield* Dpop.verify(header, expected)
      expect(proof).toStrictEqual({ jkt: key.jkt, jti: "j-1", htu: uri, iat: now, expiresAt: now + 60, jwk: key.publicJwk })
      expect(proof.jkt).toBe(yield* Effect.promise(() => Jose.calculateJwkThumbprint(key.publicJwk)))
    }))

  it.effect("§4.2: every asymmetric algorithm advertised verifies (EC, RSA-PSS, RSA, EdDSA)", () =>
    Effect.gen(function*() {
      for (const alg of ["ES256", "ES384", "ES512", "PS256", "RS256", "EdDSA", "Ed25519"]) {
        const key = yield* Effect.promise(() => Proofs.key(alg))
        expect([alg, yield* outcome(yield* Effect.promise(() => Proofs.proof(key, base)))]).toEqual([alg, "valid"])
      }
    }))

  it.effect("§4.3 items 1 and 2: no header, two headers, a joined pair, not a JWT", () =>
    Effect.gen(function*() {
      const key = yield* Effect.promise(() => Proofs.key())
      const good = yield* Effect.promise(() => Proofs.proof(key, base))
      expect(yield* outcome(undefined)).toBe("missing")
      expect(yield* outcome([])).toBe("missing")
      expect(yield* outcome([good, good])).toBe("multiple")
      expect(yield* outcome(`${good}, ${good}`)).toBe("multiple")
      expect(yield* outcome([good])).toBe("valid")
      for (const bad of ["", "abc", "a.b", "a.b.c.d", `${good}=`, "eyJ.eyJ.", ...hostile]) {
        expect([bad.slice(0, 20), yield* outcome(bad)]).toEqual([bad.slice(0, 20), bad.includes(",") ? "multiple" : "malformed"])
      }
      // three base64url parts that are not JSON
      expect(yield* outcome("AAAA.AAAA.AAAA")).toBe("malformed")
    }))

  it.effect("CONTRACT §2: a claim nested deeper than Syntax.maxJsonDepth makes the proof malformed", () =>
    Effect.gen(function*() {
      const key = yield* Effect.promise(() => Proofs.key())
      const nest = (depth: number): unknown => JSON.parse(`${"[".repeat(depth)}1${"]".repeat(depth)}`)
      // the payload is one level: 31 more make 32
      const shallow = yield* Effect.promise(() => Proofs.proof(key, { ...base, claims: { x: nest(31) } }))
      expect(yield* outcome(shallow)).toBe("valid")
      const deep = yield* Effect.promise(() => Proofs.proof(key, { ...base, claims: { x: nest(32) } }))
      expect(yield* outcome(deep)).toBe("malformed")
    }))

  it.effect("§4.3 item 4, §11.3: typ must be dpop+jwt (a JWT made for something else is refused)", () =>
    Effect.gen(function*() {
      const key = yield* Effect.promise(() => Proofs.key())
      for (const [typ, result] of [["JWT", "typ"], ["at+jwt", "typ"], [undefined, "typ"], [1, "typ"], ["DPoP+JWT", "valid"], ["application/dpop+jwt", "valid"]] as const) {
        const header = yield* Effect.promise(() => Proofs.proof(key, { ...base, header: { typ } }))
        expect([typ, yield* outcome(header)]).toEqual([typ, result])
      }
    }))

  it.effect("§4.3 item 5, §11.6: alg none and HMAC are refused, and any algorithm the server did not list", () =>
    Effect.gen(function*() {
      const key = yield* Effect.promise(() => Proofs.key())
      const claims = { jti: "j", htm: "POST", htu: uri, iat: now }
      expect(yield* outcome(Proofs.unsigned({ typ: "dpop+jwt", alg: "none", jwk: key.publicJwk }, claims))).toBe("alg")
      // an HMAC proof, really signed, with its symmetric key in the header
      const secret = crypto.getRandomValues(new Uint8Array(32))
      const hmac = yield* Effect.promise(() =>
        new Jose.CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
          .setProtectedHeader({ typ: "dpop+jwt", alg: "HS256", jwk: { kty: "oct", k: Jose.base64url.encode(secret) } } as Jose.CompactJWSHeaderParameters)
          .sign(secret))
      expect(yield* outcome(hmac)).toBe("alg")
      expect(yield* outcome(Proofs.unsigned({ typ: "dpop+jwt", jwk: key.publicJwk }, claims))).toBe("alg")
      const good = yield* Effect.promise(() => Proofs.proof(key, base))
      expect(yield* outcome(good, { ...expected, algorithms: ["PS256"] })).toBe("alg")
    }))

  it.effect("§4.3 item 7: the jwk must be a public key; private members (d, p, q, dp, dq, qi, k) are refused", () =>
    Effect.gen(function*() {
      const pair = yield* Effect.promise(() => Jose.generateKeyPair("ES256", { extractable: true }))
      const privateJwk = yield* Effect.promise(() => Jose.exportJWK(pair.privateKey))
      const key = yield* Effect.promise(() => Proofs.key())
      for (const member of ["d", "p", "q", "dp", "dq", "qi", "k"]) {
        const jwk = member === "d" ? privateJwk : { ...key.publicJwk, [member]: "AAAA" }
        const header = yield* Effect.promise(() => Proofs.proof({ ...key, privateKey: pair.privateKey }, { ...base, header: { jwk } }))
        expect([member, yield* outcome(header)]).toEqual([member, "jwk"])
      }
      for (const jwk of [undefined, "key", [], { kty: "oct", k: "AAAA" }, { kty: "EC", crv: "P-256" }]) {
        const header = yield* Effect.promise(() => Proofs.proof(key, { ...base, header: { jwk } }))
        expect([jwk, yield* outcome(header)]).toEqual([jwk, "jwk"])
      }
      // an RSA key under ES256: the key does not fit the algorithm
      const rsa = yield* Effect.promise(() => Proofs.key("RS256"))
      expect(yield* outcome(yield* Effect.promise(() => Proofs.proof(key, { ...base, header: { jwk: rsa.publicJwk } })))).toBe("jwk")
    }))

  it.effect("§4.3 item 6: the signature must verify with the proof's own jwk", () =>
    Effect.gen(function*() {
      const key = yield* Effect.promise(() => Proofs.key())
      const other = yield* Effect.promise(() => Proofs.key())
      // signed by one key, naming another
      expect(yield* outcome(yield* Effect.promise(() => Proofs.proof(key, { ...base, header: { jwk: other.publicJwk } })))).toBe("signature")
      const good = yield* Effect.promise(() => Proofs.proof(key, base))
      const [h, p, s] = good.split(".") as [string, string, string]
      const tampered = `${h}.${Jose.base64url.encode(JSON.stringify({ jti: "x", htm: "POST", htu: uri, iat: now }))}.${s}`
      expect(yield* outcome(tampered)).toBe("signature")
      expect(p.length).toBeGreaterThan(0)
    }))

  it.effect("§4.2, §4.3 item 3: jti, htm, htu and iat are required; an oversized jti is refused (§11.1)", () =>
    Effect.gen(function*() {
      const key = yield* Effect.promise(() => Proofs.key())
      const cases: ReadonlyArray<readonly [Record<string, unknown>, string]> = [
        [{ jti: undefined }, "jti"], [{ jti: "" }, "jti"], [{ jti: 7 }, "jti"], [{ jti: "x".repeat(129) }, "jti"], [{ jti: "x".repeat(128) }, "valid"],
        [{ htm: undefined }, "htm"], [{ htu: undefined }, "htu"], [{ iat: undefined }, "iat"], [{ iat: "1700000000" }, "iat"]
      ]
      for (const [claims, result] of cases) {
        const header = yield* Effect.promise(() => Proofs.proof(key, { ...base, claims }))
        expect([claims, yield* outcome(header)]).toEqual([claims, result])
      }
    }))

  it.effect("§4.3 item 8: htm is the request method, compared exactly", () =>
    Effect.gen(function*() {
      const key = yield* Effect.promise(() => Proofs.key())
      for (const [htm, result] of [["POST", "valid"], ["GET", "htm"], ["post", "htm"]] as const) {
        expect([htm, yield* outcome(yield* Effect.promise(() => Proofs.proof(key, { ...base, htm })))]).toEqual([htm, result])
      }
    }))

  it.effect("§4.3 item 9: htu matches without query and fragment, after RFC 3986 §6.2.2 and §6.2.3 normalization", () =>
    Effect.gen(function*() {
      const key = yield* Effect.promise(() => Proofs.key())
      const cases: ReadonlyArray<readonly [string, string]> = [
        [`${uri}?x=1`, "valid"],
        [`${uri}#f`, "valid"],
        ["HTTPS://AS.Example/realms/acme/token", "valid"],
        ["https://as.example:443/realms/acme/token", "valid"],
        ["https://as.example/realms/acme/./token", "valid"],
        ["https://as.example/realms/x/../acme/token", "valid"],
        ["https://as.example/realms/%61cme/token", "valid"],
        ["https://as.example/realms/acme/token/", "htu"],
        ["https://as.example/realms/ACME/token", "htu"],
        ["http://as.example/realms/acme/token", "htu"],
        ["https://as.example:8443/realms/acme/token", "htu"],
        ["https://user@as.example/realms/acme/token", "htu"],
        ["/realms/acme/token", "htu"],
        ["ftp://as.example/realms/acme/token", "htu"],
        ["https://as.example/realms/acme/userinfo", "htu"]
      ]
      for (const [htu, result] of cases) {
        expect([htu, yield* outcome(yield* Effect.promise(() => Proofs.proof(key, { ...base, htu })))]).toEqual([htu, result])
      }
      expect(Dpop.normalizeUri("https://a.example/%7euser/%2fx%3a")).toBe("https://a.example/~user/%2Fx%3A")
      expect(Dpop.normalizeUri("HTTP://A.EXAMPLE:80")).toBe("http://a.example/")
      // the server's own URI is normalized the same way
      const proof = yield* Effect.promise(() => Proofs.proof(key, base))
      expect(yield* outcome(proof, { ...expected, uri: "https://AS.example:443/realms/acme/token?q" })).toBe("valid")
    }))

  it.effect("§4.3 item 11, §11.1: iat within the window: up to 60 s old, up to 30 s ahead (ADR 0017)", () =>
    Effect.gen(function*() {
      const key = yield* Effect.promise(() => Proofs.key())
      for (const [iat, result] of [[now - 60, "valid"], [now - 61, "stale"], [now + 30, "valid"], [now + 31, "stale"], [now - 0.5, "valid"]] as const) {
        expect([iat, yield* outcome(yield* Effect.promise(() => Proofs.proof(key, { ...base, iat })))]).toEqual([iat, result])
      }
      const late = yield* Dpop.verify(yield* Effect.promise(() => Proofs.proof(key, { ...base, iat: now + 30 })), expected)
      expect(late.expiresAt).toBe(now + 90)
      const custom = yield* Effect.promise(() => Proofs.proof(key, { ...base, iat: now - 100 }))
      expect(yield* outcome(custom, { ...expected, window: { maxAge: 120, maxSkew: 0 } })).toBe("valid")
    }))

  it.effect("§4.3 item 12, §4.2: with an access token, ath must be its base64url SHA-256", () =>
    Effect.gen(function*() {
      const key = yield* Effect.promise(() => Proofs.key())
      const withToken = { ...expected, accessToken: "tok.en-1" }
      expect(yield* outcome(yield* Effect.promise(() => Proofs.proof(key, { ...base, accessToken: "tok.en-1" })), withToken)).toBe("valid")
      expect(yield* outcome(yield* Effect.promise(() => Proofs.proof(key, { ...base, accessToken: "other" })), withToken)).toBe("ath")
      expect(yield* outcome(yield* Effect.promise(() => Proofs.proof(key, base)), withToken)).toBe("ath")
      expect(yield* Dpop.ath("tok.en-1")).toBe(yield* Effect.promise(() => Proofs.athOf("tok.en-1")))
      // the RFC 9449 §7.1 example: the token and its ath
      expect(yield* Dpop.ath("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU")).toBe("fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo")
    }))

  it.effect("§4.3 item 10, §8, §11.3: when the server requires a nonce, none or a wrong one is use_dpop_nonce", () =>
    Effect.gen(function*() {
      const key = yield* Effect.promise(() => Proofs.key())
      const withNonce = { ...expected, nonce: (n: string) => Effect.succeed(n === "n-1") }
      expect(yield* outcome(yield* Effect.promise(() => Proofs.proof(key, { ...base, nonce: "n-1" })), withNonce)).toBe("valid")
      expect(yield* outcome(yield* Effect.promise(() => Proofs.proof(key, base)), withNonce)).toBe("nonce_missing")
      expect(yield* outcome(yield* Effect.promise(() => Proofs.proof(key, { ...base, nonce: "n-0" })), withNonce)).toBe("nonce_invalid")
      expect(yield* outcome(yield* Effect.promise(() => Proofs.proof(key, { ...base, claims: { nonce: 5 } })), withNonce)).toBe("nonce_missing")
      // without a nonce policy the claim is ignored
      expect(yield* outcome(yield* Effect.promise(() => Proofs.proof(key, { ...base, nonce: "anything" })))).toBe("valid")
      expect(new Dpop.ProofRejected({ reason: "nonce_missing" }).error).toBe("use_dpop_nonce")
      expect(new Dpop.ProofRejected({ reason: "stale" }).error).toBe("invalid_dpop_proof")
    }))

  it.effect("§11.1: unique is asked last, only for an otherwise valid proof; false is a replay", () =>
    Effect.gen(function*() {
      const key = yield* Effect.promise(() => Proofs.key())
      const seen: Array<Dpop.Proof> = []
      const unique = (proof: Dpop.Proof) => Effect.sync(() => !seen.some((p) => p.jti === proof.jti && p.htu === proof.htu) && seen.push(proof) > 0)
      const header = yield* Effect.promise(() => Proofs.proof(key, base))
      expect(yield* outcome(header, { ...expected, unique })).toBe("valid")
      expect(yield* outcome(header, { ...expected, unique })).toBe("replayed")
      expect(yield* outcome(yield* Effect.promise(() => Proofs.proof(key, { ...base, htm: "GET" })), { ...expected, unique })).toBe("htm")
      expect(seen.length).toBe(1)
    }))

  it("§5: the token endpoint's answer is 400 with the RFC 6749 §5.2 body", () => {
    expectError(Dpop.tokenEndpointError(new Dpop.ProofRejected({ reason: "stale" })), 400, {
      error: "invalid_dpop_proof",
      error_description: "the DPoP proof's 'iat' is outside the accepted window"
    })
    expectError(Dpop.tokenEndpointError(new Dpop.ProofRejected({ reason: "nonce_missing" })), 400, {
      error: "use_dpop_nonce",
      error_description: "the DPoP proof must carry the nonce of the DPoP-Nonce header"
    })
    for (const reason of Object.keys(Dpop.descriptions) as Array<Dpop.Reason>) {
      expectError(Dpop.tokenEndpointError(new Dpop.ProofRejected({ reason })), 400, {
        error: reason.startsWith("nonce") ? "use_dpop_nonce" : "invalid_dpop_proof",
        error_description: Dpop.descriptions[reason]
      })
    }
  })
})

describe("RFC 9449 §7: protected resource access", () => {
  it("§7.1: Authorization credentials, DPoP or Bearer (schemes case-insensitive, token68)", () => {
    expect(Dpop.credentials("DPoP abc.def-_~+/==")).toEqual({ scheme: "DPoP", token: "abc.def-_~+/==" })
    expect(Dpop.credentials("dpop  t")).toEqual({ scheme: "DPoP", token: "t" })
    expect(Dpop.credentials("Bearer t")).toEqual({ scheme: "Bearer", token: "t" })
    for (const bad of ["DPoP", "DPoP ", "Basic abc", "DPoP a b", "DPoPabc", "DPoP a=b", ...hostile]) expect(Dpop.credentials(bad)).toBeUndefined()
  })

  const rsUri = "https://rs.example/api/things"
  const rs = { method: "GET", uri: rsUri, now }
  const rsBase = { htm: "GET", htu: rsUri, iat: now }

  const presented = (input: Omit<Dpop.Presentation, "method" | "uri" | "now">) =>
    Effect.map(Effect.either(Dpop.verifyPresentation({ ...rs, ...input })), Either.match({
      onLeft: (e) => `${e._tag}:${e.reason}`,
      onRight: (proof) => proof === undefined ? "bearer" : `dpop:${proof.jkt}`
    }))

  it.effect("§7.1: a bound token with the DPoP scheme and a proof of its key (with ath) is accepted", () =>
    Effect.gen(function*() {
      const key = yield* Effect.promise(() => Proofs.key())
      const claims = { cnf: { jkt: key.jkt } }
      const proof = yield* Effect.promise(() => Proofs.proof(key, { ...rsBase, accessToken: "T" }))
      expect(yield* presented({ credentials: { scheme: "DPoP", token: "T" }, claims, proof })).toBe(`dpop:${key.jkt}`)
    }))

  it.effect("§7.1, §6: a proof of another key is invalid_token (key binding); without ath, invalid_dpop_proof", () =>
    Effect.gen(function*() {
      const key = yield* Effect.promise(() => Proofs.key())
      const thief = yield* Effect.promise(() => Proofs.key())
      const claims = { cnf: { jkt: key.jkt } }
      const stolen = yield* Effect.promise(() => Proofs.proof(thief, { ...rsBase, accessToken: "T" }))
      expect(yield* presented({ credentials: { scheme: "DPoP", token: "T" }, claims, proof: stolen })).toBe("BindingRejected:key_mismatch")
      const noAth = yield* Effect.promise(() => Proofs.proof(key, rsBase))
      expect(yield* presented({ credentials: { scheme: "DPoP", token: "T" }, claims, proof: noAth })).toBe("ProofRejected:ath")
      expect(yield* presented({ credentials: { scheme: "DPoP", token: "T" }, claims, proof: undefined })).toBe("ProofRejected:missing")
    }))

  it.effect("§7.2: a DPoP-bound token presented as a bearer token is refused; an unbound one with DPoP too", () =>
    Effect.gen(function*() {
      const key = yield* Effect.promise(() => Proofs.key())
      const proof = yield* Effect.promise(() => Proofs.proof(key, { ...rsBase, accessToken: "T" }))
      expect(yield* presented({ credentials: { scheme: "Bearer", token: "T" }, claims: { cnf: { jkt: key.jkt } }, proof }))
        .toBe("BindingRejected:bearer_bound")
      expect(yield* presented({ credentials: { scheme: "DPoP", token: "T" }, claims: {}, proof })).toBe("BindingRejected:not_bound")
      expect(yield* presented({ credentials: { scheme: "Bearer", token: "T" }, claims: {}, proof: undefined })).toBe("bearer")
      expect(yield* presented({ credentials: { scheme: "Bearer", token: "T" }, claims: { cnf: { "x5t#S256": "x" } }, proof: undefined })).toBe("bearer")
    }))

  it("§7.1: challenges: DPoP with error and algs; a bound token sent as Bearer gets the Bearer error, then the DPoP challenge", () => {
    const options = { realm: "https://as.example/realms/acme", algorithms: ["ES256", "PS256"] }
    expect(Dpop.challenge({ algorithms: ["ES256", "PS256"] })).toBe(`DPoP algs="ES256 PS256"`)
    const mismatch = Dpop.resourceError(new Dpop.BindingRejected({ reason: "key_mismatch" }), options)
    expectError(mismatch, 401, { error: "invalid_token", error_description: "Invalid DPoP key binding" })
    expect(mismatch.wwwAuthenticate).toBe(
      `DPoP realm="https://as.example/realms/acme", error="invalid_token", error_description="Invalid DPoP key binding", algs="ES256 PS256"`
    )
    const nonce = Dpop.resourceError(new Dpop.ProofRejected({ reason: "nonce_missing" }), options)
    expectError(nonce, 401, { error: "use_dpop_nonce", error_description: "the DPoP proof must carry the nonce of the DPoP-Nonce header" })
    const bearer = Dpop.resourceError(new Dpop.BindingRejected({ reason: "bearer_bound" }), options)
    expect(bearer.wwwAuthenticate).toBe(
      `Bearer realm="https://as.example/realms/acme", error="invalid_token", error_description="${Dpop.bindingDescriptions.bearer_bound}", ` +
        `DPoP realm="https://as.example/realms/acme", algs="ES256 PS256"`
    )
  })
})
