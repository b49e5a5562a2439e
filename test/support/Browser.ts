/**
 * A browser by hand for the sign-in pages: a cookie jar fed from Set-Cookie (path-scoped, Max-Age=0 removes),
 * the forms of a page read back from its markup, and the fixtures of a sign-in (realm, user, resource, client, PKCE).
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as Cookies from "@effect/platform/Cookies"
import { expect } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { createHash, randomBytes } from "node:crypto"
import { admin, createRealm, uniqueName } from "./Http.js"
import { publicUrl } from "./TestLive.js"

export interface Response {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly text: string
  /** The cookies this response set, by name. */
  readonly setCookies: Readonly<Record<string, Cookies.Cookie>>
  /** The raw Set-Cookie header values. */
  readonly rawSetCookies: ReadonlyArray<string>
}

interface Stored {
  readonly value: string
  readonly path: string
}

/** RFC 6265 §5.1.4 path-match. */
const pathMatches = (cookiePath: string, requestPath: string) =>
  requestPath === cookiePath ||
  (requestPath.startsWith(cookiePath) && (cookiePath.endsWith("/") || requestPath[cookiePath.length] === "/"))

/** A path under the server from an absolute URL on the public origin (forms post to `{issuer}/...`). */
export const pathOf = (url: string) => {
  const u = new URL(url, publicUrl)
  return `${u.pathname}${u.search}`
}

export const makeBrowser = (options: {
  readonly userAgent?: string
  /** Headers sent with every request (e.g. `x-forwarded-for`, as a trusted proxy would add it). */
  readonly headers?: Readonly<Record<string, string>>
} = {}) => {
  const jar = new Map<string, Stored>()
  const send = (method: "GET" | "POST", path: string, body?: string, contentType = "application/x-www-form-urlencoded") =>
    Effect.gen(function*() {
      const client = yield* HttpClient.HttpClient
      const requestPath = path.split("?")[0]!
      const cookie = [...jar.entries()]
        .filter(([, c]) => pathMatches(c.path, requestPath))
        .map(([name, c]) => `${name}=${c.value}`)
        .join("; ")
      let req = HttpClientRequest.make(method)(path).pipe(
        HttpClientRequest.setHeaders({
          ...options.headers,
          ...(cookie !== "" ? { cookie } : {}),
          "user-agent": options.userAgent ?? "tessera-test-browser/1.0"
        })
      )
      if (body !== undefined) req = HttpClientRequest.bodyText(req, body, contentType)
      const res = yield* client.execute(req)
      const text = yield* res.text
      const setCookies: Record<string, Cookies.Cookie> = {}
      for (const [name, c] of Object.entries(res.cookies.cookies)) {
        setCookies[name] = c
        const maxAge = c.options?.maxAge
        if (maxAge !== undefined && Duration.toMillis(Duration.decode(maxAge)) <= 0) jar.delete(name)
        else jar.set(name, { value: c.value, path: c.options?.path ?? "/" })
      }
      const raw = (res.headers as Record<string, string>)["set-cookie"]
      const response: Response = {
        status: res.status,
        headers: res.headers,
        text,
        setCookies,
        rawSetCookies: raw === undefined ? [] : raw.split(/, (?=[A-Za-z0-9_-]+=)/)
      }
      return response
    }).pipe(Effect.scoped, Effect.orDie)

  return {
    jar,
    get: (path: string) => send("GET", path),
    /** Posts fields (in order; a field may repeat) form-encoded, or a raw body. */
    post: (path: string, body: ReadonlyArray<readonly [string, string]> | string, contentType?: string) =>
      send("POST", path, typeof body === "string" ? body : new URLSearchParams(body.map(([n, v]) => [n, v] as Array<string>)).toString(), contentType),
    /** Submits a form as a browser would: its fields, plus the pressed button's name and value. */
    submit: (form: Form, values: Readonly<Record<string, string>> = {}, button?: readonly [string, string]) =>
      send("POST", pathOf(form.action), new URLSearchParams([
        ...Object.entries({ ...form.hidden, ...values }),
        ...(button !== undefined ? [[button[0], button[1]]] : [])
      ]).toString())
  }
}

export type Browser = ReturnType<typeof makeBrowser>

// ---------------------------------------------------------------------------------------------------------------
// Reading forms back from the markup
// ---------------------------------------------------------------------------------------------------------------

export const decodeEntities = (s: string) =>
  s.replace(/&(amp|lt|gt|quot|#39|#96);/g, (_, e: string) =>
    ({ amp: "&", lt: "<", gt: ">", quot: "\"", "#39": "'", "#96": "`" })[e]!)

const attrs = (tag: string): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const m of tag.matchAll(/([a-zA-Z-]+)(?:="([^"]*)")?/g)) out[m[1]!] = decodeEntities(m[2] ?? "")
  return out
}

export interface Form {
  readonly method: string
  readonly action: string
  /** Hidden inputs by name. */
  readonly hidden: Readonly<Record<string, string>>
  /** Every input and button, in order: [tag, attributes]. */
  readonly controls: ReadonlyArray<readonly [string, Readonly<Record<string, string>>]>
}

/** Every `<form>` of a page. */
export const formsOf = (html: string): ReadonlyArray<Form> =>
  [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)].map((m) => {
    const form = attrs(m[1]!)
    const controls = [...m[2]!.matchAll(/<(input|button)\b([^>]*)>/g)].map((c) => [c[1]!, attrs(c[2]!)] as const)
    const hidden: Record<string, string> = {}
    for (const [tag, a] of controls) if (tag === "input" && a["type"] === "hidden") hidden[a["name"]!] = a["value"] ?? ""
    return { method: form["method"] ?? "get", action: form["action"] ?? "", hidden, controls }
  })

export const onlyForm = (html: string) => {
  const forms = formsOf(html)
  if (forms.length !== 1) throw new Error(`expected one form, found ${forms.length}`)
  return forms[0]!
}

/** The names of a form's inputs and buttons with their types, as [tag, type, name, value?]. */
export const fieldsOf = (form: Form) =>
  form.controls.map(([tag, a]) => [tag, a["type"] ?? "", a["name"] ?? "", ...(a["value"] !== undefined && a["type"] !== "hidden" && tag === "button" ? [a["value"]] : [])])

// ---------------------------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------------------------

export const pkce = () => {
  const verifier = randomBytes(32).toString("base64url")
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") }
}

export interface Setup {
  readonly realm: string
  readonly issuer: string
  readonly clientId: string
  readonly redirectUri: string
  readonly username: string
  readonly password: string
  readonly sub: string
  readonly resource: string
}

export interface SetupOptions {
  /** Extra client metadata (RFC 7591), merged over a public client with one https redirect URI. */
  readonly client?: Record<string, unknown>
  /** Resources to register: uri, scopes, step_up_scopes. The first is `resource`. */
  readonly resources?: ReadonlyArray<{ readonly uri: string; readonly scopes: ReadonlyArray<string>; readonly step_up_scopes?: ReadonlyArray<string> }>
}

/** A realm with a user, a resource (scopes `mcp:tools payments:send`, step-up `payments:send`) and a public client. */
export const setup = (options: SetupOptions = {}) =>
  Effect.gen(function*() {
    const realm = yield* createRealm()
    const username = uniqueName("user")
    const password = "correct horse battery staple"
    const user = yield* admin.post(`/admin/realms/${realm.name}/users`, { username, password, email: `${username}@example.com`, name: "Jane Doe" })
    if (user.status !== 201) return yield* Effect.dieMessage(`user: ${user.status} ${user.text}`)
    const resources = options.resources ?? [{ uri: "https://mcp.example.com/mcp", scopes: ["mcp:tools", "payments:send"], step_up_scopes: ["payments:send"] }]
    for (const r of resources) {
      const res = yield* admin.post(`/admin/realms/${realm.name}/resources`, r)
      if (res.status !== 201) return yield* Effect.dieMessage(`resource: ${res.status} ${res.text}`)
    }
    const client = yield* admin.post(`/admin/realms/${realm.name}/clients`, {
      client_name: "Example App",
      redirect_uris: ["https://app.example.com/callback"],
      token_endpoint_auth_method: "none",
      grant_types: ["authorization_code", "refresh_token"],
      ...options.client
    })
    if (client.status !== 201) return yield* Effect.dieMessage(`client: ${client.status} ${client.text}`)
    return {
      realm: realm.name,
      issuer: realm.issuer,
      clientId: client.json.client_id as string,
      redirectUri: (client.json.redirect_uris as Array<string>)[0]!,
      username,
      password,
      sub: user.json.sub as string,
      resource: resources[0]?.uri ?? ""
    } satisfies Setup
  })

/** An authorization request's path; `undefined` drops a parameter, an array repeats it. */
export const authorizePath = (
  s: Setup,
  challenge: string,
  changes: Readonly<Record<string, string | ReadonlyArray<string> | undefined>> = {}
) => {
  const params: Record<string, string | ReadonlyArray<string> | undefined> = {
    response_type: "code",
    client_id: s.clientId,
    redirect_uri: s.redirectUri,
    scope: "openid profile",
    state: "state-123",
    nonce: "nonce-456",
    code_challenge: challenge,
    code_challenge_method: "S256",
    ...changes
  }
  const search = new URLSearchParams()
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined) continue
    for (const v of typeof value === "string" ? [value] : value) search.append(name, v)
  }
  return `/realms/${s.realm}/authorize?${search.toString()}`
}

/** The parameters of a redirect's Location, in order. */
export const redirectParams = (location: string | undefined) => {
  if (location === undefined) throw new Error("no Location")
  const url = new URL(location)
  return { base: `${url.origin}${url.pathname}`, params: [...url.searchParams.entries()] }
}

/** Follows a 303 that stays on Tessera (the login form's POST/redirect/GET to the consent form). */
export const followSeeOther = (browser: Browser, res: Response) =>
  res.status === 303 && res.headers["location"]?.startsWith(publicUrl)
    ? browser.get(pathOf(res.headers["location"]))
    : Effect.succeed(res)

/** Authorize, then sign in on the login form: the consent page (after its 303), or the redirect to the client. */
export const authorizeAndLogin = (browser: Browser, s: Setup, challenge: string, changes: Parameters<typeof authorizePath>[2] = {}) =>
  Effect.gen(function*() {
    const page = yield* browser.get(authorizePath(s, challenge, changes))
    if (page.status !== 200) return yield* Effect.dieMessage(`authorize: ${page.status} ${page.text}`)
    return yield* followSeeOther(browser, yield* browser.submit(onlyForm(page.text), { username: s.username, password: s.password }))
  })

/** The whole flow to a code: authorize, login, allow. Returns the final response (a redirect to the client). */
export const signIn = (browser: Browser, s: Setup, challenge: string, changes: Parameters<typeof authorizePath>[2] = {}) =>
  Effect.gen(function*() {
    const consent = yield* authorizeAndLogin(browser, s, challenge, changes)
    if (consent.status !== 200) return yield* Effect.dieMessage(`login: ${consent.status} ${consent.text}`)
    return yield* browser.submit(onlyForm(consent.text), {}, ["decision", "allow"])
  })

/** The code of a query-mode redirect. */
export const codeOf = (response: Response) => new URL(response.headers["location"]!).searchParams.get("code")!

/** The error page (OAuth 2.1 §4.1.2.1: never a redirect): HTML, the security headers, the code and fixed text. */
export const expectErrorPage = (res: Response, status: number, error: string, description: string) => {
  expect(res.status).toBe(status)
  expect(res.headers["location"]).toBeUndefined()
  expect(res.headers["content-type"]).toBe("text/html; charset=utf-8")
  expect(res.headers["cache-control"]).toBe("no-store")
  expect(res.headers["x-frame-options"]).toBe("DENY")
  expect(res.headers["content-security-policy"]).toContain("frame-ancestors 'none'")
  expect(res.headers["content-security-policy"]).toContain("form-action 'self';")
  expect(res.text).toContain(`<code>${error}</code>`)
  expect(res.text).toContain(`<p class="wrap">${description.replaceAll("'", "&#39;")}</p>`)
  expect(res.text).not.toContain("<script")
}
