/**
 * MCP authorization 2026-07-28 at the MCP server (`@tessera/mcp`, ADR 0046): `offline_access` is never a resource
 * requirement ("Refresh Tokens", SEP-2207), and the token is validated on every request ("Access Token Usage": the
 * protocol is stateless, so nothing an earlier request proved is trusted by the next).
 */
import { beforeAll, describe, expect, it } from "vitest"
import { Handler } from "@tessera/mcp"
import { Dpop } from "@tessera/protocol"
import { issuer, makeIssuer, resource } from "../packages/mcp/test/support/Issuer.js"

const metadataUrl = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"

let as: Awaited<ReturnType<typeof makeIssuer>>
let handle: (request: Request) => Promise<Response>
let served = 0

beforeAll(async () => {
  as = await makeIssuer()
  // an operator who registered offline_access among the resource's scopes, as SEP-2207 says not to
  handle = Handler.fetchHandler({
    resource,
    issuer,
    scopes: ["mcp:tools", "offline_access"],
    requiredScopes: ["mcp:tools"],
    toolScopes: { transfer: ["payments:send"] },
    fetch: as.fetch
  }, async () => {
    served++
    return Response.json({ jsonrpc: "2.0", id: 1, result: { content: [], resultType: "complete" } })
  })
})

const call = (tool: string, token?: string) =>
  handle(new Request(resource, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: tool, arguments: {} } })
  }))

describe("MCP 2026-07-28 \"Refresh Tokens\" (SEP-2207): offline_access is not the resource's", () => {
  it("RFC 9728 §2: scopes_supported leaves offline_access out, even when configured", async () => {
    const res = await handle(new Request("https://mcp.example.com/.well-known/oauth-protected-resource/mcp"))
    expect(await res.json()).toStrictEqual({
      resource,
      authorization_servers: [issuer],
      scopes_supported: ["mcp:tools"],
      bearer_methods_supported: ["header"],
      dpop_signing_alg_values_supported: Dpop.algorithms
    })
  })

  it("RFC 6750 §3: the 401 challenge's scope leaves offline_access out", async () => {
    const res = await call("whoami")
    expect({ status: res.status, challenge: res.headers.get("www-authenticate") }).toStrictEqual({
      status: 401,
      challenge: `Bearer resource_metadata="${metadataUrl}", scope="mcp:tools"`
    })
  })

  it("RFC 6750 §3.1: a 403 insufficient_scope for a token holding offline_access names the scopes without it", async () => {
    const res = await call("transfer", await as.sign({ scope: "mcp:tools offline_access" }))
    expect({ status: res.status, challenge: res.headers.get("www-authenticate") }).toStrictEqual({
      status: 403,
      challenge: `Bearer error="insufficient_scope", scope="mcp:tools payments:send", resource_metadata="${metadataUrl}"`
    })
  })
})

describe("MCP 2026-07-28 \"Token Handling\": every request is validated on its own (no session trusts an earlier token)", () => {
  it("OAuth 2.1 §5.2: a token that expires between two requests is refused on the second with 401 invalid_token", async () => {
    const now = Math.floor(Date.now() / 1000)
    const token = await as.sign({ iat: now, exp: now + 2 })
    const before = served
    const first = await call("whoami", token)
    expect(first.status).toBe(200)
    expect(served).toBe(before + 1)
    // past exp (RFC 7519 §4.1.4: on or after it, the token is not accepted)
    await new Promise((resolve) => setTimeout(resolve, (now + 2) * 1000 - Date.now() + 50))
    const second = await call("whoami", token)
    expect({ status: second.status, challenge: second.headers.get("www-authenticate"), body: await second.json() }).toStrictEqual({
      status: 401,
      challenge: `Bearer error="invalid_token", error_description="the access token is not valid for this resource", resource_metadata="${metadataUrl}", scope="mcp:tools"`,
      body: { error: "invalid_token", error_description: "the access token is not valid for this resource" }
    })
    // the server's own handler never saw the second request
    expect(served).toBe(before + 1)
  })

  it("RFC 8707 §2: after a token for this server, one for another resource on the same connection is refused", async () => {
    expect((await call("whoami", await as.sign())).status).toBe(200)
    const other = await call("whoami", await as.sign({ aud: "https://other.example.com/mcp" }))
    expect(other.status).toBe(401)
  })
})
