/**
 * Issue 16, MCP enterprise-managed authorization (SEP-990) end to end between two realms of one real Tessera process
 * (draft-ietf-oauth-identity-assertion-authz-grant §4): realm "idp" plays the enterprise identity provider, realm
 * "mcp" the MCP server's authorization server, which trusts idp's issuer for ID-JAGs (`id_jag`, `provision_users`,
 * idp's keys inline as its /jwks serves them). The person signs in at idp (code + PKCE, openid email), the client
 * exchanges the ID token for an ID-JAG toward realm mcp (§4.3), presents it at mcp's token endpoint with the
 * JWT-bearer grant (§4.4), and calls the example MCP server's `whoami` with the access token (the MCP SDK's client).
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import * as Jose from "jose"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { adminCall, adminToken, cleanup, startMcpExample, startTessera } from "./support/Process.js"
import { authorizationCode, basic, postForm, redirectUri } from "./support/SignInByHand.js"

afterAll(cleanup)

const tokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
const jwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"
const idJagType = "urn:ietf:params:oauth:token-type:id-jag"
const login = { username: "ada", password: "correct horse battery staple" }

const adminGet = async (base: string, path: string) => {
  const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${adminToken}` } })
  return res.json() as Promise<Record<string, any>>
}

let base: string
let idp: { name: string; issuer: string }
let mcp: { name: string; issuer: string }
let mcpUrl: string
/** The enterprise app: a confidential client at each realm (two registrations, §5 of the draft). */
let appAtIdp: { client_id: string; client_secret: string }
let appAtMcp: { client_id: string; client_secret: string }

beforeAll(async () => {
  ;({ base } = await startTessera({}))
  const suffix = `${process.pid}-${Date.now().toString(36)}`
  idp = await adminCall(base, "/admin/realms", { name: `idp-${suffix}` }) as typeof idp
  mcp = await adminCall(base, "/admin/realms", { name: `mcp-${suffix}` }) as typeof mcp
  ;({ url: mcpUrl } = await startMcpExample(mcp.issuer))
  // realm mcp: the MCP server's resource, the app's registration there, and idp as a trusted ID-JAG issuer
  await adminCall(base, `/admin/realms/${mcp.name}/resources`, { uri: mcpUrl, scopes: ["mcp:tools", "payments:send"], step_up_scopes: ["payments:send"] })
  appAtMcp = await adminCall(base, `/admin/realms/${mcp.name}/clients`, {
    client_name: "Enterprise app", grant_types: [jwtBearer], redirect_uris: [], response_types: [], resources: [mcpUrl]
  }) as typeof appAtMcp
  const jwks = await (await fetch(`${idp.issuer}/jwks`)).json()
  await adminCall(base, `/admin/realms/${mcp.name}/trusted-issuers`, { issuer: idp.issuer, jwks, id_jag: true, provision_users: true })
  // realm idp: the person, and the app's registration there, naming realm mcp and its client id at mcp
  await adminCall(base, `/admin/realms/${idp.name}/users`, { ...login, email: "ada@example.com", name: "Ada Lovelace" })
  appAtIdp = await adminCall(base, `/admin/realms/${idp.name}/clients`, {
    client_name: "Enterprise app", grant_types: ["authorization_code", tokenExchange], redirect_uris: [redirectUri],
    id_jag_targets: [{ audience: mcp.issuer, client_id: appAtMcp.client_id }]
  }) as typeof appAtIdp
}, 180_000)

describe("MCP enterprise-managed authorization: an ID-JAG from realm idp opens the MCP server behind realm mcp", () => {
  it("sign in at idp → ID token → ID-JAG (token exchange) → access token at mcp (JWT-bearer) → whoami; the ID-JAG is spent once", async () => {
    const idpAuth = { authorization: basic(appAtIdp.client_id, appAtIdp.client_secret) }
    const mcpAuth = { authorization: basic(appAtMcp.client_id, appAtMcp.client_secret) }

    // 1. SSO at the IdP (§4.2): the code flow with PKCE, openid and email
    const signedIn = await authorizationCode({ base, issuer: idp.issuer, clientId: appAtIdp.client_id, scope: "openid email", ...login })
    const codeAnswer = await postForm(`${idp.issuer}/token`, {
      grant_type: "authorization_code", code: signedIn.code, redirect_uri: redirectUri, code_verifier: signedIn.verifier
    }, idpAuth)
    expect(codeAnswer.status).toBe(200)
    const idToken = codeAnswer.json["id_token"] as string
    const person = Jose.decodeJwt(idToken)

    // 2. token exchange at the IdP (§4.3): the ID-JAG for realm mcp, its resource and scope
    const exchanged = await postForm(`${idp.issuer}/token`, {
      grant_type: tokenExchange, requested_token_type: idJagType, subject_token: idToken,
      subject_token_type: "urn:ietf:params:oauth:token-type:id_token", audience: mcp.issuer, resource: mcpUrl, scope: "mcp:tools"
    }, idpAuth)
    expect(exchanged.status).toBe(200)
    expect(exchanged.headers.get("cache-control")).toBe("no-store")
    expect(exchanged.json).toEqual({ access_token: expect.any(String), issued_token_type: idJagType, token_type: "N_A", expires_in: 300, scope: "mcp:tools" })
    const jag = exchanged.json["access_token"] as string
    expect(Jose.decodeProtectedHeader(jag)).toEqual({ alg: "RS256", kid: expect.any(String), typ: "oauth-id-jag+jwt" })
    expect(Jose.decodeJwt(jag)).toEqual({
      iss: idp.issuer, sub: person.sub, aud: mcp.issuer, client_id: appAtMcp.client_id, jti: expect.any(String),
      iat: expect.any(Number), exp: expect.any(Number), resource: mcpUrl, scope: "mcp:tools", auth_time: person["auth_time"],
      acr: person["acr"], amr: person["amr"], email: "ada@example.com"
    })

    // 3. the ID-JAG at the MCP server's authorization server (§4.4): an access token for the MCP server
    const granted = await postForm(`${mcp.issuer}/token`, { grant_type: jwtBearer, assertion: jag }, mcpAuth)
    expect(granted.status).toBe(200)
    expect(granted.json).toEqual({ access_token: expect.any(String), token_type: "Bearer", expires_in: 900, scope: "mcp:tools" })
    const accessToken = granted.json["access_token"] as string
    // the person was provisioned at realm mcp on first use, linked to (idp issuer, sub)
    const [linked] = (await adminGet(base, `/admin/realms/${mcp.name}/users?q=ada%40`))["users"] as Array<Record<string, any>>
    expect(linked).toMatchObject({ email: "ada@example.com" })
    expect(Jose.decodeJwt(accessToken)).toMatchObject({ iss: mcp.issuer, sub: linked!["sub"], aud: mcpUrl, client_id: appAtMcp.client_id, scope: "mcp:tools" })

    // 4. the MCP server takes the token: whoami names the person at realm mcp and the app
    const client = new Client({ name: "e2e-id-jag", version: "0" })
    await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl), { requestInit: { headers: { authorization: `Bearer ${accessToken}` } } }))
    const whoami = await client.callTool({ name: "whoami" })
    expect(JSON.parse((whoami as { content: Array<{ text: string }> }).content[0]!.text)).toEqual({
      sub: linked!["sub"], client_id: appAtMcp.client_id, scope: "mcp:tools"
    })
    await client.close()

    // RFC 7523 §3: the ID-JAG's jti is spent: presenting it again is refused
    const replayed = await postForm(`${mcp.issuer}/token`, { grant_type: jwtBearer, assertion: jag }, mcpAuth)
    expect(replayed.status).toBe(400)
    expect(replayed.json).toEqual({ error: "invalid_grant", error_description: "the assertion was already used ('jti' seen before)" })

    // CONTRACT §7: each realm's trail tells its half
    const issued = (await adminGet(base, `/admin/realms/${idp.name}/audit?type=id_jag.issued`))["events"]
    expect(issued).toEqual([expect.objectContaining({
      type: "id_jag.issued", subject: person.sub, client_id: appAtIdp.client_id, resource: mcpUrl, scope: "mcp:tools",
      reason: `for ${mcp.issuer} as client ${appAtMcp.client_id}`, result: "success"
    })])
    const links = (await adminGet(base, `/admin/realms/${mcp.name}/audit?type=user.linked`))["events"]
    expect(links).toEqual([expect.objectContaining({ type: "user.linked", subject: linked!["sub"], reason: `issuer: ${idp.issuer}, subject: ${person.sub}` })])
  }, 120_000)

  it("the ID-JAG is for realm mcp only: an audience the app has no target for is invalid_target at the IdP", async () => {
    const idpAuth = { authorization: basic(appAtIdp.client_id, appAtIdp.client_secret) }
    const signedIn = await authorizationCode({ base, issuer: idp.issuer, clientId: appAtIdp.client_id, scope: "openid", ...login })
    const idToken = (await postForm(`${idp.issuer}/token`, {
      grant_type: "authorization_code", code: signedIn.code, redirect_uri: redirectUri, code_verifier: signedIn.verifier
    }, idpAuth)).json["id_token"] as string
    const refused = await postForm(`${idp.issuer}/token`, {
      grant_type: tokenExchange, requested_token_type: idJagType, subject_token: idToken,
      subject_token_type: "urn:ietf:params:oauth:token-type:id_token", audience: idp.issuer
    }, idpAuth)
    expect(refused.status).toBe(400)
    expect(refused.json).toEqual({ error: "invalid_target", error_description: "the 'audience' is not one of the client's 'id_jag_targets'" })
  }, 120_000)
})
