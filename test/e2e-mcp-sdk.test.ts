/**
 * End to end with the MCP TypeScript SDK 1.32 as the client (issue 7 "Tests"; MCP 2025-11-25 authorization), headless:
 * the real Tessera process (TESSERA_DEV_INSECURE_CIMD=1) and the example MCP server (`npm run mcp:example`), a client
 * ID metadata document served by the test on loopback. The SDK gets a 401, discovers the protected resource metadata
 * and the realm's metadata through the path-inserted URLs, signs in with PKCE and `resource`, lists the tools, calls
 * `whoami`, gets 403 from `transfer`, steps up (a fresh login) and succeeds; the audit trail shows `stepup.succeeded`.
 */
import * as Jose from "jose"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { callWithStepUp, connect, HeadlessProvider, recordingFetch, type Seen } from "./support/McpClient.js"
import { login, mcpWorld } from "./support/McpWorld.js"
import { adminCall, adminToken, cleanup, freePort, startMcpExample } from "./support/Process.js"

afterAll(cleanup)

/** The client's callback: loopback, a port nothing listens on (the document lists it portless). */
const callback = "http://127.0.0.1:53682/callback"

const admin = async (method: "GET" | "PATCH", base: string, path: string, body?: unknown) => {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {})
  })
  return { status: res.status, json: await res.json() as any }
}

let base: string
let realm: string
let issuer: string
let mcpUrl: string
let sub: string
let documentUrl: string
let world: Awaited<ReturnType<typeof mcpWorld>> | undefined

beforeAll(async () => {
  world = await mcpWorld("mcp", {
    client_name: "E2E MCP client",
    redirect_uris: ["http://127.0.0.1/callback", "http://localhost/callback"],
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    token_endpoint_auth_method: "none"
  })
  ;({ base, realm, issuer, mcpUrl, sub, documentUrl } = world)
}, 120_000)

afterAll(() => world?.close())

const textOf = (result: unknown) => JSON.parse((result as { content: Array<{ text: string }> }).content[0]!.text)

describe("MCP 2025-11-25 authorization with the MCP SDK 1.32 client", () => {
  it("401 → discovery → CIMD client, PKCE and resource → tools → whoami → transfer 403 → step-up login → transfer", async () => {
    const seen: Array<Seen> = []
    const fetchFn = recordingFetch(seen)
    const provider = new HeadlessProvider(login, callback, { client_id: documentUrl }, issuer)
    const client = await connect(mcpUrl, provider, fetchFn)

    // MCP "Authorization Server Discovery": the 401's absolute resource_metadata, then the path-inserted URLs
    const prm = mcpUrl.replace(/\/mcp$/, "/.well-known/oauth-protected-resource/mcp")
    expect(seen[0]).toEqual({ method: "POST", url: mcpUrl, status: 401, wwwAuthenticate: `Bearer resource_metadata="${prm}", scope="mcp:tools"` })
    expect(seen[1]).toMatchObject({ method: "GET", url: prm, status: 200 })
    expect(seen[2]).toMatchObject({ method: "GET", url: `${base}/.well-known/oauth-authorization-server/realms/${realm}`, status: 200 })
    expect(seen.some((s) => s.status >= 500)).toBe(false)
    // MCP: the SDK follows same-origin redirects only: discovery and tokens never redirect
    expect(seen.filter((s) => s.status >= 300 && s.status < 400)).toEqual([])
    expect(seen.some((s) => s.url.endsWith("/register"))).toBe(false)

    // the authorization request: the document URL as client_id, S256, resource and the challenged scope
    const first = provider.authorizations[0]!
    expect(Object.fromEntries([...first.searchParams].filter(([k]) => k !== "state" && k !== "code_challenge"))).toEqual({
      response_type: "code",
      client_id: documentUrl,
      code_challenge_method: "S256",
      redirect_uri: callback,
      scope: "mcp:tools",
      resource: mcpUrl
    })
    expect(provider.iss).toBe(issuer)
    const claims = Jose.decodeJwt(provider.tokens()!.access_token)
    expect({ aud: claims.aud, client_id: claims["client_id"], scope: claims["scope"], sub: claims.sub }).toEqual({
      aud: mcpUrl, client_id: documentUrl, scope: "mcp:tools", sub
    })
    expect(provider.tokens()!.refresh_token).toBeDefined()

    const tools = await client.listTools()
    expect(tools.tools.map((t) => t.name)).toEqual(["whoami", "transfer"])
    expect(textOf(await client.callTool({ name: "whoami", arguments: {} }))).toEqual({ sub, client_id: documentUrl, scope: "mcp:tools" })
    expect(provider.logins).toBe(1)

    // transfer: 403 insufficient_scope naming what the token has plus payments:send; the SDK asks for exactly that
    const before = seen.length
    const { result, client: upgraded } = await callWithStepUp(mcpUrl, provider, client, "transfer", { to: "bob", amount: 25 }, fetchFn)
    const denied = seen.slice(before).find((s) => s.status === 403)
    expect(denied?.wwwAuthenticate).toBe(`Bearer error="insufficient_scope", scope="mcp:tools payments:send", resource_metadata="${prm}"`)
    expect(provider.authorizations).toHaveLength(2)
    expect(provider.authorizations[1]!.searchParams.get("scope")).toBe("mcp:tools payments:send")
    // CONTRACT §5 "Step-up": the login form again, a fresh auth_time
    expect(provider.logins).toBe(2)
    expect(textOf(result)).toEqual({ status: "sent", to: "bob", amount: 25, by: sub, client_id: documentUrl })
    const stepped = Jose.decodeJwt(provider.tokens()!.access_token)
    expect(stepped["scope"]).toBe("mcp:tools payments:send")
    expect(stepped["auth_time"] as number).toBeGreaterThanOrEqual(claims["auth_time"] as number)
    expect(textOf(await upgraded.callTool({ name: "whoami", arguments: {} }))).toEqual({ sub, client_id: documentUrl, scope: "mcp:tools payments:send" })

    // CONTRACT §7: the audit trail shows the step-up, for that person and that client
    const audit = await admin("GET", base, `/admin/realms/${realm}/audit?type=stepup.succeeded`)
    expect(audit.json.events.map((e: Record<string, unknown>) => ({ subject: e["subject"], client_id: e["client_id"], result: e["result"] }))).toEqual([
      { subject: sub, client_id: documentUrl, result: "success" }
    ])
    await upgraded.close()
  }, 120_000)

  it("typescript-sdk#2255: holding a refresh token, SDK 1.32 refreshes at the old scope and gives up (why the step-up call withholds it)", async () => {
    const provider = new HeadlessProvider(login, callback, { client_id: documentUrl }, issuer)
    const client = await connect(mcpUrl, provider)
    expect(provider.tokens()!.refresh_token).toBeDefined()
    await expect(client.callTool({ name: "transfer", arguments: { to: "bob", amount: 1 } })).rejects.toThrow("Server returned 403 after trying upscoping")
    // it never asked the person: the refresh kept the old scope
    expect(provider.authorizations).toHaveLength(1)
    await client.close()
  }, 120_000)

  it("RFC 7591 with the SDK: a realm with dynamic registration on; the SDK registers, signs in and calls whoami", async () => {
    const dcrRealm = `${realm}-dcr`
    const dcrIssuer = (await adminCall(base, "/admin/realms", { name: dcrRealm }))["issuer"]
    const dcrSub = (await adminCall(base, `/admin/realms/${dcrRealm}/users`, login))["sub"]
    expect((await admin("PATCH", base, `/admin/realms/${dcrRealm}`, { dynamic_registration: true })).status).toBe(200)
    const { url } = await startMcpExample(dcrIssuer)
    await adminCall(base, `/admin/realms/${dcrRealm}/resources`, { uri: url, scopes: ["mcp:tools", "payments:send"], step_up_scopes: ["payments:send"] })
    const seen: Array<Seen> = []
    const provider = new HeadlessProvider(login, callback, undefined, dcrIssuer)
    const client = await connect(url, provider, recordingFetch(seen))
    const registration = seen.find((s) => s.url === `${dcrIssuer}/register`)
    expect(registration).toMatchObject({ method: "POST", status: 201 })
    const clientId = (provider.clientInformation() as { client_id: string }).client_id
    expect(textOf(await client.callTool({ name: "whoami", arguments: {} }))).toEqual({ sub: dcrSub, client_id: clientId, scope: "mcp:tools" })
    await client.close()
  }, 120_000)

  it("MCP \"Access Token Privilege Restriction\": a valid token for another resource is 401 at the example server", async () => {
    await adminCall(base, `/admin/realms/${realm}/resources`, { uri: "https://other.example/mcp", scopes: ["mcp:tools"] })
    const service = await adminCall(base, `/admin/realms/${realm}/clients`, {
      client_name: "other service",
      grant_types: ["client_credentials"],
      token_endpoint_auth_method: "client_secret_basic",
      resources: ["https://other.example/mcp"]
    })
    const token = await fetch(`${issuer}/token`, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${service["client_id"]}:${service["client_secret"]}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded"
      },
      body: "grant_type=client_credentials&resource=https%3A%2F%2Fother.example%2Fmcp&scope=mcp%3Atools"
    }).then((r) => r.json() as Promise<{ access_token: string }>)
    expect(Jose.decodeJwt(token.access_token).aud).toBe("https://other.example/mcp")
    const res = await fetch(mcpUrl, {
      method: "POST",
      headers: { authorization: `Bearer ${token.access_token}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" })
    })
    const prm = mcpUrl.replace(/\/mcp$/, "/.well-known/oauth-protected-resource/mcp")
    expect({ status: res.status, challenge: res.headers.get("www-authenticate"), body: await res.json() }).toEqual({
      status: 401,
      challenge: `Bearer error="invalid_token", error_description="the access token is not valid for this resource", resource_metadata="${prm}", scope="mcp:tools"`,
      body: { error: "invalid_token", error_description: "the access token is not valid for this resource" }
    })
  }, 60_000)

  it("CONTRACT §6: --public-url names the server: the ready line, the metadata's resource and the challenge use it", async () => {
    const port = await freePort()
    const { url } = await startMcpExample(issuer, { port, publicUrl: "https://mcp.example.test/mcp" })
    expect(url).toBe("https://mcp.example.test/mcp")
    const prm = await fetch(`http://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp`).then((r) => r.json() as Promise<Record<string, unknown>>)
    expect(prm).toMatchObject({ resource: "https://mcp.example.test/mcp", authorization_servers: [issuer], scopes_supported: ["mcp:tools"] })
    const res = await fetch(`http://127.0.0.1:${port}/mcp`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })
    expect({ status: res.status, challenge: res.headers.get("www-authenticate") }).toEqual({
      status: 401,
      challenge: `Bearer resource_metadata="https://mcp.example.test/.well-known/oauth-protected-resource/mcp", scope="mcp:tools"`
    })
    await expect(startMcpExample(issuer, { publicUrl: "https://mcp.example.test/other" })).rejects.toThrow("mcp example: --public-url must end in /mcp")
  }, 120_000)
})
