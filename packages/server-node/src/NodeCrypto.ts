/** The domain's `Crypto` on node:crypto: synchronous SHA-256 and JWS signatures, the same bytes as WebCrypto's. */
import * as NodeCrypto from "node:crypto"
import { Effect, Layer } from "effect"
import { Crypto } from "@tessera/domain"

export const crypto: Crypto.Shape = {
  sha256: (data) => Effect.sync(() => new Uint8Array(NodeCrypto.createHash("sha256").update(data).digest())),
  importSigningKey: (jwk) => Effect.sync(() => NodeCrypto.createPrivateKey({ key: jwk as NodeCrypto.JsonWebKey, format: "jwk" })),
  // RFC 7518 §3.4: an ECDSA JWS signature is R || S (IEEE P1363), not DER
  sign: (key, alg, input) =>
    Effect.sync(() =>
      new Uint8Array(NodeCrypto.sign("sha256", input, alg === "ES256" ? { key: key as NodeCrypto.KeyObject, dsaEncoding: "ieee-p1363" } : key as NodeCrypto.KeyObject))
    )
}

export const layer = Layer.succeed(Crypto.Crypto, crypto)
