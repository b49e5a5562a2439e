/**
 * RP-initiated logout (OIDC RP-Initiated Logout 1.0 §2-3): a confirmation form, then a "signed out" page that
 * embeds one iframe per client of the session (OIDC Front-Channel Logout 1.0 §4: the caller builds each URL with
 * `iss` and `sid`). `frame-src` names exactly those origins, on that page only.
 */
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { html } from "./Html.js"
import * as Page from "./Page.js"

export interface LogoutInput {
  readonly csrf: string
  /** Server-side state of this logout request (id_token_hint, post_logout_redirect_uri, state), if any. */
  readonly interaction?: string | undefined
  readonly realmDisplayName?: string | undefined
  /** The client that asked, when `id_token_hint` or `client_id` named one. */
  readonly clientName?: string | undefined
  readonly username?: string | undefined
  /** Where the form posts; absent, it posts back to the page's own URL. */
  readonly action?: string | undefined
  /**
   * The `post_logout_redirect_uri` the POST may redirect to: `form-action` must allow its origin, or Chrome and
   * Safari block that redirect.
   */
  readonly redirectUri?: string | undefined
}

/** "Sign out?": the hidden `csrf` (and `interaction`) and a "Sign out" button. */
export const logout = (input: LogoutInput): HttpServerResponse.HttpServerResponse => {
  const body = html`<div class="card">
${input.realmDisplayName !== undefined ? html`<p class="realm">${input.realmDisplayName}</p>` : undefined}
<h1>Sign out?</h1>
${input.clientName !== undefined
    ? html`<p class="wrap"><strong>${input.clientName}</strong> asks to sign you out.</p>`
    : undefined}
${input.username !== undefined ? html`<p class="muted wrap">Signed in as <strong>${input.username}</strong></p>` : undefined}
<form method="post"${input.action !== undefined ? html` action="${input.action}"` : undefined}>
<input type="hidden" name="csrf" value="${input.csrf}">
${input.interaction !== undefined ? html`<input type="hidden" name="interaction" value="${input.interaction}">` : undefined}
<div class="actions">
<button type="submit">Sign out</button>
</div>
</form>
</div>`
  return Page.render({
    title: "Sign out",
    body,
    formTargets: input.redirectUri !== undefined ? [input.redirectUri] : []
  })
}

export interface SignedOutInput {
  readonly realmDisplayName?: string | undefined
  /** Front-channel logout URLs, each with `iss` and `sid` already added; only http(s) URLs are framed. */
  readonly frontChannel: ReadonlyArray<string>
  /**
   * The validated `post_logout_redirect_uri` (with `state`), offered as a link named by its host (what the person
   * can check), never by the client's self-chosen `client_name`; no script redirects.
   */
  readonly continueTo?: string | undefined
}

/**
 * Front-Channel Logout §3 frames a client's page inside Tessera's (ADR 0026): `sandbox` keeps only what a client's
 * logout page needs to clear its own state, scripts and its own origin (its cookies and storage); it may not
 * navigate the top page, open pop-ups, submit forms, show dialogs or download. `no-referrer`: the page's URL (and
 * with it the realm) is not sent along.
 */
const frame = (uri: string) =>
  html`<iframe src="${uri}" title="Signing out of an application" sandbox="allow-scripts allow-same-origin" referrerpolicy="no-referrer" hidden></iframe>`

/** "You are signed out", with the hidden front-channel iframes and an optional link back to the client. */
export const signedOut = (input: SignedOutInput): HttpServerResponse.HttpServerResponse => {
  const frames = input.frontChannel.filter((uri) => Page.isSafeTarget(uri, "frame"))
  const next = input.continueTo !== undefined && Page.isSafeTarget(input.continueTo) ? input.continueTo : undefined
  const body = html`<div class="card">
${input.realmDisplayName !== undefined ? html`<p class="realm">${input.realmDisplayName}</p>` : undefined}
<h1>You are signed out</h1>
<p>You can close this page.</p>
${next !== undefined ? html`<p><a class="button" href="${next}">Return to ${Page.displayHost(next)}</a></p>` : undefined}
${frames.map(frame)}
</div>`
  return Page.render({ title: "Signed out", body, frames })
}
