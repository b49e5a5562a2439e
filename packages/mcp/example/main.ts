/**
 * The example MCP server of CONTRACT §6, and the template for a real one: Streamable HTTP at `/mcp`, stateless, MCP
 * 2026-07-28 (every request carries its own protocol version and is answered by a fresh server; `server/discover`)
 * and, for 2025-era clients, the SDK's stateless fallback (ADR 0046). Fronted by Tessera through `@tessera/mcp`,
 * which validates the token on every request before the SDK sees it. Two tools:
 * - `whoami`: the JSON `{"sub", "client_id", "scope", "act"}` of the caller's token (`act` only when it has one);
 * - `transfer` `{"to": string, "amount": number}`: needs `payments:send`, a step-up scope (403 until the token has it),
 *   and a login at most 5 minutes old (RFC 9470: 401 `insufficient_user_authentication` with `max_age` otherwise).
 *
 *   npm run mcp:example -- --issuer https://tessera.example/realms/acme --port 3001 [--public-url https://mcp.example/mcp]
 *
 * Built only from `@tessera/mcp` and `@modelcontextprotocol/server` (SDK 2). The token never reaches the tools: they
 * get its verified claims, so nothing here could forward it upstream.
 */
import * as Http from "node:http"
import { parseArgs } from "node:util"
import { createMcpHandler, Server } from "@modelcontextprotocol/server"
import type { CallToolResult } from "@modelcontextprotocol/server"
import { Handler, ProtectedResource } from "@tessera/mcp"

/** The scope every request needs, and the step-up scope of `transfer` (register both on the resource in Tessera). */
const toolsScope = "mcp:tools"
const sendScope = "payments:send"
/** RFC 9470 §3 `max_age` of `transfer`: Tessera's step-up window (CONTRACT §5), so a refreshed token cannot send. */
const sendMaxAuthAge = 300

const fail = (message: string): never => {
  console.error(`mcp example: ${message}`)
  process.exit(2)
}

const { values } = parseArgs({
  options: { issuer: { type: "string" }, port: { type: "string" }, "public-url": { type: "string" } },
  strict: true
})
const issuer = values.issuer ?? fail("--issuer <realm issuer> is required")
const port = Number(values.port ?? "0")
if (!Number.isInteger(port) || port < 0 || port > 65535) fail("--port must be a port number")

const text = (value: unknown): CallToolResult => ({ content: [{ type: "text", text: JSON.stringify(value) }] })

/** One MCP server per request (`createMcpHandler`'s factory): nothing of one caller is kept for the next. */
const mcpServer = () => {
  const server = new Server({ name: "tessera-mcp-example", version: "1.0.0" }, { capabilities: { tools: {} } })
  server.setRequestHandler("tools/list", () => ({
    tools: [
      {
        name: "whoami",
        description: "Who is calling: the person (sub), the client, the granted scope and the acting agent, if any.",
        inputSchema: { type: "object", properties: {} }
      },
      {
        name: "transfer",
        description: `Send money. Needs the '${sendScope}' scope, which asks the person to sign in again (step-up).`,
        inputSchema: {
          type: "object",
          properties: { to: { type: "string" }, amount: { type: "number" } },
          required: ["to", "amount"]
        }
      }
    ]
  }))
  server.setRequestHandler("tools/call", (request, ctx): CallToolResult => {
    const claims = ProtectedResource.claimsOf(ctx.http)
    // the Handler only passes authorized requests; this is the tool's own guard, should it ever be mounted elsewhere
    if (claims === undefined) return { isError: true, content: [{ type: "text", text: "not authorized" }] }
    switch (request.params.name) {
      case "whoami":
        return text({
          sub: claims.sub,
          client_id: claims.client_id,
          scope: claims.scope.join(" "),
          ...(claims.act !== undefined ? { act: claims.act } : {})
        })
      case "transfer": {
        if (!claims.scope.includes(sendScope)) return { isError: true, content: [{ type: "text", text: `needs ${sendScope}` }] }
        const { to, amount } = (request.params.arguments ?? {}) as { to?: unknown; amount?: unknown }
        if (typeof to !== "string" || typeof amount !== "number" || !Number.isFinite(amount) || amount <= 0) {
          return { isError: true, content: [{ type: "text", text: "arguments must be {\"to\": string, \"amount\": positive number}" }] }
        }
        return text({ status: "sent", to, amount, by: claims.sub, client_id: claims.client_id })
      }
      default:
        return { isError: true, content: [{ type: "text", text: `unknown tool '${request.params.name}'` }] }
    }
  })
  return server
}

/** MCP 2026-07-28 and, for 2025-era clients, a stateless fallback from the same factory. */
const mcp = createMcpHandler(mcpServer, { legacy: "stateless", responseMode: "json" })

const http = Http.createServer()
http.listen(port, "127.0.0.1", () => {
  const bound = (http.address() as { port: number }).port
  const publicUrl = values["public-url"] ?? `http://127.0.0.1:${bound}/mcp`
  let path: string
  try {
    path = new URL(publicUrl).pathname
  } catch {
    return fail("--public-url must be an absolute URL")
  }
  // CONTRACT §6: Streamable HTTP at /mcp, metadata at /.well-known/oauth-protected-resource/mcp
  if (path !== "/mcp") fail("--public-url must end in /mcp")
  let handler: ReturnType<typeof Handler.nodeHandler<Http.IncomingMessage, Http.ServerResponse>>
  try {
    handler = Handler.nodeHandler<Http.IncomingMessage, Http.ServerResponse>({
      resource: publicUrl,
      issuer,
      scopes: [toolsScope],
      requiredScopes: [toolsScope],
      toolScopes: { transfer: [sendScope] },
      toolMaxAuthAge: { transfer: sendMaxAuthAge },
      resourceName: "Tessera MCP example"
    }, async (req, res, context) => {
      // the SDK's web-standard face: the body is already read (and authorized), so it goes as parsedBody
      const headers = new Headers()
      for (const [name, value] of Object.entries(req.headers)) {
        if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(", ") : value)
      }
      const response = await mcp.fetch(
        new Request(new URL(req.url ?? "/", publicUrl), {
          method: req.method ?? "POST",
          headers,
          ...(context.parsedBody !== undefined ? { body: JSON.stringify(context.parsedBody) } : {})
        }),
        { authInfo: context.authInfo, parsedBody: context.parsedBody }
      )
      const out: Record<string, string> = {}
      response.headers.forEach((value, name) => {
        out[name] = value
      })
      res.writeHead(response.status, out)
      const reader = response.body?.getReader()
      for (let part = await reader?.read(); part !== undefined && !part.done; part = await reader?.read()) res.write(part.value)
      res.end()
    })
  } catch (e) {
    return fail(e instanceof Error ? e.message : String(e))
  }
  http.on("request", (req, res) => void handler(req, res))
  console.log(`mcp example listening on ${publicUrl}`)
})
http.on("error", (e) => fail(e.message))

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    void mcp.close()
    http.close(() => process.exit(0))
    http.closeAllConnections()
  })
}
