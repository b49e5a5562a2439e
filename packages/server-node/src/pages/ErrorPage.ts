/**
 * The page for errors that must not redirect (OAuth 2.1 §4.1.2.1: an unknown client, a missing or mismatched
 * redirect URI), and for anything else a person reaches that cannot continue. It shows the OAuth error code and
 * the caller's fixed description; the request's own values are never part of it.
 */
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type { ErrorResponse } from "@tessera/protocol"
import { html } from "./Html.js"
import * as Page from "./Page.js"

export interface Input {
  readonly error: ErrorResponse.ErrorCode
  /** Fixed text naming what is wrong ("the redirect_uri is not registered for this client"), never request input. */
  readonly description: string
  readonly status: number
  /** Fixed text said after the description (why the person is not sent anywhere, RFC 9700 §4.11.2). */
  readonly note?: string | undefined
}

const headings: Partial<Record<ErrorResponse.ErrorCode, string>> = {
  invalid_client: "Unknown application",
  invalid_redirect_uri: "This application's address is not registered",
  access_denied: "Access denied",
  server_error: "Something went wrong on our side",
  temporarily_unavailable: "Temporarily unavailable",
  not_found: "Not found"
}

export const errorPage = (input: Input): HttpServerResponse.HttpServerResponse => {
  const heading = headings[input.error] ?? "This request cannot continue"
  const body = html`<div class="card">
<h1>${heading}</h1>
<p class="wrap">${input.description}</p>
${input.note !== undefined ? html`<p>${input.note}</p>
` : ""}<p class="muted">Error code: <code>${input.error}</code></p>
<p class="muted">You can close this page and return to the application you came from.</p>
</div>`
  return Page.render({ title: heading, body, status: input.status })
}

/** The page for an `ErrorResponse` a route already built: its code, description (or a generic one) and status. */
export const fromErrorResponse = (e: ErrorResponse.ErrorResponse): HttpServerResponse.HttpServerResponse =>
  errorPage({ error: e.error, description: e.error_description ?? "The request is not valid.", status: e.httpStatus })
