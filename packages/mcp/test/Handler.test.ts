/**
 * The fetch and Node handler forms of `@tessera/mcp`, on the wire: RFC 9728 metadata, RFC 6750 §3 challenges with
 * MCP's `resource_metadata` and `scope`, RFC 9068 §4 validation, MCP step-up (403), CORS, and the claims (never the
 * token) reaching the server's handler.
 */
import * as Http from "node:http"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Handler } from "@tessera/mcp"
import { Dpop } from "@tessera/protocol"
import type { AccessToken } from "@tessera/protocol"
import * as DpopProofs from "../../protocol/test/support/DpopProofs.js"
import { issuer, makeIssuer, resource } from "./support/Issuer.js"

const metadataUrl = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
const cors = {
  "access-control-allow-origin": "*",
  "access-control-expose-headers": "WWW-Authenticate, Mcp-Session-Id, Mcp-Protocol-Version"
}

let as: Awaited<ReturnType<typeof makeIssuer>>
const seen: Array<{ claims: AccessToken.Claims; authInfo: unknown; parsedBody: unknown }> = []
let handle: (request: Request) => Promise<Response>

beforeAll(async () => {
  as = await makeIssuer()
  handle = Handler.fetchHandler({
    resource,
    issuer,
    scopes: ["mcp:tools"],
    requiredScopes: ["mcp:tools"],
    toolScopes: { transfer: ["payments:send"] },
    toolMaxAuthAge: { transfer: 300 },
    fetch: as.fetch,
    jwksCooldown: "200 millis"
  }, async (_request, context) => {
    seen.push(context)
    return Response.json({ jsonrpc: "2.0", id: 1, result: { ok: true } })
  })
})

const nowSeconds = () => Math.floor(Date.now() / 1000)

const headersOf = (response: Response) => {
  const headers: Record<string, string> = {}
  response.headers.forEach((value, name) => {
    if (name !== "date") headers[name] = value
  })
  return headers
}

const wire = async (response: Response) => ({
  status: response.status,
  headers: headersOf(response),
  body: response.status === 204 ? "" : await response.text()
})

const call = (tool: string, token?: string, headers: Record<string, string> = {}) =>
  handle(new Request(resource, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
      ...headers
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: tool, arguments: {} } })
  }))

/** A JSON-RPC batch calling `whoami` and `transfer`: judged by both tools' requirements. */
const callBoth = (token: string) =>
  handle(new Request(resource, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify([
      { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami" } },
      { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "transfer" } }
    ])
  }))

const invalidToken = (description: string) => ({
  status: 401,
  headers: {
    "content-type": "application/json",
    "cache-control": "no-store",
    "www-authenticate": `Bearer error="invalid_token", error_description="${description}", resource_metadata="${metadataUrl}", scope="mcp:tools"`,
    ...cors
  },
  body: JSON.stringify({ error: "invalid_token", error_description: description })
})

describe("RFC 9728 §3: protected resource metadata", () => {
  const document = {
    resource,
    authorization_servers: [issuer],
    scopes_supported: ["mcp:tools"],
    bearer_methods_supported: ["header"],
    dpop_signing_alg_values_supported: Dpop.algorithms
  }
  for (const path of ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"]) {
    it(`§3.1: served at ${path}, resource byte-identical, exactly one authorization server, no step-up scope`, async () => {
      expect(await wire(await handle(new Request(`https://mcp.example.com${path}`)))).toStrictEqual({
        status: 200,
        headers: { "content-type": "application/json", "cache-control": "public, max-age=3600", ...cors },
        body: JSON.stringify(document)
      })
    })
  }

  it("§3.2: no zero-valued member (no scopes configured: no scopes_supported)", async () => {
    const bare = Handler.fetchHandler({ resource: "https://h.example/", issuer, fetch: as.fetch }, async () => new Response())
    const res = await bare(new Request("https://h.example/.well-known/oauth-protected-resource"))
    expect(await res.json()).toStrictEqual({
      resource: "https://h.example/",
      authorization_servers: [issuer],
      bearer_methods_supported: ["header"],
      dpop_signing_alg_values_supported: Dpop.algorithms
    })
    // an origin-only resource has only the root form (§3.1: the terminating slash is removed)
    expect((await bare(new Request("https://h.example/.well-known/oauth-protected-resource/"))).status).toBe(404)
  })

  it("MCP CORS: a preflight of the metadata and of the endpoint needs no token", async () => {
    for (const url of [metadataUrl, resource]) {
      expect(await wire(await handle(new Request(url, { method: "OPTIONS" })))).toStrictEqual({
        status: 204,
        headers: {
          "access-control-allow-origin": "*",
          "access-control-allow-methods": "GET, POST, DELETE, OPTIONS",
          "access-control-allow-headers": "Authorization, Content-Type, Accept, DPoP, Mcp-Method, Mcp-Name, Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID",
          "access-control-max-age": "86400"
        },
        body: ""
      })
    }
  })

  it("other paths are 404, never served by the MCP handler", async () => {
    const res = await wire(await handle(new Request("https://mcp.example.com/.well-known/oauth-authorization-server")))
    expect(res).toStrictEqual({
      status: 404,
      headers: { "content-type": "application/json", ...cors },
      body: JSON.stringify({ error: "not_found", error_description: "nothing is served at this path" })
    })
  })

  it("bad options are refused at once", () => {
    expect(() => Handler.fetchHandler({ resource: "https://h.example/mcp?x=1", issuer }, async () => new Response()))
      .toThrow("@tessera/mcp: resource must have no query or fragment")
    expect(() => Handler.fetchHandler({ resource: "mcp", issuer }, async () => new Response())).toThrow("@tessera/mcp: resource must be an absolute URL")
    expect(() => Handler.fetchHandler({ resource, issuer, scopes: ["a b"] }, async () => new Response())).toThrow("@tessera/mcp: scopes must be RFC 6749 scope tokens")
  })
})

describe("RFC 6750 §3 and MCP 2025-11-25 \"Token Handling\": the 401", () => {
  it("§3.1: no token: resource_metadata (absolute) and scope, no error code", async () => {
    expect(await wire(await call("whoami"))).toStrictEqual({
      status: 401,
      headers: {
        "content-type": "application/json",
        "cache-control": "no-store",
        "www-authenticate": `Bearer resource_metadata="${metadataUrl}", scope="mcp:tools"`,
        ...cors
      },
      body: JSON.stringify({ error: "invalid_token", error_description: "an access token is required" })
    })
  })

  it("§2.1: another scheme is no token", async () => {
    const res = await call("whoami", undefined, { authorization: "Basic dXNlcjpwYXNz" })
    expect(res.headers.get("www-authenticate")).toBe(`Bearer resource_metadata="${metadataUrl}", scope="mcp:tools"`)
  })

  it("MCP \"Token Requirements\": a token in the query string is not a token", async () => {
    const token = await as.sign()
    const res = await handle(new Request(`${resource}?access_token=${token}`, { method: "POST", body: "{}" }))
    expect(res.status).toBe(401)
  })

  const refused: ReadonlyArray<readonly [string, () => Promise<string>]> = [
    ["RFC 8707 / MCP \"Access Token Privilege Restriction\": a token for another resource", () => as.sign({ aud: "https://other.example.com/mcp" })],
    ["RFC 9068 §4: a token of another issuer", () => as.sign({ iss: "https://as.example.com/realms/other" })],
    ["RFC 9068 §4: an expired token", () => as.sign({ exp: Math.floor(Date.now() / 1000) - 5 })],
    ["RFC 9068 §4: an ID token (typ JWT)", () => as.sign({}, { typ: "JWT" })],
    ["RFC 9068 §4: garbage", async () => "not.a.jwt"]
  ]
  for (const [name, token] of refused) {
    it(`${name}: 401 invalid_token`, async () => {
      expect(await wire(await call("whoami", await token()))).toStrictEqual(invalidToken("the access token is not valid for this resource"))
    })
  }

  const algs = `algs="${Dpop.algorithms.join(" ")}"`
  it("RFC 9449 §7.2: a DPoP-bound token presented as a bearer token is refused", async () => {
    const k = await DpopProofs.key()
    const description = "the access token is DPoP-bound: present it with the DPoP scheme and a DPoP proof"
    expect(await wire(await call("whoami", await as.sign({ cnf: { jkt: k.jkt } })))).toStrictEqual({
      status: 401,
      headers: {
        "content-type": "application/json",
        "cache-control": "no-store",
        "www-authenticate": `Bearer error="invalid_token", error_description="${description}", DPoP ${algs}`,
        ...cors
      },
      body: JSON.stringify({ error: "invalid_token", error_description: description })
    })
  })

  it("RFC 9449 §7.1: a DPoP-bound token with a proof of its key is accepted once; the proof replayed is refused", async () => {
    const k = await DpopProofs.key()
    const token = await as.sign({ cnf: { jkt: k.jkt } })
    const proof = await DpopProofs.proof(k, { htm: "POST", htu: resource, iat: Math.floor(Date.now() / 1000), accessToken: token })
    const first = await call("whoami", undefined, { authorization: `DPoP ${token}`, dpop: proof })
    expect(first.status).toBe(200)
    const again = await call("whoami", undefined, { authorization: `DPoP ${token}`, dpop: proof })
    expect({ status: again.status, challenge: again.headers.get("www-authenticate") }).toStrictEqual({
      status: 401,
      challenge: `DPoP error="invalid_dpop_proof", error_description="the DPoP proof was already used ('jti' seen before)", ${algs}`
    })
  })

  it("RFC 9449 §7.1: a proof of another key, or for another URL, is refused", async () => {
    const k = await DpopProofs.key()
    const other = await DpopProofs.key()
    const token = await as.sign({ cnf: { jkt: k.jkt } })
    const now = Math.floor(Date.now() / 1000)
    const wrongKey = await call("whoami", undefined, {
      authorization: `DPoP ${token}`,
      dpop: await DpopProofs.proof(other, { htm: "POST", htu: resource, iat: now, accessToken: token })
    })
    expect(wrongKey.headers.get("www-authenticate")).toBe(`DPoP error="invalid_token", error_description="Invalid DPoP key binding", ${algs}`)
    const wrongUrl = await call("whoami", undefined, {
      authorization: `DPoP ${token}`,
      dpop: await DpopProofs.proof(k, { htm: "POST", htu: "https://mcp.example.com/other", iat: now, accessToken: token })
    })
    expect(wrongUrl.status).toBe(401)
    expect(wrongUrl.headers.get("www-authenticate")).toContain(`error="invalid_dpop_proof"`)
  })
})

describe("MCP 2025-11-25 \"Runtime Insufficient Scope Errors\": the 403", () => {
  it("RFC 6750 §3.1: transfer without payments:send: the granted scopes plus the one needed", async () => {
    expect(await wire(await call("transfer", await as.sign({ scope: "mcp:tools" })))).toStrictEqual({
      status: 403,
      headers: {
        "content-type": "application/json",
        "cache-control": "no-store",
        "www-authenticate": `Bearer error="insufficient_scope", scope="mcp:tools payments:send", resource_metadata="${metadataUrl}"`,
        ...cors
      },
      body: JSON.stringify({ error: "insufficient_scope", error_description: "this request needs the scope payments:send" })
    })
  })

  it("a token without the scope every request needs gets 403 naming it", async () => {
    const res = await call("whoami", await as.sign({ scope: "" }))
    expect(res.status).toBe(403)
    expect(res.headers.get("www-authenticate")).toBe(`Bearer error="insufficient_scope", scope="mcp:tools", resource_metadata="${metadataUrl}"`)
  })

  it("a batch is judged by every tool it calls", async () => {
    const res = await callBoth(await as.sign({ scope: "mcp:tools" }))
    expect(res.status).toBe(403)
  })
})

describe("RFC 9470 §3: a tool's maximum authentication age (toolMaxAuthAge), the 401", () => {
  const tooOld = {
    status: 401,
    headers: {
      "content-type": "application/json",
      "cache-control": "no-store",
      "www-authenticate":
        `Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", max_age="300", resource_metadata="${metadataUrl}"`,
      ...cors
    },
    body: JSON.stringify({ error: "insufficient_user_authentication", error_description: "A different authentication level is required" })
  }
  const stepUp = "mcp:tools payments:send"

  it("transfer (300 s) with a login 4 minutes old passes; 6 minutes old, or no auth_time at all, is the 401 with max_age", async () => {
    const before = seen.length
    expect((await call("transfer", await as.sign({ scope: stepUp, auth_time: nowSeconds() - 240 }))).status).toBe(200)
    expect(seen.length).toBe(before + 1)
    expect(await wire(await call("transfer", await as.sign({ scope: stepUp, auth_time: nowSeconds() - 360 })))).toStrictEqual(tooOld)
    expect(await wire(await call("transfer", await as.sign({ scope: stepUp })))).toStrictEqual(tooOld)
    // refused before the server's handler ran
    expect(seen.length).toBe(before + 1)
  })

  it("the scope is checked first: without payments:send an old login is the 403 (one step-up login answers both)", async () => {
    const res = await call("transfer", await as.sign({ scope: "mcp:tools", auth_time: nowSeconds() - 3600 }))
    expect({ status: res.status, challenge: res.headers.get("www-authenticate") }).toStrictEqual({
      status: 403,
      challenge: `Bearer error="insufficient_scope", scope="mcp:tools payments:send", resource_metadata="${metadataUrl}"`
    })
  })

  it("a tool without a maximum age takes any login; a batch calling transfer needs its age", async () => {
    const old = await as.sign({ scope: stepUp, auth_time: nowSeconds() - 3600 })
    expect((await call("whoami", old)).status).toBe(200)
    expect(await wire(await callBoth(old))).toStrictEqual(tooOld)
  })

  it("a maximum age that is not a non-negative integer is refused at once", () => {
    for (const age of [-1, 1.5, Number.NaN]) {
      expect(() => Handler.fetchHandler({ resource, issuer, toolMaxAuthAge: { transfer: age } }, async () => new Response()))
        .toThrow("@tessera/mcp: toolMaxAuthAge values must be non-negative integers (seconds)")
    }
  })
})

describe("MCP \"Token Passthrough\": the handler gets the claims, never the token", () => {
  it("the verified claims (act included), AuthInfo without the token, the parsed body; CORS on the answer", async () => {
    const token = await as.sign({ scope: "mcp:tools payments:send", act: { sub: "agent-7" }, auth_time: nowSeconds() - 60 })
    seen.length = 0
    const res = await call("transfer", token)
    expect(res.status).toBe(200)
    expect(res.headers.get("access-control-expose-headers")).toBe(cors["access-control-expose-headers"])
    expect(seen).toHaveLength(1)
    const { claims, authInfo, parsedBody } = seen[0]!
    expect(claims).toMatchObject({ iss: issuer, sub: "person-1", aud: resource, client_id: "client-1", scope: ["mcp:tools", "payments:send"], act: { sub: "agent-7" } })
    expect(authInfo).toStrictEqual({ token: "", clientId: "client-1", scopes: ["mcp:tools", "payments:send"], expiresAt: claims.exp, resource: new URL(resource), extra: { claims } })
    expect(JSON.stringify(seen)).not.toContain(token)
    expect(parsedBody).toStrictEqual({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "transfer", arguments: {} } })
  })

  it("JSON-RPC §5.1: an authorized request whose body is not JSON is a parse error", async () => {
    const res = await handle(new Request(resource, { method: "POST", headers: { authorization: `Bearer ${await as.sign()}` }, body: "{" }))
    expect(await wire(res)).toStrictEqual({
      status: 400,
      headers: { "content-type": "application/json", ...cors },
      body: JSON.stringify({ jsonrpc: "2.0", error: { code: -32700, message: "Parse error: the body is not JSON" }, id: null })
    })
  })
})

describe("RFC 7517 §4.5: keys by kid, refetched for an unknown kid at most once per cooldown", () => {
  it("a token signed by a key published after the first fetch verifies once the set is fetched again", async () => {
    const first = as.fetched.length
    expect((await call("whoami", await as.sign())).status).toBe(200)
    await as.rotate()
    const signedByNext = await as.sign({}, { kid: "k2", signer: as.nextKey })
    await new Promise((resolve) => setTimeout(resolve, 250))
    expect((await call("whoami", signedByNext)).status).toBe(200)
    // unknown kids inside the cooldown fetch nothing more
    const before = as.fetched.length
    for (let i = 0; i < 5; i++) expect((await call("whoami", await as.sign({}, { kid: `made-up-${i}` }))).status).toBe(401)
    expect(as.fetched.length - before).toBeLessThanOrEqual(1)
    expect(as.fetched.slice(first).every((url) => url.startsWith("https://as.example.com/"))).toBe(true)
  })

  it("the issuer unreachable on the first fetch: 503 with Retry-After, never a 500", async () => {
    const down = await makeIssuer()
    down.setDown(true)
    const h = Handler.fetchHandler({ resource, issuer, fetch: down.fetch }, async () => new Response())
    const res = await h(new Request(resource, { method: "POST", headers: { authorization: `Bearer ${await down.sign()}` } }))
    expect(await wire(res)).toStrictEqual({
      status: 503,
      headers: { "content-type": "application/json", "cache-control": "no-store", "retry-after": "5", ...cors },
      body: JSON.stringify({ error: "temporarily_unavailable", error_description: "the authorization server's keys are unavailable" })
    })
  })
})

describe("the Node handler form", () => {
  let server: Http.Server
  let base: string
  beforeAll(async () => {
    server = Http.createServer(Handler.nodeHandler({ resource: "http://127.0.0.1/mcp", issuer, scopes: ["mcp:tools"], fetch: as.fetch, maxBodyBytes: 64 }, (_req, res, context) => {
      res.writeHead(200, { "content-type": "application/json" })
      res.end(JSON.stringify({ sub: context.claims.sub, body: context.parsedBody }))
    }))
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  })
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

  it("401 without a token; the claims and the body with one; 413 past the body limit", async () => {
    const none = await fetch(`${base}/mcp`, { method: "POST", body: "{}" })
    expect(none.status).toBe(401)
    expect(none.headers.get("www-authenticate")).toBe(`Bearer resource_metadata="http://127.0.0.1/.well-known/oauth-protected-resource/mcp", scope="mcp:tools"`)
    const token = await as.sign({ aud: "http://127.0.0.1/mcp" })
    const ok = await fetch(`${base}/mcp`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: "{\"a\":1}" })
    expect({ status: ok.status, body: await ok.json(), cors: ok.headers.get("access-control-allow-origin") }).toStrictEqual({ status: 200, body: { sub: "person-1", body: { a: 1 } }, cors: "*" })
    const big = await fetch(`${base}/mcp`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ a: "x".repeat(100) }) })
    expect({ status: big.status, body: await big.json() }).toStrictEqual({ status: 413, body: { error: "invalid_request", error_description: "the body is larger than 64 bytes" } })
    const prm = await fetch(`${base}/.well-known/oauth-protected-resource/mcp`)
    expect(await prm.json()).toMatchObject({ resource: "http://127.0.0.1/mcp", authorization_servers: [issuer], scopes_supported: ["mcp:tools"] })
  })
})
