/**
 * A person signing in by hand against a real Tessera process (CONTRACT §4): the authorization request with PKCE
 * (RFC 7636 S256), the login and consent forms, the redirect with the code; for the operations tests, which then
 * look at what the process logged and exported.
 */
import * as Crypto from "node:crypto"
import { person } from "./Person.js"

export const redirectUri = "http://127.0.0.1:9/callback"

/** RFC 7636 §4.1-4.2: a verifier and its S256 challenge. */
export const pkce = () => {
  const verifier = Crypto.randomBytes(32).toString("base64url")
  return { verifier, challenge: Crypto.createHash("sha256").update(verifier).digest("base64url") }
}

/**
 * Runs the code flow up to the redirect: `browser` signs in as `username` (and consents); resolves with the code, the
 * verifier and the state. Throws when the flow does not end at the client's redirect URI.
 */
export const authorizationCode = async (options: {
  readonly base: string
  readonly issuer: string
  readonly clientId: string
  readonly scope: string
  readonly username: string
  readonly password: string
  readonly browser?: ReturnType<typeof person>
  readonly extra?: Record<string, string>
}) => {
  const browser = options.browser ?? person()
  const { challenge, verifier } = pkce()
  const state = Crypto.randomBytes(12).toString("base64url")
  const url = new URL(`${options.issuer}/authorize`)
  for (const [k, v] of Object.entries({
    response_type: "code", client_id: options.clientId, redirect_uri: redirectUri, scope: options.scope, state,
    code_challenge: challenge, code_challenge_method: "S256", ...options.extra
  })) url.searchParams.set(k, v)
  const login = await browser.follow(options.base, await browser.go(url.href.replace(/^https?:\/\/[^/]+/, options.base)))
  // a browser with a session goes straight to consent (or back to the client)
  const consent = login.html.includes('name="password"')
    ? await browser.submit(options.base, login.url || url.href, login.html, { username: options.username, password: options.password })
    : login
  const done = consent.html.includes('name="decision"') ? await browser.submit(options.base, consent.url || login.url || url.href, consent.html, { decision: "allow" }) : consent
  const location = done.res.headers.get("location")
  if (location === null || !location.startsWith(redirectUri)) throw new Error(`no redirect to the client: ${done.res.status} ${location} ${done.html.slice(0, 500)}`)
  const code = new URL(location).searchParams.get("code")
  if (code === null) throw new Error(`no code in ${location}`)
  return { code, verifier, state, browser }
}

/** A form POST to a token-ish endpoint with HTTP Basic client authentication (RFC 6749 §2.3.1). */
export const postForm = async (url: string, params: Record<string, string>, headers: Record<string, string> = {}) => {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(params)
  })
  const text = await res.text()
  return { status: res.status, headers: res.headers, json: JSON.parse(text) as Record<string, any> }
}

export const basic = (clientId: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString("base64")}`
