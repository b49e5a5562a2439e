/**
 * The benchmark's peer: oidc-provider 9 configured like the Tessera realm under test. Run as a child of
 * `bench/tokens.ts` (never on its own); its configuration comes as JSON in `BENCH_PEER`.
 *
 * Equivalent to Tessera's realm: one confidential client (client_secret_basic) allowed the client credentials grant
 * and scope `read write`; resource indicators (RFC 8707) with one resource whose tokens are RFC 9068 JWTs signed
 * ES256 (typ at+jwt), 15 minutes like Tessera's; the JWKS holds two ES256 and two RS256 keys as Tessera's does
 * (active and next of each). In-memory adapter without eviction (below; a JWT access token is not stored at all by oidc-provider). DPoP
 * (RFC 9449) on, without nonces, as Tessera's default: its proof `jti`s go to the in-memory replay detection.
 *
 * Introspection (RFC 7662) on, for the `introspect` row. oidc-provider refuses to introspect a JWT access token
 * ("Structured JWT Tokens cannot be introspected via the introspection_endpoint", lib/shared/reject_structured_tokens.js),
 * so a second client, `opaqueClientId`, otherwise the same, gets its tokens for the same resource in oidc-provider's
 * opaque format (same audience, scope and lifetime, stored in the in-memory adapter): that is the token it can answer
 * `active: true` for. Like Tessera (CONTRACT §5 Introspection), it shows a token only to the client it was issued to.
 *
 * The code and refresh rows: a third client, `codeClientId` (client_secret_basic, grants authorization_code and
 * refresh_token, one redirect URI), gets refresh tokens with every code (`issueRefreshToken`, as Tessera issues them to
 * a client that may refresh, CONTRACT §5) that rotate on every use (`rotateRefreshToken: true`, as Tessera's do), and
 * codes live 60 s (oidc-provider's default, Tessera's too). The peer has no login pages (devInteractions off), so
 * `/interaction/<uid>` signs the one bench person in and grants what was asked (the resource's scopes), as a person
 * would at Tessera's login and consent pages; after that one interaction the harness's session cookie gets a code
 * from every authorization request without one (bench/flows.ts), like at Tessera.
 */
import * as Crypto from "node:crypto"
import * as Http from "node:http"
import Provider, { errors } from "oidc-provider"

interface PeerConfig {
  readonly port: number
  readonly clientId: string
  readonly clientSecret: string
  /** The client whose tokens are opaque (for introspection); same secret, grant and scope as `clientId`. */
  readonly opaqueClientId: string
  /** The client of the code and refresh rows, and its one redirect URI. */
  readonly codeClientId: string
  readonly redirectUri: string
  /** The `sub` of the one person (the account the interaction signs in). */
  readonly personSub: string
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

const client = (clientId: string) => ({
  client_id: clientId,
  client_secret: config.clientSecret,
  grant_types: ["client_credentials"],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: "client_secret_basic",
  scope: config.scope
})

/**
 * oidc-provider's own in-memory adapter is an LRU of 1 000 entries (lib/adapters/memory_adapter.js): a code or refresh
 * row's pool of thousands evicted the session and grant its tokens need, and the peer answered `invalid_grant` ("grant
 * request is invalid") to tokens it had issued. This one keeps every entry until it expires, as a database would, so
 * the rows measure the peer's work, not its cache's evictions. Each model's entries in a Map of their own.
 */
class UnboundedMemoryAdapter {
  private static readonly models = new Map<string, Map<string, { payload: Record<string, unknown>; until: number }>>()
  private static readonly byGrant = new Map<string, Set<string>>()
  private readonly entries: Map<string, { payload: Record<string, unknown>; until: number }>
  constructor(private readonly model: string) {
    const existing = UnboundedMemoryAdapter.models.get(model)
    this.entries = existing ?? new Map()
    if (existing === undefined) UnboundedMemoryAdapter.models.set(model, this.entries)
  }
  private live(id: string) {
    const entry = this.entries.get(id)
    if (entry === undefined) return undefined
    if (entry.until <= Date.now()) {
      this.entries.delete(id)
      return undefined
    }
    return entry.payload
  }
  async upsert(id: string, payload: Record<string, unknown>, expiresIn: number) {
    this.entries.set(id, { payload, until: expiresIn > 0 ? Date.now() + expiresIn * 1000 : Infinity })
    const grantId = payload["grantId"]
    if (typeof grantId === "string") {
      const ids = UnboundedMemoryAdapter.byGrant.get(grantId) ?? new Set<string>()
      ids.add(`${this.model} ${id}`)
      UnboundedMemoryAdapter.byGrant.set(grantId, ids)
    }
  }
  async find(id: string) {
    return this.live(id)
  }
  async findByUid(uid: string) {
    for (const id of this.entries.keys()) if (this.live(id)?.["uid"] === uid) return this.live(id)
    return undefined
  }
  async findByUserCode(userCode: string) {
    for (const id of this.entries.keys()) if (this.live(id)?.["userCode"] === userCode) return this.live(id)
    return undefined
  }
  async consume(id: string) {
    const payload = this.live(id)
    if (payload !== undefined) payload["consumed"] = Math.floor(Date.now() / 1000)
  }
  async destroy(id: string) {
    this.entries.delete(id)
  }
  async revokeByGrantId(grantId: string) {
    for (const key of UnboundedMemoryAdapter.byGrant.get(grantId) ?? []) {
      const space = key.indexOf(" ")
      UnboundedMemoryAdapter.models.get(key.slice(0, space))?.delete(key.slice(space + 1))
    }
    UnboundedMemoryAdapter.byGrant.delete(grantId)
  }
}

const provider = new Provider(issuer, {
  adapter: UnboundedMemoryAdapter,
  clients: [client(config.clientId), client(config.opaqueClientId), {
    ...client(config.codeClientId),
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    redirect_uris: [config.redirectUri]
  }],
  findAccount: (_ctx: unknown, sub: string) => ({ accountId: sub, claims: () => ({ sub }) }),
  interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
  // CONTRACT §5: a refresh token whenever the client may refresh, rotated on every use, as Tessera does
  issueRefreshToken: (_ctx: unknown, client: { grantTypeAllowed: (grant: string) => boolean }) => client.grantTypeAllowed("refresh_token"),
  rotateRefreshToken: true,
  ttl: { AuthorizationCode: 60, RefreshToken: 14 * 24 * 3600, Grant: 14 * 24 * 3600, Session: 14 * 24 * 3600, Interaction: 3600 },
  jwks: { keys: [privateJwk("ES256", 1), privateJwk("ES256", 2), privateJwk("RS256", 1), privateJwk("RS256", 2)] },
  scopes: config.scope.split(" "),
  cookies: { keys: [Crypto.randomBytes(32).toString("base64url")] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    dPoP: { enabled: true },
    introspection: {
      enabled: true,
      // RFC 7662 §2.1: the caller is authorized to see only its own tokens, as Tessera's rule for this row
      allowedPolicy: (_ctx: unknown, caller: { clientId: string }, token: { clientId: string }) => caller.clientId === token.clientId
    },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => undefined,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx: unknown, indicator: string, client: { clientId: string }) => {
        if (indicator !== config.resource) throw new errors.InvalidTarget()
        return {
          scope: config.scope,
          audience: config.resource,
          accessTokenTTL: config.accessTokenSeconds,
          ...(client.clientId === config.opaqueClientId
            ? { accessTokenFormat: "opaque" }
            : { accessTokenFormat: "jwt", jwt: { sign: { alg: "ES256" } } })
        }
      }
    }
  }
})

/** The bench person signs in and grants the client what it asked for (the resource's scopes). */
const interaction = async (req: Http.IncomingMessage, res: Http.ServerResponse) => {
  const details = await provider.interactionDetails(req, res)
  const params = details.params as { client_id: string; scope?: string; resource?: string }
  const grant = new provider.Grant({ accountId: config.personSub, clientId: params.client_id })
  // the provider's `scopes` list holds read and write, so it asks for them as OIDC scopes as well as the resource's
  grant.addOIDCScope(params.scope ?? "")
  if (params.resource !== undefined) grant.addResourceScope(params.resource, params.scope ?? "")
  const grantId = await grant.save()
  await provider.interactionFinished(req, res, { login: { accountId: config.personSub }, consent: { grantId } }, { mergeWithLastSubmission: false })
}

const callback = provider.callback()
const server = Http.createServer((req, res) => {
  if (req.url?.startsWith("/interaction/") === true) {
    interaction(req, res).catch((cause: unknown) => {
      res.statusCode = 500
      res.end(String(cause))
    })
    return
  }
  callback(req, res)
})
server.listen(config.port, "127.0.0.1", () => console.log(`peer listening on ${issuer}`))

process.on("SIGTERM", () => {
  server.close(() => process.exit(0))
  server.closeAllConnections()
})
