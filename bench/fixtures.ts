/**
 * What the `introspect` and `exchange` rows of bench/tokens.ts present, made over HTTP before the run, and the check of
 * one answer of each (like the token rows check their token's claims), so a row measures the answer it is meant to.
 *
 *   introspect  RFC 7662 §2.1: a client-credentials access token, introspected by the client it was issued to
 *               (client_secret_basic). On Tessera that token has no grant of its own, so AccessTokens.active probes
 *               the client, the person (none here: sub is the client) and delegations besides the token's record.
 *   exchange    RFC 8693 §2.1: an agent client (principal_type "agent") exchanges a person's access token (from the
 *               authorization code grant with PKCE, the login and consent pages driven as a browser would,
 *               test/support/Person.ts) for one to the bench resource. Each answer upserts the agent's delegation.
 *               Every request of the row is the same agent for the same person, so on PostgreSQL concurrent exchanges
 *               queue on that one delegation row from the upsert to their commit (seen in pg_stat_activity as Lock /
 *               transactionid on INSERT INTO delegations): the row's req/s and latency show that queue, its CPU per
 *               request does not (a backend waiting on a lock burns none).
 */
import * as Jose from "jose"
import { person } from "../test/support/Person.js"

export const tokenExchangeGrant = "urn:ietf:params:oauth:grant-type:token-exchange"
export const accessTokenType = "urn:ietf:params:oauth:token-type:access_token"

export const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`

const form = { "content-type": "application/x-www-form-urlencoded" }

/** A form POST answered with JSON: status and body. */
const postForm = async (url: string, authorization: string, body: Record<string, string>) => {
  const res = await fetch(url, { method: "POST", headers: { authorization, ...form }, body: new URLSearchParams(body).toString() })
  return { status: res.status, body: await res.json() as Record<string, unknown> }
}

/** A token from the token endpoint, or an error saying what came back instead. */
const tokenOf = (what: string, answer: { status: number; body: Record<string, unknown> }) => {
  if (answer.status !== 200 || typeof answer.body["access_token"] !== "string") {
    throw new Error(`${what}: ${answer.status} ${JSON.stringify(answer.body)}`)
  }
  return answer.body["access_token"]
}

export interface Fixture {
  /** The request the row sends, every time the same. */
  readonly url: string
  readonly authorization: string
  readonly body: string
  /** When what it presents expires (epoch seconds): a row must end before. */
  readonly expiresAt: number
}

const requestOf = (url: string, authorization: string, body: Record<string, string>, expiresAt: number): Fixture => ({
  url, authorization, body: new URLSearchParams(body).toString(), expiresAt
})

// --- introspect ---

export interface IntrospectSetup {
  readonly server: string
  readonly tokenUrl: string
  readonly introspectionUrl: string
  readonly clientId: string
  readonly authorization: string
  /** The client credentials request body (grant_type, resource, scope). */
  readonly tokenBody: string
  readonly resource: string
  readonly scope: string
  readonly lifetime: number
}

/**
 * RFC 6749 §4.4 then RFC 7662 §2.1: one client-credentials access token, and the introspection request for it, checked
 * once: `active: true`, issued to the caller, the resource, the scope, a Bearer token living `lifetime` seconds.
 */
export const introspect = async (s: IntrospectSetup) => {
  const res = await fetch(s.tokenUrl, { method: "POST", headers: { authorization: s.authorization, ...form }, body: s.tokenBody })
  const token = tokenOf(`${s.server}: client credentials token`, { status: res.status, body: await res.json() as Record<string, unknown> })
  const body = { token, token_type_hint: "access_token" }
  const answer = await postForm(s.introspectionUrl, s.authorization, body)
  const b = answer.body
  const aud = typeof b["aud"] === "string" ? [b["aud"]] : Array.isArray(b["aud"]) ? b["aud"] : []
  const exp = b["exp"]
  const iat = b["iat"]
  const same = answer.status === 200 && b["active"] === true && b["client_id"] === s.clientId && b["scope"] === s.scope &&
    b["token_type"] === "Bearer" && aud.length === 1 && aud[0] === s.resource && typeof exp === "number" && typeof iat === "number" &&
    exp - iat === s.lifetime && (b["sub"] === undefined || b["sub"] === s.clientId)
  if (!same) throw new Error(`${s.server}: not the expected introspection answer: ${answer.status} ${JSON.stringify(b)}`)
  return {
    fixture: requestOf(s.introspectionUrl, s.authorization, body, exp as number),
    checked: `${tokenKind(token)} token, active: true; members ${Object.keys(b).sort().join(" ")}`
  }
}

/** oidc-provider's opaque access tokens are not JWTs: decodeProtectedHeader throws on them. */
export const tokenKind = (token: string) => {
  try {
    return Jose.decodeProtectedHeader(token).typ ?? "JWT"
  } catch {
    return "opaque"
  }
}

// --- exchange ---

export interface ExchangeSetup {
  readonly server: string
  /** The server's origin (`http://127.0.0.1:<port>`): the browser follows redirects that stay on it. */
  readonly base: string
  readonly issuer: string
  readonly realm: string
  readonly metadata: Readonly<Record<string, unknown>>
  readonly resource: string
  readonly scope: string
  /** POSTs to the admin API as the owner (201 expected), answering the JSON body. */
  readonly adminCall: (path: string, body: unknown) => Promise<Record<string, unknown>>
}

const redirectUri = "http://127.0.0.1:9/callback"
const password = "correct horse battery staple"

/**
 * A person, an agent client they authorize with the code grant (PKCE S256, RFC 8707 resource), that person's access
 * token (the subject token), and the exchange request for it (RFC 8693 §2.1), checked once: a JWT access token for the
 * resource with `sub` the person and `act.sub` the agent (RFC 8693 §4.1).
 */
export const exchange = async (s: ExchangeSetup) => {
  const user = await s.adminCall(`/admin/realms/${s.realm}/users`, {
    username: "bench-person", password, name: "Bench Person", email: "bench-person@example.com"
  })
  const sub = user["sub"] as string
  const agent = await s.adminCall(`/admin/realms/${s.realm}/clients`, {
    client_name: "Bench agent",
    principal_type: "agent",
    redirect_uris: [redirectUri],
    grant_types: ["authorization_code", tokenExchangeGrant],
    response_types: ["code"],
    token_endpoint_auth_method: "client_secret_basic",
    scope: s.scope,
    resources: [s.resource]
  })
  const agentId = agent["client_id"] as string
  const authorization = basic(agentId, agent["client_secret"] as string)
  const tokenUrl = s.metadata["token_endpoint"] as string

  // OAuth 2.1 §4.1: authorize, the login form, the consent form, back to the client with a code
  const verifier = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url")
  const challenge = Buffer.from(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))).toString("base64url")
  const authorize = new URL(s.metadata["authorization_endpoint"] as string)
  for (const [k, v] of Object.entries({
    response_type: "code", client_id: agentId, redirect_uri: redirectUri, scope: s.scope, state: "bench-state",
    code_challenge: challenge, code_challenge_method: "S256", resource: s.resource
  })) authorize.searchParams.set(k, v)
  const browser = person()
  const login = await browser.follow(s.base, await browser.go(authorize.href))
  if (!login.html.includes("name=\"username\"")) throw new Error(`${s.server}: no login form: ${login.res.status} ${login.html.slice(0, 500)}`)
  let page = await browser.submit(s.base, login.url || authorize.href, login.html, { username: "bench-person", password })
  if (page.html.includes("name=\"decision\"")) page = await browser.submit(s.base, page.url, page.html, { decision: "allow" })
  const location = page.res.headers.get("location")
  const code = location === null ? null : new URL(location).searchParams.get("code")
  if (code === null || !location!.startsWith(redirectUri)) throw new Error(`${s.server}: no code: ${page.res.status} ${location} ${page.html.slice(0, 500)}`)
  const subjectToken = tokenOf(`${s.server}: the person's token`, await postForm(tokenUrl, authorization, {
    grant_type: "authorization_code", code, redirect_uri: redirectUri, code_verifier: verifier, resource: s.resource
  }))

  const body = { grant_type: tokenExchangeGrant, subject_token: subjectToken, subject_token_type: accessTokenType, resource: s.resource }
  const answer = await postForm(tokenUrl, authorization, body)
  const exchanged = tokenOf(`${s.server}: token exchange`, answer)
  const jwks = Jose.createLocalJWKSet(await (await fetch(s.metadata["jwks_uri"] as string)).json() as Jose.JSONWebKeySet)
  const { payload, protectedHeader } = await Jose.jwtVerify(exchanged, jwks, {
    issuer: s.issuer, audience: s.resource, typ: "at+jwt", algorithms: ["ES256"]
  })
  const act = payload["act"] as { sub?: unknown } | undefined
  const same = answer.body["issued_token_type"] === accessTokenType && answer.body["token_type"] === "Bearer" &&
    payload.sub === sub && act?.sub === agentId && payload["client_id"] === agentId && payload["scope"] === s.scope
  if (!same) throw new Error(`${s.server}: not the expected exchanged token: ${JSON.stringify({ body: answer.body, protectedHeader, payload })}`)
  const subjectExp = Jose.decodeJwt(subjectToken).exp!
  return {
    fixture: requestOf(tokenUrl, authorization, body, subjectExp),
    sub,
    agent: agentId,
    checked: `${protectedHeader.alg} ${protectedHeader.typ}; sub the person, act.sub the agent; claims ${Object.keys(payload).sort().join(" ")}`
  }
}
