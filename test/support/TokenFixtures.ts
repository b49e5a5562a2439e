/**
 * Fixtures for the token, introspection and revocation suites: a realm with a resource and a person, clients
 * registered through the admin API, and grants and codes written straight through the sign-in ports (as the
 * authorization endpoint would), then wire helpers for the three endpoints.
 */
import { expect } from "@effect/vitest"
import { Clock, DateTime, Duration, Effect } from "effect"
import * as Jose from "jose"
import { AuthorizationCode, Base64Url, Fetcher, Hash, Pkce, Provisioning, Session, Codes, Grants, Sessions } from "@tessera/domain"
import type { AuditEvent, GrantRecord } from "@tessera/domain"
import { Dpop } from "@tessera/protocol"
import { admin, createRealm, get, noStore, request } from "./Http.js"
import type { WireResponse } from "./Http.js"

export const userAgent = "tessera-test/1.0 (token suites)"

export interface World {
  readonly name: string
  readonly issuer: string
  readonly realmId: string
  /** A resource registered in the realm, with scopes `read` and `write`. */
  readonly resource: string
  /** A second resource, with scope `admin`. */
  readonly otherResource: string
  readonly sub: string
  readonly username: string
}

/** A realm with two resources and one person. */
export const world = Effect.gen(function*() {
  const realm = yield* createRealm()
  const resource = `https://api.example/${realm.name}`
  const otherResource = `https://admin.example/${realm.name}`
  for (const [uri, scopes] of [[resource, ["read", "write"]], [otherResource, ["admin"]]] as const) {
    const res = yield* admin.post(`/admin/realms/${realm.name}/resources`, { uri, scopes })
    if (res.status !== 201) return yield* Effect.dieMessage(`resource: ${res.status} ${res.text}`)
  }
  const user = yield* admin.post(`/admin/realms/${realm.name}/users`, {
    username: "ada", password: "correct horse battery staple", name: "Ada Lovelace", email: "ada@example.com"
  })
  if (user.status !== 201) return yield* Effect.dieMessage(`user: ${user.status} ${user.text}`)
  const { id } = yield* Provisioning.findRealm(realm.name)
  return {
    name: realm.name, issuer: realm.issuer, realmId: id, resource, otherResource, sub: user.json.sub, username: "ada"
  } satisfies World
})

export const redirectUri = "https://app.example/cb"

export interface RegisteredClient {
  readonly client_id: string
  readonly client_secret?: string
  readonly token_endpoint_auth_method: string
}

/**
 * Registers a client through the admin API: code and refresh grants, Basic auth, and `resources` listing only the
 * world's `resource` (so a token request without `resource` is for it, CONTRACT §5), unless `metadata` says otherwise
 * (`resources: undefined` registers none: every resource of the realm).
 */
export const registerClient = (w: World, metadata: Record<string, unknown> = {}) =>
  Effect.gen(function*() {
    const res = yield* admin.post(`/admin/realms/${w.name}/clients`, {
      redirect_uris: [redirectUri],
      grant_types: ["authorization_code", "refresh_token"],
      resources: [w.resource],
      ...metadata
    })
    if (res.status !== 201) return yield* Effect.dieMessage(`client: ${res.status} ${res.text}`)
    return res.json as RegisteredClient
  })

/** An ES256 key pair whose public JWK a client registers as its `jwks`. */
export const clientKey = Effect.promise(async () => {
  const pair = await Jose.generateKeyPair("ES256", { extractable: true })
  const jwk = await Jose.exportJWK(pair.publicKey)
  const kid = await Jose.calculateJwkThumbprint(jwk)
  return { privateKey: pair.privateKey, publicJwk: { ...jwk, kid, alg: "ES256", use: "sig" }, kid }
})

export type ClientKey = Effect.Effect.Success<typeof clientKey>

/** A JWT signed with `key` (header `typ: JWT` and its kid); a claim whose value is undefined is left out. */
export const signJwt = (key: ClientKey, claims: Record<string, unknown>, alg = "ES256") =>
  Effect.promise(() =>
    new Jose.SignJWT(Object.fromEntries(Object.entries(claims).filter(([, value]) => value !== undefined)))
      .setProtectedHeader({ alg, kid: key.kid, typ: "JWT" })
      .sign(key.privateKey)
  )

/** RFC 7523 §3: a client assertion at the Clock's time; every claim can be overridden (undefined removes it). */
export const assertion = (key: ClientKey, clientId: string, aud: string | ReadonlyArray<string>, claims: Record<string, unknown> = {}) =>
  Effect.gen(function*() {
    const now = Math.floor((yield* Clock.currentTimeMillis) / 1000)
    return yield* signJwt(key, { iss: clientId, sub: clientId, aud, iat: now, exp: now + 60, jti: crypto.randomUUID(), ...claims })
  })

export interface TrustedIssuer {
  readonly issuer: string
  readonly key: ClientKey
}

/** A trusted issuer of the realm (CONTRACT §3) with an ES256 key registered inline as `jwks`. */
export const trustedIssuer = (w: World, issuer = `https://idp.example/${w.name}`) =>
  Effect.gen(function*() {
    const key = yield* clientKey
    const res = yield* admin.post(`/admin/realms/${w.name}/trusted-issuers`, { issuer, jwks: { keys: [key.publicJwk] } })
    if (res.status !== 201) return yield* Effect.dieMessage(`trusted issuer: ${res.status} ${res.text}`)
    return { issuer, key } satisfies TrustedIssuer
  })

/**
 * A trusted issuer registered with a `jwks_uri` (CONTRACT §3), its key set served by the memory Fetcher with
 * `headers`; `publish` replaces the served set (the issuer rotating its keys).
 */
export const remoteIssuer = (w: World, headers: Record<string, string> = { "cache-control": "max-age=3600" }) =>
  Effect.gen(function*() {
    const key = yield* clientKey
    const issuer = `https://remote-idp.example/${w.name}`
    const jwksUri = `${issuer}/.well-known/jwks.json`
    const table = yield* Fetcher.MemoryFetcher
    const publish = (keys: ReadonlyArray<ClientKey>) => table.set(jwksUri, Fetcher.json({ keys: keys.map((k) => k.publicJwk) }, headers))
    yield* publish([key])
    const res = yield* admin.post(`/admin/realms/${w.name}/trusted-issuers`, { issuer, jwks_uri: jwksUri })
    if (res.status !== 201) return yield* Effect.dieMessage(`trusted issuer: ${res.status} ${res.text}`)
    return { issuer, key, jwksUri, publish, fetches: table.calls(jwksUri), table }
  })

export interface GrantInput {
  readonly clientId: string
  readonly scopes: ReadonlyArray<string>
  readonly resources?: ReadonlyArray<string>
  readonly nonce?: string
  readonly sid?: string
  /** Whether the authorization request included `redirect_uri` (default: it did). */
  readonly redirectUriGiven?: boolean
  /** RFC 9449 §10: the `dpop_jkt` the authorization request bound the code to. */
  readonly dpopJkt?: string
}

export interface IssuedCode {
  readonly code: string
  readonly verifier: string
  readonly grantId: string
}

const randomToken = (bytes: number) => Base64Url.encode(crypto.getRandomValues(new Uint8Array(bytes)))

/** A person's grant and an authorization code for it, written through the ports as the authorization endpoint would. */
export const issueCode = (w: World, input: GrantInput) =>
  Effect.gen(function*() {
    const now = yield* DateTime.now
    const grantId = crypto.randomUUID()
    const grant: GrantRecord.GrantRecord = {
      realmId: w.realmId,
      grantId,
      clientId: input.clientId,
      sub: w.sub,
      scopes: input.scopes,
      resources: input.resources ?? [],
      authTime: now,
      acr: Session.passwordAcr,
      amr: Session.passwordAmr,
      ...(input.sid !== undefined ? { sid: input.sid } : {}),
      ...(input.nonce !== undefined ? { nonce: input.nonce } : {}),
      createdAt: now
    }
    yield* Effect.flatMap(Grants.Grants, (grants) => grants.insert(grant, undefined))
    const code = randomToken(32)
    const verifier = randomToken(48)
    yield* Effect.flatMap(Codes.Codes, (codes) =>
      Effect.flatMap(Effect.zip(Hash.sha256(code), Pkce.s256(verifier)), ([hash, challenge]) =>
        codes.insert(hash, AuthorizationCode.AuthorizationCode.Issued({
          realmId: w.realmId,
          clientId: input.clientId,
          grantId,
          redirectUri,
          redirectUriGiven: input.redirectUriGiven ?? true,
          codeChallenge: challenge,
          ...(input.dpopJkt !== undefined ? { dpopJkt: input.dpopJkt } : {}),
          expiresAt: DateTime.addDuration(now, AuthorizationCode.lifetime)
        }))))
    return { code, verifier, grantId } satisfies IssuedCode
  })

/** A session of the person, as the login page makes one (the grants made in it carry its `sid`); answers the sid. */
export const signIn = (w: World) =>
  Effect.gen(function*() {
    const now = yield* DateTime.now
    const sid = crypto.randomUUID()
    const session = Session.Session.Active({
      realmId: w.realmId, sid, cookieHash: yield* Hash.sha256(crypto.randomUUID()), sub: w.sub, createdAt: now, authTime: now,
      acr: Session.passwordAcr, amr: Session.passwordAmr, expiresAt: DateTime.addDuration(now, Session.lifetime), clientIds: []
    })
    const event: AuditEvent.AuditEvent = {
      id: crypto.randomUUID(), at: now, realmId: w.realmId, realm: w.name, type: "login.succeeded", actor: { type: "user", id: w.sub },
      subject: w.sub, result: "success"
    }
    yield* Effect.flatMap(Sessions.Sessions, (sessions) => sessions.create(session, event))
    return sid
  })

/** A form body; pairs may repeat a name. */
export const form = (params: Record<string, string> | ReadonlyArray<readonly [string, string]>) =>
  new URLSearchParams(Array.isArray(params) ? params as Array<[string, string]> : Object.entries(params)).toString()

/** How the client authenticates on a request. */
export type Auth =
  | { readonly basic: readonly [id: string, secret: string] }
  | { readonly post: readonly [id: string, secret: string] }
  | { readonly assertion: string; readonly clientId?: string }
  | { readonly none: string }
  | { readonly nothing: true }

/** The client's credentials as its registration says (secret methods and `none`). */
export const authOf = (client: RegisteredClient): Auth => {
  switch (client.token_endpoint_auth_method) {
    case "client_secret_basic":
      return { basic: [client.client_id, client.client_secret!] }
    case "client_secret_post":
      return { post: [client.client_id, client.client_secret!] }
    case "none":
      return { none: client.client_id }
    default:
      throw new Error(`authOf: ${client.token_endpoint_auth_method} needs an assertion`)
  }
}

/** RFC 6749 §2.3.1: Basic credentials are the form-encoded id and secret. */
export const basicHeader = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`

/** POSTs a form to one of the realm's client-authenticating endpoints (`token`, `introspect`, `revoke`, `device_authorization`). */
export const post = (
  w: Pick<World, "name">,
  endpoint: "token" | "introspect" | "revoke" | "device_authorization",
  auth: Auth,
  params: Record<string, string> | ReadonlyArray<readonly [string, string]>,
  options: { readonly contentType?: string; readonly headers?: Record<string, string> } = {}
) => {
  const pairs: Array<readonly [string, string]> = Array.isArray(params) ? [...params] : Object.entries(params)
  const headers: Record<string, string> = { "user-agent": userAgent, ...options.headers }
  if ("basic" in auth) headers["authorization"] = basicHeader(...auth.basic)
  if ("post" in auth) pairs.push(["client_id", auth.post[0]], ["client_secret", auth.post[1]])
  if ("none" in auth) pairs.push(["client_id", auth.none])
  if ("assertion" in auth) {
    if (auth.clientId !== undefined) pairs.push(["client_id", auth.clientId])
    pairs.push(["client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"], ["client_assertion", auth.assertion])
  }
  return request("POST", `/realms/${w.name}/${endpoint}`, {
    headers,
    body: form(pairs),
    contentType: options.contentType ?? "application/x-www-form-urlencoded"
  })
}

/** Exchanges a code (RFC 6749 §4.1.3); `headers` e.g. a DPoP proof (RFC 9449 §5). */
export const exchange = (w: World, auth: Auth, code: IssuedCode, extra: Record<string, string> = {}, headers: Record<string, string> = {}) =>
  post(w, "token", auth, {
    grant_type: "authorization_code", code: code.code, redirect_uri: redirectUri, code_verifier: code.verifier, ...extra
  }, { headers })

/** Refreshes (RFC 6749 §6); `headers` e.g. a DPoP proof (RFC 9449 §5). */
export const refresh = (w: World, auth: Auth, refreshToken: string, extra: Record<string, string> = {}, headers: Record<string, string> = {}) =>
  post(w, "token", auth, { grant_type: "refresh_token", refresh_token: refreshToken, ...extra }, { headers })

export const introspect = (w: Pick<World, "name">, auth: Auth, token: string, extra: Record<string, string> = {}) =>
  post(w, "introspect", auth, { token, ...extra })

export const revoke = (w: Pick<World, "name">, auth: Auth, token: string, extra: Record<string, string> = {}) =>
  post(w, "revoke", auth, { token, ...extra })

/** OIDC Core §5.3.1: GET userinfo with the access token as a bearer token (RFC 6750 §2.1). */
export const userinfo = (w: Pick<World, "name">, token: string) =>
  request("GET", `/realms/${w.name}/userinfo`, { headers: { authorization: `Bearer ${token}`, "user-agent": userAgent } })

/** RFC 6750 §3.1: userinfo's answer to a token it does not accept (CONTRACT §5: a revoked grant's token among them). */
export const expectInvalidToken = (w: Pick<World, "issuer">, res: WireResponse) => {
  expect(res.status).toBe(401)
  expect(res.headers["cache-control"]).toBe("no-store")
  expect(res.headers["content-type"]).toBe("application/json")
  expect(res.headers["www-authenticate"]).toBe(
    `Bearer realm="${w.issuer}", error="invalid_token", DPoP realm="${w.issuer}", algs="${Dpop.algorithms.join(" ")}"`
  )
  expect(res.json).toEqual({ error: "invalid_token", error_description: "the access token is invalid, expired, or not for this endpoint" })
}

/** Verifies a token with jose against the realm's published JWKS at the Clock's time. */
export const verify = (w: World, token: string, options: Jose.JWTVerifyOptions = {}) =>
  Effect.gen(function*() {
    const jwks = (yield* get(`/realms/${w.name}/jwks`)).json as Jose.JSONWebKeySet
    const now = yield* Clock.currentTimeMillis
    return yield* Effect.promise(() =>
      Jose.jwtVerify(token, Jose.createLocalJWKSet(jwks), { issuer: w.issuer, ...options, currentDate: new Date(now) })
    )
  })

/** The realm's audit events of one type, newest first, as the admin API shows them. */
export const auditOf = (w: World, type: string) =>
  Effect.map(admin.get(`/admin/realms/${w.name}/audit?type=${type}`), (res) => res.json.events as Array<Record<string, unknown>>)

/** The headers RFC 6749 §5.1 requires on every token response. */
export { noStore }

/** RFC 6749 §5.1: 200, JSON, never cached, and the whole body. */
export const expectTokenResponse = (res: WireResponse, body: Record<string, unknown>) => {
  expect(res.status).toBe(200)
  expect(res.headers["content-type"]).toBe("application/json")
  expect(res.headers["cache-control"]).toBe(noStore["cache-control"])
  expect(res.headers["pragma"]).toBe(noStore.pragma)
  expect(res.json).toEqual(body)
}

/** A resource-scoped token response's body (no openid): access token for the resource, rotation token. */
export const resourceTokens = (scope: string) => ({
  access_token: expect.any(String),
  token_type: "Bearer",
  expires_in: accessTokenLifetime,
  scope,
  refresh_token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/)
})

/** RFC 6749 §5.2: an error body, 400 unless said, JSON, never cached, no challenge unless 401. */
export const expectTokenError = (res: WireResponse, body: unknown, status = 400) => {
  expect(res.status).toBe(status)
  expect(res.headers["content-type"]).toBe("application/json")
  expect(res.headers["cache-control"]).toBe(noStore["cache-control"])
  expect(res.headers["pragma"]).toBe(noStore.pragma)
  if (status !== 401) expect(res.headers["www-authenticate"]).toBeUndefined()
  expect(res.json).toEqual(body)
}

/** RFC 6749 §5.2 invalid_grant, with its description. */
export const invalidGrant = (description: string) => ({ error: "invalid_grant", error_description: description })

/** Seconds since the epoch, from the Clock. */
export const nowSeconds = Effect.map(Clock.currentTimeMillis, (ms) => Math.floor(ms / 1000))

export const accessTokenLifetime = Duration.toSeconds(Duration.minutes(15))

/** RFC 8693 §2.1: the token exchange grant, and §3 the access token type. */
export const tokenExchangeGrant = "urn:ietf:params:oauth:grant-type:token-exchange"
export const accessTokenType = "urn:ietf:params:oauth:token-type:access_token"

/** RFC 8693 §2.2.1: 200, no-store; the access token, issued_token_type, Bearer, and never a refresh token. Returns the token. */
export const expectExchanged = (res: WireResponse, scope: string, expiresIn: number = accessTokenLifetime) => {
  expectTokenResponse(res, {
    access_token: expect.any(String), issued_token_type: accessTokenType, token_type: "Bearer", expires_in: expiresIn, scope
  })
  return (res.json as { access_token: string }).access_token
}
