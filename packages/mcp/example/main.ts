/**
 * The example MCP server of CONTRACT §6, and the template for a real one: Streamable HTTP at `/mcp` (stateless),
 * fronted by Tessera through `@tessera/mcp`, with two tools:
 * - `whoami`: the JSON `{"sub", "client_id", "scope", "act"}` of the caller's token (`act` only when it has one);
 * - `transfer` `{"to": string, "amount": number}`: needs `payments:send`, a step-up scope (403 until the token has it),
 *   and a login at most 5 minutes old (RFC 9470: 401 `insufficient_user_authentication` with `max_age` otherwise).
 *
 *   npm run mcp:example -- --issuer https://tessera.example/realms/acme --port 3001 [--public-url https://mcp.example/mcp]
 *
 * Built only from `@tessera/mcp` and `@modelcontextprotocol/sdk`. The token never reaches the tools: they get its
 * verified claims, so nothing here could forward it upstream.
 */
import * as Http from "node:http"
import { parseArgs } from "node:util"
import { Server } from "@modelcontextprotocol/sdk/server/index.js"
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js"
import { CallToolRequestSchema, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js"
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js"
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

/** One MCP server per request (the SDK's stateless pattern): nothing of one caller is kept for the next. */
const mcpServer = () => {
  const server = new Server({ name: "tessera-mcp-example", version: "1.0.0" }, { capabilities: { tools: {} } })
  server.setRequestHandler(ListToolsRequestSchema, () => ({
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
  server.setRequestHandler(CallToolRequestSchema, (request, extra) => {
    const claims = ProtectedResource.claimsOf(extra)
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
      const server = mcpServer()
      const transport = new StreamableHTTPServerTransport({ enableJsonResponse: true })
      res.on("close", () => {
        void transport.close()
        void server.close()
      })
      await server.connect(transport)
      await transport.handleRequest(Object.assign(req, { auth: context.authInfo }), res, context.parsedBody)
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
    http.close(() => process.exit(0))
    http.closeAllConnections()
  })
}
