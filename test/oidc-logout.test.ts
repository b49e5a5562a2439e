/**
 * OIDC RP-Initiated Logout 1.0 (§2 end_session_endpoint, §3 post-logout redirect, §4 validation) and OIDC
 * Front-Channel Logout 1.0 (§2-§3 iframes with iss and sid), driven over HTTP with a cookie jar.
 */
import { expect } from "@effect/vitest"
import { Context, Deferred, Effect, Layer, TestClock } from "effect"
import * as Jose from "jose"
import { Sessions } from "@tessera/domain"
import * as Page from "@tessera/server-node/pages/Page"
import {
  authorizeAndLogin, authorizePath, codeOf, decodeEntities, fieldsOf, makeBrowser, onlyForm, pathOf, pkce, setup, signIn
} from "./support/Browser.js"
import type { Browser, Response, Setup } from "./support/Browser.js"
import { admin, request } from "./support/Http.js"
import { type Ports, publicUrl } from "./support/TestLive.js"
import * as TestLive from "./support/TestLive.js"

const it = TestLive.file()

const app = "https://app.example.com"
const bye = `${app}/bye`
const frontChannelUri = `${app}/fcl?tenant=1`
const otherRedirect = "https://other.example.org/cb"
const otherBye = "https://other.example.org/bye?lang=en"
const userAgent = "tessera-test-browser/1.0"

/** Every page's CSP (Page §"headers"), with the page's own form-action and frame-src. */
const csp = (formAction: string, frameSrc?: string) =>
  [
    "default-src 'none'",
    `style-src ${Page.stylesheetHash}`,
    "img-src 'self'",
    `form-action ${formAction}`,
    ...(frameSrc !== undefined ? [`frame-src ${frameSrc}`] : []),
    "frame-ancestors 'none'",
    "base-uri 'none'"
  ].join("; ")

const expectPage = (res: Response, status: number, policy: string) => {
  expect(res.status).toBe(status)
  expect(res.headers["location"]).toBeUndefined()
  expect(res.headers["content-type"]).toBe("text/html; charset=utf-8")
  expect(res.headers["cache-control"]).toBe("no-store")
  expect(res.headers["x-frame-options"]).toBe("DENY")
  expect(res.headers["x-content-type-options"]).toBe("nosniff")
  expect(res.headers["referrer-policy"]).toBe("no-referrer")
  expect(res.headers["content-security-policy"]).toBe(policy)
}

const expectErrorPage = (res: Response, status: number, error: string, description: string) => {
  expectPage(res, status, csp("'self'"))
  expect(res.rawSetCookies).toEqual([])
  expect(res.text).toContain(`<code>${error}</code>`)
  expect(res.text).toContain(`<p class="wrap">${description.replaceAll("'", "&#39;")}</p>`)
  expect(formsOf(res.text)).toBe(0)
}

const formsOf = (html: string) => [...html.matchAll(/<form\b/g)].length
const framesOf = (html: string) => [...html.matchAll(/<iframe src="([^"]*)"/g)].map((m) => decodeEntities(m[1]!))
const linksOf = (html: string) => [...html.matchAll(/<a\b[^>]*href="([^"]*)"/g)].map((m) => decodeEntities(m[1]!))

/** The signed-out page: no form, its iframes and its links. */
const expectSignedOut = (res: Response, frames: ReadonlyArray<string>, links: ReadonlyArray<string>) => {
  expect(res.text).toContain("<h1>You are signed out</h1>")
  expect(formsOf(res.text)).toBe(0)
  expect(framesOf(res.text)).toEqual(frames)
  expect(linksOf(res.text)).toEqual(links)
}

const clearedCookie = (s: Setup) => `tessera_session_${s.realm}=; Max-Age=0; Path=/realms/${s.realm}; HttpOnly; Secure; SameSite=Lax`

const logoutPath = (s: Setup, params: Readonly<Record<string, string>> | ReadonlyArray<readonly [string, string]>) => {
  const search = new URLSearchParams(Array.isArray(params) ? params as Array<[string, string]> : Object.entries(params)).toString()
  return `/realms/${s.realm}/logout${search === "" ? "" : `?${search}`}`
}

const auditOf = (s: Setup, type: string) =>
  Effect.map(admin.get(`/admin/realms/${s.realm}/audit?type=${type}`), (res) => res.json.events as Array<Record<string, unknown>>)

/** Redeems a code at the token endpoint as a public client and returns the whole token response. */
const redeem = (s: Setup, clientId: string, redirectUri: string, code: string, verifier: string) =>
  Effect.gen(function*() {
    const res = yield* request("POST", `/realms/${s.realm}/token`, {
      body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: redirectUri, code_verifier: verifier, client_id: clientId }).toString(),
      contentType: "application/x-www-form-urlencoded"
    })
    if (res.status !== 200) return yield* Effect.dieMessage(`token: ${res.status} ${res.text}`)
    return res.json as { id_token: string; access_token: string }
  })

interface World extends Setup {
  /** The second client: no front-channel logout URI, one post-logout redirect URI with a query. */
  readonly otherClientId: string
}

/**
 * A realm whose first client ("Example App") registered a front-channel logout URI (session required) and two
 * post-logout redirect URIs, and a second client ("Other App") without front-channel logout.
 */
const world = Effect.gen(function*() {
  const s = yield* setup({
    client: {
      redirect_uris: [`${app}/callback`],
      post_logout_redirect_uris: [bye, `${bye}?from=tessera`],
      frontchannel_logout_uri: frontChannelUri,
      frontchannel_logout_session_required: true
    }
  })
  const other = yield* admin.post(`/admin/realms/${s.realm}/clients`, {
    client_name: "Other App",
    redirect_uris: [otherRedirect],
    post_logout_redirect_uris: [otherBye],
    token_endpoint_auth_method: "none",
    grant_types: ["authorization_code", "refresh_token"]
  })
  if (other.status !== 201) return yield* Effect.dieMessage(`client: ${other.status} ${other.text}`)
  return { ...s, otherClientId: other.json.client_id as string } satisfies World
})

/** Signs in to the first client: login, consent, code, tokens. */
const signInFirst = (browser: Browser, w: World) =>
  Effect.gen(function*() {
    const { challenge, verifier } = pkce()
    const done = yield* signIn(browser, w, challenge)
    return yield* redeem(w, w.clientId, w.redirectUri, codeOf(done), verifier)
  })

/** Signs in to the second client in the same session: consent only, then code and tokens. */
const signInOther = (browser: Browser, w: World) =>
  Effect.gen(function*() {
    const { challenge, verifier } = pkce()
    const consent = yield* browser.get(authorizePath({ ...w, clientId: w.otherClientId, redirectUri: otherRedirect }, challenge))
    if (consent.status !== 200) return yield* Effect.dieMessage(`consent: ${consent.status} ${consent.text}`)
    const done = yield* browser.submit(onlyForm(consent.text), {}, ["decision", "allow"])
    return yield* redeem(w, w.otherClientId, otherRedirect, codeOf(done), verifier)
  })

/** One browser signed in to both clients, one session; the first client's ID token and the session's sid. */
const signedInToBoth = Effect.gen(function*() {
  const w = yield* world
  const browser = makeBrowser()
  const tokens = yield* signInFirst(browser, w)
  const otherTokens = yield* signInOther(browser, w)
  const claims = Jose.decodeJwt(tokens.id_token)
  expect(Jose.decodeJwt(otherTokens.id_token)["sid"]).toBe(claims["sid"])
  return { w, browser, idToken: tokens.id_token, accessToken: tokens.access_token, otherIdToken: otherTokens.id_token, sid: claims["sid"] as string }
})

/** Whether the browser is still signed in: authorize shows the login form only when it is not. */
const showsLogin = (browser: Browser, w: World) =>
  Effect.map(browser.get(authorizePath(w, pkce().challenge)), (res) =>
    res.status === 200 && fieldsOf(onlyForm(res.text)).some(([, type]) => type === "password"))

const expectedFrame = (w: World, sid: string) =>
  `${frontChannelUri}&${new URLSearchParams({ iss: w.issuer, sid }).toString()}`

it.layer(TestLive.World)("OIDC RP-Initiated Logout 1.0 §2-§3 and Front-Channel Logout 1.0 §2-§3", (it) => {
  it.effect("id_token_hint, post_logout_redirect_uri and state: confirm, session ended, cookie cleared, one iframe, a link back", () =>
    Effect.gen(function*() {
      const { w, browser, idToken, sid } = yield* signedInToBoth
      expect(yield* showsLogin(browser, w)).toBe(false)

      // §2: the OP asks the person to confirm
      const page = yield* browser.get(logoutPath(w, { id_token_hint: idToken, post_logout_redirect_uri: bye, state: "st-1", ui_locales: "en" }))
      expectPage(page, 200, csp(`'self' ${app}`))
      expect(page.rawSetCookies).toEqual([])
      expect(page.text).toContain("<h1>Sign out?</h1>")
      expect(page.text).toContain("<p class=\"wrap\"><strong>Example App</strong> asks to sign you out.</p>")
      expect(page.text).toContain(`<p class="muted wrap">Signed in as <strong>${w.username}</strong></p>`)
      const form = onlyForm(page.text)
      expect(form.method).toBe("post")
      expect(form.action).toBe(
        `${w.issuer}/logout/confirm?${new URLSearchParams({ client_id: w.clientId, post_logout_redirect_uri: bye, state: "st-1" }).toString()}`
      )
      expect(fieldsOf(form)).toEqual([["input", "hidden", "csrf"], ["button", "submit", ""]])
      expect(form.hidden["csrf"]).toMatch(/^[A-Za-z0-9_-]{43}$/)
      // showing the form ends nothing
      expect(yield* showsLogin(browser, w)).toBe(false)

      // "yes": the session ends, its cookie is cleared, and the page tells the front-channel client
      const done = yield* browser.submit(form)
      expectPage(done, 200, csp("'self'", app))
      expect(done.rawSetCookies).toEqual([clearedCookie(w)])
      expectSignedOut(done, [expectedFrame(w, sid)], [`${bye}?state=st-1`])
      expect(done.text).toContain("<iframe src=\"https://app.example.com/fcl?tenant=1&amp;iss=")
      expect(done.text).toContain("Return to app.example.com")
      const frame = new URL(framesOf(done.text)[0]!)
      expect([...frame.searchParams]).toEqual([["tenant", "1"], ["iss", w.issuer], ["sid", sid]])

      // the session is gone: authorize shows the login form again
      expect(browser.jar.has(`tessera_session_${w.realm}`)).toBe(false)
      expect(yield* showsLogin(browser, w)).toBe(true)
      expect((yield* auditOf(w, "logout.succeeded")).map(({ id: _id, at: _at, ip: _ip, ...rest }) => rest)).toEqual([{
        realm: w.realm,
        type: "logout.succeeded",
        actor: { type: "user", id: w.sub },
        subject: w.sub,
        client_id: w.clientId,
        result: "success",
        user_agent: userAgent
      }])
      expect((yield* auditOf(w, "logout.succeeded"))[0]!["ip"]).toMatch(/127\.0\.0\.1/)
    }))

  it.effect("the old session cookie, replayed after logout, signs nothing in and ends nothing twice", () =>
    Effect.gen(function*() {
      const { w, browser, idToken } = yield* signedInToBoth
      const cookies = new Map(browser.jar)
      const form = onlyForm((yield* browser.get(logoutPath(w, { id_token_hint: idToken }))).text)
      expect((yield* browser.submit(form)).status).toBe(200)
      for (const [name, c] of cookies) browser.jar.set(name, c)
      expect(yield* showsLogin(browser, w)).toBe(true)
      for (const [name, c] of cookies) browser.jar.set(name, c)
      // the same form again: the CSRF still verifies (it is keyed by the cookie), but the session has ended already
      const again = yield* browser.submit(form)
      expectPage(again, 200, csp("'self'"))
      expect(again.rawSetCookies).toEqual([clearedCookie(w)])
      expectSignedOut(again, [], [])
      expect(yield* auditOf(w, "logout.succeeded")).toHaveLength(1)
      // and the logout endpoint with that cookie has nothing to confirm
      for (const [name, c] of cookies) browser.jar.set(name, c)
      const page = yield* browser.get(logoutPath(w, { id_token_hint: idToken, post_logout_redirect_uri: bye }))
      expectPage(page, 200, csp("'self'"))
      expectSignedOut(page, [], [bye])
    }))

  it.effect("§3: without front-channel clients the confirmation redirects (303) to post_logout_redirect_uri, its query kept, with state", () =>
    Effect.gen(function*() {
      const w = yield* world
      const browser = makeBrowser()
      // the second client alone: sign in through it
      const { challenge, verifier } = pkce()
      const other = { ...w, clientId: w.otherClientId, redirectUri: otherRedirect }
      const done = yield* signIn(browser, other, challenge)
      yield* redeem(w, w.otherClientId, otherRedirect, codeOf(done), verifier)

      // client_id instead of a hint identifies the client (§2)
      const page = yield* browser.get(logoutPath(w, { client_id: w.otherClientId, post_logout_redirect_uri: otherBye, state: "s t&x" }))
      expectPage(page, 200, csp("'self' https://other.example.org"))
      expect(page.text).toContain("<strong>Other App</strong> asks to sign you out.")
      const res = yield* browser.submit(onlyForm(page.text))
      expect(res.status).toBe(303)
      expect(res.headers["location"]).toBe(`${otherBye}&state=s+t%26x`)
      expect(res.headers["cache-control"]).toBe("no-store")
      expect(res.headers["referrer-policy"]).toBe("no-referrer")
      expect(res.rawSetCookies).toEqual([clearedCookie(w)])
      expect(res.text).toBe("")
      expect(yield* showsLogin(browser, w)).toBe(true)
      expect((yield* auditOf(w, "logout.succeeded"))[0]).toMatchObject({ client_id: w.otherClientId, subject: w.sub })
    }))

  it.effect("§3: a post_logout_redirect_uri that is not registered exactly: logout still offered, but no redirect and no link", () =>
    Effect.gen(function*() {
      const { w, browser, idToken, sid } = yield* signedInToBoth
      for (const uri of ["https://evil.example/bye", `${bye}/`, `${bye}?from=tessera&x=1`, "https://APP.example.com/bye", otherBye]) {
        const page = yield* browser.get(logoutPath(w, { id_token_hint: idToken, post_logout_redirect_uri: uri, state: "st" }))
        expectPage(page, 200, csp("'self'"))
        // the client is still named (the hint is valid); nothing about the redirect is carried to the confirmation
        expect(onlyForm(page.text).action).toBe(`${w.issuer}/logout/confirm?client_id=${w.clientId}`)
      }
      // a registered URI with a query of its own matches exactly, and state joins that query
      const ok = yield* browser.get(logoutPath(w, { id_token_hint: idToken, post_logout_redirect_uri: `${bye}?from=tessera`, state: "st" }))
      expectPage(ok, 200, csp(`'self' ${app}`))

      const page = yield* browser.get(logoutPath(w, { id_token_hint: idToken, post_logout_redirect_uri: "https://evil.example/bye", state: "st" }))
      const done = yield* browser.submit(onlyForm(page.text))
      expectPage(done, 200, csp("'self'", app))
      expectSignedOut(done, [expectedFrame(w, sid)], [])
      expect(done.text).not.toContain("evil.example")
    }))

  it.effect("§2: post_logout_redirect_uri without id_token_hint or client_id: no client to match it against, no link", () =>
    Effect.gen(function*() {
      const { w, browser, sid } = yield* signedInToBoth
      const page = yield* browser.get(logoutPath(w, { post_logout_redirect_uri: bye, state: "st" }))
      expectPage(page, 200, csp("'self'"))
      expect(page.text).not.toContain("asks to sign you out")
      expect(onlyForm(page.text).action).toBe(`${w.issuer}/logout/confirm`)
      const done = yield* browser.submit(onlyForm(page.text))
      expectSignedOut(done, [expectedFrame(w, sid)], [])
      expect((yield* auditOf(w, "logout.succeeded"))[0]!["client_id"]).toBeUndefined()
    }))

  it.effect("Front-Channel Logout §3 (issue 12): each iframe sandboxed, no referrer; the link names the redirect's host, never the client's self-chosen name", () =>
    Effect.gen(function*() {
      const { w, browser, idToken, sid } = yield* signedInToBoth
      const page = yield* browser.get(logoutPath(w, { id_token_hint: idToken, post_logout_redirect_uri: bye, state: "st-1" }))
      const done = yield* browser.submit(onlyForm(page.text))
      expectPage(done, 200, csp("'self'", app))
      const src = expectedFrame(w, sid).replaceAll("&", "&amp;")
      expect([...done.text.matchAll(/<iframe\b[^>]*>/g)].map((m) => m[0])).toEqual([
        `<iframe src="${src}" title="Signing out of an application" sandbox="allow-scripts allow-same-origin" referrerpolicy="no-referrer" hidden>`
      ])
      expect(done.text).toContain(`<p><a class="button" href="${bye}?state=st-1">Return to app.example.com</a></p>`)
      expect(done.text).not.toContain("Example App")
    }))

  it.effect("Front-Channel Logout §3 (issue 12): a front-channel logout URI on Tessera's own origin is never framed", () =>
    Effect.gen(function*() {
      const s = yield* setup({ client: { redirect_uris: [`${publicUrl}/cb`], frontchannel_logout_uri: `${publicUrl}/healthz` } })
      const browser = makeBrowser()
      const { challenge, verifier } = pkce()
      yield* redeem(s, s.clientId, s.redirectUri, codeOf(yield* signIn(browser, s, challenge)), verifier)
      const page = yield* browser.get(logoutPath(s, { client_id: s.clientId }))
      const done = yield* browser.submit(onlyForm(page.text))
      expectPage(done, 200, csp("'self'"))
      expectSignedOut(done, [], [])
    }))

  it.effect("no session: a clean signed-out page straight away (with the link when the redirect is valid), nothing set", () =>
    Effect.gen(function*() {
      const { w, idToken } = yield* signedInToBoth
      const stranger = makeBrowser()
      const withLink = yield* stranger.get(logoutPath(w, { id_token_hint: idToken, post_logout_redirect_uri: bye, state: "st-2" }))
      expectPage(withLink, 200, csp("'self'"))
      expect(withLink.rawSetCookies).toEqual([])
      expectSignedOut(withLink, [], [`${bye}?state=st-2`])
      expect(withLink.text).toContain("Return to app.example.com")
      const bare = yield* stranger.get(logoutPath(w, {}))
      expectPage(bare, 200, csp("'self'"))
      expect(bare.rawSetCookies).toEqual([])
      expectSignedOut(bare, [], [])
      // a confirmation posted without any session cookie: nothing to end or verify
      const confirm = yield* stranger.post(`/realms/${w.realm}/logout/confirm?client_id=${w.clientId}&post_logout_redirect_uri=${encodeURIComponent(bye)}`, [["csrf", "x"]])
      expectPage(confirm, 200, csp("'self'"))
      expect(confirm.rawSetCookies).toEqual([])
      expectSignedOut(confirm, [], [])
      expect(yield* auditOf(w, "logout.succeeded")).toEqual([])
    }))

  it.effect("§2 POST: with the cookie, the confirmation page; without it (a cross-site POST), a 303 to the same request as GET", () =>
    Effect.gen(function*() {
      const { w, browser, idToken } = yield* signedInToBoth
      const fields = [["id_token_hint", idToken], ["post_logout_redirect_uri", bye], ["state", "st-3"]] as const
      const page = yield* browser.post(`/realms/${w.realm}/logout`, fields)
      expectPage(page, 200, csp(`'self' ${app}`))
      expect(onlyForm(page.text).action).toBe(
        `${w.issuer}/logout/confirm?${new URLSearchParams({ client_id: w.clientId, post_logout_redirect_uri: bye, state: "st-3" }).toString()}`
      )
      const crossSite = yield* makeBrowser().post(`/realms/${w.realm}/logout`, fields)
      expect(crossSite.status).toBe(303)
      expect(crossSite.headers["location"]).toBe(`${w.issuer}/logout?${new URLSearchParams(fields.map(([n, v]) => [n, v])).toString()}`)
      expect(crossSite.headers["cache-control"]).toBe("no-store")
      expect(crossSite.rawSetCookies).toEqual([])
      // followed as a top-level GET, the browser's SameSite=Lax cookie comes along
      const followed = yield* browser.get(pathOf(crossSite.headers["location"]!))
      expect(onlyForm(followed.text).action).toBe(onlyForm(page.text).action)
      expect(yield* showsLogin(browser, w)).toBe(false)
    }))

  it.effect("issue 12 (found by the fuzzer): a POST whose echo would be a Location over 8 KiB is the error page, never a redirect no proxy passes", () =>
    Effect.gen(function*() {
      const { w, idToken } = yield* signedInToBoth
      // 2000 characters of state, each 4 bytes of UTF-8: 24 KB once percent-encoded (RP-Initiated Logout §2 sets no syntax)
      const fields = [["id_token_hint", idToken], ["post_logout_redirect_uri", bye], ["state", "\u{1D54F}".repeat(2000)]] as const
      const crossSite = yield* makeBrowser().post(`/realms/${w.realm}/logout`, fields)
      expectErrorPage(crossSite, 400, "invalid_request", "The request is too long to be sent on by redirect.")
    }))
})

it.layer(TestLive.World)("OIDC RP-Initiated Logout 1.0 §4: id_token_hint and client_id validation", (it) => {
  const badHint = "The id_token_hint is not an ID token issued by this realm."

  it.effect("a hint from another realm, tampered, re-signed, an access token, or not a JWT: 400 error page, the session lives on", () =>
    Effect.gen(function*() {
      const { w, browser, idToken, accessToken } = yield* signedInToBoth
      const elsewhere = yield* setup()
      const { challenge, verifier } = pkce()
      const foreign = yield* redeem(elsewhere, elsewhere.clientId, elsewhere.redirectUri, codeOf(yield* signIn(makeBrowser(), elsewhere, challenge)), verifier)

      const [header, payload, signature] = idToken.split(".") as [string, string, string]
      const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"))
      const tampered = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: "someone-else" })).toString("base64url")}.${signature}`
      const { privateKey } = yield* Effect.promise(() => Jose.generateKeyPair("RS256"))
      const selfSigned = yield* Effect.promise(() =>
        new Jose.SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: Jose.decodeProtectedHeader(idToken).kid!, typ: "JWT" }).sign(privateKey))
      const unsigned = `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")}.${payload}.`
      for (const hint of [foreign.id_token, tampered, selfSigned, unsigned, accessToken, "not-a-jwt", `${idToken}x`]) {
        const res = yield* browser.get(logoutPath(w, { id_token_hint: hint, post_logout_redirect_uri: bye, state: "st" }))
        expectErrorPage(res, 400, "invalid_request", badHint)
      }
      // the hint of another realm is good there
      expect((yield* makeBrowser().get(logoutPath(elsewhere, { id_token_hint: foreign.id_token }))).status).toBe(200)
      expect(yield* showsLogin(browser, w)).toBe(false)
    }))

  it.effect("client_id: must be the hint's client (§2), and registered in this realm", () =>
    Effect.gen(function*() {
      const { w, browser, idToken, otherIdToken } = yield* signedInToBoth
      expectErrorPage(
        yield* browser.get(logoutPath(w, { id_token_hint: idToken, client_id: w.otherClientId, post_logout_redirect_uri: otherBye })),
        400, "invalid_request", "The client_id is not the application the id_token_hint was issued to."
      )
      expectErrorPage(
        yield* browser.get(logoutPath(w, { client_id: "no-such-client", post_logout_redirect_uri: bye })),
        400, "invalid_client", "The application is not registered with this realm."
      )
      // agreeing: fine, and the second client's own hint names it
      const both = yield* browser.get(logoutPath(w, { id_token_hint: idToken, client_id: w.clientId, post_logout_redirect_uri: bye }))
      expectPage(both, 200, csp(`'self' ${app}`))
      const other = yield* browser.get(logoutPath(w, { id_token_hint: otherIdToken, post_logout_redirect_uri: otherBye }))
      expectPage(other, 200, csp("'self' https://other.example.org"))
      expect(other.text).toContain("<strong>Other App</strong> asks to sign you out.")
    }))

  it.effect("bad input: repeated, over-long and badly encoded parameters, a wrong body type: 400 error page, never a 500", () =>
    Effect.gen(function*() {
      const { w, browser, idToken } = yield* signedInToBoth
      const path = `/realms/${w.realm}/logout`
      expectErrorPage(yield* browser.get(logoutPath(w, [["state", "a"], ["state", "b"]])), 400, "invalid_request", "'state' must not be provided twice")
      expectErrorPage(yield* browser.get(logoutPath(w, [["id_token_hint", idToken], ["id_token_hint", idToken]])), 400, "invalid_request",
        "'id_token_hint' must not be provided twice")
      for (const name of ["post_logout_redirect_uri", "client_id", "logout_hint", "ui_locales"]) {
        expectErrorPage(yield* browser.get(logoutPath(w, [[name, "a"], [name, "b"]])), 400, "invalid_request", `'${name}' must not be provided twice`)
      }
      expectErrorPage(yield* browser.get(logoutPath(w, { state: "x".repeat(5000) })), 400, "invalid_request", "'state' is too long")
      expectErrorPage(yield* browser.get(`${path}?state=%zz`), 400, "invalid_request", "the request is not valid form encoding")
      expectErrorPage(yield* browser.get(`${path}?state=%C3%28`), 400, "invalid_request", "the request is not valid form encoding")
      expectErrorPage(yield* browser.post(path, "state=%E0%A4%A", "application/x-www-form-urlencoded"), 400, "invalid_request",
        "the request is not valid form encoding")
      expectErrorPage(yield* browser.post(path, "{\"state\":\"x\"}", "application/json"), 400, "invalid_request",
        "the body must be application/x-www-form-urlencoded")
      expectErrorPage(yield* browser.post(`${path}/confirm?state=a&state=b`, [["csrf", "x"]]), 400, "invalid_request", "'state' must not be provided twice")
      // an unknown realm is the contract's JSON 404
      const unknown = yield* browser.get("/realms/no-such-realm-here/logout")
      expect(unknown.status).toBe(404)
      expect(JSON.parse(unknown.text)).toEqual({ error: "invalid_request", error_description: "unknown realm" })
      expect(yield* showsLogin(browser, w)).toBe(false)
    }))

  it.effect("scripts in state and in the client's name are never reflected unescaped", () =>
    Effect.gen(function*() {
      const evil = "\"'><script>alert(1)</script><img src=x onerror=alert(2)>"
      const { w, browser, idToken } = yield* signedInToBoth
      const page = yield* browser.get(logoutPath(w, { id_token_hint: idToken, post_logout_redirect_uri: bye, state: evil }))
      expect(page.status).toBe(200)
      expect(page.text).not.toContain("<script")
      expect(page.text).not.toContain("<img")
      expect(new URL(onlyForm(page.text).action).searchParams.get("state")).toBe(evil)
      const done = yield* browser.submit(onlyForm(page.text))
      expect(done.text).not.toContain("<script")
      expect(linksOf(done.text)).toEqual([`${bye}?${new URLSearchParams({ state: evil }).toString()}`])
    }))
})

it.layer(TestLive.World)("Logout CSRF: the confirmation is bound to the session and to what it carries", (it) => {
  const description = "The form could not be verified. Return to the application and start again."

  it.effect("missing, wrong, another session's, or for a changed redirect: 400 error page, and the session lives on", () =>
    Effect.gen(function*() {
      const { w, browser, idToken } = yield* signedInToBoth
      const page = yield* browser.get(logoutPath(w, { id_token_hint: idToken, post_logout_redirect_uri: bye, state: "st" }))
      const form = onlyForm(page.text)
      const action = pathOf(form.action)
      expectErrorPage(yield* browser.post(action, []), 400, "invalid_request", description)
      expectErrorPage(yield* browser.post(action, [["csrf", "A".repeat(43)]]), 400, "invalid_request", description)
      // the right token for other carried values (another registered redirect URI, another state)
      const other = action.replace(encodeURIComponent(bye), encodeURIComponent(`${bye}?from=tessera`))
      expect(other).not.toBe(action)
      expectErrorPage(yield* browser.post(other, Object.entries(form.hidden)), 400, "invalid_request", description)
      expectErrorPage(yield* browser.post(action.replace("state=st", "state=su"), Object.entries(form.hidden)), 400, "invalid_request", description)
      // another browser's session of the same person and client: its own form's token does not verify here
      const second = makeBrowser()
      const { challenge, verifier } = pkce()
      // consent is remembered: signing in sends the code straight back
      const code = codeOf(yield* authorizeAndLogin(second, w, challenge))
      const secondTokens = yield* redeem(w, w.clientId, w.redirectUri, code, verifier)
      const theirs = onlyForm((yield* second.get(logoutPath(w, { id_token_hint: secondTokens.id_token }))).text)
      const mine = onlyForm((yield* browser.get(logoutPath(w, { id_token_hint: idToken }))).text)
      expect(pathOf(theirs.action)).toBe(pathOf(mine.action))
      expect(theirs.hidden["csrf"]).not.toBe(mine.hidden["csrf"])
      expectErrorPage(yield* browser.post(pathOf(mine.action), Object.entries(theirs.hidden)), 400, "invalid_request", description)
      // a repeated csrf
      expectErrorPage(yield* browser.post(action, [["csrf", form.hidden["csrf"]!], ["csrf", form.hidden["csrf"]!]]), 400, "invalid_request",
        "'csrf' must not be provided twice")
      // nothing ended
      expect(yield* showsLogin(browser, w)).toBe(false)
      expect(yield* auditOf(w, "logout.succeeded")).toEqual([])
      // the real form still works
      const done = yield* browser.submit(form)
      expect(done.status).toBe(200)
      expect(linksOf(done.text)).toEqual([`${bye}?state=st`])
    }))
})

// ---------------------------------------------------------------------------------------------------------------
// Time: a world per test, so TestClock may move
// ---------------------------------------------------------------------------------------------------------------

it.effect("§4: an expired id_token_hint is still accepted as a hint (the session lives 12 h, the ID token 15 min)", () =>
  Effect.gen(function*() {
    const { w, browser, idToken, sid } = yield* signedInToBoth
    yield* TestClock.adjust("2 hours")
    const page = yield* browser.get(logoutPath(w, { id_token_hint: idToken, post_logout_redirect_uri: bye, state: "late" }))
    expectPage(page, 200, csp(`'self' ${app}`))
    expect(page.text).toContain("<strong>Example App</strong> asks to sign you out.")
    const done = yield* browser.submit(onlyForm(page.text))
    expectSignedOut(done, [expectedFrame(w, sid)], [`${bye}?state=late`])
  }).pipe(Effect.provide(TestLive.world())), 60_000)

it.effect("a session that expired on its own: nothing to confirm, the signed-out page", () =>
  Effect.gen(function*() {
    const { w, browser, idToken } = yield* signedInToBoth
    yield* TestClock.adjust("13 hours")
    const page = yield* browser.get(logoutPath(w, { id_token_hint: idToken, post_logout_redirect_uri: bye }))
    expectPage(page, 200, csp("'self'"))
    expectSignedOut(page, [], [bye])
  }).pipe(Effect.provide(TestLive.world())), 60_000)

/**
 * Holds the next `armed` session reads by cookie until all of them have read: concurrent confirmations then all see
 * the session Active before any ends it, the race a slow store or a busy node opens.
 */
const barrier = { armed: 0, waiting: [] as Array<Deferred.Deferred<void>> }
const racingSessionReads = <R>(ports: Layer.Layer<Ports, Error, R>) =>
  Layer.effectContext(Effect.map(Effect.context<Ports>(), (context) => {
    const sessions = Context.get(context, Sessions.Sessions)
    return Context.add(context, Sessions.Sessions, {
      ...sessions,
      findByCookie: (realmId, cookieHash) =>
        Effect.tap(sessions.findByCookie(realmId, cookieHash), () =>
          Effect.gen(function*() {
            if (barrier.armed === 0) return
            const here = yield* Deferred.make<void>()
            barrier.waiting.push(here)
            if (barrier.waiting.length < barrier.armed) return yield* Deferred.await(here)
            const all = barrier.waiting.splice(0)
            barrier.armed = 0
            for (const d of all) yield* Deferred.succeed(d, undefined)
          }))
    })
  })).pipe(Layer.provide(ports))

it.layer(TestLive.world({}, { ports: racingSessionReads }))("OIDC RP-Initiated Logout 1.0 §2: concurrent confirmations", (it) => {
  it.effect("§2: the same confirmation posted 8 times at once ends the session once: one logout.succeeded, the RPs told once", () =>
    Effect.gen(function*() {
      const { w, browser, idToken, sid } = yield* signedInToBoth
      const form = onlyForm((yield* browser.get(logoutPath(w, { id_token_hint: idToken, post_logout_redirect_uri: bye, state: "st-1" }))).text)
      const twins = Array.from({ length: 8 }, () => {
        const twin = makeBrowser()
        for (const [name, c] of browser.jar) twin.jar.set(name, c)
        return twin
      })
      barrier.armed = twins.length
      const answers = yield* Effect.all(twins.map((twin) => twin.submit(form)), { concurrency: "unbounded" })
      for (const answer of answers) expect(answer.rawSetCookies).toEqual([clearedCookie(w)])
      // the winner's answer is the one a single confirmation gets; the others only redirect back, as a replay does
      const winners = answers.filter((answer) => answer.status === 200)
      expect(winners).toHaveLength(1)
      expectPage(winners[0]!, 200, csp("'self'", app))
      expectSignedOut(winners[0]!, [expectedFrame(w, sid)], [`${bye}?state=st-1`])
      for (const loser of answers.filter((answer) => answer !== winners[0])) {
        expect(loser.status).toBe(303)
        expect(loser.headers["location"]).toBe(`${bye}?state=st-1`)
        expect(loser.headers["cache-control"]).toBe("no-store")
        expect(loser.text).toBe("")
      }
      expect(yield* auditOf(w, "logout.succeeded")).toHaveLength(1)
    }))

})

it.layer(TestLive.World)("OIDC RP-Initiated Logout 1.0 §2-§4: attacks on the request and the confirmation", (it) => {
  it.effect("CONTRACT §2: a NUL in any parameter of the request or of the confirmation is the 400 page naming it, and the session lives on", () =>
    Effect.gen(function*() {
      const { w, browser, idToken } = yield* signedInToBoth
      for (const name of ["id_token_hint", "logout_hint", "client_id", "post_logout_redirect_uri", "state", "ui_locales"]) {
        expectErrorPage(yield* browser.get(logoutPath(w, { id_token_hint: idToken, [name]: "a\u0000b" })), 400, "invalid_request",
          `'${name}' must not contain NUL characters`)
        expectErrorPage(yield* browser.post(`/realms/${w.realm}/logout`, [[name, "a\u0000b"]]), 400, "invalid_request",
          `'${name}' must not contain NUL characters`)
      }
      const form = onlyForm((yield* browser.get(logoutPath(w, { id_token_hint: idToken, post_logout_redirect_uri: bye, state: "st" }))).text)
      for (const name of ["client_id", "post_logout_redirect_uri", "state"]) {
        const action = new URL(form.action)
        action.searchParams.set(name, "a\u0000b")
        expectErrorPage(yield* browser.post(pathOf(action.toString()), Object.entries(form.hidden)), 400, "invalid_request",
          `'${name}' must not contain NUL characters`)
      }
      expectErrorPage(yield* browser.post(pathOf(form.action), [["csrf", "a\u0000b"]]), 400, "invalid_request", "'csrf' must not contain NUL characters")
      expect(yield* showsLogin(browser, w)).toBe(false)
      expect(yield* auditOf(w, "logout.succeeded")).toEqual([])
    }))

  it.effect("oversized: any parameter over 4096 characters is the 400 page naming it, before the hint is verified", () =>
    Effect.gen(function*() {
      const { w, browser, idToken } = yield* signedInToBoth
      for (const name of ["id_token_hint", "logout_hint", "client_id", "post_logout_redirect_uri", "ui_locales"]) {
        expectErrorPage(yield* browser.get(logoutPath(w, { id_token_hint: idToken, [name]: "x".repeat(4097) })), 400, "invalid_request",
          `'${name}' is too long`)
      }
      // 4096 is still a value: a state that long is carried
      const page = yield* browser.get(logoutPath(w, { id_token_hint: idToken, post_logout_redirect_uri: bye, state: "s".repeat(4096) }))
      expectPage(page, 200, csp(`'self' ${app}`))
      expect(yield* showsLogin(browser, w)).toBe(false)
    }))

  it.effect("§2 at the confirmation: each carried value (client_id, post_logout_redirect_uri, state, csrf) over 4096 characters or with a NUL is the request's own 400, no session ends and no logout.succeeded is written", () =>
    Effect.gen(function*() {
      const { w, browser, idToken } = yield* signedInToBoth
      /** What the wire says, the parameter's name in the body made generic (the pages differ only in it). */
      const wire = (res: Response, name: string) => ({
        status: res.status,
        headers: Object.fromEntries(
          ["location", "content-type", "cache-control", "x-frame-options", "x-content-type-options", "referrer-policy", "content-security-policy"]
            .map((h) => [h, res.headers[h]])
        ),
        setCookies: res.rawSetCookies,
        text: res.text.replaceAll(`&#39;${name}&#39;`, "&#39;NAME&#39;")
      })
      const form = onlyForm((yield* browser.get(logoutPath(w, { id_token_hint: idToken, post_logout_redirect_uri: bye, state: "st" }))).text)
      for (const [bad, says] of [["x".repeat(4097), "is too long"], ["a\u0000b", "must not contain NUL characters"]] as const) {
        // the request's answer for the same value: the reference the confirmation must match
        const requestAnswer = yield* browser.get(logoutPath(w, { id_token_hint: idToken, state: bad }))
        expectErrorPage(requestAnswer, 400, "invalid_request", `'state' ${says}`)
        for (const name of ["client_id", "post_logout_redirect_uri", "state"]) {
          const action = new URL(form.action)
          action.searchParams.set(name, bad)
          const answer = yield* browser.post(pathOf(action.toString()), Object.entries(form.hidden))
          expectErrorPage(answer, 400, "invalid_request", `'${name}' ${says}`)
          expect(wire(answer, name)).toEqual(wire(requestAnswer, "state"))
        }
        const answer = yield* browser.post(pathOf(form.action), [["csrf", bad]])
        expectErrorPage(answer, 400, "invalid_request", `'csrf' ${says}`)
        expect(wire(answer, "csrf")).toEqual(wire(requestAnswer, "state"))
      }
      expect(yield* showsLogin(browser, w)).toBe(false)
      expect(yield* auditOf(w, "logout.succeeded")).toEqual([])
      // the form itself still works: nothing above spent or changed it (the signed-out page, the RP's iframe to load)
      expect((yield* browser.submit(form)).status).toBe(200)
      expect(yield* showsLogin(browser, w)).toBe(true)
      expect(yield* auditOf(w, "logout.succeeded")).toHaveLength(1)
    }))

  it.effect("replay: a confirmed logout's form posted again after the person signed in anew is the CSRF page, and the new session lives on", () =>
    Effect.gen(function*() {
      const { w, browser, idToken } = yield* signedInToBoth
      const form = onlyForm((yield* browser.get(logoutPath(w, { id_token_hint: idToken, post_logout_redirect_uri: bye, state: "st" }))).text)
      expect((yield* browser.submit(form)).status).toBe(200)
      // signed in again in the same browser: a new session, a new cookie (consent is remembered: the code comes straight back)
      codeOf(yield* authorizeAndLogin(browser, w, pkce().challenge))
      expect(yield* showsLogin(browser, w)).toBe(false)
      expectErrorPage(yield* browser.submit(form), 400, "invalid_request", "The form could not be verified. Return to the application and start again.")
      expect(yield* showsLogin(browser, w)).toBe(false)
      expect(yield* auditOf(w, "logout.succeeded")).toHaveLength(1)
    }))

  it.effect("§3 at the confirmation: a redirect URI the client no longer registers is not followed; the person is still signed out", () =>
    Effect.gen(function*() {
      const { w, browser, idToken, sid } = yield* signedInToBoth
      const form = onlyForm((yield* browser.get(logoutPath(w, { id_token_hint: idToken, post_logout_redirect_uri: bye, state: "st" }))).text)
      const changed = yield* admin.patch(`/admin/realms/${w.realm}/clients/${w.clientId}`, { post_logout_redirect_uris: [`${bye}?from=tessera`] })
      expect(changed.status).toBe(200)
      const done = yield* browser.submit(form)
      expectPage(done, 200, csp("'self'", app))
      expect(done.rawSetCookies).toEqual([clearedCookie(w)])
      expectSignedOut(done, [expectedFrame(w, sid)], [])
      expect(yield* showsLogin(browser, w)).toBe(true)
    }))
})

/** The token endpoint's whole answer to a code, as a public client (never dies: the test reads the refusal). */
const tokenFor = (s: Setup, code: string, verifier: string) =>
  request("POST", `/realms/${s.realm}/token`, {
    body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: s.redirectUri, code_verifier: verifier, client_id: s.clientId }).toString(),
    contentType: "application/x-www-form-urlencoded"
  })

/** Signs in for a code of `scope` (not redeemed), then logs the browser out on the confirmation form. */
const codeThenLogout = (scope: string) =>
  Effect.gen(function*() {
    const w = yield* world
    const browser = makeBrowser()
    const { challenge, verifier } = pkce()
    const code = codeOf(yield* signIn(browser, w, challenge, { scope }))
    const form = onlyForm((yield* browser.get(logoutPath(w, {}))).text)
    const done = yield* browser.submit(form)
    expect(done.rawSetCookies).toEqual([clearedCookie(w)])
    expect(yield* auditOf(w, "logout.succeeded")).toHaveLength(1)
    return { w, code, verifier }
  })

it.layer(TestLive.World)("ADR 0062: what an ended session takes with it (OIDC Core §3.1.2.2, RP-Initiated Logout 1.0 §2, Back-Channel Logout 1.0 §2.7)", (it) => {
  it.effect("a code issued in the session, redeemed after the person logged out: invalid_grant, and no token is issued", () =>
    Effect.gen(function*() {
      const { w, code, verifier } = yield* codeThenLogout("openid profile")
      const res = yield* tokenFor(w, code, verifier)
      expect(res.status).toBe(400)
      expect(res.headers["cache-control"]).toBe("no-store")
      expect(res.json).toEqual({ error: "invalid_grant" })
      expect(yield* auditOf(w, "token.issued")).toEqual([])
      // the code was spent: presenting it again is a replay, refused the same
      expect((yield* tokenFor(w, code, verifier)).json).toEqual({ error: "invalid_grant" })
    }))

  it.effect("OIDC Core §11: a code whose grant holds offline_access outlives the session: tokens, with a refresh token that refreshes", () =>
    Effect.gen(function*() {
      const { w, code, verifier } = yield* codeThenLogout("openid offline_access")
      const res = yield* tokenFor(w, code, verifier)
      expect(res.status).toBe(200)
      expect(res.json.scope).toBe("openid offline_access")
      const refreshed = yield* request("POST", `/realms/${w.realm}/token`, {
        body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: res.json.refresh_token, client_id: w.clientId }).toString(),
        contentType: "application/x-www-form-urlencoded"
      })
      expect(refreshed.status).toBe(200)
    }))
})

