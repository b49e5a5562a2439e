/**
 * The servers under test, each a child process on loopback configured alike: Tessera (one realm, one resource with
 * scopes `read write`, a confidential client for client credentials, another for the code grant with refresh tokens)
 * over PostgreSQL or PGlite, and oidc-provider 9 (bench/peer.ts). For each, the request of every row and the check of
 * every answer (bench/shapes.ts); the rows whose request presents something made first are prepared on demand.
 */
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Children from "./children.js"
import * as Dpop from "./dpop.js"
import * as Fixtures from "./fixtures.js"
import * as Flows from "./flows.js"
import type * as Load from "./load.js"
import type * as Postgres from "./postgres.js"
import * as Shapes from "./shapes.js"

// What both servers are configured with: one resource, its two scopes, a confidential client asking for both.
export const resource = "https://api.bench.example/"
export const scope = "read write"
export const accessTokenSeconds = 900 // Tessera's default access-token lifetime
export const adminToken = "bench-owner-token-0123456789abcdefghijklmnopqrstuvwxyz"
export const realm = "bench"

/** Rows whose request is the same every time (token-dpop: but for its proof). */
export type Fixed = "token" | "token-dpop" | "jwks" | "discovery"
/** Rows whose request presents something made before the run (a token, a code, a refresh token). */
export type Prepared = "introspect" | "exchange" | "code" | "refresh"
export type Endpoint = Fixed | Prepared

export interface Options {
  readonly settings: Load.Settings
  /** At most this many DPoP proofs per second of a token-dpop run. */
  readonly proofsPerSecond: number
  /** At most this many codes or refresh tokens for one run. */
  readonly poolMax: number
}

export interface PreparedRow {
  readonly request: Load.Request
  /** When what it presents expires (epoch seconds): the row must end before. */
  readonly expiresAt?: number
  readonly checked: string
}

export interface Target {
  readonly server: string
  readonly child: Children.Child
  readonly issuer: string
  readonly requests: Record<Fixed, Load.Request>
  /** The request of a prepared row, made and one answer checked now; or why this server has no such row. */
  readonly prepare: (endpoint: Prepared) => Promise<PreparedRow | string>
  /** The load generator's DPoP key for this server's token-dpop rows. */
  readonly key: Dpop.ProofKey
  readonly database?: Postgres.Scratch
  /** After the token run: how the server shows that every token was recorded (Tessera's audit chain). */
  readonly audited?: () => Promise<string>
}

const { basic } = Fixtures

export const tokenBody = new URLSearchParams({ grant_type: "client_credentials", resource, scope }).toString()

const form = { "content-type": "application/x-www-form-urlencoded" }

const fetchJson = async (url: string) => (await fetch(url)).json() as Promise<Record<string, unknown>>

/** The rows whose request is fixed: client credentials (with and without DPoP), JWKS, discovery. */
const requestsFor = async (o: Options, issuer: string, metadata: Record<string, unknown>, clientId: string, authorization: string, key: Dpop.ProofKey): Promise<Record<Fixed, Load.Request>> => {
  const tokenUrl = metadata["token_endpoint"] as string
  const jwksUrl = metadata["jwks_uri"] as string
  const keys = ((await fetchJson(jwksUrl))["keys"] as ReadonlyArray<unknown>).length
  const token = { issuer, resource, scope, lifetime: accessTokenSeconds, clientId, sub: clientId, refreshToken: false }
  return {
    token: { url: tokenUrl, method: "POST", headers: { authorization, ...form }, body: tokenBody, check: Shapes.tokenAnswer(token) },
    "token-dpop": {
      url: tokenUrl,
      method: "POST",
      headers: { authorization, ...form },
      body: tokenBody,
      pool: Dpop.proofPool(key, tokenUrl, o.proofsPerSecond, Math.max(o.settings.seconds, o.settings.warmupSeconds)),
      check: Shapes.tokenAnswer({ ...token, jkt: key.jkt })
    },
    jwks: { url: jwksUrl, method: "GET", check: Shapes.jwksAnswer(keys) },
    discovery: { url: `${issuer}/.well-known/openid-configuration`, method: "GET", check: Shapes.discoveryAnswer(issuer) }
  }
}

/** Request and expiry of a fixture (bench/fixtures.ts) as a row's request. */
const prepared = async (made: Promise<{ fixture: Fixtures.Fixture; checked: string }>, check: Load.Request["check"]): Promise<PreparedRow> => {
  const { fixture, checked } = await made
  const request: Load.Request = { url: fixture.url, method: "POST", headers: { authorization: fixture.authorization, ...form }, body: fixture.body, check }
  return { request, expiresAt: fixture.expiresAt, checked }
}

/**
 * The code and refresh rows of one server: its code client's person signed in once (on first use), then the row's
 * request with a pool of codes (or refresh tokens from codes), and one answer verified in full first.
 */
const codeRows = (o: Options, client: () => Promise<{ readonly c: Flows.CodeClient; readonly sub: string }>) => {
  let flow: Promise<{ c: Flows.CodeClient; sub: string; codes: Awaited<ReturnType<typeof Flows.codes>> }> | undefined
  const started = () =>
    (flow ??= client().then(async ({ c, sub }) => ({ c, sub, codes: await Flows.codes(c) })))
  return async (endpoint: "code" | "refresh"): Promise<PreparedRow> => {
    const { c, sub, codes } = await started()
    const check = Shapes.tokenAnswer({ issuer: c.issuer, resource, scope, lifetime: accessTokenSeconds, clientId: c.clientId, sub, refreshToken: true })
    const base = { url: c.tokenEndpoint, method: "POST" as const, headers: { authorization: c.authorization, ...form }, check }
    if (endpoint === "code") {
      const [code] = await codes.many(1)
      const { seen } = await Flows.verifyAnswer(c, Flows.codeBody(c, code!), sub)
      return {
        request: { ...base, pool: { max: o.poolMax, make: async (n) => (await codes.many(n)).map((made) => ({ body: Flows.codeBody(c, made) })) } },
        checked: `${seen}; codes by the session's authorization requests`
      }
    }
    const [code] = await codes.many(1)
    const presented = await Flows.refreshTokenOf(c, code!)
    const { seen, refreshToken } = await Flows.verifyAnswer(c, Flows.refreshBody(c, presented), sub)
    // CONTRACT §5 (OAuth 2.1 §4.3.1): rotated on every use. The spent token is not presented again here: oidc-provider
    // answers that by revoking the grant, and with it every code and refresh token of the pool (same grant)
    if (refreshToken === presented) throw new Error(`${c.server}: the refresh token was not rotated`)
    return {
      request: { ...base, pool: { max: o.poolMax, make: async (n) => (await Flows.refreshTokens(c, codes.many, n)).map((rt) => ({ body: Flows.refreshBody(c, rt) })) } },
      checked: `${seen}; rotated; refresh tokens from codes exchanged`
    }
  }
}

const adminCall = async (base: string, path: string, body: unknown): Promise<Record<string, string>> => {
  const res = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: JSON.stringify(body)
  })
  if (res.status !== 201) throw new Error(`${path}: ${res.status} ${await res.text()}`)
  return res.json() as Promise<Record<string, string>>
}

/** What a Tessera child is started with: a port, its data directory, the owner token, the database if any. */
export const tesseraEnv = (port: number, dataDir: string, database: Postgres.Scratch | undefined): Record<string, string> => ({
  TESSERA_PORT: String(port),
  TESSERA_HOST: "127.0.0.1",
  TESSERA_PUBLIC_URL: `http://127.0.0.1:${port}`,
  TESSERA_DATA_DIR: dataDir,
  TESSERA_ADMIN_TOKEN: adminToken,
  ...(database !== undefined ? { DATABASE_URL: database.url } : {})
})

export const tesseraReady = "tessera listening on"

/** Tessera from `root` (this checkout unless a comparison names another), over `database` or else PGlite. */
export const tessera = async (
  o: Options,
  server: string,
  database: Postgres.Scratch | undefined,
  cleanup: Array<() => Promise<void>>,
  root = Children.repoRoot,
  env: Record<string, string> = {}
): Promise<Target> => {
  const port = await Children.freePort()
  const dataDir = await Fs.mkdtemp(Path.join(Os.tmpdir(), "tessera-bench-"))
  cleanup.push(() => Fs.rm(dataDir, { recursive: true, force: true }))
  const base = `http://127.0.0.1:${port}`
  const child = await Children.start(server, Path.join(root, "packages/server-node/src/main.ts"), { ...tesseraEnv(port, dataDir, database), ...env }, tesseraReady, root)
  cleanup.push(() => Children.stop(child))
  await adminCall(base, "/admin/realms", { name: realm })
  await adminCall(base, `/admin/realms/${realm}/resources`, { uri: resource, scopes: scope.split(" ") })
  const client = await adminCall(base, `/admin/realms/${realm}/clients`, {
    grant_types: ["client_credentials"],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: "client_secret_basic",
    scope,
    resources: [resource]
  })
  const issuer = `${base}/realms/${realm}`
  const metadata = await fetchJson(`${issuer}/.well-known/openid-configuration`)
  const key = await Dpop.proofKey()
  const clientId = client["client_id"]!
  const authorization = basic(clientId, client["client_secret"]!)
  const introspect = () =>
    prepared(Fixtures.introspect({
      server, tokenUrl: metadata["token_endpoint"] as string, introspectionUrl: metadata["introspection_endpoint"] as string, clientId,
      authorization, tokenBody, resource, scope, lifetime: accessTokenSeconds
    }), Shapes.introspectionAnswer({ clientId, resource, scope, lifetime: accessTokenSeconds }))
  const exchange = async () => {
    const made = await Fixtures.exchange({ server, base, issuer, realm, metadata, resource, scope, adminCall: (path, body) => adminCall(base, path, body) })
    return prepared(Promise.resolve(made), Shapes.exchangeAnswer({
      issuer, resource, scope, sub: made.sub, agent: made.agent, lifetime: accessTokenSeconds
    }))
  }
  const code = codeRows(o, async () => {
    const user = await adminCall(base, `/admin/realms/${realm}/users`, { username: Flows.personName, password: Flows.password })
    const codeClient = await adminCall(base, `/admin/realms/${realm}/clients`, {
      client_name: "Bench code client",
      redirect_uris: [Flows.redirectUri],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
      scope,
      resources: [resource]
    })
    return {
      sub: user["sub"]!,
      c: {
        server, base, issuer,
        authorizationEndpoint: metadata["authorization_endpoint"] as string,
        tokenEndpoint: metadata["token_endpoint"] as string,
        jwksUri: metadata["jwks_uri"] as string,
        clientId: codeClient["client_id"]!,
        authorization: basic(codeClient["client_id"]!, codeClient["client_secret"]!),
        resource, scope
      }
    }
  })
  return {
    server,
    child,
    issuer,
    key,
    requests: await requestsFor(o, issuer, metadata, clientId, authorization, key),
    prepare: (endpoint) => (endpoint === "introspect" ? introspect() : endpoint === "exchange" ? exchange() : code(endpoint)),
    ...(database !== undefined ? { database } : {}),
    audited: async () => {
      const res = await fetch(`${base}/admin/realms/${realm}/audit/verify`, { headers: { authorization: `Bearer ${adminToken}` } })
      const verdict = await res.json() as { ok: boolean; events?: number; first_broken?: string }
      if (!verdict.ok) throw new Error(`${server}: the audit chain is broken at ${verdict.first_broken}`)
      return `audit chain verified: ${verdict.events} events`
    }
  }
}

export const peerClientSecret = "bench-secret-0123456789abcdefghijklmnopqrstuvwxyz"

/** bench/peer.ts's configuration (BENCH_PEER) for a peer on `port`. */
export const peerEnv = (port: number) => ({
  BENCH_PEER: JSON.stringify({
    port, clientId: "bench-client", opaqueClientId: "bench-client-opaque", codeClientId: "bench-code-client", clientSecret: peerClientSecret,
    redirectUri: Flows.redirectUri, personSub: Flows.personName, resource, scope, accessTokenSeconds
  })
})

export const peerReady = "peer listening on"

export const peer = async (o: Options, cleanup: Array<() => Promise<void>>): Promise<Target> => {
  const port = await Children.freePort()
  const env = peerEnv(port)
  const config = JSON.parse(env.BENCH_PEER) as { clientId: string; opaqueClientId: string; codeClientId: string }
  const child = await Children.start("oidc-provider", Path.join(Children.repoRoot, "bench/peer.ts"), env, peerReady)
  cleanup.push(() => Children.stop(child))
  const issuer = `http://127.0.0.1:${port}`
  const metadata = await fetchJson(`${issuer}/.well-known/openid-configuration`)
  const key = await Dpop.proofKey()
  const opaque = basic(config.opaqueClientId, peerClientSecret)
  const code = codeRows(o, () =>
    Promise.resolve({
      sub: Flows.personName,
      c: {
        server: "oidc-provider", base: issuer, issuer,
        authorizationEndpoint: metadata["authorization_endpoint"] as string,
        tokenEndpoint: metadata["token_endpoint"] as string,
        jwksUri: metadata["jwks_uri"] as string,
        clientId: config.codeClientId,
        authorization: basic(config.codeClientId, peerClientSecret),
        resource, scope
      }
    }))
  return {
    server: "oidc-provider",
    child,
    issuer,
    key,
    requests: await requestsFor(o, issuer, metadata, config.clientId, basic(config.clientId, peerClientSecret), key),
    prepare: async (endpoint) =>
      endpoint === "introspect"
        ? prepared(Fixtures.introspect({
          server: "oidc-provider", tokenUrl: metadata["token_endpoint"] as string, introspectionUrl: metadata["introspection_endpoint"] as string,
          clientId: config.opaqueClientId, authorization: opaque, tokenBody, resource, scope, lifetime: accessTokenSeconds
        }), Shapes.introspectionAnswer({ clientId: config.opaqueClientId, resource, scope, lifetime: accessTokenSeconds }))
        : endpoint === "exchange"
        ? "oidc-provider does not do RFC 8693 token exchange out of the box: no row"
        : code(endpoint)
  }
}
