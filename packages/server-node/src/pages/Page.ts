/**
 * The HTML document every page is rendered into, and the headers every page carries (issue 4, "Pages").
 *
 * The stylesheet is embedded as one `<style>` element allowed by its SHA-256 in `style-src`, rather than served
 * from a route. Chosen because: the page is self-contained (nothing else to mount, no second request, no cache
 * busting when the sheet changes: the hash and the text ship together), it works behind any path prefix of the
 * public URL, and the policy allows exactly one stylesheet instead of anything same-origin (`'self'`). A hash,
 * not a nonce: the sheet is constant, and a nonce would need fresh entropy per response for no gain. The cost,
 * about 2 KB per page, does not matter: these pages are `no-store` anyway. `style` attributes stay blocked (a hash
 * does not allow them), so markup never uses them.
 *
 * No JavaScript at all: there is no `script-src`, so `default-src 'none'` forbids every script.
 */
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { createHash } from "node:crypto"
import { html, toString as toText, unsafeRaw } from "./Html.js"
import type { Html } from "./Html.js"

const stylesheet = [
  ":root{color-scheme:light dark;--fg:#1f2328;--muted:#59636e;--bg:#f6f8fa;--card:#fff;--line:#d1d9e0;",
  "--accent:#0a57c2;--on-accent:#fff;--danger:#b3261e;--danger-bg:#fdecea;--note-bg:#eef4fc}",
  "@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9198a1;--bg:#0d1117;--card:#151b23;",
  "--line:#3d444d;--accent:#4493f8;--on-accent:#0d1117;--danger:#ff9a92;--danger-bg:#3a1614;--note-bg:#132339}}",
  "*{box-sizing:border-box}",
  "html{-webkit-text-size-adjust:100%;text-size-adjust:100%}",
  "body{margin:0;background:var(--bg);color:var(--fg);",
  "font:16px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Helvetica Neue\",Arial,sans-serif}",
  "main{max-width:30rem;margin:0 auto;padding:1.5rem 1rem 3rem}",
  ".card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:1.5rem 1.25rem}",
  "h1{font-size:1.375rem;line-height:1.3;margin:0 0 1rem}",
  "h2{font-size:1rem;margin:1.25rem 0 .5rem}",
  "p{margin:0 0 1rem}",
  ".realm{color:var(--muted);font-size:.875rem;margin:0 0 .25rem}",
  ".muted{color:var(--muted);font-size:.875rem}",
  ".wrap,code{overflow-wrap:anywhere}",
  "code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.875em}",
  "label{display:block;font-weight:600;margin:0 0 .25rem}",
  "input[type=text],input[type=password]{display:block;width:100%;min-height:48px;margin:0 0 1rem;",
  "padding:.625rem .75rem;font:inherit;color:inherit;background:var(--card);border:1px solid var(--line);",
  "border-radius:8px}",
  "button,.button{display:block;width:100%;min-height:48px;padding:.75rem 1rem;font:inherit;font-weight:600;",
  "text-align:center;text-decoration:none;border:1px solid var(--accent);border-radius:8px;",
  "background:var(--accent);color:var(--on-accent);cursor:pointer}",
  "button.secondary{background:transparent;color:var(--accent)}",
  "input:focus-visible,button:focus-visible,a:focus-visible{outline:3px solid var(--accent);outline-offset:2px}",
  ".actions{display:grid;gap:.75rem;margin-top:1.5rem}",
  ".error,.notice{border-radius:8px;padding:.75rem;margin:0 0 1rem}",
  ".error{color:var(--danger);background:var(--danger-bg);font-weight:600}",
  ".notice{background:var(--note-bg)}",
  ".list{list-style:none;padding:0;margin:0 0 1rem;border-top:1px solid var(--line)}",
  ".list li{padding:.625rem 0;border-bottom:1px solid var(--line)}",
  ".list span{display:block;color:var(--muted);font-size:.875rem}",
  ".badge{display:inline-block;margin-left:.375rem;padding:0 .5rem;border:1px solid currentColor;",
  "border-radius:999px;font-size:.75rem;font-weight:700;vertical-align:middle;color:var(--accent)}",
  "a{color:var(--accent)}",
  "[hidden]{display:none!important}"
].join("")

/** The `style-src` source that allows exactly the embedded stylesheet (CSP3 §2.3.1 hash-source). */
export const stylesheetHash = `'sha256-${createHash("sha256").update(stylesheet, "utf8").digest("base64")}'`

/** Schemes that run code or read local data when navigated to or framed: never a form target, frame or link. */
const dangerousSchemes = new Set(["javascript:", "data:", "vbscript:", "blob:", "file:", "filesystem:", "about:"])

/** CSP3 §2.3.1 host-part: letters, digits, hyphens, dots (WHATWG `URL` also admits `;`, `,` and more). */
const cspHost = /^[a-z0-9-]+(?:\.[a-z0-9-]+)*\.?$/
const cspScheme = /^[a-z][a-z0-9+.-]*:$/

/**
 * The CSP source expression that matches `uri`, or undefined when it must not be allowed.
 * - http(s): its origin (`https://client.example:8443`).
 * - An IPv6 literal (`http://[::1]:51234`, RFC 8252 §7.3): CSP's grammar has no IPv6 hosts, so its scheme (`http:`).
 * - `"navigation"` also admits a private-use scheme (`com.example.app:`, RFC 8252 §7.1) as a scheme source.
 * - Never `javascript:`, `data:` and the like, nor anything `URL` cannot parse.
 */
export const source = (uri: string, kind: "navigation" | "frame" = "navigation"): string | undefined => {
  let url: URL
  try {
    url = new URL(uri)
  } catch {
    return undefined
  }
  const scheme = url.protocol.toLowerCase()
  if (dangerousSchemes.has(scheme) || !cspScheme.test(scheme)) return undefined
  if (scheme === "http:" || scheme === "https:") {
    if (url.hostname.startsWith("[")) return scheme
    if (!cspHost.test(url.hostname)) return undefined
    return url.origin
  }
  return kind === "navigation" ? scheme : undefined
}

/** Whether `uri` may be a link, form action or iframe of a page (it has a `source`). */
export const isSafeTarget = (uri: string, kind: "navigation" | "frame" = "navigation") => source(uri, kind) !== undefined

/** What a person recognises: the host and port of an http(s) URI, the scheme of a private-use one (RFC 8252 §7.1). */
export const displayHost = (uri: string): string => {
  try {
    const url = new URL(uri)
    return url.host !== "" ? url.host : url.protocol.slice(0, -1)
  } catch {
    return uri
  }
}

export interface Policy {
  /**
   * Where a form on the page may end up besides `'self'`: the action of a form_post form, or where the server
   * redirects after a same-origin POST (Chrome and Safari check `form-action` against those redirects too:
   * w3c/webappsec-csp#8), i.e. the client's redirect URI after login or consent.
   */
  readonly formTargets?: ReadonlyArray<string> | undefined
  /** URLs the page frames (front-channel logout): `frame-src` lists exactly their origins. */
  readonly frames?: ReadonlyArray<string> | undefined
}

const sources = (uris: ReadonlyArray<string>, kind: "navigation" | "frame") => {
  const out: Array<string> = []
  for (const uri of uris) {
    const s = source(uri, kind)
    if (s !== undefined && !out.includes(s)) out.push(s)
  }
  return out
}

/** The page's `Content-Security-Policy`: no script at all, one stylesheet, no framing of Tessera, no `<base>`. */
export const contentSecurityPolicy = (policy: Policy = {}): string => {
  const frames = sources(policy.frames ?? [], "frame")
  return [
    "default-src 'none'",
    `style-src ${stylesheetHash}`,
    "img-src 'self'",
    ["form-action 'self'", ...sources(policy.formTargets ?? [], "navigation")].join(" "),
    ...(frames.length > 0 ? [`frame-src ${frames.join(" ")}`] : []),
    "frame-ancestors 'none'",
    "base-uri 'none'"
  ].join("; ")
}

/** Every page's headers besides `Content-Type` (which the body sets). */
export const headers = (policy: Policy = {}): Record<string, string> => ({
  "content-security-policy": contentSecurityPolicy(policy),
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store"
})

export const contentType = "text/html; charset=utf-8"

export interface Options extends Policy {
  /** The document title (escaped); " · Tessera" is appended. */
  readonly title: string
  readonly body: Html
  readonly status?: number | undefined
  /** Extra headers (e.g. `retry-after`); the security headers above cannot be overridden. */
  readonly headers?: Readonly<Record<string, string>> | undefined
}

/** The whole HTML5 document. */
export const document = (page: { readonly title: string; readonly body: Html }): Html =>
  html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${page.title} · Tessera</title>
<style>${unsafeRaw(stylesheet)}</style>
</head>
<body>
<main>
${page.body}
</main>
</body>
</html>
`

/** Renders a page: the document, `text/html; charset=utf-8`, and every security header. */
export const render = (page: Options): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.text(toText(document(page)), {
    status: page.status ?? 200,
    contentType,
    headers: { ...page.headers, ...headers(page) }
  })

