/**
 * What the fuzzer sets up through the admin API with the owner token, so that "valid with one field corrupted" reaches
 * deep code: a realm (dynamic registration on), a resource, a person, a confidential client (code, refresh, client
 * credentials, JWT bearer), a public client (code, device), an agent (code, token exchange), a trusted issuer whose key
 * the fuzzer holds, and a scratch realm for the admin calls that change things. Then real values, kept fresh in the
 * background: a code and its verifier, the person's access, refresh and ID tokens, the agent's token, a client
 * credentials token, a device and user code, a login interaction with its CSRF cookie, the person's session cookie.
 * Requests refer to these by slot name and get the current value when they are sent.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto"
import * as Jose from "jose"
import { adminToken } from "./Target.js"

export const slots = [
  "realm", "scratch", "issuer", "resource", "scope", "redirect_uri", "username", "password",
  "cc_id", "cc_secret", "pub_id", "agent_id", "agent_secret", "basic_cc", "basic_agent", "owner",
  "code", "code_verifier", "agent_code", "agent_code_verifier", "access_token", "refresh_token", "id_token",
  "agent_token", "cc_token", "device_code", "user_code", "interaction", "csrf", "interaction_cookie", "session_cookie",
  "device_cookie", "assertion", "jkt", "trusted_issuer", "sub"
] as const
export type Slot = (typeof slots)[number]

export interface Fixture {
  readonly value: (slot: Slot) => string
  /** A fresh RFC 9449 proof for `htm` `htu` (with `ath` when an access token is given), by the fuzzer's DPoP key. */
  readonly dpop: (htm: string, htu: string, accessToken?: string) => Promise<string>
  /** The realms the run used, for the audit check at the end. */
  readonly realms: ReadonlyArray<string>
  /** Fetch new codes, tokens and interactions now (the background loop calls it; requests may have spent the old ones). */
  readonly refresh: () => Promise<void>
  readonly close: () => void
}

/** The client address the fixture's requests claim (RFC 5737 TEST-NET-2), believed from loopback (Target.ts). */
export const fixtureAddress = "198.51.100.7"
const via = { "x-forwarded-for": fixtureAddress }

const s256 = (verifier: string) => createHash("sha256").update(verifier).digest("base64url")
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`

/** A cookie jar of one browser: the `Set-Cookie`s it was sent, sent back on every request. */
const browser = () => {
  const jar = new Map<string, string>()
  const go = async (url: string, init: RequestInit = {}) => {
    const cookie = Array.from(jar, ([k, v]) => `${k}=${v}`).join("; ")
    const res = await fetch(url, { ...init, redirect: "manual", headers: { ...(init.headers as Record<string, string>), ...via, cookie } })
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";")
      const eq = pair!.indexOf("=")
      jar.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim())
    }
    return res
  }
  return { go, jar }
}

const hidden = (html: string, name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1]

export const setUp = async (base: string, runId: string): Promise<Fixture> => {
  const call = async (method: string, path: string, body?: unknown, expected = 201) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json", ...via },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {})
    })
    const text = await res.text()
    if (res.status !== expected) throw new Error(`fuzz set-up: ${method} ${path}: ${res.status} ${text}`)
    return JSON.parse(text) as Record<string, any>
  }
  const realm = `fuzz-${runId}`
  const scratch = `fuzz-${runId}-x`
  const issuer = (await call("POST", "/admin/realms", { name: realm }))["issuer"] as string
  await call("POST", "/admin/realms", { name: scratch })
  await call("PATCH", `/admin/realms/${realm}`, { dynamic_registration: true, display_name: "Fuzz" }, 200)
  const resource = `https://api.fuzz.example/${realm}`
  await call("POST", `/admin/realms/${realm}/resources`, { uri: resource, scopes: ["read", "write", "pay"], step_up_scopes: ["pay"] })
  const username = "ada"
  const password = "correct horse battery staple"
  const sub = (await call("POST", `/admin/realms/${realm}/users`, { username, password, email: "ada@fuzz.example", name: "Ada" }))["sub"] as string
  const redirectUri = "http://127.0.0.1:9/callback"
  const confidential = await call("POST", `/admin/realms/${realm}/clients`, {
    client_name: "Fuzz app",
    redirect_uris: [redirectUri],
    post_logout_redirect_uris: ["http://127.0.0.1:9/signed-out"],
    grant_types: ["authorization_code", "refresh_token", "client_credentials", "urn:ietf:params:oauth:grant-type:jwt-bearer"],
    token_endpoint_auth_method: "client_secret_basic",
    scope: "openid profile email offline_access read write",
    resources: [resource]
  })
  const pub = await call("POST", `/admin/realms/${realm}/clients`, {
    client_name: "Fuzz device",
    redirect_uris: ["http://127.0.0.1:9/public"],
    grant_types: ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"],
    token_endpoint_auth_method: "none"
  })
  const agent = await call("POST", `/admin/realms/${realm}/clients`, {
    client_name: "Fuzz agent",
    principal_type: "agent",
    redirect_uris: [redirectUri],
    grant_types: ["authorization_code", "urn:ietf:params:oauth:grant-type:token-exchange"],
    token_endpoint_auth_method: "client_secret_basic",
    resources: [resource]
  })
  const idpKey = await Jose.generateKeyPair("ES256", { extractable: true })
  const idpJwk = { ...await Jose.exportJWK(idpKey.publicKey), kid: "fuzz-idp", alg: "ES256", use: "sig" }
  const trustedIssuer = `https://idp.fuzz.example/${realm}`
  await call("POST", `/admin/realms/${realm}/trusted-issuers`, { issuer: trustedIssuer, jwks: { keys: [idpJwk] } })
  const dpopKey = await Jose.generateKeyPair("ES256", { extractable: true })
  const dpopJwk = await Jose.exportJWK(dpopKey.publicKey)
  const jkt = await Jose.calculateJwkThumbprint(dpopJwk)

  const values = new Map<Slot, string>([
    ["realm", realm], ["scratch", scratch], ["issuer", issuer], ["resource", resource], ["scope", "openid read"],
    ["redirect_uri", redirectUri], ["username", username], ["password", password], ["sub", sub],
    ["cc_id", confidential["client_id"]], ["cc_secret", confidential["client_secret"]], ["pub_id", pub["client_id"]],
    ["agent_id", agent["client_id"]], ["agent_secret", agent["client_secret"]],
    ["basic_cc", basic(confidential["client_id"], confidential["client_secret"])],
    ["basic_agent", basic(agent["client_id"], agent["client_secret"])], ["owner", `Bearer ${adminToken}`],
    ["jkt", jkt], ["trusted_issuer", trustedIssuer]
  ])

  // the person's browser: signs in once, consents once to each client; afterwards each authorize answers with a code
  const person = browser()
  const authorizeUrl = (clientId: string, verifier: string, scope: string) =>
    `${issuer}/authorize?${new URLSearchParams({
      client_id: clientId, redirect_uri: redirectUri, response_type: "code", scope, state: randomUUID(), nonce: randomUUID(),
      code_challenge: s256(verifier), code_challenge_method: "S256", resource
    })}`
  const codeFor = async (clientId: string, scope: string) => {
    const verifier = randomBytes(32).toString("base64url")
    let res = await person.go(authorizeUrl(clientId, verifier, scope))
    for (let step = 0; step < 4 && res.status === 200; step++) {
      const html = await res.text()
      const fields = new URLSearchParams({ csrf: hidden(html, "csrf") ?? "", interaction: hidden(html, "interaction") ?? "" })
      if (html.includes('name="password"')) {
        fields.set("username", username)
        fields.set("password", password)
        res = await person.go(`${issuer}/login`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: fields })
      } else {
        fields.set("decision", "allow")
        res = await person.go(`${issuer}/consent`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: fields })
      }
      while (res.status === 303 && res.headers.get("location")?.startsWith(issuer)) res = await person.go(res.headers.get("location")!)
    }
    const location = res.headers.get("location")
    const code = location === null ? null : new URL(location).searchParams.get("code")
    if (code === null) throw new Error(`fuzz set-up: no code for ${clientId}: ${res.status} ${location}`)
    return { code, verifier }
  }
  const token = async (authorization: string, params: Record<string, string>) => {
    const res = await fetch(`${issuer}/token`, {
      method: "POST",
      headers: { authorization, "content-type": "application/x-www-form-urlencoded", ...via },
      body: new URLSearchParams(params)
    })
    const body = await res.json() as Record<string, string>
    if (res.status !== 200) throw new Error(`fuzz set-up: token ${params["grant_type"]}: ${res.status} ${JSON.stringify(body)}`)
    return body
  }
  const signAssertion = () => {
    const now = Math.floor(Date.now() / 1000)
    return new Jose.SignJWT({ sub: `fuzz-user-${randomUUID()}`, jti: randomUUID() })
      .setProtectedHeader({ alg: "ES256", kid: "fuzz-idp", typ: "JWT" })
      .setIssuer(trustedIssuer).setAudience(issuer).setIssuedAt(now).setExpirationTime(now + 300)
      .sign(idpKey.privateKey)
  }

  const refresh = async () => {
    const person1 = await codeFor(confidential["client_id"], "openid profile email offline_access read write")
    const tokens = await token(values.get("basic_cc")!, {
      grant_type: "authorization_code", code: person1.code, code_verifier: person1.verifier, redirect_uri: redirectUri
    })
    values.set("access_token", tokens["access_token"]!)
    values.set("refresh_token", tokens["refresh_token"]!)
    values.set("id_token", tokens["id_token"]!)
    const fresh = await codeFor(confidential["client_id"], "openid read")
    values.set("code", fresh.code)
    values.set("code_verifier", fresh.verifier)
    const agentCode = await codeFor(agent["client_id"], "read")
    const agentTokens = await token(values.get("basic_agent")!, {
      grant_type: "authorization_code", code: agentCode.code, code_verifier: agentCode.verifier, redirect_uri: redirectUri
    })
    values.set("agent_token", agentTokens["access_token"]!)
    const nextAgentCode = await codeFor(agent["client_id"], "read")
    values.set("agent_code", nextAgentCode.code)
    values.set("agent_code_verifier", nextAgentCode.verifier)
    values.set("cc_token", (await token(values.get("basic_cc")!, { grant_type: "client_credentials", scope: "read", resource }))["access_token"]!)
    const device = await fetch(`${issuer}/device_authorization`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", ...via },
      body: new URLSearchParams({ client_id: pub["client_id"], scope: "openid" })
    })
    const started = await device.json() as Record<string, string>
    if (device.status === 200) {
      values.set("device_code", started["device_code"]!)
      values.set("user_code", started["user_code"]!)
    }
    // a pending login: a new browser's interaction and its CSRF cookie (the forms' hidden fields)
    const stranger = browser()
    const verifier = randomBytes(32).toString("base64url")
    const page = await stranger.go(authorizeUrl(confidential["client_id"], verifier, "openid read"))
    const html = await page.text()
    values.set("interaction", hidden(html, "interaction") ?? "")
    values.set("csrf", hidden(html, "csrf") ?? "")
    values.set("interaction_cookie", Array.from(stranger.jar, ([k, v]) => `${k}=${v}`).join("; "))
    values.set("session_cookie", Array.from(person.jar, ([k, v]) => `${k}=${v}`).join("; "))
    const devicePage = browser()
    await devicePage.go(`${issuer}/device`)
    values.set("device_cookie", Array.from(devicePage.jar, ([k, v]) => `${k}=${v}`).join("; "))
    values.set("assertion", await signAssertion())
  }
  await refresh()
  return {
    value: (slot) => values.get(slot) ?? "",
    dpop: (htm, htu, accessToken) =>
      new Jose.SignJWT({
        jti: randomUUID(), htm, htu, iat: Math.floor(Date.now() / 1000),
        ...(accessToken !== undefined ? { ath: createHash("sha256").update(accessToken).digest("base64url") } : {})
      }).setProtectedHeader({ typ: "dpop+jwt", alg: "ES256", jwk: dpopJwk }).sign(dpopKey.privateKey),
    realms: [realm, scratch],
    refresh,
    close: () => {}
  }
}
