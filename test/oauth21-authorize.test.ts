import { describe, expect, it, layer } from "@effect/vitest"
import { Duration, Effect, Layer, TestClock } from "effect"
import * as AuthorizeRoute from "@tessera/server-node/http/AuthorizeRoute"
import * as IpAddress from "@tessera/server-node/IpAddress"
import {
  authorizeAndLogin, authorizePath, codeOf, expectErrorPage, fieldsOf, followSeeOther, formsOf, makeBrowser, onlyForm, pathOf, pkce, redirectParams, setup, signIn
} from "./support/Browser.js"
import type { Response, Setup } from "./support/Browser.js"
import { get, request } from "./support/Http.js"
import { make, TestLive } from "./support/TestLive.js"

/** A redirect to the client with exactly these parameters (RFC 9207: `iss` always last). */
const expectRedirect = (res: Response, to: string, params: ReadonlyArray<readonly [string, string]>) => {
  expect(res.status).toBe(302)
  expect(res.headers["cache-control"]).toBe("no-store")
  expect(res.text).toBe("")
  expect(redirectParams(res.headers["location"])).toEqual({ base: to, params })
}

const clientError = (s: Setup, error: string, description: string, state = "state-123") =>
  [["error", error], ["error_description", description], ...(state !== "" ? [["state", state] as const] : []), ["iss", s.issuer]] as const

const asResponse = (res: { readonly status: number; readonly headers: Readonly<Record<string, string>>; readonly text: string }): Response =>
  ({ ...res, setCookies: {}, rawSetCookies: [] })

const authorize = (s: Setup, changes: Parameters<typeof authorizePath>[2] = {}) =>
  makeBrowser().get(authorizePath(s, pkce().challenge, changes))

layer(TestLive)("OAuth 2.1 §4.1.2.1: a bad client or redirect URI is the error page, never a redirect", (it) => {
  it.effect("an unknown client_id: 400 error page invalid_client, no Location, the value not echoed", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const res = yield* authorize(s, { client_id: "<script>alert('unknown')</script>" })
      expectErrorPage(res, 400, "invalid_client", "The application is not registered with this realm.")
      expect(res.text).not.toContain("alert(")
    }))

  it.effect("a missing client_id: 400 error page invalid_request", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      expectErrorPage(yield* authorize(s, { client_id: undefined }), 400, "invalid_request", "'client_id' is required")
    }))

  it.effect("a repeated client_id (RFC 6749 §3.1): the error page", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const res = yield* authorize(s, { client_id: [s.clientId, s.clientId] })
      expectErrorPage(res, 400, "invalid_request", "'client_id' must not be provided twice")
    }))

  it.effect("a redirect_uri that is not registered: the error page (also for other errors in the request)", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const description = "The application's return address (redirect_uri) is not registered for it."
      for (const redirect_uri of [
        "https://evil.example/callback",
        "https://app.example.com/callback/",
        "https://app.example.com/callback?x=1",
        "https://app.example.com:8443/callback",
        "https://APP.example.com/callback"
      ]) {
        expectErrorPage(yield* authorize(s, { redirect_uri }), 400, "invalid_request", description)
        // an error that would otherwise go back to the client still cannot go to an unregistered URI
        expectErrorPage(yield* authorize(s, { redirect_uri, response_type: "token" }), 400, "invalid_request", description)
      }
    }))

  it.effect("a redirect_uri with a fragment or relative: the error page", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const description = "'redirect_uri' must be an absolute URI without a fragment"
      expectErrorPage(yield* authorize(s, { redirect_uri: `${s.redirectUri}#x` }), 400, "invalid_request", description)
      expectErrorPage(yield* authorize(s, { redirect_uri: "/callback" }), 400, "invalid_request", description)
    }))

  it.effect("RFC 6749 §3.1.2.3: redirect_uri may be left out when exactly one is registered (not with openid)", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const { challenge } = pkce()
      const browser = makeBrowser()
      const done = yield* signIn(browser, s, challenge, { redirect_uri: undefined, scope: "mcp:tools", resource: s.resource })
      expect(redirectParams(done.headers["location"]).base).toBe(s.redirectUri)
      // OIDC Core §3.1.2.1: an OpenID Connect request must name it
      expectErrorPage(yield* authorize(s, { redirect_uri: undefined }), 400, "invalid_request", "'redirect_uri' is required for OpenID Connect requests")
    }))

  // OAuth 2.1 §4.1.3: redirect_uri is REQUIRED at the token endpoint only if the authorization request included it
  const redeem = (s: Setup, code: string, verifier: string, extra: Record<string, string> = {}) =>
    request("POST", `/realms/${s.realm}/token`, {
      body: new URLSearchParams({ grant_type: "authorization_code", code, code_verifier: verifier, client_id: s.clientId, ...extra }).toString(),
      contentType: "application/x-www-form-urlencoded"
    })
  const codeWithout = (s: Setup, changes: Parameters<typeof authorizePath>[2]) =>
    Effect.gen(function*() {
      const { challenge, verifier } = pkce()
      const browser = makeBrowser()
      const page = yield* authorizeAndLogin(browser, s, challenge, { scope: "mcp:tools", resource: s.resource, ...changes })
      // consent is remembered after the first code: the login then redirects straight to the client
      const done = page.status === 302 ? page : yield* browser.submit(onlyForm(page.text), {}, ["decision", "allow"])
      expect(redirectParams(done.headers["location"]).base).toBe(s.redirectUri)
      return { code: codeOf(done), verifier }
    })
  const expectInvalidGrant = (res: { status: number; headers: Record<string, string>; json: unknown }) => {
    expect(res.status).toBe(400)
    expect(res.headers["cache-control"]).toBe("no-store")
    expect(res.json).toEqual({ error: "invalid_grant" })
  }

  it.effect("OAuth 2.1 §4.1.3: left out at authorize, redirect_uri may be left out at the token endpoint too, or be the registered one", () =>
    Effect.gen(function*() {
      const s = yield* setup({ client: { resources: ["https://mcp.example.com/mcp"] } })
      const omitted = yield* codeWithout(s, { redirect_uri: undefined })
      const tokens = yield* redeem(s, omitted.code, omitted.verifier)
      expect(tokens.status).toBe(200)
      expect(tokens.headers["cache-control"]).toBe("no-store")
      expect(tokens.json).toEqual({
        access_token: expect.any(String), token_type: "Bearer", expires_in: 900, scope: "mcp:tools", refresh_token: expect.any(String)
      })
      // RFC 6749 §4.1.3: if included, it must be identical to the one the code went to
      const same = yield* codeWithout(s, { redirect_uri: undefined })
      expect((yield* redeem(s, same.code, same.verifier, { redirect_uri: s.redirectUri })).status).toBe(200)
      const other = yield* codeWithout(s, { redirect_uri: undefined })
      expectInvalidGrant(yield* redeem(s, other.code, other.verifier, { redirect_uri: "https://app.example.com/other" }))
    }))

  it.effect("OAuth 2.1 §4.1.3: given at authorize, redirect_uri left out at the token endpoint is invalid_grant", () =>
    Effect.gen(function*() {
      const s = yield* setup({ client: { resources: ["https://mcp.example.com/mcp"] } })
      const given = yield* codeWithout(s, {})
      expectInvalidGrant(yield* redeem(s, given.code, given.verifier))
      // the code is spent: presenting it again with the right redirect_uri is a replay
      expectInvalidGrant(yield* redeem(s, given.code, given.verifier, { redirect_uri: s.redirectUri }))
      const again = yield* codeWithout(s, {})
      expect((yield* redeem(s, again.code, again.verifier, { redirect_uri: s.redirectUri })).status).toBe(200)
    }))

  it.effect("with two registered redirect URIs, leaving it out is the error page", () =>
    Effect.gen(function*() {
      const s = yield* setup({ client: { redirect_uris: ["https://app.example.com/a", "https://app.example.com/b"] } })
      const res = yield* authorize(s, { redirect_uri: undefined, scope: "mcp:tools" })
      expectErrorPage(res, 400, "invalid_request", "The application must say where to return (redirect_uri): it registered more than one address.")
    }))
})

layer(TestLive)("RFC 8252 §7.3: a loopback redirect URI matches on any port", (it) => {
  it.effect("registered without a port, requested with one: the code goes to the port asked for", () =>
    Effect.gen(function*() {
      const s = yield* setup({ client: { redirect_uris: ["http://127.0.0.1/callback", "http://[::1]/cb", "http://localhost:8080/cb"] } })
      const { challenge } = pkce()
      for (const redirect_uri of ["http://127.0.0.1:53124/callback", "http://[::1]:61000/cb", "http://localhost:9999/cb", "http://localhost/cb"]) {
        const page = yield* authorize(s, { redirect_uri })
        expect(page.status).toBe(200)
        // the login form may redirect straight to the client: its origin is allowed as a form target
        const origin = redirect_uri.startsWith("http://[") ? "http:" : new URL(redirect_uri).origin
        expect(page.headers["content-security-policy"]).toContain(`form-action 'self' ${origin}`)
      }
      const done = yield* signIn(makeBrowser(), s, challenge, { redirect_uri: "http://127.0.0.1:53124/callback" })
      expect(redirectParams(done.headers["location"]).base).toBe("http://127.0.0.1:53124/callback")
    }))

  it.effect("only the port is free: another path, host or scheme is the error page", () =>
    Effect.gen(function*() {
      const s = yield* setup({ client: { redirect_uris: ["http://127.0.0.1/callback"] } })
      for (const redirect_uri of [
        "http://127.0.0.1:5000/other",
        "http://localhost:5000/callback",
        "http://[::1]:5000/callback",
        "http://127.0.0.1:5000/callback?x=1",
        "http://127.0.0.2:5000/callback"
      ]) {
        expectErrorPage(yield* authorize(s, { redirect_uri }), 400, "invalid_request", "The application's return address (redirect_uri) is not registered for it.")
      }
    }))
})

layer(TestLive)("OAuth 2.1 §4.1.2.1 and RFC 9207: other errors go back to the client with state and iss", (it) => {
  it.effect("missing code_challenge: invalid_request", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      expectRedirect(yield* authorize(s, { code_challenge: undefined }), s.redirectUri, clientError(s, "invalid_request", "'code_challenge' is required"))
    }))

  it.effect("code_challenge_method plain, or missing (it defaults to plain): invalid_request", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      expectRedirect(yield* authorize(s, { code_challenge_method: "plain" }), s.redirectUri,
        clientError(s, "invalid_request", "'code_challenge_method' is not supported: only S256 is"))
      expectRedirect(yield* authorize(s, { code_challenge_method: undefined }), s.redirectUri,
        clientError(s, "invalid_request", "'code_challenge_method' is required: only S256 is supported"))
    }))

  it.effect("response_type token, id_token, or a hybrid: unsupported_response_type", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      for (const response_type of ["token", "id_token", "code id_token", "code token"]) {
        expectRedirect(yield* authorize(s, { response_type }), s.redirectUri,
          clientError(s, "unsupported_response_type", "only the 'code' response type is supported"))
      }
    }))

  it.effect("RFC 6749 §3.1: a repeated parameter is invalid_request; a repeated state is not echoed", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      expectRedirect(yield* authorize(s, { scope: ["openid", "profile"] }), s.redirectUri,
        clientError(s, "invalid_request", "'scope' must not be provided twice"))
      expectRedirect(yield* authorize(s, { code_challenge: [pkce().challenge, pkce().challenge] }), s.redirectUri,
        clientError(s, "invalid_request", "'code_challenge' must not be provided twice"))
      expectRedirect(yield* authorize(s, { state: ["a", "b"] }), s.redirectUri,
        clientError(s, "invalid_request", "'state' must not be provided twice", ""))
    }))

  it.effect("RFC 8707 §2: a resource not registered in the realm, or not allowed to the client: invalid_target", () =>
    Effect.gen(function*() {
      const s = yield* setup({
        resources: [{ uri: "https://mcp.example.com/mcp", scopes: ["mcp:tools"] }, { uri: "https://other.example.com/api", scopes: ["other:read"] }],
        client: { resources: ["https://mcp.example.com/mcp"] }
      })
      expectRedirect(yield* authorize(s, { resource: "https://unknown.example.com/api" }), s.redirectUri,
        clientError(s, "invalid_target", "a requested resource is not registered in this realm"))
      expectRedirect(yield* authorize(s, { resource: "https://other.example.com/api", scope: "other:read" }), s.redirectUri,
        clientError(s, "invalid_target", "a requested resource is not allowed to this client"))
      expectRedirect(yield* authorize(s, { resource: "not a uri" }), s.redirectUri,
        clientError(s, "invalid_target", "'resource' must be an absolute URI without a fragment"))
    }))

  it.effect("RFC 6749 §3.3: a scope outside the client's registered scope or its resources: invalid_scope", () =>
    Effect.gen(function*() {
      const s = yield* setup({ client: { scope: "openid profile mcp:tools" } })
      const description = "a requested scope is not allowed to this client or its resources"
      // registered, but the client's `scope` does not include it
      expectRedirect(yield* authorize(s, { scope: "openid email" }), s.redirectUri, clientError(s, "invalid_scope", description))
      expectRedirect(yield* authorize(s, { scope: "openid payments:send", resource: s.resource }), s.redirectUri, clientError(s, "invalid_scope", description))
      // no resource of the realm defines it
      const open = yield* setup()
      expectRedirect(yield* authorize(open, { scope: "openid admin:everything" }), open.redirectUri, clientError(open, "invalid_scope", description))
    }))

  it.effect("issue 12 (found by the fuzzer): an error whose echoed state would make a Location over 8 KiB is the error page, not a redirect", () =>
    Effect.gen(function*() {
      const s = yield* setup({ client: { scope: "openid profile" } })
      // RFC 6749 A.5: state = 1*VSCHAR; 4096 '%' are 12 KiB once percent-encoded
      const res = yield* authorize(s, { scope: "openid email", state: "%".repeat(4096) })
      expectErrorPage(res, 400, "invalid_request", "The request is too long to be sent on by redirect.")
      // a state that fits is echoed as always
      expectRedirect(yield* authorize(s, { scope: "openid email", state: "%".repeat(2000) }), s.redirectUri,
        clientError(s, "invalid_scope", "a requested scope is not allowed to this client or its resources", "%".repeat(2000)))
    }))

  it.effect("a client without the authorization_code grant: unauthorized_client", () =>
    Effect.gen(function*() {
      const s = yield* setup({ client: { grant_types: ["client_credentials"], token_endpoint_auth_method: "client_secret_basic" } })
      expectRedirect(yield* authorize(s), s.redirectUri,
        clientError(s, "unauthorized_client", "the client is not registered for the authorization code grant"))
    }))

  it.effect("OIDC Core §3.1.2.6: prompt=none without a session is login_required", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      expectRedirect(yield* authorize(s, { prompt: "none" }), s.redirectUri, clientError(s, "login_required", "the person must sign in"))
    }))

  it.effect("the redirect URI's own query is kept (RFC 6749 §3.1.2) and state is encoded, not reflected raw", () =>
    Effect.gen(function*() {
      const s = yield* setup({ client: { redirect_uris: ["https://app.example.com/cb?tenant=a%20b"] } })
      const state = "<script>alert('x')</script>&iss=https://evil.example"
      const res = yield* authorize(s, { code_challenge: undefined, state })
      expect(res.status).toBe(302)
      const location = res.headers["location"]!
      expect(location.startsWith("https://app.example.com/cb?tenant=a%20b&error=invalid_request&")).toBe(true)
      expect(location).not.toContain("<")
      expect(new URL(location).searchParams.getAll("iss")).toEqual([s.issuer])
      expect(new URL(location).searchParams.get("state")).toBe(state)
    }))

  it.effect("Form Post Response Mode: the error arrives as a page that posts to the client (no JavaScript)", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const state = "\"><script>alert(1)</script>"
      const res = yield* authorize(s, { response_mode: "form_post", code_challenge: undefined, state })
      expect(res.status).toBe(200)
      expect(res.headers["content-type"]).toBe("text/html; charset=utf-8")
      expect(res.headers["content-security-policy"]).toContain("form-action 'self' https://app.example.com;")
      expect(res.text).not.toContain("<script")
      const form = onlyForm(res.text)
      expect(form.method).toBe("post")
      expect(form.action).toBe(s.redirectUri)
      expect(form.hidden).toEqual({ error: "invalid_request", error_description: "'code_challenge' is required", state, iss: s.issuer })
      expect(fieldsOf(form).filter(([tag]) => tag === "button")).toEqual([["button", "submit", ""]])
      expect(res.text).toContain(">Continue</button>")
    }))
})

layer(TestLive)("Bad input: never a 500, never reflected unescaped", (it) => {
  it.effect("broken percent-encoding or too many parameters: the error page", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const base = authorizePath(s, pkce().challenge)
      expectErrorPage(yield* get(`${base}&x=%E0%A4%A`).pipe(Effect.map(asResponse)), 400, "invalid_request", "the request is not valid form encoding")
      expectErrorPage(yield* get(`${base}${"&x=1".repeat(100)}`).pipe(Effect.map(asResponse)), 400, "invalid_request", "the request has too many parameters")
    }))

  it.effect("an over-long parameter: invalid_request naming it, the value not echoed", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const res = yield* authorize(s, { nonce: "<b>".repeat(1500) })
      expectRedirect(res, s.redirectUri, clientError(s, "invalid_request", "'nonce' is too long"))
    }))

  it.effect("an unknown realm is the contract's 404 JSON", () =>
    Effect.gen(function*() {
      const res = yield* get("/realms/no-such-realm/authorize?client_id=x")
      expect(res.status).toBe(404)
      expect(res.json).toEqual({ error: "invalid_request", error_description: "unknown realm" })
    }))

  it.effect("login_hint with markup is prefilled escaped", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const hint = "\"><script>alert(1)</script>"
      const page = yield* authorize(s, { login_hint: hint })
      expect(page.status).toBe(200)
      expect(page.text).not.toContain("<script")
      expect(page.text).toContain("value=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\"")
    }))
})

layer(TestLive)("OIDC Core §3.1.2.1: the request may be a POST form", (it) => {
  it.effect("POST {issuer}/authorize with a form body shows the login form", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const path = authorizePath(s, pkce().challenge)
      const res = yield* makeBrowser().post(path.split("?")[0]!, path.split("?")[1]!)
      expect(res.status).toBe(200)
      expect(formsOf(res.text)).toHaveLength(1)
      expect(pathOf(onlyForm(res.text).action)).toBe(`/realms/${s.realm}/login`)
    }))

  it.effect("a POST that is not form-encoded is the error page", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const res = yield* request("POST", `/realms/${s.realm}/authorize`, { json: { client_id: s.clientId } })
      expectErrorPage(asResponse(res), 400, "invalid_request", "the body must be application/x-www-form-urlencoded")
    }))

  it.effect("the code of a POSTed request reaches the client like a GET's", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const { challenge } = pkce()
      const browser = makeBrowser()
      const path = authorizePath(s, challenge)
      const page = yield* browser.post(path.split("?")[0]!, path.split("?")[1]!)
      const consent = yield* followSeeOther(browser, yield* browser.submit(onlyForm(page.text), { username: s.username, password: s.password }))
      const done = yield* browser.submit(onlyForm(consent.text), {}, ["decision", "allow"])
      expect(done.status).toBe(302)
      expect(codeOf(done)).toMatch(/^[A-Za-z0-9_-]{43}$/)
    }))
})

// ---------------------------------------------------------------------------------------------------------------
// ADR 0026: the endpoint's bounds (issue 12 item 10)
// ---------------------------------------------------------------------------------------------------------------

// the test client connects over loopback: behind it, X-Forwarded-For names the client
const loopbackProxy = (() => {
  const parsed = IpAddress.parseCidrList("127.0.0.1, ::1")
  if ("bad" in parsed) throw new Error(parsed.bad)
  return parsed.cidrs
})()

/** A world whose /authorize has these limits (the defaults where not given), behind a trusted loopback proxy. */
const bounded = (limits: Partial<AuthorizeRoute.Limits> = {}) =>
  make({ trustedProxies: loopbackProxy }).pipe(
    Layer.provide(Layer.succeed(AuthorizeRoute.AuthorizeLimits, { ...AuthorizeRoute.AuthorizeLimits.defaultValue(), ...limits }))
  )

const from = (s: Setup, address: string, changes: Parameters<typeof authorizePath>[2] = {}) =>
  Effect.map(request("GET", authorizePath(s, pkce().challenge, changes), { headers: { "x-forwarded-for": address } }), asResponse)

describe("ADR 0026: /authorize is bounded", () => {
  it.effect("120 requests a minute per client address and realm; the 121st is the 429 page with Retry-After; another address, another realm, a minute later are not", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      for (let i = 0; i < 120; i++) expect((yield* from(s, "198.51.100.7")).status).toBe(200)
      const throttled = yield* from(s, "198.51.100.7")
      expectErrorPage(throttled, 429, "temporarily_unavailable", "Too many sign-in requests from your network. Try again in a moment.")
      expect(throttled.headers["retry-after"]).toBe("60")
      expect((yield* from(s, "198.51.100.8")).status).toBe(200)
      expect((yield* from(yield* setup(), "198.51.100.7")).status).toBe(200)
      yield* TestClock.adjust("61 seconds")
      expect((yield* from(s, "198.51.100.7")).status).toBe(200)
    }).pipe(Effect.provide(bounded())))

  it.effect("an IPv6 client counts as its /64", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      expect((yield* from(s, "2001:db8:1:2::1")).status).toBe(200)
      expect((yield* from(s, "2001:db8:1:2:aaaa::2")).status).toBe(200)
      expect((yield* from(s, "2001:db8:1:2:ffff:ffff:ffff:ffff")).status).toBe(429)
      expect((yield* from(s, "2001:db8:1:3::1")).status).toBe(200)
    }).pipe(Effect.provide(bounded({ perAddress: { limit: 2, window: Duration.minutes(1) } }))))

  it.effect("a realm starts at most so many interactions per lifetime: past it the 503 page with Retry-After; answers that store none still work", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      expect((yield* from(s, "198.51.100.1")).status).toBe(200)
      expect((yield* from(s, "198.51.100.2")).status).toBe(200)
      const full = yield* from(s, "198.51.100.3")
      expectErrorPage(full, 503, "temporarily_unavailable", "Too many sign-ins are under way in this realm. Try again in a moment.")
      expect(full.headers["retry-after"]).toBe("600")
      // prompt=none stores nothing: still answered (RFC 6749 §4.1.2.1 redirect for this owner-registered client)
      expectRedirect(yield* from(s, "198.51.100.3", { prompt: "none" }), s.redirectUri, clientError(s, "login_required", "the person must sign in"))
      expect((yield* from(yield* setup(), "198.51.100.3")).status).toBe(200)
      yield* TestClock.adjust("601 seconds")
      expect((yield* from(s, "198.51.100.3")).status).toBe(200)
    }).pipe(Effect.provide(bounded({ interactionsPerRealm: { limit: 2, window: Duration.minutes(10) } }))))

  it.effect("the stored request is at most 8 KiB: state, nonce and login_hint together past it are invalid_request", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const state = "s".repeat(3800)
      expect((yield* authorize(s, { state, nonce: "n".repeat(3800) })).status).toBe(200)
      const res = yield* authorize(s, { state, nonce: "n".repeat(3800), login_hint: "h".repeat(700) })
      expectRedirect(res, s.redirectUri, clientError(s, "invalid_request", "the authorization request is too large", state))
    }).pipe(Effect.provide(bounded())))
})
