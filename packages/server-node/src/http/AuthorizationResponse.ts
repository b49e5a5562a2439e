/**
 * Delivering the authorization response to the client's redirect URI (OAuth 2.1 §4.1.2 and §4.1.2.1, RFC 9207 §2):
 * a 302 with the parameters in the query (`response_mode=query`), or the Form Post Response Mode page.
 */
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type { ErrorResponse } from "@tessera/protocol"
import * as FormPostPage from "../pages/FormPostPage.js"

export interface Target {
  /** A redirect URI already matched to the client's registration. */
  readonly redirectUri: string
  readonly responseMode: "query" | "form_post"
  readonly state?: string | undefined
  readonly clientName?: string | undefined
}

/**
 * RFC 6749 §3.1.2: the redirect URI's own query is kept and the parameters appended. The URI is not re-serialized
 * through `URL`, which could re-encode what the client registered.
 */
export const withQuery = (uri: string, params: ReadonlyArray<readonly [string, string]>) =>
  `${uri}${uri.includes("?") ? (uri.endsWith("?") || uri.endsWith("&") ? "" : "&") : "?"}${new URLSearchParams(params.map(([n, v]) => [n, v])).toString()}`

const deliver = (target: Target, params: ReadonlyArray<readonly [string, string | undefined]>) => {
  const present = params.filter((p): p is readonly [string, string] => p[1] !== undefined)
  if (target.responseMode === "form_post") {
    return FormPostPage.formPost({
      redirectUri: target.redirectUri,
      params: Object.fromEntries(present),
      clientName: target.clientName
    })
  }
  return HttpServerResponse.empty({
    status: 302,
    headers: {
      location: withQuery(target.redirectUri, present),
      "cache-control": "no-store",
      "referrer-policy": "no-referrer"
    }
  })
}

/** OAuth 2.1 §4.1.2: `code`, `state` when the request had one, and `iss` (RFC 9207 §2). */
export const code = (target: Target, issuer: string, value: string) =>
  deliver(target, [["code", value], ["state", target.state], ["iss", issuer]])

/** OAuth 2.1 §4.1.2.1: `error`, `error_description`, `state`, and `iss` (RFC 9207 §2). */
export const error = (target: Target, issuer: string, e: ErrorResponse.ErrorResponse) =>
  deliver(target, [["error", e.error], ["error_description", e.error_description], ["state", target.state], ["iss", issuer]])
