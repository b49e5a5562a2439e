import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Jose from "jose"
import { Base64Url, Crypto, Hash, Jwt } from "@tessera/domain"
import type { SigningKey } from "@tessera/domain"
import * as NodeCrypto from "node:crypto"
import * as ServerCrypto from "@tessera/server-node/NodeCrypto"

const implementations = [["WebCrypto (the domain's default)", Crypto.webCrypto], ["node:crypto (server-node)", ServerCrypto.crypto]] as const

const claims = { iss: "https://tessera.test/realms/r", sub: "ada", aud: "https://api.example/", scope: "read write", name: "Ada Lövelace 🚀", iat: 1, exp: 2 }

describe("Crypto: node:crypto gives what WebCrypto gives", () => {
  it.effect("FIPS 180-4 SHA-256: the same digest for empty, ASCII, non-ASCII and large inputs", () =>
    Effect.gen(function*() {
      for (const input of ["", "abc", "Ada Lövelace 🚀\n\u0000", "x".repeat(1 << 20)]) {
        const digests = yield* Effect.forEach(implementations, ([, impl]) => Hash.sha256(input).pipe(Effect.provideService(Crypto.Crypto, impl)))
        expect(digests[0]).toBe(digests[1])
      }
      // the published test vector (FIPS 180-2 appendix B.1)
      expect(yield* Hash.sha256("abc").pipe(Effect.provideService(Crypto.Crypto, ServerCrypto.crypto))).toBe("ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0")
    }))

  it.effect("FIPS 180-4 SHA-256, synchronously (sha256Text, ADR 0042): both give sha256's base64url of the UTF-8 bytes, at every padding length", () =>
    Effect.gen(function*() {
      // FIPS 180-2 appendix B.1 and B.2 (one block, two blocks), and the empty message
      const vectors = [
        ["abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
        ["abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"],
        ["", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]
      ] as const
      for (const [, impl] of implementations) {
        for (const [message, hex] of vectors) expect(impl.sha256Text(message)).toBe(Buffer.from(hex, "hex").toString("base64url"))
      }
      // every length around the 55/56/64-byte padding boundaries, in ASCII and in multi-byte UTF-8, and 1 MiB
      const texts = ["x".repeat(1 << 20), "Ada Lövelace 🚀\n\u0000"]
      for (let n = 0; n <= 200; n++) texts.push("a".repeat(n), "é".repeat(n), "😀".repeat(n % 40) + "b".repeat(n))
      for (const text of texts) {
        const expected = yield* Hash.sha256(text).pipe(Effect.provideService(Crypto.Crypto, ServerCrypto.crypto))
        for (const [name, impl] of implementations) expect(impl.sha256Text(text), `${name}, ${text.length} UTF-16 units`).toBe(expected)
      }
    }))

  it.effect("RFC 2104 HMAC-SHA-256 (Hash.hmacSha256): node:crypto's createHmac bytes on both, for keys shorter than, as long as and longer than the 64-byte block, the empty one too", () =>
    Effect.gen(function*() {
      // RFC 4231 §4.3, test case 2: key "Jefe"
      for (const [, impl] of implementations) {
        expect(yield* Hash.hmacSha256("Jefe", "what do ya want for nothing?").pipe(Effect.provideService(Crypto.Crypto, impl)))
          .toBe(Buffer.from("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", "hex").toString("base64url"))
      }
      const keys = ["", "k", "é", "x".repeat(32), "y".repeat(63), "z".repeat(64), "w".repeat(65), "😀".repeat(17), "v".repeat(200)]
      for (const key of keys) {
        for (const message of ["", "abc", "Ada Lövelace 🚀\n\u0000", "m".repeat(1000)]) {
          const expected = NodeCrypto.createHmac("sha256", key).update(message).digest("base64url")
          for (const [name, impl] of implementations) {
            expect(yield* Hash.hmacSha256(key, message).pipe(Effect.provideService(Crypto.Crypto, impl)), `${name}, key of ${key.length}`).toBe(expected)
          }
        }
      }
    }))

  for (const alg of ["ES256", "RS256"] satisfies ReadonlyArray<SigningKey.Alg>) {
    for (const [name, impl] of implementations) {
      it.effect(`RFC 7515 §7.1 / RFC 7518 §3: ${alg} with ${name} is the compact JWS jose makes, and jose verifies it`, () =>
        Effect.gen(function*() {
          const pair = yield* Effect.promise(() => Jose.generateKeyPair(alg, { extractable: true }))
          const jwk = yield* Effect.promise(() => Jose.exportJWK(pair.privateKey))
          const key = yield* impl.importSigningKey(jwk, alg)
          const token = yield* Jwt.sign(claims, { kid: "k1", alg, key }, "at+jwt").pipe(Effect.provideService(Crypto.Crypto, impl))
          const byJose = yield* Effect.promise(() =>
            new Jose.SignJWT(claims).setProtectedHeader({ alg, kid: "k1", typ: "at+jwt" }).sign(pair.privateKey))
          // header and payload are the same bytes; only the signature differs (ECDSA is randomized)
          expect(token.split(".").slice(0, 2)).toEqual(byJose.split(".").slice(0, 2))
          // RFC 7518 §3.4: an ES256 signature is the 64-byte R || S, never DER
          if (alg === "ES256") expect(Jose.base64url.decode(token.split(".")[2]!).length).toBe(64)
          const verified = yield* Effect.promise(() => Jose.jwtVerify(token, pair.publicKey, { algorithms: [alg], typ: "at+jwt", currentDate: new Date(1500) }))
          expect(verified.payload).toEqual(claims)
          expect(verified.protectedHeader).toEqual({ alg, kid: "k1", typ: "at+jwt" })
        }))
    }
  }
})

describe("RFC 4648 §5: base64url without padding, on Buffer and on the portable code alike", () => {
  it("every length from 0 to 64 bytes, and text with multi-byte UTF-8", () => {
    for (let n = 0; n <= 64; n++) {
      const bytes = NodeCrypto.randomBytes(n)
      // a view into a larger buffer: only its own bytes are encoded
      const around = Buffer.concat([Buffer.from([1, 2, 3]), bytes, Buffer.from([4])])
      const view = new Uint8Array(around.buffer, around.byteOffset + 3, n)
      expect(Base64Url.encode(bytes)).toBe(Base64Url.encodePortable(bytes))
      expect(Base64Url.encode(view)).toBe(Base64Url.encodePortable(bytes))
      expect(Base64Url.encode(bytes)).toBe(Jose.base64url.encode(bytes))
      expect(Base64Url.decode(Base64Url.encode(bytes))).toEqual(new Uint8Array(bytes))
    }
    for (const text of ["", "a", "{\"iss\":\"https://x\"}", "Ada Lovelace ✓ 𝔘 ø", "\u0000\uffff"]) {
      expect(Base64Url.encodeText(text)).toBe(Base64Url.encodePortable(new TextEncoder().encode(text)))
    }
  })
})

describe("NodeCrypto.randomBytes: CSPRNG bytes drawn from a pool", () => {
  it("every call gets its own bytes, copies the caller may keep, across refills of the pool", () => {
    const seen = new Set<string>()
    const kept: Array<[Uint8Array, string]> = []
    for (let i = 0; i < 1000; i++) {
      const bytes = ServerCrypto.randomBytes(16)
      expect(bytes.length).toBe(16)
      const hex = Buffer.from(bytes).toString("hex")
      expect(seen.has(hex)).toBe(false)
      seen.add(hex)
      kept.push([bytes, hex])
    }
    // 16 000 bytes: the 4 096-byte pool was refilled; what was handed out before did not change
    for (const [bytes, hex] of kept) expect(Buffer.from(bytes).toString("hex")).toBe(hex)
    expect(ServerCrypto.randomBytes(5000).length).toBe(5000)
  })
})
