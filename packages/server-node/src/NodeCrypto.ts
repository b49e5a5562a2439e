/** The domain's `Crypto` on node:crypto: synchronous SHA-256 and JWS signatures, the same bytes as WebCrypto's. */
import * as NodeCrypto from "node:crypto"
import { Effect, Layer } from "effect"
import { Crypto } from "@tessera/domain"
import type { SigningKey } from "@tessera/domain"

/** Random bytes drawn from the CSPRNG a pool at a time (as node:crypto's `randomUUID` does), each byte handed out once. */
const pool = new Uint8Array(4096)
let poolOffset = pool.length

/** `n` bytes from the CSPRNG, as `Entropy.layer` gives them (a copy: the caller may keep them). */
export const randomBytes = (n: number) => {
  if (n > pool.length) return new Uint8Array(NodeCrypto.randomBytes(n))
  if (poolOffset + n > pool.length) {
    NodeCrypto.randomFillSync(pool)
    poolOffset = 0
  }
  const bytes = pool.slice(poolOffset, poolOffset + n)
  poolOffset += n
  return bytes
}

/** A random (version 4) UUID, as `Entropy.layer` gives it. */
export const randomUUID = () => NodeCrypto.randomUUID()

/** SHA-256, synchronously. */
export const sha256 = (data: Uint8Array | string) => new Uint8Array(NodeCrypto.createHash("sha256").update(data).digest())

/** The JWS signature of `input`, synchronously. RFC 7518 §3.4: an ECDSA JWS signature is R || S (IEEE P1363), not DER. */
export const sign = (key: unknown, alg: SigningKey.Alg, input: Uint8Array) =>
  new Uint8Array(NodeCrypto.sign("sha256", input, alg === "ES256" ? { key: key as NodeCrypto.KeyObject, dsaEncoding: "ieee-p1363" } : key as NodeCrypto.KeyObject))

export const crypto: Crypto.Shape = {
  sha256: (data) => Effect.sync(() => sha256(data)),
  // the one-shot `hash` (Node 20.12+, 21.7+) encodes the text and the digest natively, with no Hash object per call
  sha256Text: (text) => NodeCrypto.hash("sha256", text, "base64url"),
  importSigningKey: (jwk) => Effect.sync(() => NodeCrypto.createPrivateKey({ key: jwk as NodeCrypto.JsonWebKey, format: "jwk" })),
  sign: (key, alg, input) => Effect.sync(() => sign(key, alg, input))
}

export const layer = Layer.succeed(Crypto.Crypto, crypto)
