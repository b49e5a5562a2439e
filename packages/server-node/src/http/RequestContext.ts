/**
 * Who asked, for the audit trail and the throttles (CONTRACT §7): the client's address (`ClientAddress`: the socket
 * peer, or what trusted proxies forwarded, CONTRACT §1) and the User-Agent, cut to a bounded length. One place for
 * every route.
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { Effect } from "effect"
import type { RequestContext } from "@tessera/domain"
import * as ClientAddress from "./ClientAddress.js"

/** How much of a User-Agent the audit trail keeps. */
const maxUserAgent = 512

/** The domain's request context (who asked), as the routes pass it on. */
export type Context = RequestContext.RequestContext

/** The request context from the client address and the User-Agent header as Node gives them. */
export const of = (ip: string | undefined, userAgent: string | undefined): Context => ({
  ...(ip !== undefined ? { ip } : {}),
  ...(userAgent !== undefined && userAgent !== "" ? { userAgent: userAgent.slice(0, maxUserAgent) } : {})
})

/** The current request's context. */
export const current = Effect.map(
  Effect.all([HttpServerRequest.HttpServerRequest, ClientAddress.current]),
  ([request, ip]) => of(ip, request.headers["user-agent"])
)
