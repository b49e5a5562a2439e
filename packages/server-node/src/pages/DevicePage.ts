/**
 * The device verification pages (CONTRACT §4, RFC 8628 §3.3): the `<form method="post">` with input `user_code` and
 * the hidden `csrf` a driver submits unchanged, and the page that ends the flow in the browser. A code from
 * `verification_uri_complete` is only filled in: the person still presses Continue (§5.4), and the consent page that
 * follows shows the code again.
 */
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { html } from "./Html.js"
import * as Page from "./Page.js"

/** Why the form is shown again. The page owns the wording, so no caller can echo input into it. */
export type Problem =
  | { readonly _tag: "InvalidCode" }
  | { readonly _tag: "Throttled"; readonly retryAfterSeconds: number }
  | { readonly _tag: "FormExpired" }

export const invalidCode: Problem = { _tag: "InvalidCode" }
export const formExpired: Problem = { _tag: "FormExpired" }
export const throttled = (retryAfterSeconds: number): Problem => ({ _tag: "Throttled", retryAfterSeconds })

/** Whole seconds, at least 1: what `Retry-After` and the message say. */
const seconds = (n: number) => Number.isFinite(n) ? Math.max(1, Math.ceil(n)) : 1

export const message = (problem: Problem): string => {
  switch (problem._tag) {
    case "InvalidCode":
      return "That code is not valid. Check the code on your device and try again; codes expire after 10 minutes."
    case "FormExpired":
      return "The form has expired. Enter the code again."
    case "Throttled": {
      const n = seconds(problem.retryAfterSeconds)
      return `Too many attempts; try again in ${n} ${n === 1 ? "second" : "seconds"}.`
    }
  }
}

/** A wrong code is 400, throttling 429 (with `Retry-After`). */
const statusOf = (problem: Problem | undefined) => problem === undefined ? 200 : problem._tag === "Throttled" ? 429 : 400

export interface Input {
  readonly realmDisplayName: string
  readonly csrf: string
  /** Where the form posts (`verification_uri`). */
  readonly action: string
  /** Filled in: from `verification_uri_complete`, or what was typed before an error. It stays editable. */
  readonly userCode?: string | undefined
  /** The code came from `verification_uri_complete`: ask the person to compare it with their device. */
  readonly prefilled?: boolean | undefined
  readonly error?: Problem | undefined
}

export const enter = (input: Input): HttpServerResponse.HttpServerResponse => {
  const problem = input.error === undefined ? undefined : message(input.error)
  const invalid = problem !== undefined ? html` aria-invalid="true" aria-describedby="device-error"` : undefined
  const body = html`<div class="card">
<p class="realm">${input.realmDisplayName}</p>
<h1>Connect a device</h1>
<p>Enter the code your device shows.</p>
${input.prefilled && problem === undefined ? html`<p class="notice">Check that this is the code your device shows, then continue.</p>` : undefined}
${problem !== undefined ? html`<p class="error" id="device-error" role="alert">${problem}</p>` : undefined}
<form method="post" action="${input.action}">
<input type="hidden" name="csrf" value="${input.csrf}">
<label for="user_code">Code</label>
<input type="text" id="user_code" name="user_code" value="${input.userCode ?? ""}" autocomplete="off" autocapitalize="characters" autocorrect="off" spellcheck="false" maxlength="32" placeholder="XXXX-XXXX" required autofocus${invalid}>
<div class="actions">
<button type="submit">Continue</button>
</div>
</form>
</div>`
  const retryAfter = input.error?._tag === "Throttled" ? { "retry-after": String(seconds(input.error.retryAfterSeconds)) } : {}
  return Page.render({ title: "Connect a device", body, status: statusOf(input.error), headers: retryAfter })
}

export interface Done {
  readonly realmDisplayName: string
  readonly clientName: string
  readonly approved: boolean
}

/** After the decision: nothing goes back to the browser's caller; the device learns it by polling (RFC 8628 §3.4). */
export const done = (input: Done): HttpServerResponse.HttpServerResponse => {
  const heading = input.approved ? "Device connected" : "Access denied"
  const body = html`<div class="card">
<p class="realm">${input.realmDisplayName}</p>
<h1>${heading}</h1>
<p class="wrap">${input.approved
    ? html`You allowed <strong>${input.clientName}</strong> to access your account. Return to your device: it will continue on its own.`
    : html`<strong>${input.clientName}</strong> did not get access to your account. You can close this page.`}</p>
</div>`
  return Page.render({ title: heading, body })
}
