/** @tessera/mcp: what an MCP server needs to be fronted by Tessera (RFC 9728 metadata, challenges, token validation). */
export * as Handler from "./Handler.js"
export * as KeySet from "./KeySet.js"
export * as McpAuth from "./McpAuth.js"
export * as ProtectedResource from "./ProtectedResource.js"
