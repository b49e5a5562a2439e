/**
 * The world of the MCP SDK end-to-end suites (CONTRACT §6): a real Tessera process (TESSERA_DEV_INSECURE_CIMD=1), a
 * realm with Ada, the example MCP server registered as its resource (`payments:send` a step-up scope), and the
 * client's metadata document served on loopback (Claude Code's shape: portless loopback redirect URIs, no secret).
 */
import * as Http from "node:http"
import type * as Net from "node:net"
import { adminCall, startMcpExample, startTessera } from "./Process.js"

export const login = { username: "ada", password: "correct horse battery staple" }

/** `document`: the metadata beside `client_id` (which is always the document's own URL). */
export const mcpWorld = async (prefix: string, document: Readonly<Record<string, unknown>>) => {
  const { base } = await startTessera({ TESSERA_DEV_INSECURE_CIMD: "1" })
  const realm = `${prefix}-${process.pid}-${Date.now().toString(36)}`
  const issuer: string = (await adminCall(base, "/admin/realms", { name: realm }))["issuer"]
  const sub: string = (await adminCall(base, `/admin/realms/${realm}/users`, { ...login, email: "ada@example.com", name: "Ada" }))["sub"]
  const { url: mcpUrl } = await startMcpExample(issuer)
  // CONTRACT §6: the operator registers the server's /mcp URL, transfer's scope as a step-up scope
  await adminCall(base, `/admin/realms/${realm}/resources`, { uri: mcpUrl, scopes: ["mcp:tools", "payments:send"], step_up_scopes: ["payments:send"] })
  let documentUrl = ""
  const documentServer = Http.createServer((req, res) => {
    if (req.url !== "/client.json") return void res.writeHead(404).end()
    res.writeHead(200, { "content-type": "application/json", "cache-control": "max-age=300" }).end(JSON.stringify({ client_id: documentUrl, ...document }))
  })
  await new Promise<void>((resolve) => documentServer.listen(0, "127.0.0.1", resolve))
  documentUrl = `http://127.0.0.1:${(documentServer.address() as Net.AddressInfo).port}/client.json`
  return {
    base, realm, issuer, sub, mcpUrl, documentUrl,
    close: () => new Promise<void>((resolve) => documentServer.close(() => resolve()))
  }
}
