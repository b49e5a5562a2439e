/**
 * The load generator's side of DPoP (RFC 9449) for the token-dpop row: its key, one fresh proof per request signed
 * before the run (so the run measures what checking a proof costs the server: signature, thumbprint, replay cache,
 * and nothing of making one), and what one signature verification costs here, the yardstick of the DPoP rows.
 */
import * as Jose from "jose"
import type * as Load from "./load.js"

/** RFC 9449 §4.2: the load generator's DPoP key. */
export interface ProofKey {
  readonly privateKey: CryptoKey
  readonly publicJwk: Jose.JWK
  readonly jkt: string
}

export const proofKey = async (): Promise<ProofKey> => {
  const pair = await Jose.generateKeyPair("ES256", { extractable: true })
  const publicJwk = await Jose.exportJWK(pair.publicKey)
  return { privateKey: pair.privateKey, publicJwk, jkt: await Jose.calculateJwkThumbprint(publicJwk) }
}

/** RFC 9449 §4.2: one proof for a POST to `htu`, made now. */
export const signProof = (key: ProofKey, htu: string) =>
  new Jose.SignJWT({ jti: crypto.randomUUID(), htm: "POST", htu, iat: Math.floor(Date.now() / 1000) })
    .setProtectedHeader({ typ: "dpop+jwt", alg: "ES256", jwk: key.publicJwk })
    .sign(key.privateKey)

/**
 * Proofs for one run, each used once (Tessera remembers every `jti`, RFC 9449 §11.1), at most `perSecond` for each
 * second of the longest run. A proof is good for 60 s after its `iat` (ADR 0017), so a run must end by then.
 */
export const proofPool = (key: ProofKey, htu: string, perSecond: number, seconds: number): Load.Pool => {
  if (seconds > 45) throw new Error("token-dpop: runs longer than 45 s would outlive their proofs' 60-second window")
  return {
    max: Math.ceil(perSecond * seconds),
    make: async (count) => {
      const proofs: Array<Load.Values> = []
      while (proofs.length < count) {
        const batch = await Promise.all(Array.from({ length: Math.min(256, count - proofs.length) }, () => signProof(key, htu)))
        for (const dpop of batch) proofs.push({ headers: { dpop } })
      }
      return proofs
    }
  }
}

/**
 * What one ES256 signature verification costs on this machine (jose over WebCrypto, the key already imported, as
 * packages/protocol's `Dpop.verify` has it for a key it saw before), averaged.
 */
export const verificationMicros = async () => {
  const key = await proofKey()
  const publicKey = await Jose.importJWK(key.publicJwk, "ES256")
  const proofs = await Promise.all(Array.from({ length: 400 }, () => signProof(key, "https://bench.example/token")))
  for (const proof of proofs.slice(0, 50)) await Jose.compactVerify(proof, publicKey)
  const started = performance.now()
  for (const proof of proofs) await Jose.compactVerify(proof, publicKey)
  return ((performance.now() - started) * 1000) / proofs.length
}
