/** JWK Sets (RFC 7517 §5) that must hold public keys only: clients' and trusted issuers' verification keys. */

export interface Jwks {
  readonly keys: ReadonlyArray<Record<string, unknown>>
}

/** RFC 7518 §6.2.2, §6.3.2, §6.4 and RFC 8037 §2: members that hold private or symmetric key material. */
export const privateMembers = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] as const

const keyTypes = new Set(["EC", "RSA", "OKP"])

/** The public members each key type requires: RFC 7518 §6.2.1 (EC), §6.3.1 (RSA), RFC 8037 §2 (OKP), RFC 8812 §3.1. */
const publicShape: Record<string, { readonly curves?: ReadonlyArray<string>; readonly members: ReadonlyArray<string> }> = {
  EC: { curves: ["P-256", "P-384", "P-521", "secp256k1"], members: ["x", "y"] },
  RSA: { members: ["n", "e"] },
  OKP: { curves: ["Ed25519", "Ed448", "X25519", "X448"], members: ["x"] }
}

const base64url = /^[A-Za-z0-9_-]+$/

/** The JWK Set if it is a well-formed set of public keys, else why not. */
export const validatePublic = (value: unknown): Jwks | string => {
  if (typeof value !== "object" || value === null || !Array.isArray((value as { keys?: unknown }).keys)) {
    return "must be a JWK Set: an object with a 'keys' array"
  }
  const keys = (value as { keys: Array<unknown> }).keys
  if (keys.length === 0) return "must hold at least one key"
  for (const [i, key] of keys.entries()) {
    if (typeof key !== "object" || key === null || Array.isArray(key)) return `keys[${i}] must be a JWK object`
    const jwk = key as Record<string, unknown>
    if (typeof jwk["kty"] !== "string" || !keyTypes.has(jwk["kty"])) return `keys[${i}] must have kty EC, RSA or OKP`
    if (privateMembers.some((member) => member in jwk)) return `keys[${i}] must be a public key (no private members)`
    const shape = publicShape[jwk["kty"]]!
    if (shape.curves !== undefined && !shape.curves.includes(jwk["crv"] as string)) {
      return `keys[${i}] must have crv ${shape.curves.join(", ")}`
    }
    for (const member of shape.members) {
      const value = jwk[member]
      if (typeof value !== "string" || !base64url.test(value)) return `keys[${i}] must have '${member}' as a base64url string`
    }
  }
  return { keys: keys as ReadonlyArray<Record<string, unknown>> }
}
