/**
 * Delivering the authorization response to the client's redirect URI (OAuth 2.1 §4.1.2 and §4.1.2.1, RFC 9207 §2):
 * a 302 with the parameters in the query (`response_mode=query`), or the Form Post Response Mode page.
 */
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect } from "effect"
import { Authorize } from "@tessera/domain"
import type { Client } from "@tessera/domain"
import type { ErrorResponse } from "@tessera/protocol"
import * as ErrorPage from "../pages/ErrorPage.js"
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

/**
 * The longest `Location` Tessera sends: 8 KiB, what common reverse proxies pass (nginx's default header buffers) and
 * what browsers follow. A form of up to 64 KiB echoed into a URL (percent-encoding triples non-ASCII bytes) would
 * make a redirect nobody can follow (issue 12, found by the fuzzer).
 */
export const maxLocationLength = 8192

/** The page instead of a redirect whose `Location` would be longer than `maxLocationLength`. */
export const tooLongToRedirect = () =>
  ErrorPage.errorPage({ error: "invalid_request", description: "The request is too long to be sent on by redirect.", status: 400 })

/** A redirect to `location` with `status`, never cached nor leaking a Referer; the error page when it is too long. */
export const redirect = (location: string, status: 302 | 303) =>
  location.length > maxLocationLength ? tooLongToRedirect() : HttpServerResponse.empty({
    status,
    headers: { location, "cache-control": "no-store", "referrer-policy": "no-referrer" }
  })

const deliver = (target: Target, params: ReadonlyArray<readonly [string, string | undefined]>) => {
  const present = params.filter((p): p is readonly [string, string] => p[1] !== undefined)
  if (target.responseMode === "form_post") {
    return FormPostPage.formPost({
      redirectUri: target.redirectUri,
      params: Object.fromEntries(present),
      clientName: target.clientName
    })
  }
  return redirect(withQuery(target.redirectUri, present), 302)
}

/** OAuth 2.1 §4.1.2: `code`, `state` when the request had one, and `iss` (RFC 9207 §2). */
export const code = (target: Target, issuer: string, value: string) =>
  deliver(target, [["code", value], ["state", target.state], ["iss", issuer]])

/** OAuth 2.1 §4.1.2.1: `error`, `error_description`, `state`, and `iss` (RFC 9207 §2). */
export const error = (target: Target, issuer: string, e: ErrorResponse.ErrorResponse) =>
  deliver(target, [["error", e.error], ["error_description", e.error_description], ["state", target.state], ["iss", issuer]])

/**
 * An error for the client (a refused request, `prompt=none`, a person's refusal): to its redirect URI when that may
 * be used without a person having approved the client (`Authorize.redirectsUnattended`); else, RFC 9700 §4.11.2
 * (CONTRACT §4, ADR 0026), the error page (400, naming the error) and no redirect, so that Tessera's origin never
 * forwards a person to a URI that only a self-registered client vouches for.
 */
export const errorToClient = (client: Client.Client, target: Target, issuer: string, e: ErrorResponse.ErrorResponse) =>
  Effect.map(Authorize.redirectsUnattended(client), (unattended) => unattended ? error(target, issuer, e) : notRedirected(e))

/** RFC 9700 §4.11.2: the error page for a client whose redirect URI nobody of the realm has vouched for yet. */
export const notRedirected = (e: ErrorResponse.ErrorResponse) =>
  ErrorPage.errorPage({
    error: e.error,
    description: e.error_description ?? "The request is not valid.",
    status: 400,
    note: "You were not sent back to the application: nobody in this realm has approved it yet."
  })
