/**
 * OAuth 2.0 Form Post Response Mode (§2): the authorization response as hidden inputs of a form that posts to the
 * redirect URI. The spec's example submits it with a script; Tessera runs no JavaScript, so the person presses a
 * visible "Continue" button. `form-action` allows the redirect URI's origin on this page only.
 */
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { errorPage } from "./ErrorPage.js"
import { html } from "./Html.js"
import * as Page from "./Page.js"

export interface Input {
  /** The (already validated) redirect URI of the request: the form's action. */
  readonly redirectUri: string
  /**
   * The response parameters in order (`code`, `state`, `iss`; or `error`, `error_description`, `state`, `iss`).
   * An undefined value is left out.
   */
  readonly params: Readonly<Record<string, string | undefined>>
  readonly clientName?: string | undefined
}

export const formPost = (input: Input): HttpServerResponse.HttpServerResponse => {
  // defence in depth: redirect URIs are validated at registration, but a `javascript:` action must never render
  if (!Page.isSafeTarget(input.redirectUri)) {
    return errorPage({
      error: "invalid_request",
      description: "The application's redirect URI cannot receive this response.",
      status: 400
    })
  }
  const fields = Object.entries(input.params).flatMap(([name, value]) =>
    value === undefined ? [] : [html`<input type="hidden" name="${name}" value="${value}">`]
  )
  const to = input.clientName ?? Page.displayHost(input.redirectUri)
  const body = html`<div class="card">
<h1>Continue</h1>
<p class="wrap">Press Continue to return to <strong>${to}</strong>.</p>
<form method="post" action="${input.redirectUri}">
${fields}
<div class="actions">
<button type="submit">Continue</button>
</div>
</form>
</div>`
  return Page.render({ title: "Continue", body, formTargets: [input.redirectUri] })
}
