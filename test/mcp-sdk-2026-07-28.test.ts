/**
 * End to end with the MCP TypeScript SDK 2.4 client (`@modelcontextprotocol/client`), pinned to protocol revision
 * 2026-07-28 (issue 16 part A, ADR 0046): the real Tessera process and the example MCP server (SDK 2.4
 * `createMcpHandler` behind `@tessera/mcp`). The client probes with `server/discover`, gets 401, discovers the
 * protected resource and the realm, signs in (PKCE, `resource`, `offline_access` added by the SDK as SEP-2207 lets
 * it), validates `iss` (RFC 9207 §2.4) before redeeming the code, and calls `whoami` on the 2026-07-28 era.
 * The 2025-11-25 flow with SDK 1.32 stays in e2e-mcp-sdk.test.ts.
 */
import { Client, IssuerMismatchError, StreamableHTTPClientTransport, UnauthorizedError } from "@modelcontextprotocol/client"
import * as Jose from "jose"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { HeadlessProvider, recordingFetch, type Seen } from "./support/McpClient.js"
import { login, mcpWorld } from "./support/McpWorld.js"
import { adminCall, adminToken, cleanup, startMcpExample } from "./support/Process.js"

afterAll(cleanup)

const callback = "http://127.0.0.1:53682/callback"
const revision = "2026-07-28"

let base: string
let realm: string
let issuer: string
let mcpUrl: string
let sub: string
let documentUrl: string
let world: Awaited<ReturnType<typeof mcpWorld>> | undefined

beforeAll(async () => {
  world = await mcpWorld("mcp26", {
    client_name: "E2E MCP 2026 client",
    application_type: "native",
    redirect_uris: ["http://127.0.0.1/callback"],
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    token_endpoint_auth_method: "none"
  })
  ;({ base, realm, issuer, mcpUrl, sub, documentUrl } = world)
}, 120_000)

afterAll(() => world?.close())

const textOf = (result: unknown) => JSON.parse((result as { content: Array<{ text: string }> }).content[0]!.text)

/** A client pinned to 2026-07-28 (no fallback to the 2025 handshake). */
const pinned = () => new Client({ name: "e2e-2026", version: "0" }, { versionNegotiation: { mode: { pin: revision } } })

/**
 * The SDK's interactive flow: the first connect ends in `UnauthorizedError` after the person signed in; the
 * callback's parameters (code and iss) go to `finishAuth`, which checks iss; then connect again.
 */
const connect = async (url: string, provider: HeadlessProvider, fetchFn: typeof fetch) => {
  const first = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider, fetch: fetchFn })
  await expect(pinned().connect(first)).rejects.toBeInstanceOf(UnauthorizedError)
  await first.finishAuth(provider.callbackParams!)
  const client = pinned()
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { authProvider: provider, fetch: fetchFn }))
  return client
}

describe("MCP 2026-07-28 authorization with the MCP SDK 2.4 client", () => {
  it("server/discover → 401 → RFC 9728 → CIMD client, PKCE, resource, offline_access → iss checked → whoami on 2026-07-28, refresh token held", async () => {
    const seen: Array<Seen> = []
    const provider = new HeadlessProvider(login, callback, { client_id: documentUrl }, issuer)
    const client = await connect(mcpUrl, provider, recordingFetch(seen))
    expect(client.getNegotiatedProtocolVersion()).toBe(revision)
    // the first request was the 2026-07-28 probe, refused for want of a token, with the metadata URL and scope
    expect(seen[0]).toMatchObject({
      method: "POST",
      url: mcpUrl,
      status: 401,
      wwwAuthenticate: `Bearer resource_metadata="${new URL(mcpUrl).origin}/.well-known/oauth-protected-resource/mcp", scope="mcp:tools"`
    })
    expect(seen.some((s) => s.url.endsWith("/register"))).toBe(false)
    // SEP-2207: Tessera lists offline_access, the client registered refresh_token, so the SDK asked for it
    const [authorization] = provider.authorizations
    expect(Object.fromEntries(authorization!.searchParams)).toMatchObject({
      client_id: documentUrl,
      response_type: "code",
      code_challenge_method: "S256",
      resource: mcpUrl,
      scope: "mcp:tools offline_access"
    })
    // RFC 9207 §2: the callback named the issuer, and the SDK accepted it
    expect(provider.callbackParams!.getAll("iss")).toEqual([issuer])
    const tokens = provider.tokens()!
    expect(tokens.refresh_token).toBeDefined()
    const claims = Jose.decodeJwt(tokens.access_token)
    // offline_access is the client's business with Tessera: the MCP server's token does not carry it
    expect({ aud: claims.aud, client_id: claims["client_id"], scope: claims["scope"], sub: claims.sub }).toEqual({
      aud: mcpUrl, client_id: documentUrl, scope: "mcp:tools", sub
    })
    expect(textOf(await client.callTool({ name: "whoami", arguments: {} }))).toEqual({ sub, client_id: documentUrl, scope: "mcp:tools" })
    await client.close()
  }, 120_000)

  it("RFC 9207 §2.4: a callback whose iss is not the realm's is refused by the SDK before the code is redeemed", async () => {
    const seen: Array<Seen> = []
    const provider = new HeadlessProvider(login, callback, { client_id: documentUrl }, issuer)
    const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider, fetch: recordingFetch(seen) })
    await expect(pinned().connect(transport)).rejects.toBeInstanceOf(UnauthorizedError)
    const forged = new URLSearchParams({ code: provider.code!, iss: "https://evil.example/realms/x" })
    const tokenCalls = () => seen.filter((s) => s.url === `${issuer}/token`).length
    const before = tokenCalls()
    await expect(transport.finishAuth(forged)).rejects.toBeInstanceOf(IssuerMismatchError)
    expect(tokenCalls()).toBe(before)
  }, 120_000)

  it("MCP 2026-07-28 \"Dynamic Client Registration\": the SDK registers with application_type native; Tessera accepts it and the client calls whoami", async () => {
    const dcrRealm = `${realm}-dcr`
    const dcrIssuer = (await adminCall(base, "/admin/realms", { name: dcrRealm }))["issuer"]
    const dcrSub = (await adminCall(base, `/admin/realms/${dcrRealm}/users`, login))["sub"]
    const patched = await fetch(`${base}/admin/realms/${dcrRealm}`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ dynamic_registration: true })
    })
    expect(patched.status).toBe(200)
    const { url } = await startMcpExample(dcrIssuer)
    await adminCall(base, `/admin/realms/${dcrRealm}/resources`, { uri: url, scopes: ["mcp:tools"] })
    const seen: Array<Seen> = []
    // no application_type of its own: SDK 2 fills it from the loopback redirect URI (SEP-837)
    const provider = new (class extends HeadlessProvider {
      override get clientMetadata() {
        const { application_type: _, ...rest } = super.clientMetadata as Record<string, unknown>
        return rest as unknown as HeadlessProvider["clientMetadata"]
      }
    })(login, callback, undefined, dcrIssuer)
    expect("application_type" in provider.clientMetadata).toBe(false)
    const client = await connect(url, provider, recordingFetch(seen))
    expect(seen.find((s) => s.url === `${dcrIssuer}/register`)).toMatchObject({ method: "POST", status: 201 })
    const clientId = (provider.clientInformation() as { client_id: string }).client_id
    const registered = await fetch(`${base}/admin/realms/${dcrRealm}/clients/${clientId}`, { headers: { authorization: `Bearer ${adminToken}` } })
    expect((await registered.json() as Record<string, unknown>)["application_type"]).toBe("native")
    expect(client.getNegotiatedProtocolVersion()).toBe(revision)
    expect(textOf(await client.callTool({ name: "whoami", arguments: {} }))).toEqual({ sub: dcrSub, client_id: clientId, scope: "mcp:tools" })
    await client.close()
  }, 120_000)
})
