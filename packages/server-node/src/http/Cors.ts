/**
 * CORS for the endpoints browser-based clients call cross-origin (MCP 2025-11-25 "Authorization Server Discovery";
 * MCP Inspector and web portals): the token and registration endpoints answer any origin and their preflights allow
 * the headers MCP clients send. No cookies are involved there (`Access-Control-Allow-Credentials` is never sent),
 * so `*` lets no site act with a person's session.
 */
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect } from "effect"

export const headers: Readonly<Record<string, string>> = {
  "access-control-allow-origin": "*",
  // RFC 9449 §7.1, §8: a browser-based client reads the nonce and the challenge only if they are exposed
  "access-control-expose-headers": "DPoP-Nonce, WWW-Authenticate"
}

/** The preflight: the methods given, MCP's and OAuth's request headers, cached a day. */
export const preflight = (methods: string) =>
  Effect.succeed(HttpServerResponse.empty({
    status: 204,
    headers: {
      ...headers,
      "access-control-allow-methods": `${methods}, OPTIONS`,
      "access-control-allow-headers": "MCP-Protocol-Version, Authorization, Content-Type, DPoP",
      "access-control-max-age": "86400"
    }
  }))

/** Every answer of `handler`, errors included, readable by any origin. */
export const open = <E, R>(handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
  Effect.map(handler, (response) => HttpServerResponse.setHeaders(response, headers))
