/**
 * The login form (CONTRACT §4): `<form method="post">` with inputs `username` and `password` and the hidden fields
 * `csrf` and `interaction`, which a driver submits unchanged. The same form serves step-up (`prompt=login`,
 * `max_age`, `acr_values`) under the heading "Confirm it's you".
 */
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { html } from "./Html.js"
import * as Page from "./Page.js"

/** Why the form is shown again. The page owns the wording, so no caller can echo input into it. */
export type Problem =
  | { readonly _tag: "InvalidCredentials" }
  | { readonly _tag: "Throttled"; readonly retryAfterSeconds: number }

export const invalidCredentials: Problem = { _tag: "InvalidCredentials" }
export const throttled = (retryAfterSeconds: number): Problem => ({ _tag: "Throttled", retryAfterSeconds })

/** Whole seconds, at least 1: what `Retry-After` and the message say. */
const seconds = (n: number) => Number.isFinite(n) ? Math.max(1, Math.ceil(n)) : 1

export const message = (problem: Problem): string => {
  switch (problem._tag) {
    case "InvalidCredentials":
      return "Wrong username or password."
    case "Throttled": {
      const n = seconds(problem.retryAfterSeconds)
      return `Too many attempts; try again in ${n} ${n === 1 ? "second" : "seconds"}.`
    }
  }
}

/** Wrong credentials are 400 (401 would need a `WWW-Authenticate` challenge, RFC 9110 §15.5.2); throttling is 429. */
const statusOf = (problem: Problem | undefined) =>
  problem === undefined ? 200 : problem._tag === "Throttled" ? 429 : 400

export interface Input {
  readonly realmDisplayName: string
  readonly clientName: string
  readonly csrf: string
  readonly interaction: string
  /** Prefilled (a failed attempt, `login_hint`, or the signed-in user on step-up); it stays editable. */
  readonly username?: string | undefined
  readonly error?: Problem | undefined
  /** An informational line above the form (fixed text chosen by the caller, never request input). */
  readonly notice?: string | undefined
  /** Step-up: a fresh authentication of someone already signed in. */
  readonly stepUp?: boolean | undefined
  /** Where the form posts; absent, it posts back to the page's own URL. */
  readonly action?: string | undefined
  /**
   * The client's redirect URI when a successful POST may redirect straight to it (consent already given):
   * `form-action` must allow its origin, or Chrome and Safari block that redirect.
   */
  readonly redirectUri?: string | undefined
  /** Overrides the status (200, 400 after wrong credentials, 429 when throttled). */
  readonly status?: number | undefined
}

export const login = (input: Input): HttpServerResponse.HttpServerResponse => {
  const heading = input.stepUp ? "Confirm it's you" : "Sign in"
  const problem = input.error === undefined ? undefined : message(input.error)
  const invalid = problem !== undefined ? html` aria-invalid="true" aria-describedby="login-error"` : undefined
  const body = html`<div class="card">
<p class="realm">${input.realmDisplayName}</p>
<h1>${heading}</h1>
<p class="wrap">${input.stepUp ? "Enter your password again to continue to " : "to continue to "}<strong>${input.clientName}</strong></p>
${input.notice !== undefined ? html`<p class="notice">${input.notice}</p>` : undefined}
${problem !== undefined ? html`<p class="error" id="login-error" role="alert">${problem}</p>` : undefined}
<form method="post"${input.action !== undefined ? html` action="${input.action}"` : undefined}>
<input type="hidden" name="csrf" value="${input.csrf}">
<input type="hidden" name="interaction" value="${input.interaction}">
<label for="username">Username</label>
<input type="text" id="username" name="username" value="${input.username ?? ""}" autocomplete="username" autocapitalize="none" autocorrect="off" spellcheck="false" maxlength="256" required${invalid}${input.username === undefined || input.username === "" ? html` autofocus` : undefined}>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" maxlength="1024" required${invalid}${input.username !== undefined && input.username !== "" ? html` autofocus` : undefined}>
<div class="actions">
<button type="submit">${input.stepUp ? "Confirm" : "Sign in"}</button>
</div>
</form>
</div>`
  const retryAfter = input.error?._tag === "Throttled" ? { "retry-after": String(seconds(input.error.retryAfterSeconds)) } : {}
  return Page.render({
    title: heading,
    body,
    status: input.status ?? statusOf(input.error),
    headers: retryAfter,
    formTargets: input.redirectUri !== undefined ? [input.redirectUri] : []
  })
}
