/** A DPoP client for the tests (RFC 9449 §4.2): a key pair and proofs whose every header and claim can be overridden. */
import * as Jose from "jose"

export interface ProofKey {
  readonly alg: string
  readonly privateKey: CryptoKey
  readonly publicJwk: Jose.JWK
  /** RFC 7638 thumbprint of the public key: the `jkt` tokens are bound to. */
  readonly jkt: string
}

/** A fresh key pair for `alg` (ES256 unless told). */
export const key = async (alg = "ES256"): Promise<ProofKey> => {
  const pair = await Jose.generateKeyPair(alg, { extractable: true })
  const publicJwk = await Jose.exportJWK(pair.publicKey)
  return { alg, privateKey: pair.privateKey, publicJwk, jkt: await Jose.calculateJwkThumbprint(publicJwk) }
}

/** RFC 9449 §4.2: base64url SHA-256 of the token. */
export const athOf = async (token: string) =>
  Jose.base64url.encode(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token))))

export interface ProofInput {
  readonly htm: string
  readonly htu: string
  /** Seconds since the epoch. */
  readonly iat: number
  /** When given, `ath` is its hash (unless `claims` overrides it). */
  readonly accessToken?: string
  readonly nonce?: string
  /** Extra or replacing claims; `undefined` removes one. */
  readonly claims?: Record<string, unknown>
  /** Extra or replacing header parameters; `undefined` removes one. */
  readonly header?: Record<string, unknown>
}

const defined = (record: Record<string, unknown>) => Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined))

/** A signed proof: `typ` dpop+jwt, the key's `alg` and public `jwk`, a fresh `jti`. */
export const proof = async (k: ProofKey, input: ProofInput): Promise<string> => {
  const payload = defined({
    jti: crypto.randomUUID(),
    htm: input.htm,
    htu: input.htu,
    iat: input.iat,
    ...(input.accessToken !== undefined ? { ath: await athOf(input.accessToken) } : {}),
    ...(input.nonce !== undefined ? { nonce: input.nonce } : {}),
    ...input.claims
  })
  const header = defined({ typ: "dpop+jwt", alg: k.alg, jwk: k.publicJwk, ...input.header }) as Jose.CompactJWSHeaderParameters
  return new Jose.CompactSign(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader(header).sign(k.privateKey)
}

/** A compact JWS with any header and payload and a junk signature: for `alg: none` and other unsignable shapes. */
export const unsigned = (header: Record<string, unknown>, payload: Record<string, unknown>) =>
  `${Jose.base64url.encode(JSON.stringify(header))}.${Jose.base64url.encode(JSON.stringify(payload))}.AAAA`
