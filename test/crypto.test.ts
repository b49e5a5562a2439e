import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Jose from "jose"
import { Crypto, Hash, Jwt } from "@tessera/domain"
import type { SigningKey } from "@tessera/domain"
import * as NodeCrypto from "@tessera/server-node/NodeCrypto"

const implementations = [["WebCrypto (the domain's default)", Crypto.webCrypto], ["node:crypto (server-node)", NodeCrypto.crypto]] as const

const claims = { iss: "https://tessera.test/realms/r", sub: "ada", aud: "https://api.example/", scope: "read write", name: "Ada Lövelace 🚀", iat: 1, exp: 2 }

describe("Crypto: node:crypto gives what WebCrypto gives", () => {
  it.effect("FIPS 180-4 SHA-256: the same digest for empty, ASCII, non-ASCII and large inputs", () =>
    Effect.gen(function*() {
      for (const input of ["", "abc", "Ada Lövelace 🚀\n\u0000", "x".repeat(1 << 20)]) {
        const digests = yield* Effect.forEach(implementations, ([, impl]) => Hash.sha256(input).pipe(Effect.provideService(Crypto.Crypto, impl)))
        expect(digests[0]).toBe(digests[1])
      }
      // the published test vector (FIPS 180-2 appendix B.1)
      expect(yield* Hash.sha256("abc").pipe(Effect.provideService(Crypto.Crypto, NodeCrypto.crypto))).toBe("ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0")
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
