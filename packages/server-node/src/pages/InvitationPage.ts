/**
 * The invitation page (CONTRACT §4, issue 14, ADR 0037): a `<form method="post">` with inputs `username`, `password`
 * and optional `name`, and the hidden `csrf` a driver submits unchanged; the page that says the account exists; and
 * the pages for an invitation that cannot be used (410) or is unknown (404). They link to nothing.
 */
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { html } from "./Html.js"
import * as Page from "./Page.js"

export interface FormInput {
  readonly realmDisplayName: string
  readonly role: "admin" | "member"
  readonly csrf: string
  /** What was typed before (the form shown again); it stays editable. Never the password. */
  readonly username?: string | undefined
  readonly name?: string | undefined
  /** Fixed text naming what is wrong (the protocol's message for a field, or the page's own), never request input. */
  readonly error?: string | undefined
  /** 200; 400 bad input; 409 a taken username; 413 too large a body (CONTRACT §2). */
  readonly status?: number | undefined
}

export const form = (input: FormInput): HttpServerResponse.HttpServerResponse => {
  const invalid = input.error !== undefined ? html` aria-invalid="true" aria-describedby="invitation-error"` : undefined
  const body = html`<div class="card">
<p class="realm">${input.realmDisplayName}</p>
<h1>Accept your invitation</h1>
<p>You are invited to ${input.realmDisplayName} as ${input.role === "admin" ? "an admin" : "a member"}. Choose a username and a password.</p>
${input.error !== undefined ? html`<p class="error" id="invitation-error" role="alert">${input.error}</p>` : undefined}
<form method="post">
<input type="hidden" name="csrf" value="${input.csrf}">
<label for="username">Username</label>
<input type="text" id="username" name="username" value="${input.username ?? ""}" autocomplete="username" autocapitalize="none" autocorrect="off" spellcheck="false" maxlength="255" required${invalid} autofocus>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="new-password" minlength="8" maxlength="1024" required${invalid}>
<label for="name">Name (optional)</label>
<input type="text" id="name" name="name" value="${input.name ?? ""}" autocomplete="name" maxlength="200">
<div class="actions">
<button type="submit">Create my account</button>
</div>
</form>
</div>`
  return Page.render({ title: "Accept your invitation", body, status: input.status ?? 200 })
}

/** CONTRACT §4: the user exists now. */
export const accepted = (input: { readonly realmDisplayName: string; readonly username: string }) =>
  Page.render({
    title: "Your account is ready",
    body: html`<div class="card">
<p class="realm">${input.realmDisplayName}</p>
<h1>Your account is ready</h1>
<p class="wrap">You can now sign in to applications of ${input.realmDisplayName} as <strong>${input.username}</strong>.</p>
<p class="muted">This invitation cannot be used again. You can close this page.</p>
</div>`
  })

const goneText = {
  accepted: ["This invitation has already been used", "Each invitation creates one account, and this one already did."],
  revoked: ["This invitation was withdrawn", "Whoever invited you revoked it. Ask them for a new one if you still need an account."],
  expired: ["This invitation has expired", "Ask whoever invited you for a new one."]
} as const

/** CONTRACT §4: a used, revoked or expired invitation is a page that says which, 410. */
export const gone = (reason: keyof typeof goneText) => {
  const [heading, text] = goneText[reason]
  return Page.render({ title: heading, body: html`<div class="card">
<h1>${heading}</h1>
<p>${text}</p>
</div>`, status: 410 })
}

/** An unknown secret: 404, without saying whether the realm invites anyone. */
export const unknown = () =>
  Page.render({ title: "Invitation not found", body: html`<div class="card">
<h1>Invitation not found</h1>
<p>This invitation link is not valid. Check that you opened the whole link from your invitation.</p>
</div>`, status: 404 })
