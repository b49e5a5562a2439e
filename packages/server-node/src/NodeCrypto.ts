/** The domain's `Crypto` on node:crypto: synchronous SHA-256 and JWS signatures, the same bytes as WebCrypto's. */
import * as NodeCrypto from "node:crypto"
import { Effect, Layer } from "effect"
import { Crypto } from "@tessera/domain"
import type { SigningKey } from "@tessera/domain"

/** `n` bytes from the CSPRNG, as `Entropy.layer` gives them. */
export const randomBytes = (n: number) => new Uint8Array(NodeCrypto.randomBytes(n))

/** A random (version 4) UUID, as `Entropy.layer` gives it. */
export const randomUUID = () => NodeCrypto.randomUUID()

/** SHA-256, synchronously. */
export const sha256 = (data: Uint8Array | string) => new Uint8Array(NodeCrypto.createHash("sha256").update(data).digest())

/** The JWS signature of `input`, synchronously. RFC 7518 §3.4: an ECDSA JWS signature is R || S (IEEE P1363), not DER. */
export const sign = (key: unknown, alg: SigningKey.Alg, input: Uint8Array) =>
  new Uint8Array(NodeCrypto.sign("sha256", input, alg === "ES256" ? { key: key as NodeCrypto.KeyObject, dsaEncoding: "ieee-p1363" } : key as NodeCrypto.KeyObject))

export const crypto: Crypto.Shape = {
  sha256: (data) => Effect.sync(() => sha256(data)),
  importSigningKey: (jwk) => Effect.sync(() => NodeCrypto.createPrivateKey({ key: jwk as NodeCrypto.JsonWebKey, format: "jwk" })),
  sign: (key, alg, input) => Effect.sync(() => sign(key, alg, input))
}

export const layer = Layer.succeed(Crypto.Crypto, crypto)
