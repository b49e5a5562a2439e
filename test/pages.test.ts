import * as HttpApp from "@effect/platform/HttpApp"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { createHash } from "node:crypto"
import { ErrorResponse } from "@tessera/protocol"
import * as ConsentPage from "@tessera/server-node/pages/ConsentPage"
import * as DevicePage from "@tessera/server-node/pages/DevicePage"
import * as ErrorPage from "@tessera/server-node/pages/ErrorPage"
import * as FormPostPage from "@tessera/server-node/pages/FormPostPage"
import * as Html from "@tessera/server-node/pages/Html"
import * as LoginPage from "@tessera/server-node/pages/LoginPage"
import * as LogoutPage from "@tessera/server-node/pages/LogoutPage"
import * as Page from "@tessera/server-node/pages/Page"

// ---------------------------------------------------------------------------------------------------------------
// Helpers: the response as a browser receives it, and a tiny parser for the markup these pages emit
// ---------------------------------------------------------------------------------------------------------------

interface Wire {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly text: string
}

/** Sends the response through @effect/platform's web handler: the status, headers and body on the wire. */
const wire = (response: HttpServerResponse.HttpServerResponse) =>
  Effect.promise(async (): Promise<Wire> => {
    const handler = HttpApp.toWebHandler(Effect.succeed(response))
    const res = await handler(new Request("https://tessera.test/page"))
    const headers: Record<string, string> = {}
    res.headers.forEach((value, key) => {
      headers[key] = value
    })
    return { status: res.status, headers, text: await res.text() }
  })

const decode = (s: string) =>
  s.replace(/&(amp|lt|gt|quot|#39|#96);/g, (_, e: string) =>
    ({ amp: "&", lt: "<", gt: ">", quot: "\"", "#39": "'", "#96": "`" })[e]!)

interface Tag {
  readonly name: string
  readonly closing: boolean
  readonly attrs: ReadonlyArray<readonly [string, string | true]>
}

const attrOf = (tag: Tag, name: string) => tag.attrs.find(([n]) => n === name)?.[1]

/**
 * Reads every tag of the document. Strict on purpose: every `<` must open a well-formed tag whose attribute values
 * are double-quoted, or this throws; so injected markup (an extra tag or attribute) cannot hide from the assertions.
 */
const parse = (doc: string): { readonly tags: ReadonlyArray<Tag>; readonly text: string; readonly style: string } => {
  const tags: Array<Tag> = []
  let text = ""
  let style = ""
  let i = 0
  const doctype = "<!doctype html>"
  if (!doc.startsWith(doctype)) throw new Error("no doctype")
  i = doctype.length
  while (i < doc.length) {
    const lt = doc.indexOf("<", i)
    if (lt === -1) {
      text += doc.slice(i)
      break
    }
    text += doc.slice(i, lt)
    const head = /^<(\/?)([a-z][a-z0-9]*)/y
    head.lastIndex = 0
    const m = head.exec(doc.slice(lt))
    if (m === null) throw new Error(`stray '<' at ${lt}: ${doc.slice(lt, lt + 40)}`)
    let j = lt + m[0].length
    const attrs: Array<readonly [string, string | true]> = []
    const attr = /\s+([a-z][a-z-]*)(?:="([^"<>]*)")?/y
    for (;;) {
      attr.lastIndex = j
      const a = attr.exec(doc)
      if (a === null) break
      attrs.push([a[1]!, a[2] === undefined ? true : decode(a[2])])
      j = attr.lastIndex
    }
    if (doc[j] !== ">") throw new Error(`malformed tag at ${lt}: ${doc.slice(lt, j + 20)}`)
    const tag: Tag = { name: m[2]!, closing: m[1] === "/", attrs }
    tags.push(tag)
    i = j + 1
    if (tag.name === "style" && !tag.closing) {
      const end = doc.indexOf("</style>", i)
      style = doc.slice(i, end)
      i = end
    }
  }
  return { tags, text: decode(text), style }
}

interface Form {
  readonly form: Tag
  readonly fields: ReadonlyArray<Tag>
}

const formsOf = (doc: string): ReadonlyArray<Form> => {
  const forms: Array<Form> = []
  let current: { form: Tag; fields: Array<Tag> } | undefined
  for (const tag of parse(doc).tags) {
    if (tag.name === "form" && !tag.closing) current = { form: tag, fields: [] }
    else if (tag.name === "form" && tag.closing && current) {
      forms.push(current)
      current = undefined
    } else if (current && !tag.closing && (tag.name === "input" || tag.name === "button")) current.fields.push(tag)
  }
  return forms
}

/** Each field as `tag type name=value`, in document order. */
const fieldSummary = (form: Form) =>
  form.fields.map((f) => [f.name, attrOf(f, "type"), attrOf(f, "name"), attrOf(f, "value")])

const tagsAllowed = new Set([
  "html", "head", "meta", "title", "style", "body", "main", "div", "p", "h1", "h2", "strong", "span", "code",
  "ul", "li", "form", "input", "label", "button", "a", "iframe"
])

/** Nothing injected: only the expected elements, no event handler attribute, no script, no raw hostile input. */
const expectInert = (doc: string, hostile: ReadonlyArray<string>) => {
  const { tags } = parse(doc)
  for (const tag of tags) {
    expect(tagsAllowed.has(tag.name), `unexpected <${tag.name}>`).toBe(true)
    for (const [name] of tag.attrs) expect(name.startsWith("on"), `event handler ${name} on <${tag.name}>`).toBe(false)
  }
  expect(doc).not.toMatch(/<script/i)
  expect(doc).not.toMatch(/<img/i)
  for (const h of hostile) {
    if (/[&<>"'`]/.test(h)) expect(doc.includes(h), `raw ${JSON.stringify(h)}`).toBe(false)
  }
}

const xss = "<script>alert(1)</script>"
const breakout = "\"><img src=x onerror=alert(1)>"
const single = "' onmouseover='alert(1)"
const tick = "`x` & <b>y</b>"
const hostile = [xss, breakout, single, tick]

const securityHeaders = (csp: string) => ({
  "content-type": "text/html; charset=utf-8",
  "content-security-policy": csp,
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store"
})

const hashOf = (style: string) => `'sha256-${createHash("sha256").update(style, "utf8").digest("base64")}'`
const baseCsp = (formAction = "'self'", frameSrc?: string) =>
  [
    "default-src 'none'",
    `style-src ${Page.stylesheetHash}`,
    "img-src 'self'",
    `form-action ${formAction}`,
    ...(frameSrc !== undefined ? [`frame-src ${frameSrc}`] : []),
    "frame-ancestors 'none'",
    "base-uri 'none'"
  ].join("; ")

/** Only the headers we set (the web handler adds content-length). */
const pick = (headers: Readonly<Record<string, string>>, extra: ReadonlyArray<string> = []) =>
  Object.fromEntries(
    Object.entries(headers).filter(([k]) => k !== "content-length" || extra.includes(k))
  )

const loginInput: LoginPage.Input = {
  realmDisplayName: "Acme",
  clientName: "Example App",
  csrf: "csrf-123",
  interaction: "int-456"
}

const consentInput: ConsentPage.Input = {
  clientName: "Example App",
  redirectUri: "https://app.example:8443/callback?x=1&y=2",
  scopes: [{ name: "openid" }, { name: "mcp:tools", description: "Use the tools" }],
  resources: [{ uri: "https://mcp.example/mcp" }],
  csrf: "csrf-123",
  interaction: "int-456",
  principalType: "app"
}

// ---------------------------------------------------------------------------------------------------------------

describe("Html: the escaping template", () => {
  it("escapes & < > \" ' ` in every interpolated value", () => {
    const out = Html.toString(Html.html`<p title="${"a\"b'c"}">${"<&>`"}</p>`)
    expect(out).toBe("<p title=\"a&quot;b&#39;c\">&lt;&amp;&gt;&#96;</p>")
  })

  it("lets fragments and arrays of fragments through once, and escapes strings inside arrays", () => {
    const items = ["<a>", "b"].map((s) => Html.html`<li>${s}</li>`)
    const out = Html.toString(Html.html`<ul>${items}${["<c>"]}</ul>`)
    expect(out).toBe("<ul><li>&lt;a&gt;</li><li>b</li>&lt;c&gt;</ul>")
  })

  it("emits nothing for null, undefined and booleans; numbers as text", () => {
    expect(Html.toString(Html.html`[${null}${undefined}${false}${true}${0}${12n}]`)).toBe("[012]")
  })

  it("refuses an unquoted attribute value", () => {
    expect(() => Html.html`<a title=${"x onmouseover=alert(1)"}>`).toThrow(/unquoted attribute/)
    expect(() => Html.html`<a title = ${"x"}>`).toThrow(/unquoted attribute/)
  })

  it("a plain object that looks like a fragment is not one", () => {
    expect(Html.isHtml({ value: "<b>" })).toBe(false)
    expect(Html.isHtml(Html.html`<b>`)).toBe(true)
  })
})

describe("Page: the document and the headers of every page", () => {
  it.effect("sets the full header set, and the CSP allows exactly the embedded stylesheet", () =>
    Effect.gen(function*() {
      const res = yield* wire(Page.render({ title: "T", body: Html.html`<p>hi</p>` }))
      expect(res.status).toBe(200)
      expect(pick(res.headers)).toEqual(securityHeaders(baseCsp()))
      const { style } = parse(res.text)
      expect(style.length).toBeGreaterThan(100)
      expect(hashOf(style)).toBe(Page.stylesheetHash)
    }))

  it("no script at all: no script-src, no 'unsafe-inline', no 'unsafe-eval'", () => {
    for (const csp of [Page.contentSecurityPolicy(), Page.contentSecurityPolicy({ formTargets: ["https://a.example"], frames: ["https://b.example"] })]) {
      expect(csp).not.toMatch(/script-src/)
      expect(csp).not.toMatch(/unsafe-/)
      expect(csp.startsWith("default-src 'none'; ")).toBe(true)
    }
  })

  it.effect("a phone-readable HTML5 document with the title escaped", () =>
    Effect.gen(function*() {
      const res = yield* wire(Page.render({ title: xss, body: Html.html`<p>x</p>`, status: 418 }))
      expect(res.status).toBe(418)
      expect(res.text.startsWith("<!doctype html>\n<html lang=\"en\">")).toBe(true)
      expect(res.text).toContain("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
      expect(res.text).toContain("<meta charset=\"utf-8\">")
      expect(res.text).toContain("<title>&lt;script&gt;alert(1)&lt;/script&gt; · Tessera</title>")
      expect(res.text).not.toMatch(/ style="/)
      expectInert(res.text, [xss])
    }))

  it.effect("extra headers cannot weaken the security headers", () =>
    Effect.gen(function*() {
      const res = yield* wire(Page.render({
        title: "T",
        body: Html.empty,
        headers: { "content-security-policy": "default-src *", "x-frame-options": "ALLOWALL", "retry-after": "5" }
      }))
      expect(pick(res.headers)).toEqual({ ...securityHeaders(baseCsp()), "retry-after": "5" })
    }))

  it("source: the CSP source expression of a URI", () => {
    const table: ReadonlyArray<readonly [string, "navigation" | "frame", string | undefined]> = [
      ["https://app.example/cb?x=1", "navigation", "https://app.example"],
      ["https://app.example:443/cb", "navigation", "https://app.example"],
      ["https://App.Example:8443/cb", "navigation", "https://app.example:8443"],
      ["http://127.0.0.1:51234/cb", "navigation", "http://127.0.0.1:51234"],
      ["http://localhost:3000/cb", "navigation", "http://localhost:3000"],
      // RFC 8252 §7.3 loopback IPv6: CSP has no IPv6 host syntax, so the scheme
      ["http://[::1]:51234/cb", "navigation", "http:"],
      // RFC 8252 §7.1 private-use scheme
      ["com.example.app:/oauth2redirect", "navigation", "com.example.app:"],
      ["com.example.app:/oauth2redirect", "frame", undefined],
      ["https://rp.example/logout?iss=x&sid=y", "frame", "https://rp.example"],
      ["javascript:alert(1)", "navigation", undefined],
      ["JavaScript:alert(1)", "navigation", undefined],
      ["data:text/html,<script>alert(1)</script>", "frame", undefined],
      ["http://a;b/", "navigation", undefined],
      ["not a uri", "navigation", undefined]
    ]
    for (const [uri, kind, expected] of table) expect([uri, Page.source(uri, kind)]).toEqual([uri, expected])
  })
})

describe("LoginPage (CONTRACT §4)", () => {
  it.effect("a post form with username, password, and the hidden csrf and interaction", () =>
    Effect.gen(function*() {
      const res = yield* wire(LoginPage.login(loginInput))
      expect(res.status).toBe(200)
      expect(pick(res.headers)).toEqual(securityHeaders(baseCsp()))
      const forms = formsOf(res.text)
      expect(forms).toHaveLength(1)
      expect(attrOf(forms[0]!.form, "method")).toBe("post")
      expect(attrOf(forms[0]!.form, "action")).toBeUndefined()
      expect(fieldSummary(forms[0]!)).toEqual([
        ["input", "hidden", "csrf", "csrf-123"],
        ["input", "hidden", "interaction", "int-456"],
        ["input", "text", "username", ""],
        ["input", "password", "password", undefined],
        ["button", "submit", undefined, undefined]
      ])
      const [username, password] = forms[0]!.fields.filter((f) => f.name === "input" && attrOf(f, "type") !== "hidden")
      expect(attrOf(username!, "autocomplete")).toBe("username")
      expect(attrOf(password!, "autocomplete")).toBe("current-password")
      const { text } = parse(res.text)
      expect(text).toContain("Sign in")
      expect(text).toContain("Example App")
      expect(text).toContain("Acme")
    }))

  it.effect("every field escaped; the hidden fields and the username round-trip unchanged", () =>
    Effect.gen(function*() {
      const res = yield* wire(LoginPage.login({
        realmDisplayName: xss,
        clientName: breakout,
        csrf: breakout,
        interaction: single,
        username: tick,
        notice: xss,
        action: single
      }))
      expectInert(res.text, hostile)
      expect(res.text).toContain("&lt;script&gt;alert(1)&lt;/script&gt;")
      expect(res.text).toContain("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;")
      expect(res.text).toContain("&#39; onmouseover=&#39;alert(1)")
      const [form] = formsOf(res.text)
      expect(attrOf(form!.form, "action")).toBe(single)
      expect(fieldSummary(form!).slice(0, 3)).toEqual([
        ["input", "hidden", "csrf", breakout],
        ["input", "hidden", "interaction", single],
        ["input", "text", "username", tick]
      ])
      const { text } = parse(res.text)
      expect(text).toContain(xss)
      expect(text).toContain(breakout)
    }))

  it.effect("wrong credentials: 400 and a fixed message", () =>
    Effect.gen(function*() {
      const res = yield* wire(LoginPage.login({ ...loginInput, username: "alice", error: LoginPage.invalidCredentials }))
      expect(res.status).toBe(400)
      expect(res.headers["retry-after"]).toBeUndefined()
      expect(parse(res.text).text).toContain("Wrong username or password.")
      expect(res.text).toContain("<p class=\"error\" id=\"login-error\" role=\"alert\">Wrong username or password.</p>")
      expect(fieldSummary(formsOf(res.text)[0]!)[2]).toEqual(["input", "text", "username", "alice"])
    }))

  it.effect("throttled: 429, Retry-After, and the wait in whole seconds", () =>
    Effect.gen(function*() {
      const res = yield* wire(LoginPage.login({ ...loginInput, error: LoginPage.throttled(29.2) }))
      expect(res.status).toBe(429)
      expect(pick(res.headers)).toEqual({ ...securityHeaders(baseCsp()), "retry-after": "30" })
      expect(parse(res.text).text).toContain("Too many attempts; try again in 30 seconds.")
      expect(LoginPage.message(LoginPage.throttled(0.4))).toBe("Too many attempts; try again in 1 second.")
    }))

  it.effect("step-up: the same form under \"Confirm it's you\"", () =>
    Effect.gen(function*() {
      const res = yield* wire(LoginPage.login({ ...loginInput, stepUp: true, username: "alice" }))
      expect(res.text).toContain("<h1>Confirm it&#39;s you</h1>")
      expect(formsOf(res.text)[0]!.fields.map((f) => attrOf(f, "name"))).toEqual([
        "csrf", "interaction", "username", "password", undefined
      ])
    }))

  it.effect("a redirect URI the POST may end at is allowed in form-action", () =>
    Effect.gen(function*() {
      const res = yield* wire(LoginPage.login({ ...loginInput, redirectUri: "http://127.0.0.1:51234/cb" }))
      expect(res.headers["content-security-policy"]).toBe(baseCsp("'self' http://127.0.0.1:51234"))
    }))
})

describe("ConsentPage (CONTRACT §4)", () => {
  it.effect("a post form with decision=allow and decision=deny and the hidden fields", () =>
    Effect.gen(function*() {
      const res = yield* wire(ConsentPage.consent(consentInput))
      expect(res.status).toBe(200)
      expect(pick(res.headers)).toEqual(securityHeaders(baseCsp("'self' https://app.example:8443")))
      const forms = formsOf(res.text)
      expect(forms).toHaveLength(1)
      expect(attrOf(forms[0]!.form, "method")).toBe("post")
      expect(fieldSummary(forms[0]!)).toEqual([
        ["input", "hidden", "csrf", "csrf-123"],
        ["input", "hidden", "interaction", "int-456"],
        ["button", "submit", "decision", "allow"],
        ["button", "submit", "decision", "deny"]
      ])
      const { text } = parse(res.text)
      expect(text).toContain("Example App")
      expect(text).toContain("app.example:8443")
      expect(text).toContain("openid")
      expect(text).toContain("Confirm who you are")
      expect(text).toContain("mcp:tools")
      expect(text).toContain("Use the tools")
      expect(text).toContain("https://mcp.example/mcp")
      expect(text).not.toContain("Agent")
    }))

  it.effect("an agent client is labelled as one", () =>
    Effect.gen(function*() {
      const res = yield* wire(ConsentPage.consent({ ...consentInput, principalType: "agent" }))
      expect(res.text).toContain("<span class=\"badge\">Agent</span>")
      expect(parse(res.text).text).toContain("automated agent")
    }))

  it.effect("every field escaped; the hidden fields round-trip", () =>
    Effect.gen(function*() {
      const res = yield* wire(ConsentPage.consent({
        clientName: xss,
        redirectUri: "https://app.example/cb?q=%22%3E",
        scopes: [{ name: breakout, description: single }, { name: tick }],
        resources: [{ uri: xss, displayName: breakout }, { uri: breakout }],
        csrf: single,
        interaction: breakout,
        principalType: "agent",
        realmDisplayName: tick,
        username: xss,
        action: breakout
      }))
      expectInert(res.text, hostile)
      const [form] = formsOf(res.text)
      expect(attrOf(form!.form, "action")).toBe(breakout)
      expect(fieldSummary(form!)).toEqual([
        ["input", "hidden", "csrf", single],
        ["input", "hidden", "interaction", breakout],
        ["button", "submit", "decision", "allow"],
        ["button", "submit", "decision", "deny"]
      ])
      const { text } = parse(res.text)
      for (const h of hostile) expect(text).toContain(h)
    }))

  it.effect("a loopback IPv6 or private-use redirect is still allowed as a form target", () =>
    Effect.gen(function*() {
      const v6 = yield* wire(ConsentPage.consent({ ...consentInput, redirectUri: "http://[::1]:51234/cb" }))
      expect(v6.headers["content-security-policy"]).toBe(baseCsp("'self' http:"))
      expect(parse(v6.text).text).toContain("[::1]:51234")
      const app = yield* wire(ConsentPage.consent({ ...consentInput, redirectUri: "com.example.app:/cb" }))
      expect(app.headers["content-security-policy"]).toBe(baseCsp("'self' com.example.app:"))
      expect(parse(app.text).text).toContain("com.example.app")
    }))
})

describe("DevicePage and the device consent page (CONTRACT §4, RFC 8628 §3.3, §5.4)", () => {
  const deviceInput: DevicePage.Input = { realmDisplayName: "Acme", csrf: "csrf-123", action: "https://tessera.test/realms/acme/device" }

  it.effect("the code form: post, the hidden csrf and the user_code input; no form target but Tessera", () =>
    Effect.gen(function*() {
      const res = yield* wire(DevicePage.enter(deviceInput))
      expect(res.status).toBe(200)
      expect(pick(res.headers)).toEqual(securityHeaders(baseCsp()))
      const [form] = formsOf(res.text)
      expect(attrOf(form!.form, "method")).toBe("post")
      expect(attrOf(form!.form, "action")).toBe("https://tessera.test/realms/acme/device")
      expect(fieldSummary(form!)).toEqual([
        ["input", "hidden", "csrf", "csrf-123"],
        ["input", "text", "user_code", ""],
        ["button", "submit", undefined, undefined]
      ])
      expect(parse(res.text).text).toContain("Enter the code your device shows.")
    }))

  it.effect("filled in from verification_uri_complete: the code in the field and a note to compare it; still a form to submit", () =>
    Effect.gen(function*() {
      const res = yield* wire(DevicePage.enter({ ...deviceInput, userCode: "WDJB-MJHT", prefilled: true }))
      expect(fieldSummary(formsOf(res.text)[0]!)[1]).toEqual(["input", "text", "user_code", "WDJB-MJHT"])
      expect(parse(res.text).text).toContain("Check that this is the code your device shows, then continue.")
    }))

  it.effect("a wrong code is 400, throttling 429 with Retry-After in whole seconds, an expired form 400", () =>
    Effect.gen(function*() {
      const wrong = yield* wire(DevicePage.enter({ ...deviceInput, error: DevicePage.invalidCode }))
      expect(wrong.status).toBe(400)
      expect(pick(wrong.headers)).toEqual(securityHeaders(baseCsp()))
      expect(parse(wrong.text).text).toContain("That code is not valid.")
      const throttled = yield* wire(DevicePage.enter({ ...deviceInput, error: DevicePage.throttled(12.1) }))
      expect(throttled.status).toBe(429)
      expect(pick(throttled.headers)).toEqual({ ...securityHeaders(baseCsp()), "retry-after": "13" })
      expect(parse(throttled.text).text).toContain("Too many attempts; try again in 13 seconds.")
      const expired = yield* wire(DevicePage.enter({ ...deviceInput, error: DevicePage.formExpired }))
      expect(expired.status).toBe(400)
      expect(parse(expired.text).text).toContain("The form has expired. Enter the code again.")
    }))

  it.effect("every field escaped: the typed code, the realm, the token, the action; the done page likewise", () =>
    Effect.gen(function*() {
      const res = yield* wire(DevicePage.enter({ realmDisplayName: tick, csrf: single, action: breakout, userCode: xss, error: DevicePage.invalidCode }))
      expectInert(res.text, hostile)
      const [form] = formsOf(res.text)
      expect(attrOf(form!.form, "action")).toBe(breakout)
      expect(fieldSummary(form!).slice(0, 2)).toEqual([["input", "hidden", "csrf", single], ["input", "text", "user_code", xss]])
      for (const approved of [true, false]) {
        const done = yield* wire(DevicePage.done({ realmDisplayName: tick, clientName: xss, approved }))
        expect(done.status).toBe(200)
        expect(pick(done.headers)).toEqual(securityHeaders(baseCsp()))
        expectInert(done.text, hostile)
        expect(formsOf(done.text)).toEqual([])
        expect(parse(done.text).text).toContain(approved ? "Device connected" : "Access denied")
      }
    }))

  it.effect("the consent page for a device shows the code to compare, names no host to return to, and allows no form target", () =>
    Effect.gen(function*() {
      const res = yield* wire(ConsentPage.consent({ ...consentInput, redirectUri: "", device: { userCode: "WDJB-MJHT" } }))
      expect(pick(res.headers)).toEqual(securityHeaders(baseCsp()))
      const { text } = parse(res.text)
      expect(text).toContain("Check that your device shows this code: WDJB-MJHT.")
      expect(text).not.toContain("you will return to")
      expect(text).toContain("https://mcp.example/mcp")
      expect(fieldSummary(formsOf(res.text)[0]!).slice(2)).toEqual([["button", "submit", "decision", "allow"], ["button", "submit", "decision", "deny"]])
    }))
})

describe("ErrorPage (OAuth 2.1 §4.1.2.1: errors that must not redirect)", () => {
  it.effect("the status, the error code, the description; no form", () =>
    Effect.gen(function*() {
      const res = yield* wire(ErrorPage.errorPage({
        error: "invalid_request",
        description: "The redirect_uri is not registered for this client.",
        status: 400
      }))
      expect(res.status).toBe(400)
      expect(pick(res.headers)).toEqual(securityHeaders(baseCsp()))
      const { text } = parse(res.text)
      expect(text).toContain("invalid_request")
      expect(text).toContain("The redirect_uri is not registered for this client.")
      expect(formsOf(res.text)).toHaveLength(0)
    }))

  it.effect("escapes the description", () =>
    Effect.gen(function*() {
      const res = yield* wire(ErrorPage.errorPage({ error: "invalid_client", description: breakout + xss, status: 400 }))
      expectInert(res.text, hostile)
      expect(parse(res.text).text).toContain("Unknown application")
    }))

  it.effect("from an ErrorResponse: its code, description and status", () =>
    Effect.gen(function*() {
      const res = yield* wire(ErrorPage.fromErrorResponse(ErrorResponse.make("invalid_client", "unknown client")))
      expect(res.status).toBe(401)
      expect(parse(res.text).text).toContain("unknown client")
    }))
})

describe("FormPostPage (OAuth 2.0 Form Post Response Mode §2)", () => {
  const redirectUri = "https://app.example/cb?tenant=a&x=1"

  it.effect("posts the response parameters to the redirect URI, with a visible Continue button and no script", () =>
    Effect.gen(function*() {
      const res = yield* wire(FormPostPage.formPost({
        redirectUri,
        params: { code: "c0de", state: "st", iss: "https://tessera.test/realms/acme", skipped: undefined }
      }))
      expect(res.status).toBe(200)
      expect(pick(res.headers)).toEqual(securityHeaders(baseCsp("'self' https://app.example")))
      const [form] = formsOf(res.text)
      expect(attrOf(form!.form, "method")).toBe("post")
      expect(attrOf(form!.form, "action")).toBe(redirectUri)
      expect(res.text).toContain("action=\"https://app.example/cb?tenant=a&amp;x=1\"")
      expect(fieldSummary(form!)).toEqual([
        ["input", "hidden", "code", "c0de"],
        ["input", "hidden", "state", "st"],
        ["input", "hidden", "iss", "https://tessera.test/realms/acme"],
        ["button", "submit", undefined, undefined]
      ])
      expect(parse(res.text).text).toContain("Continue")
    }))

  it.effect("a hostile state round-trips escaped", () =>
    Effect.gen(function*() {
      const res = yield* wire(FormPostPage.formPost({
        redirectUri,
        params: { error: "access_denied", state: breakout + single },
        clientName: xss
      }))
      expectInert(res.text, hostile)
      expect(fieldSummary(formsOf(res.text)[0]!)).toEqual([
        ["input", "hidden", "error", "access_denied"],
        ["input", "hidden", "state", breakout + single],
        ["button", "submit", undefined, undefined]
      ])
    }))

  it.effect("a javascript: redirect URI never becomes a form action", () =>
    Effect.gen(function*() {
      const res = yield* wire(FormPostPage.formPost({ redirectUri: "javascript:alert(1)//", params: { code: "c" } }))
      expect(res.status).toBe(400)
      expect(res.headers["content-security-policy"]).toBe(baseCsp())
      expect(formsOf(res.text)).toHaveLength(0)
      expect(res.text).not.toContain("javascript:")
    }))
})

describe("LogoutPage (OIDC RP-Initiated Logout 1.0, Front-Channel Logout 1.0)", () => {
  it.effect("confirmation: a post form with the hidden csrf and a Sign out button", () =>
    Effect.gen(function*() {
      const res = yield* wire(LogoutPage.logout({ csrf: "csrf-1", interaction: "int-2" }))
      expect(res.status).toBe(200)
      expect(pick(res.headers)).toEqual(securityHeaders(baseCsp()))
      const [form] = formsOf(res.text)
      expect(attrOf(form!.form, "method")).toBe("post")
      expect(fieldSummary(form!)).toEqual([
        ["input", "hidden", "csrf", "csrf-1"],
        ["input", "hidden", "interaction", "int-2"],
        ["button", "submit", undefined, undefined]
      ])
      expect(res.text).toContain("<button type=\"submit\">Sign out</button>")
    }))

  it.effect("confirmation: escaped, and the post-logout redirect allowed in form-action", () =>
    Effect.gen(function*() {
      const res = yield* wire(LogoutPage.logout({
        csrf: breakout,
        clientName: xss,
        username: single,
        realmDisplayName: tick,
        redirectUri: "https://app.example/bye"
      }))
      expectInert(res.text, hostile)
      expect(res.headers["content-security-policy"]).toBe(baseCsp("'self' https://app.example"))
      expect(fieldSummary(formsOf(res.text)[0]!)).toEqual([
        ["input", "hidden", "csrf", breakout],
        ["button", "submit", undefined, undefined]
      ])
    }))

  it.effect("signed out: one iframe per front-channel URL, and frame-src exactly their origins", () =>
    Effect.gen(function*() {
      const urls = [
        "https://rp1.example/fcl?iss=https%3A%2F%2Ftessera.test%2Frealms%2Facme&sid=s1",
        "https://rp1.example/other?sid=s1",
        "https://rp2.example:8443/logout?iss=x&sid=s2",
        "javascript:alert(1)",
        "data:text/html,hi"
      ]
      const res = yield* wire(LogoutPage.signedOut({
        frontChannel: urls,
        continueTo: "https://app.example/bye?state=s&x=1"
      }))
      expect(res.status).toBe(200)
      expect(pick(res.headers)).toEqual(
        securityHeaders(baseCsp("'self'", "https://rp1.example https://rp2.example:8443"))
      )
      const { tags, text } = parse(res.text)
      expect(tags.filter((t) => t.name === "iframe" && !t.closing).map((t) => attrOf(t, "src"))).toEqual(urls.slice(0, 3))
      expect(tags.filter((t) => t.name === "a" && !t.closing).map((t) => attrOf(t, "href"))).toEqual([
        "https://app.example/bye?state=s&x=1"
      ])
      // the link names the redirect's host, not the client's self-chosen name (issue 12)
      expect(text).toContain("Return to app.example")
      expect(tags.filter((t) => t.name === "iframe" && !t.closing).map((t) => [attrOf(t, "sandbox"), attrOf(t, "referrerpolicy")]))
        .toEqual(urls.slice(0, 3).map(() => ["allow-scripts allow-same-origin", "no-referrer"]))
      expect(text).toContain("You are signed out")
      expectInert(res.text, hostile)
      expect(res.text).not.toContain("javascript:")
      expect(res.text).not.toContain("data:")
    }))

  it.effect("signed out without clients: no frame-src, and an unsafe continue link is dropped", () =>
    Effect.gen(function*() {
      const res = yield* wire(LogoutPage.signedOut({ frontChannel: [], continueTo: "javascript:alert(1)" }))
      expect(res.headers["content-security-policy"]).toBe(baseCsp())
      expect(parse(res.text).tags.some((t) => t.name === "a" || t.name === "iframe")).toBe(false)
    }))

  it("frame-src appears on no other page", () => {
    for (const r of [
      LoginPage.login(loginInput),
      ConsentPage.consent(consentInput),
      ErrorPage.errorPage({ error: "server_error", description: "x", status: 500 }),
      FormPostPage.formPost({ redirectUri: "https://a.example/cb", params: {} }),
      LogoutPage.logout({ csrf: "c" }),
      DevicePage.enter({ realmDisplayName: "Acme", csrf: "c", action: "https://tessera.test/realms/acme/device" }),
      DevicePage.done({ realmDisplayName: "Acme", clientName: "TV", approved: true })
    ]) {
      expect(r.headers["content-security-policy"]).not.toMatch(/frame-src/)
    }
  })
})
