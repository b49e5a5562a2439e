/**
 * CONTRACT §1 `TESSERA_LOG_FORMAT=json` and §8 "Logs never contain a token, secret, password, code or cookie value"
 * (ADR 0041): a real Tessera process, at its most verbose level (`TESSERA_LOG_LEVEL=debug`), runs a sign-in
 * (authorization code + PKCE through the login and consent pages), refresh (and a replay), token exchange, the device
 * flow with a DPoP proof, an invitation and a few refusals; every value it handled is collected, then every line it
 * wrote is read: each one JSON object with `time`, `level`, `message` (and `request_id`, `realm` on request lines),
 * and none holds any of those values, nor the halves of one (a JWT's payload or signature, half an opaque token).
 */
import * as Crypto from "node:crypto"
import { afterAll, describe, expect, it } from "vitest"
import * as Proofs from "../packages/protocol/test/support/DpopProofs.js"
import { person } from "./support/Person.js"
import { adminCall, adminToken, cleanup, startTessera, stopProcess } from "./support/Process.js"
import { authorizationCode, basic, postForm, redirectUri } from "./support/SignInByHand.js"

afterAll(cleanup)

const tokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
const deviceCodeGrant = "urn:ietf:params:oauth:grant-type:device_code"
const accessTokenType = "urn:ietf:params:oauth:token-type:access_token"

/** What must never be logged: the value, and the parts of it that identify it on their own. */
const fragments = (value: string): ReadonlyArray<string> => {
  const parts = value.split(".")
  // a JWT's header is the same for many tokens; its payload and signature are its own
  if (parts.length === 3 && parts.every((p) => /^[A-Za-z0-9_-]+$/.test(p))) return [value, parts[1]!, parts[2]!]
  // a user code is typed with or without its dash (RFC 8628 §6.1)
  if (/^[A-Z]{4}-[A-Z]{4}$/.test(value)) return [value, value.replace("-", "")]
  const half = Math.floor(value.length / 2)
  return value.length >= 16 ? [value, value.slice(0, half), value.slice(half)] : [value]
}

/** RFC 3339 §5.6 date-time, as `Date.prototype.toISOString` writes it. */
const rfc3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/

describe("CONTRACT §1 TESSERA_LOG_FORMAT=json, §8: logs never contain a token, secret, password, code or cookie value", () => {
  it("a sign-in, refresh, exchange and device flow at debug level: every line is JSON with the fields, and holds no value handled", { timeout: 300_000 }, async () => {
    const { base, child, output } = await startTessera({ TESSERA_LOG_FORMAT: "json", TESSERA_LOG_LEVEL: "debug" })
    const handled: Array<string> = [adminToken]
    const keep = <A extends string | undefined>(value: A): A => {
      if (value !== undefined && value !== "") handled.push(value)
      return value
    }

    const name = `logs-${process.pid}-${Date.now().toString(36)}`
    const realm = await adminCall(base, "/admin/realms", { name })
    const issuer = realm["issuer"] as string
    const password = keep("correct horse battery staple")
    await adminCall(base, `/admin/realms/${name}/users`, { username: "ada", password, email: "ada@example.com" })
    const api = `https://api.example/${name}`
    await adminCall(base, `/admin/realms/${name}/resources`, { uri: api, scopes: ["read"] })
    const app = await adminCall(base, `/admin/realms/${name}/clients`, {
      client_name: "Logged app", redirect_uris: [redirectUri], grant_types: ["authorization_code", "refresh_token"],
      token_endpoint_auth_method: "client_secret_basic"
    })
    const agent = await adminCall(base, `/admin/realms/${name}/clients`, {
      client_name: "Logged agent", principal_type: "agent", redirect_uris: [redirectUri], resources: [api],
      grant_types: ["authorization_code", tokenExchange], token_endpoint_auth_method: "client_secret_basic"
    })
    const device = await adminCall(base, `/admin/realms/${name}/clients`, {
      client_name: "Logged TV", grant_types: [deviceCodeGrant], token_endpoint_auth_method: "none", resources: [api]
    })
    const appSecret = keep(app["client_secret"] as string)
    const agentSecret = keep(agent["client_secret"] as string)
    const token = `${issuer}/token`

    // a failed login first: the wrong password is request text the server refuses, and must not be logged either
    const wrongPassword = keep("Tr0ub4dor&3-wrong-password")
    await expect(authorizationCode({ base, issuer, clientId: app["client_id"], scope: "openid", username: "ada", password: wrongPassword }))
      .rejects.toThrow(/no redirect to the client/)

    // OAuth 2.1 §4.1: code + PKCE through the login and consent pages, then refresh (rotated) and a replay (refused)
    const browser = person()
    const signIn = await authorizationCode({ base, issuer, clientId: app["client_id"], scope: "openid offline_access", username: "ada", password, browser })
    keep(signIn.code)
    keep(signIn.verifier)
    const tokens = await postForm(token, { grant_type: "authorization_code", code: signIn.code, redirect_uri: redirectUri, code_verifier: signIn.verifier }, {
      authorization: basic(app["client_id"], appSecret), "x-request-id": "attacker-chosen-id"
    })
    expect(tokens.status).toBe(200)
    for (const field of ["access_token", "id_token", "refresh_token"]) keep(tokens.json[field])
    const refreshed = await postForm(token, { grant_type: "refresh_token", refresh_token: tokens.json["refresh_token"] }, { authorization: basic(app["client_id"], appSecret) })
    expect(refreshed.status).toBe(200)
    for (const field of ["access_token", "id_token", "refresh_token"]) keep(refreshed.json[field])
    const replayed = await postForm(token, { grant_type: "refresh_token", refresh_token: tokens.json["refresh_token"] }, { authorization: basic(app["client_id"], appSecret) })
    expect(replayed.json["error"]).toBe("invalid_grant")
    const wrongSecret = keep(Crypto.randomBytes(32).toString("base64url"))
    const badClient = await postForm(token, { grant_type: "refresh_token", refresh_token: refreshed.json["refresh_token"] }, { authorization: basic(app["client_id"], wrongSecret) })
    expect(badClient.status).toBe(401)
    // RFC 6749 §4.1.2: a replayed code is refused (and revokes what it gave)
    const replayedCode = await postForm(token, { grant_type: "authorization_code", code: signIn.code, redirect_uri: redirectUri, code_verifier: signIn.verifier }, {
      authorization: basic(app["client_id"], appSecret)
    })
    expect(replayedCode.json["error"]).toBe("invalid_grant")

    // RFC 8693: the person authorizes the agent, the agent exchanges that token for one to the API
    const delegated = await authorizationCode({
      base, issuer, clientId: agent["client_id"], scope: "read", username: "ada", password, browser, extra: { resource: api }
    })
    keep(delegated.code)
    keep(delegated.verifier)
    const agentTokens = await postForm(token, {
      grant_type: "authorization_code", code: delegated.code, redirect_uri: redirectUri, code_verifier: delegated.verifier, resource: api
    }, { authorization: basic(agent["client_id"], agentSecret) })
    expect(agentTokens.status).toBe(200)
    const subjectToken = keep(agentTokens.json["access_token"] as string)
    const exchanged = await postForm(token, {
      grant_type: tokenExchange, subject_token: subjectToken, subject_token_type: accessTokenType, resource: api, scope: "read"
    }, { authorization: basic(agent["client_id"], agentSecret) })
    expect(exchanged.status).toBe(200)
    keep(exchanged.json["access_token"])

    // RFC 8628: the device asks, the person enters the code (from verification_uri_complete) and consents, the
    // device polls with a DPoP proof (RFC 9449) and gets a bound token
    const started = await postForm(`${issuer}/device_authorization`, { client_id: device["client_id"], scope: "read", resource: api })
    expect(started.status).toBe(200)
    const deviceCode = keep(started.json["device_code"] as string)
    const userCode = keep(started.json["user_code"] as string)
    const entry = await browser.follow(base, await browser.go(started.json["verification_uri_complete"]))
    const consent = await browser.submit(base, entry.url || started.json["verification_uri_complete"], entry.html, { user_code: userCode })
    const approved = consent.html.includes('name="decision"') ? await browser.submit(base, consent.url || entry.url || started.json["verification_uri_complete"], consent.html, { decision: "allow" }) : consent
    expect(approved.res.status).toBe(200)
    const proofKey = await Proofs.key()
    const proof = keep(await Proofs.proof(proofKey, { htm: "POST", htu: token, iat: Math.floor(Date.now() / 1000) }))
    const deviceTokens = await postForm(token, { grant_type: deviceCodeGrant, device_code: deviceCode, client_id: device["client_id"] }, { dpop: proof })
    expect(deviceTokens.status).toBe(200)
    expect(deviceTokens.json["token_type"]).toBe("DPoP")
    keep(deviceTokens.json["access_token"])

    // CONTRACT §4: an invitation's URL is its secret; opening it is a request like any other
    const invitation = await adminCall(base, `/admin/realms/${name}/invitations`, { role: "member" })
    keep(new URL(invitation["url"] as string).pathname.split("/").at(-1))
    expect((await fetch(invitation["url"] as string)).status).toBe(200)

    for (const value of browser.cookies()) keep(value)
    await stopProcess(child)
    expect(child.exitCode).toBe(0)

    const { stderr, stdout } = output()
    const lines = [...stdout.split("\n"), ...stderr.split("\n")].filter((line) => line.trim() !== "")
    const records = lines.map((line) => {
      let record: Record<string, unknown>
      try {
        record = JSON.parse(line)
      } catch {
        throw new Error(`not one JSON object: ${line}`)
      }
      expect(record).toMatchObject({ time: expect.stringMatching(rfc3339), level: expect.stringMatching(/^(debug|info|warn|error|fatal)$/), message: expect.any(String) })
      return record
    })
    // CONTRACT §1: the ready line is the message of a line, and the stop is logged
    expect(records.map((r) => r["message"])).toContain(`tessera listening on ${base.replace("localhost", "127.0.0.1")}`)
    expect(records.some((r) => String(r["message"]).startsWith("tessera stopping"))).toBe(true)
    // lines about a request carry its id and realm; a client never chooses the id (ADR 0041)
    const aboutRealm = records.filter((r) => r["realm"] === name)
    expect(aboutRealm.length).toBeGreaterThan(10)
    expect(aboutRealm.every((r) => typeof r["request_id"] === "string" && /^[0-9a-f-]{36}$/.test(r["request_id"] as string))).toBe(true)
    expect(records.some((r) => r["request_id"] === "attacker-chosen-id")).toBe(false)
    expect(records.some((r) => r["message"] === "token request refused RefreshRejected reused")).toBe(true)

    // CONTRACT §8: no value handled appears anywhere, whole or in part
    const everything = `${stdout}\n${stderr}`
    const leaked = handled.flatMap(fragments).filter((fragment) => everything.includes(fragment))
    expect(leaked).toEqual([])
    expect(handled.length).toBeGreaterThan(20)
  })
})
