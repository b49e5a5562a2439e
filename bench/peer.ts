/**
 * The benchmark's peer: oidc-provider 9 configured like the Tessera realm under test. Run as a child of
 * `bench/tokens.ts` (never on its own); its configuration comes as JSON in `BENCH_PEER`.
 *
 * Equivalent to Tessera's realm: one confidential client (client_secret_basic) allowed the client credentials grant
 * and scope `read write`; resource indicators (RFC 8707) with one resource whose tokens are RFC 9068 JWTs signed
 * ES256 (typ at+jwt), 15 minutes like Tessera's; the JWKS holds two ES256 and two RS256 keys as Tessera's does
 * (active and next of each). In-memory adapter (a JWT access token is not stored at all by oidc-provider). DPoP
 * (RFC 9449) on, without nonces, as Tessera's default: its proof `jti`s go to the in-memory replay detection.
 */
import * as Crypto from "node:crypto"
import * as Http from "node:http"
import Provider, { errors } from "oidc-provider"

interface PeerConfig {
  readonly port: number
  readonly clientId: string
  readonly clientSecret: string
  readonly resource: string
  readonly scope: string
  readonly accessTokenSeconds: number
}

const config = JSON.parse(process.env["BENCH_PEER"] ?? "{}") as PeerConfig
const issuer = `http://127.0.0.1:${config.port}`

const privateJwk = (alg: "ES256" | "RS256", index: number) => {
  const pair = alg === "ES256"
    ? Crypto.generateKeyPairSync("ec", { namedCurve: "P-256" })
    : Crypto.generateKeyPairSync("rsa", { modulusLength: 2048 })
  return { ...pair.privateKey.export({ format: "jwk" }), kid: `${alg.toLowerCase()}-${index}`, alg, use: "sig" }
}

const provider = new Provider(issuer, {
  clients: [{
    client_id: config.clientId,
    client_secret: config.clientSecret,
    grant_types: ["client_credentials"],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: "client_secret_basic",
    scope: config.scope
  }],
  jwks: { keys: [privateJwk("ES256", 1), privateJwk("ES256", 2), privateJwk("RS256", 1), privateJwk("RS256", 2)] },
  scopes: config.scope.split(" "),
  cookies: { keys: [Crypto.randomBytes(32).toString("base64url")] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    dPoP: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => undefined,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx: unknown, indicator: string) => {
        if (indicator !== config.resource) throw new errors.InvalidTarget()
        return {
          scope: config.scope,
          audience: config.resource,
          accessTokenTTL: config.accessTokenSeconds,
          accessTokenFormat: "jwt",
          jwt: { sign: { alg: "ES256" } }
        }
      }
    }
  }
})

const server = Http.createServer(provider.callback())
server.listen(config.port, "127.0.0.1", () => console.log(`peer listening on ${issuer}`))

process.on("SIGTERM", () => {
  server.close(() => process.exit(0))
  server.closeAllConnections()
})
