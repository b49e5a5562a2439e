/** JWK Sets (RFC 7517 §5) that must hold public keys only: clients' and trusted issuers' verification keys. */

export interface Jwks {
  readonly keys: ReadonlyArray<Record<string, unknown>>
}

/** RFC 7518 §6.2.2, §6.3.2, §6.4 and RFC 8037 §2: members that hold private or symmetric key material. */
export const privateMembers = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] as const

const keyTypes = new Set(["EC", "RSA", "OKP"])

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
  }
  return { keys: keys as ReadonlyArray<Record<string, unknown>> }
}
