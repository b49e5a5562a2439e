/**
 * The authorization codes and refresh tokens the `code` and `refresh` rows present, made by the real flow on each
 * server before the measured window (OAuth 2.1 §4.1): a person signs in once (Tessera's login and consent pages; the
 * peer's interaction, bench/peer.ts), then each authorization request with that session's cookie is answered at once
 * with a redirect to the client carrying a code (PKCE S256, a fresh verifier per code, RFC 8707 `resource`). A
 * refresh token is a code exchanged at the token endpoint. The measured request is then exactly the client's token
 * request: `authorization_code` with that code, its verifier, redirect URI and resource, or `refresh_token` with the
 * token and resource, client_secret_basic.
 *
 * Tessera answers at most 120 authorization requests a minute from one client address to a realm (ADR 0026, per
 * node), so the harness sends them from many loopback addresses (127.1.x.y: Linux routes all of 127.0.0.0/8 to the
 * loopback interface), at most 100 from each; the peer gets the same.
 *
 * Codes live 60 s on both servers (RFC 6749 §4.1.2 says short; OAuth 2.1 recommends at most 10 minutes): a pool stops
 * growing after `makeSeconds` so its first code is still alive when the run reaches it, and its codes are used in the
 * order they were issued.
 */
import * as Crypto from "node:crypto"
import * as Http from "node:http"
import * as Jose from "jose"
import { person } from "../test/support/Person.js"

export const redirectUri = "http://127.0.0.1:9/callback"
export const personName = "bench-code-person"
export const password = "correct horse battery staple"

/** Making a pool stops after this many seconds (codes die at 60). */
const makeSeconds = 30
/** Authorization requests (or exchanges) in flight at once while a pool is made. */
const parallel = 8

export interface CodeClient {
  readonly server: string
  /** The server's origin (`http://127.0.0.1:<port>`): the browser follows redirects that stay on it. */
  readonly base: string
  readonly issuer: string
  readonly authorizationEndpoint: string
  readonly tokenEndpoint: string
  readonly jwksUri: string
  readonly clientId: string
  /** `Basic ...` for the client (client_secret_basic). */
  readonly authorization: string
  readonly resource: string
  readonly scope: string
}

const s256 = (verifier: string) => Crypto.createHash("sha256").update(verifier).digest("base64url")

/** A GET from `localAddress` (a new connection), the Cookie header set; its status, Location and body. */
const get = (url: string, cookie: string, localAddress: string) =>
  new Promise<{ status: number; location: string | null; body: string }>((resolve, reject) => {
    const req = Http.get(url, { headers: { cookie }, localAddress, agent: false }, (res) => {
      let body = ""
      res.setEncoding("utf8").on("data", (chunk: string) => (body += chunk))
      res.on("end", () => resolve({ status: res.statusCode ?? 0, location: res.headers.location ?? null, body }))
    })
    req.on("error", reject)
  })

const form = (body: Record<string, string>) => new URLSearchParams(body).toString()

/** One client's codes: the person signed in once, then as many codes as asked (or as `makeSeconds` allows). */
export const codes = async (c: CodeClient) => {
  const browser = person()
  const authorizeUrl = (challenge: string) => {
    const url = new URL(c.authorizationEndpoint)
    for (const [k, v] of Object.entries({
      response_type: "code", client_id: c.clientId, redirect_uri: redirectUri, scope: c.scope, state: "bench-state",
      code_challenge: challenge, code_challenge_method: "S256", resource: c.resource
    })) url.searchParams.set(k, v)
    return url.href
  }
  /** The code in a redirect to the client, or an error naming what came instead. */
  const codeIn = (location: string | null, status: number, html: string) => {
    const code = location !== null && location.startsWith(redirectUri) ? new URL(location).searchParams.get("code") : null
    if (code === null) throw new Error(`${c.server}: no code: ${status} ${location} ${html.slice(0, 300)}`)
    return code
  }

  // the first authorization request: the login and consent pages (Tessera) or the interaction (the peer)
  const firstVerifier = Crypto.randomBytes(32).toString("base64url")
  const firstUrl = authorizeUrl(s256(firstVerifier))
  let page = await browser.follow(c.base, await browser.go(firstUrl))
  if (page.html.includes("name=\"username\"")) page = await browser.submit(c.base, page.url || firstUrl, page.html, { username: personName, password })
  if (page.html.includes("name=\"decision\"")) page = await browser.submit(c.base, page.url || firstUrl, page.html, { decision: "allow" })
  const firstCode = codeIn(page.res.headers.get("location"), page.res.status, page.html)

  const cookie = browser.cookie()
  let sent = 0
  /** A code from one authorization request with the session's cookie: a redirect to the client, no page between. */
  const one = async () => {
    const verifier = Crypto.randomBytes(32).toString("base64url")
    const n = Math.floor(sent++ / 100)
    const res = await get(authorizeUrl(s256(verifier)), cookie, `127.1.${(n >> 8) & 255}.${(n & 255) + 1}`)
    return { code: codeIn(res.location, res.status, res.body), verifier }
  }
  /** About `count` codes, in the order they were issued; fewer if `makeSeconds` pass first. */
  const many = async (count: number) => {
    const made: Array<{ code: string; verifier: string }> = []
    const until = performance.now() + makeSeconds * 1000
    const worker = async () => {
      while (made.length < count && performance.now() < until) made.push(await one())
    }
    await Promise.all(Array.from({ length: parallel }, worker))
    return made
  }
  return { first: { code: firstCode, verifier: firstVerifier }, many }
}

/** RFC 6749 §4.1.3: the token request for a code, as the client sends it. */
export const codeBody = (c: CodeClient, code: { code: string; verifier: string }) =>
  form({ grant_type: "authorization_code", code: code.code, redirect_uri: redirectUri, code_verifier: code.verifier, resource: c.resource })

/** RFC 6749 §6 with RFC 8707 §2.2: the refresh request, as the client sends it. */
export const refreshBody = (c: CodeClient, refreshToken: string) =>
  form({ grant_type: "refresh_token", refresh_token: refreshToken, resource: c.resource })

const post = async (c: CodeClient, body: string) => {
  const res = await fetch(c.tokenEndpoint, {
    method: "POST", headers: { authorization: c.authorization, "content-type": "application/x-www-form-urlencoded" }, body
  })
  const json = await res.json() as Record<string, unknown>
  if (res.status !== 200) throw new Error(`${c.server}: token request ${res.status} ${JSON.stringify(json)}`)
  return json
}

/** A refresh token: a code exchanged. */
export const refreshTokenOf = async (c: CodeClient, code: { code: string; verifier: string }) => {
  const answer = await post(c, codeBody(c, code))
  if (typeof answer["refresh_token"] !== "string") throw new Error(`${c.server}: no refresh_token with the code's tokens: ${JSON.stringify(answer)}`)
  return answer["refresh_token"]
}

/** About `count` refresh tokens, each from a code of `many` exchanged (`parallel` at a time). */
export const refreshTokens = async (c: CodeClient, many: (count: number) => Promise<ReadonlyArray<{ code: string; verifier: string }>>, count: number) => {
  const made: Array<string> = []
  const until = performance.now() + 2 * makeSeconds * 1000
  while (made.length < count && performance.now() < until) {
    const batch = await many(Math.min(count - made.length, 2000))
    let next = 0
    const worker = async () => {
      while (next < batch.length) made.push(await refreshTokenOf(c, batch[next++]!))
    }
    await Promise.all(Array.from({ length: parallel }, worker))
  }
  return made
}

/**
 * Before the run: one answer of the row verified in full (the access token's signature against the JWKS, its claims;
 * a refresh token with it), like the token rows' check. Says what was seen.
 */
export const verifyAnswer = async (c: CodeClient, body: string, sub: string) => {
  const answer = await post(c, body)
  const jwks = Jose.createLocalJWKSet(await (await fetch(c.jwksUri)).json() as Jose.JSONWebKeySet)
  const { payload, protectedHeader } = await Jose.jwtVerify(answer["access_token"] as string, jwks, {
    issuer: c.issuer, audience: c.resource, typ: "at+jwt", algorithms: ["ES256"]
  })
  if (payload.sub !== sub || payload["client_id"] !== c.clientId || typeof answer["refresh_token"] !== "string") {
    throw new Error(`${c.server}: not the expected answer: ${JSON.stringify({ answer, payload })}`)
  }
  return { refreshToken: answer["refresh_token"], seen: `${protectedHeader.alg} ${protectedHeader.typ}, refresh_token; claims ${Object.keys(payload).sort().join(" ")}` }
}
