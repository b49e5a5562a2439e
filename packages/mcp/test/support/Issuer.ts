/** A stand-in authorization server for the resource-server tests: its metadata and JWKS over an in-memory `fetch`. */
import * as Jose from "jose"

export const issuer = "https://as.example.com/realms/acme"
export const resource = "https://mcp.example.com/mcp"

export const makeIssuer = async () => {
  const key = await Jose.generateKeyPair("ES256", { extractable: true })
  const next = await Jose.generateKeyPair("ES256", { extractable: true })
  const jwk = async (k: Jose.CryptoKey, kid: string) => ({ ...(await Jose.exportJWK(k)), kid, alg: "ES256", use: "sig" })
  let keys = [await jwk(key.publicKey, "k1")]
  const fetched: Array<string> = []
  let down = false

  const fetch: typeof globalThis.fetch = async (input) => {
    const url = String(input)
    fetched.push(url)
    if (down) throw new TypeError("fetch failed")
    if (url === "https://as.example.com/.well-known/oauth-authorization-server/realms/acme") {
      return Response.json({ issuer, jwks_uri: `${issuer}/jwks` })
    }
    if (url === `${issuer}/jwks`) return Response.json({ keys })
    return new Response("{}", { status: 404 })
  }

  const now = () => Math.floor(Date.now() / 1000)
  const sign = (claims: Record<string, unknown> = {}, options: { readonly kid?: string; readonly typ?: string; readonly signer?: Jose.CryptoKey } = {}) =>
    new Jose.SignJWT({
      iss: issuer,
      sub: "person-1",
      aud: resource,
      client_id: "client-1",
      scope: "mcp:tools",
      jti: crypto.randomUUID(),
      iat: now(),
      exp: now() + 300,
      ...claims
    }).setProtectedHeader({ alg: "ES256", kid: options.kid ?? "k1", typ: options.typ ?? "at+jwt" }).sign(options.signer ?? key.privateKey)

  return {
    fetch,
    fetched,
    sign,
    /** Publishes the next key (kid k2) beside the first, as a key rotation does. */
    rotate: async () => {
      keys = [...keys, await jwk(next.publicKey, "k2")]
    },
    nextKey: next.privateKey,
    setDown: (value: boolean) => {
      down = value
    }
  }
}
