/**
 * The consent form (CONTRACT §4): `<form method="post">` with `<button name="decision" value="allow">` and
 * `value="deny"`, plus the hidden `csrf` and `interaction`. It names the client, the host it returns to, the
 * scopes and the resources (issue 4, "Pages"; by the display names and scope descriptions their administrator gave,
 * CONTRACT §3, every one HTML-escaped), and says so when the client is an agent. For a device (RFC 8628 §3.3)
 * it shows the user code to compare with the device's screen instead of a host to return to (§5.4). For a client ID
 * metadata document it names the document's host, and it warns when the redirect is a loopback one (MCP 2025-11-25
 * "Localhost Redirect URI Risks").
 */
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Resource as Registered } from "@tessera/domain"
import { RedirectUri } from "@tessera/protocol"
import { html } from "./Html.js"
import * as Page from "./Page.js"

export interface Scope {
  readonly name: string
  /** Shown beside the name: what the resource's administrator wrote; standard OIDC scopes have a default. */
  readonly description?: string | undefined
}

/** A resource (RFC 8707) the grant will be for: its URI, and the name its administrator gave it (CONTRACT §3). */
export interface Resource {
  readonly uri: string
  readonly displayName?: string | undefined
}

export interface Input {
  readonly clientName: string
  /**
   * The redirect URI of this request (for a loopback client, with the port it asked for). Its host is shown, and
   * its origin is allowed in `form-action`: both decisions answer with a redirect there, which Chrome and Safari
   * check against the policy of the page whose form was submitted.
   */
  readonly redirectUri: string
  /**
   * Set when a device is asking (RFC 8628 §3.3): its user code, formatted, which the person checks against the one
   * their device shows (§5.4); there is no redirect, and `redirectUri` is ignored.
   */
  readonly device?: { readonly userCode: string } | undefined
  readonly scopes: ReadonlyArray<Scope>
  readonly resources: ReadonlyArray<Resource>
  readonly csrf: string
  readonly interaction: string
  readonly principalType: "app" | "agent"
  readonly realmDisplayName?: string | undefined
  /** Who is signed in, shown so the person can tell which account they are granting. */
  readonly username?: string | undefined
  /** Where the form posts; absent, it posts back to the page's own URL. */
  readonly action?: string | undefined
  /**
   * For a client named by a client ID metadata document: the host that serves it, so the person sees who vouches for
   * the name (draft-ietf-oauth-client-id-metadata-document-00 "OAuth Phishing Attacks").
   */
  readonly documentHost?: string | undefined
}

/** Plain-language defaults for the scopes OpenID Connect defines (OIDC Core §5.4, §11). */
export const standardScopes: Readonly<Record<string, string>> = {
  openid: "Confirm who you are",
  profile: "See your name and basic profile",
  email: "See your email address",
  offline_access: "Keep access while you are away (until you revoke it)"
}

/**
 * The scopes and resources of a request as the page shows them: each resource with its display name, each scope with
 * the description the first of the request's resources that describes it gives (a resource that gives none, or a
 * resource no longer registered, leaves the bare strings).
 */
export const terms = (
  registered: ReadonlyArray<Registered.Resource>,
  request: { readonly scopes: ReadonlyArray<string>; readonly resources: ReadonlyArray<string> }
): Pick<Input, "scopes" | "resources"> => {
  const named = request.resources.map((uri) => ({ uri, resource: registered.find((r) => r.uri === uri) }))
  return {
    resources: named.map(({ resource, uri }) => ({ uri, displayName: resource?.displayName })),
    scopes: request.scopes.map((name) => ({
      name,
      description: named.map(({ resource }) => (resource === undefined ? undefined : Registered.describe(resource, name)))
        .find((d) => d !== undefined)
    }))
  }
}

export const consent = (input: Input): HttpServerResponse.HttpServerResponse => {
  const agent = input.principalType === "agent"
  const scopes = input.scopes.map((scope) => {
    const description = scope.description ?? (Object.hasOwn(standardScopes, scope.name) ? standardScopes[scope.name] : undefined)
    return html`<li><code>${scope.name}</code>${description !== undefined ? html`<span>${description}</span>` : undefined}</li>`
  })
  // the name when the administrator gave one, with the URI under it (what a token's audience will say)
  const resources = input.resources.map(({ displayName, uri }) =>
    displayName !== undefined ? html`<li><strong>${displayName}</strong><span><code>${uri}</code></span></li>` : html`<li><code>${uri}</code></li>`
  )
  const body = html`<div class="card">
${input.realmDisplayName !== undefined ? html`<p class="realm">${input.realmDisplayName}</p>` : undefined}
<h1 class="wrap">${input.clientName}${agent ? html`<span class="badge">Agent</span>` : undefined} wants access to your account</h1>
${agent ? html`<p class="notice">This client is an automated agent. It will act on your behalf with the access below, without you present.</p>` : undefined}
${input.username !== undefined ? html`<p class="muted wrap">Signed in as <strong>${input.username}</strong></p>` : undefined}
${input.documentHost !== undefined ? html`<p class="wrap" id="client-document">This application describes itself in a document published by <strong>${input.documentHost}</strong>.</p>` : undefined}
${input.device !== undefined
    ? html`<p class="wrap">Check that your device shows this code: <strong><code id="user-code">${input.device.userCode}</code></strong>.
If it does not, deny: someone else may be trying to get access to your account.</p>`
    : html`<p class="wrap">After you decide, you will return to <strong>${Page.displayHost(input.redirectUri)}</strong>.</p>
${RedirectUri.isLoopback(input.redirectUri) ? html`<p class="notice" id="loopback-warning">That address is on this device. Allow only if you started this sign-in from an application on this computer: any program running here could receive the access.</p>` : undefined}`}
${scopes.length > 0 ? html`<h2>It asks to</h2>
<ul class="list" id="scopes">${scopes}</ul>` : undefined}
${resources.length > 0 ? html`<h2>On these services</h2>
<ul class="list" id="resources">${resources}</ul>` : undefined}
<form method="post"${input.action !== undefined ? html` action="${input.action}"` : undefined}>
<input type="hidden" name="csrf" value="${input.csrf}">
<input type="hidden" name="interaction" value="${input.interaction}">
<div class="actions">
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny" class="secondary">Deny</button>
</div>
</form>
</div>`
  return Page.render({ title: `Allow ${input.clientName}?`, body, formTargets: input.device !== undefined ? [] : [input.redirectUri] })
}
