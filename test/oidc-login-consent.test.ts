import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { expect, it, layer } from "@effect/vitest"
import { DateTime, Effect, HashMap, Layer, Option, Ref, TestClock } from "effect"
import * as Http from "node:http"
import { Hash, MemoryDb, Provisioning, Grants } from "@tessera/domain"
import * as AppConfig from "@tessera/server-node/AppConfig"
import * as Live from "@tessera/server-node/Live"
import * as PasswordHasherArgon2 from "@tessera/server-node/PasswordHasherArgon2"
import {
  authorizeAndLogin, authorizePath, codeOf, decodeEntities, fieldsOf, followSeeOther, makeBrowser, onlyForm, pathOf, pkce,
  redirectParams, setup, signIn
} from "./support/Browser.js"
import type { Browser, Response, Setup } from "./support/Browser.js"
import { admin, request } from "./support/Http.js"
import { config, makeMemory, TestMemory } from "./support/TestLive.js"

const expectErrorPage = (res: Response, status: number, error: string, description: string) => {
  expect(res.status).toBe(status)
  expect(res.headers["location"]).toBeUndefined()
  expect(res.headers["content-type"]).toBe("text/html; charset=utf-8")
  expect(res.headers["cache-control"]).toBe("no-store")
  expect(res.headers["x-frame-options"]).toBe("DENY")
  expect(res.text).toContain(`<code>${error}</code>`)
  expect(res.text).toContain(`<p class="wrap">${description.replaceAll("'", "&#39;")}</p>`)
}

/** The stored code, read without consuming it. */
const storedCode = (s: Setup, code: string) =>
  Effect.gen(function*() {
    const db = yield* MemoryDb.MemoryDb
    const realm = yield* Provisioning.findRealm(s.realm)
    const state = yield* Ref.get(db.state)
    return { realm, code: HashMap.get(state.codes, MemoryDb.key(realm.id, yield* Hash.sha256(code))) }
  })

const auditOf = (s: Setup, type: string) =>
  Effect.map(admin.get(`/admin/realms/${s.realm}/audit?type=${type}`), (res) => res.json.events as Array<Record<string, unknown>>)

const login = (browser: Browser, page: Response, username: string, password: string) =>
  browser.submit(onlyForm(page.text), { username, password })

const allow = (browser: Browser, page: Response) => browser.submit(onlyForm(page.text), {}, ["decision", "allow"])

layer(TestMemory)("OAuth 2.1 §4.1 / OIDC Core §3.1.2: authorize, sign in, consent, code", (it) => {
  it.effect("the whole flow: login form, consent page, 302 with code, state and iss; the code is stored bound", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const { challenge, verifier } = pkce()
      const browser = makeBrowser()

      // the login form (CONTRACT §4)
      const page = yield* browser.get(authorizePath(s, challenge, { scope: "openid profile mcp:tools", resource: s.resource }))
      expect(page.status).toBe(200)
      expect(page.headers["content-type"]).toBe("text/html; charset=utf-8")
      expect(page.headers["cache-control"]).toBe("no-store")
      expect(page.headers["x-frame-options"]).toBe("DENY")
      expect(page.headers["content-security-policy"]).toContain("form-action 'self' https://app.example.com;")
      const form = onlyForm(page.text)
      expect(form.method).toBe("post")
      expect(form.action).toBe(`${s.issuer}/login`)
      expect(fieldsOf(form)).toEqual([
        ["input", "hidden", "csrf"],
        ["input", "hidden", "interaction"],
        ["input", "text", "username"],
        ["input", "password", "password"],
        ["button", "submit", ""]
      ])
      expect(form.hidden["csrf"]).toMatch(/^[A-Za-z0-9_-]{43}$/)
      expect(form.hidden["interaction"]).toMatch(/^[A-Za-z0-9_-]{22}$/)
      // the interaction's cookie binds the forms to this browser
      const ix = `tessera_ix_${form.hidden["interaction"]}`
      expect(page.rawSetCookies).toEqual([
        `${ix}=${form.hidden["csrf"]}; Max-Age=600; Path=/realms/${s.realm}; HttpOnly; Secure; SameSite=Lax`
      ])

      // POST login: the session cookie and a 303 to the consent page (POST/redirect/GET)
      const signedIn = yield* login(browser, page, s.username, s.password)
      expect(signedIn.status).toBe(303)
      expect(signedIn.headers["cache-control"]).toBe("no-store")
      expect(signedIn.headers["location"]).toBe(`${s.issuer}/consent?interaction=${form.hidden["interaction"]}`)
      expect(signedIn.rawSetCookies).toHaveLength(1)
      expect(signedIn.rawSetCookies[0]).toMatch(
        new RegExp(`^tessera_session_${s.realm}=[A-Za-z0-9_-]{43}; Max-Age=43200; Path=/realms/${s.realm}; HttpOnly; Secure; SameSite=Lax$`)
      )
      // the consent page (CONTRACT §4): client name, redirect host, who is signed in, scopes, resources
      const consent = yield* browser.get(pathOf(signedIn.headers["location"]!))
      expect(consent.status).toBe(200)
      expect(consent.headers["content-security-policy"]).toContain("form-action 'self' https://app.example.com;")
      expect(consent.text).toContain("Example App")
      expect(consent.text).toContain("<strong>app.example.com</strong>")
      expect(consent.text).toContain(`<strong>${s.username}</strong>`)
      for (const scope of ["openid", "profile", "mcp:tools"]) expect(consent.text).toContain(`<code>${scope}</code>`)
      expect(consent.text).toContain(`<code>${s.resource}</code>`)
      const consentForm = onlyForm(consent.text)
      expect(consentForm.action).toBe(`${s.issuer}/consent`)
      expect(fieldsOf(consentForm)).toEqual([
        ["input", "hidden", "csrf"],
        ["input", "hidden", "interaction"],
        ["button", "submit", "decision", "allow"],
        ["button", "submit", "decision", "deny"]
      ])
      expect(consentForm.hidden).toEqual(form.hidden)

      // allow: 302 to the redirect URI with code, state, iss (RFC 9207)
      const done = yield* allow(browser, consent)
      expect(done.status).toBe(302)
      expect(done.headers["cache-control"]).toBe("no-store")
      const { base, params } = redirectParams(done.headers["location"])
      expect(base).toBe(s.redirectUri)
      expect(params.map(([n]) => n)).toEqual(["code", "state", "iss"])
      expect(params[1]).toEqual(["state", "state-123"])
      expect(params[2]).toEqual(["iss", s.issuer])
      const code = codeOf(done)
      expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/)
      // the interaction's cookie is removed
      expect(done.rawSetCookies).toEqual([`${ix}=; Max-Age=0; Path=/realms/${s.realm}; HttpOnly; Secure; SameSite=Lax`])

      // the code is stored as its SHA-256, bound to client, redirect URI and challenge, for 60 s
      const stored = yield* storedCode(s, code)
      const issued = Option.getOrThrow(stored.code)
      expect(issued._tag).toBe("Issued")
      if (issued._tag !== "Issued") return
      expect({ clientId: issued.clientId, redirectUri: issued.redirectUri, codeChallenge: issued.codeChallenge, realmId: issued.realmId })
        .toEqual({ clientId: s.clientId, redirectUri: s.redirectUri, codeChallenge: challenge, realmId: stored.realm.id })
      const now = yield* DateTime.now
      expect(DateTime.toEpochMillis(issued.expiresAt) - DateTime.toEpochMillis(now)).toBe(60_000)
      // its grant carries the session's authentication and the nonce
      const grant = Option.getOrThrow(yield* Effect.flatMap(Grants.Grants, (g) => g.find(stored.realm.id, issued.grantId)))
      expect(grant).toMatchObject({
        clientId: s.clientId, sub: s.sub, scopes: ["openid", "profile", "mcp:tools"], resources: [s.resource],
        acr: "urn:tessera:acr:password", amr: ["pwd"], nonce: "nonce-456"
      })
      expect(grant.sid).toMatch(/^[A-Za-z0-9_-]{22}$/)

      // audited: login.succeeded and consent.granted, with ip and user agent
      const [succeeded] = yield* auditOf(s, "login.succeeded")
      expect(succeeded).toMatchObject({
        type: "login.succeeded", actor: { type: "user", id: s.sub }, subject: s.sub, client_id: s.clientId, result: "success",
        user_agent: "tessera-test-browser/1.0"
      })
      expect(succeeded!["ip"]).toMatch(/127\.0\.0\.1/)
      const [granted] = yield* auditOf(s, "consent.granted")
      expect(granted).toMatchObject({
        type: "consent.granted", subject: s.sub, client_id: s.clientId, scope: "openid profile mcp:tools", resource: s.resource,
        result: "success", user_agent: "tessera-test-browser/1.0"
      })

      // the token endpoint (built beside this one) redeems it
      const token = yield* request("POST", `/realms/${s.realm}/token`, {
        body: new URLSearchParams({
          grant_type: "authorization_code", code, redirect_uri: s.redirectUri, code_verifier: verifier, client_id: s.clientId,
          resource: s.resource
        }).toString(),
        contentType: "application/x-www-form-urlencoded"
      })
      expect(token.status).toBe(200)
      expect(token.json).toMatchObject({ token_type: "Bearer", scope: "mcp:tools" })
    }))

  it.effect("remembered consent: the next request with the session cookie gets its code at once", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const browser = makeBrowser()
      yield* signIn(browser, s, pkce().challenge)
      const again = yield* browser.get(authorizePath(s, pkce().challenge, { state: "second" }))
      expect(again.status).toBe(302)
      expect(redirectParams(again.headers["location"]).params.map(([n, v]) => n === "code" ? [n, "…"] : [n, v]))
        .toEqual([["code", "…"], ["state", "second"], ["iss", s.issuer]])
      // and prompt=none too (OIDC Core §3.1.2.1)
      const silent = yield* browser.get(authorizePath(s, pkce().challenge, { prompt: "none" }))
      expect(silent.status).toBe(302)
      expect(new URL(silent.headers["location"]!).searchParams.get("code")).toMatch(/^[A-Za-z0-9_-]{43}$/)
    }))

  it.effect("consent covers only what was allowed: a wider request shows the page; prompt=none then consent_required", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const browser = makeBrowser()
      yield* signIn(browser, s, pkce().challenge)
      const wider = yield* browser.get(authorizePath(s, pkce().challenge, { scope: "openid profile email" }))
      expect(wider.status).toBe(200)
      expect(onlyForm(wider.text).action).toBe(`${s.issuer}/consent`)
      expect(wider.text).toContain("<code>email</code>")
      const silent = yield* browser.get(authorizePath(s, pkce().challenge, { scope: "openid profile email", prompt: "none" }))
      expect(silent.status).toBe(302)
      expect(redirectParams(silent.headers["location"]).params).toEqual([
        ["error", "consent_required"], ["error_description", "the person must consent to this request"], ["state", "state-123"], ["iss", s.issuer]
      ])
    }))

  it.effect("OIDC Core §3.1.2.1 prompt=consent shows the consent page again", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const browser = makeBrowser()
      yield* signIn(browser, s, pkce().challenge)
      const page = yield* browser.get(authorizePath(s, pkce().challenge, { prompt: "consent" }))
      expect(page.status).toBe(200)
      expect(onlyForm(page.text).action).toBe(`${s.issuer}/consent`)
      const done = yield* allow(browser, page)
      expect(done.status).toBe(302)
    }))

  it.effect("OIDC Core §3.1.2.1 prompt=login asks for the password again, then continues (consent remembered)", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const browser = makeBrowser()
      yield* signIn(browser, s, pkce().challenge)
      const page = yield* browser.get(authorizePath(s, pkce().challenge, { prompt: "login" }))
      expect(page.status).toBe(200)
      expect(page.text).toContain("Confirm it&#39;s you")
      const form = onlyForm(page.text)
      expect(form.action).toBe(`${s.issuer}/login`)
      // the signed-in username is prefilled
      expect(page.text).toContain(`value="${s.username}"`)
      const done = yield* login(browser, page, s.username, s.password)
      expect(done.status).toBe(302)
      expect(codeOf(done)).toMatch(/^[A-Za-z0-9_-]{43}$/)
      // the redirect after a login POST needs the client in form-action (Chrome and Safari check it)
      expect(page.headers["content-security-policy"]).toContain("form-action 'self' https://app.example.com;")
    }))

  it.effect("OIDC Core §3.1.2.1 max_age=0 and acr_values of another class ask for the password again", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const browser = makeBrowser()
      yield* signIn(browser, s, pkce().challenge)
      for (const changes of [{ max_age: "0" }, { acr_values: "urn:example:mfa" }]) {
        const page = yield* browser.get(authorizePath(s, pkce().challenge, changes))
        expect(page.status).toBe(200)
        expect(onlyForm(page.text).action).toBe(`${s.issuer}/login`)
      }
      // a long max_age and Tessera's own acr are satisfied by the session
      const ok = yield* browser.get(authorizePath(s, pkce().challenge, { max_age: "3600", acr_values: "urn:tessera:acr:password" }))
      expect(ok.status).toBe(302)
      // prompt=none cannot show the login form: login_required
      const silent = yield* browser.get(authorizePath(s, pkce().challenge, { max_age: "0", prompt: "none" }))
      expect(redirectParams(silent.headers["location"]).params[0]).toEqual(["error", "login_required"])
    }))

  it.effect("CONTRACT §5 step-up: a step-up scope always shows the login form; stepup.succeeded is audited", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const browser = makeBrowser()
      const changes = { scope: "mcp:tools payments:send", resource: s.resource, redirect_uri: undefined }
      yield* signIn(browser, s, pkce().challenge, changes)
      // the session and the remembered consent cover it, yet the login form is shown again
      const page = yield* browser.get(authorizePath(s, pkce().challenge, changes))
      expect(page.status).toBe(200)
      expect(page.text).toContain("Confirm it&#39;s you")
      const done = yield* login(browser, page, s.username, s.password)
      expect(done.status).toBe(302)
      expect(yield* auditOf(s, "stepup.succeeded")).toHaveLength(2)
      // without the step-up scope, the session is enough
      const plain = yield* browser.get(authorizePath(s, pkce().challenge, { ...changes, scope: "mcp:tools" }))
      expect(plain.status).toBe(302)
    }))

  it.effect("deny: access_denied with state and iss; consent.denied audited; nothing remembered", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const browser = makeBrowser()
      const consent = yield* authorizeAndLogin(browser, s, pkce().challenge)
      const denied = yield* browser.submit(onlyForm(consent.text), {}, ["decision", "deny"])
      expect(denied.status).toBe(302)
      expect(redirectParams(denied.headers["location"])).toEqual({
        base: s.redirectUri,
        params: [["error", "access_denied"], ["error_description", "the person denied the request"], ["state", "state-123"], ["iss", s.issuer]]
      })
      const [event] = yield* auditOf(s, "consent.denied")
      expect(event).toMatchObject({ type: "consent.denied", subject: s.sub, client_id: s.clientId, result: "failure" })
      // nothing was remembered: the consent page again
      const again = yield* browser.get(authorizePath(s, pkce().challenge))
      expect(onlyForm(again.text).action).toBe(`${s.issuer}/consent`)
    }))

  it.effect("Form Post Response Mode: the code arrives by a page that posts to the client, no JavaScript", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const browser = makeBrowser()
      const done = yield* signIn(browser, s, pkce().challenge, { response_mode: "form_post" })
      expect(done.status).toBe(200)
      expect(done.headers["content-security-policy"]).toContain("form-action 'self' https://app.example.com;")
      expect(done.headers["content-security-policy"]).toContain("default-src 'none'")
      expect(done.text).not.toContain("<script")
      const form = onlyForm(done.text)
      expect(form.method).toBe("post")
      expect(form.action).toBe(s.redirectUri)
      expect(Object.keys(form.hidden)).toEqual(["code", "state", "iss"])
      expect(form.hidden["state"]).toBe("state-123")
      expect(form.hidden["iss"]).toBe(s.issuer)
      expect(done.text).toContain(">Continue</button>")
      expect(Option.isSome((yield* storedCode(s, form.hidden["code"]!)).code)).toBe(true)
    }))
})

layer(TestMemory)("Login: wrong passwords, throttling, audit", (it) => {
  it.effect("a wrong password shows the login form again (400) with the message; login.failed has ip and user agent", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const browser = makeBrowser({ userAgent: "Mozilla/5.0 <script>alert(1)</script>" })
      const page = yield* browser.get(authorizePath(s, pkce().challenge))
      const again = yield* login(browser, page, s.username, "wrong password")
      expect(again.status).toBe(400)
      expect(again.text).toContain("<p class=\"error\" id=\"login-error\" role=\"alert\">Wrong username or password.</p>")
      expect(again.text).toContain(`value="${s.username}"`)
      const form = onlyForm(again.text)
      expect(form.hidden).toEqual(onlyForm(page.text).hidden)
      expect(again.setCookies[`tessera_session_${s.realm}`]).toBeUndefined()
      const [failed] = yield* auditOf(s, "login.failed")
      expect(failed).toMatchObject({
        type: "login.failed", actor: { type: "user", id: s.sub }, subject: s.sub, client_id: s.clientId, result: "failure",
        reason: "wrong_password", user_agent: "Mozilla/5.0 <script>alert(1)</script>"
      })
      expect(failed!["ip"]).toMatch(/127\.0\.0\.1/)
      // the same form then works with the right password
      const consent = yield* followSeeOther(browser, yield* login(browser, again, s.username, s.password))
      expect(consent.status).toBe(200)
      expect(onlyForm(consent.text).action).toBe(`${s.issuer}/consent`)
    }))

  it.effect("an unknown username: the same message; login.failed without a subject", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const browser = makeBrowser()
      const page = yield* browser.get(authorizePath(s, pkce().challenge))
      const username = "<img src=x onerror=alert(1)>"
      const again = yield* login(browser, page, username, "whatever")
      expect(again.status).toBe(400)
      expect(again.text).toContain("Wrong username or password.")
      expect(again.text).not.toContain("<img")
      expect(again.text).toContain("value=\"&lt;img src=x onerror=alert(1)&gt;\"")
      const [failed] = yield* auditOf(s, "login.failed")
      expect(failed).toMatchObject({ actor: { type: "user", id: "anonymous" }, reason: "unknown_user", result: "failure" })
      expect(failed!["subject"]).toBeUndefined()
    }))

  it.effect("throttling (ADR 0027): after 5 failures for a username from one address the 6th attempt is 429 with Retry-After, even with the right password", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const browser = makeBrowser()
      let page = yield* browser.get(authorizePath(s, pkce().challenge))
      for (let i = 0; i < 5; i++) {
        page = yield* login(browser, page, s.username, `wrong ${i}`)
        expect(page.status).toBe(400)
      }
      const throttled = yield* login(browser, page, s.username, s.password)
      expect(throttled.status).toBe(429)
      // TestClock stands still: past the burst of 5 the next attempt waits 1 s after the last failure
      expect(throttled.headers["retry-after"]).toBe("1")
      expect(throttled.text).toContain("Too many attempts; try again in 1 second.")
      expect(onlyForm(throttled.text).hidden).toEqual(onlyForm(page.text).hidden)
      const events = yield* auditOf(s, "login.failed")
      expect(events[0]).toMatchObject({ reason: "throttled", result: "failure" })
      expect(events).toHaveLength(6)
      // the username is compared case-insensitively, as usernames are unique
      const upper = yield* login(browser, page, s.username.toUpperCase(), s.password)
      expect(upper.status).toBe(429)
    }))
})

it.effect("throttling per address (ADR 0027): 30 failures across usernames from one address, then 429", () =>
  Effect.gen(function*() {
    const s = yield* setup()
    const browser = makeBrowser()
    let page = yield* browser.get(authorizePath(s, pkce().challenge))
    for (let i = 0; i < 30; i++) {
      page = yield* login(browser, page, `nobody-${i}`, "guess")
      expect(page.status).toBe(400)
    }
    const throttled = yield* login(browser, page, s.username, s.password)
    expect(throttled.status).toBe(429)
    expect(throttled.headers["retry-after"]).toBe("1")
    // a second later the person gets in
    yield* TestClock.adjust("1 second")
    const fresh = yield* browser.get(authorizePath(s, pkce().challenge))
    const consent = yield* login(browser, fresh, s.username, s.password)
    expect(consent.status).toBe(303)
  }).pipe(Effect.provide(makeMemory())), 60_000)

layer(TestMemory)("CSRF and replay: the forms are bound to their interaction and browser, and used once", (it) => {
  it.effect("a login POST without csrf, with a wrong one, or from another browser: 400 error page", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const browser = makeBrowser()
      const page = yield* browser.get(authorizePath(s, pkce().challenge))
      const form = onlyForm(page.text)
      const description = "The form could not be verified. Return to the application and start again."
      const post = (b: Browser, fields: Record<string, string>) => b.post(pathOf(form.action), Object.entries(fields))
      const creds = { username: s.username, password: s.password }
      expectErrorPage(yield* post(browser, { interaction: form.hidden["interaction"]!, ...creds }), 400, "invalid_request", description)
      expectErrorPage(yield* post(browser, { interaction: form.hidden["interaction"]!, csrf: "A".repeat(43), ...creds }), 400, "invalid_request", description)
      // the right token, but not from the browser that started the interaction (no cookie): login CSRF refused
      expectErrorPage(yield* post(makeBrowser(), { ...form.hidden, ...creds }), 400, "invalid_request", description)
      // another interaction's token
      const other = onlyForm((yield* browser.get(authorizePath(s, pkce().challenge))).text)
      expectErrorPage(yield* post(browser, { interaction: form.hidden["interaction"]!, csrf: other.hidden["csrf"]!, ...creds }), 400, "invalid_request", description)
      // an unknown interaction
      expectErrorPage(yield* post(browser, { interaction: "nope", csrf: "x", ...creds }), 400, "invalid_request",
        "This sign-in request is unknown or already finished. Return to the application and start again.")
      // a repeated field
      const twice = yield* browser.post(pathOf(form.action), [...Object.entries(form.hidden), ["username", "a"], ["username", "b"], ["password", "p"]])
      expectErrorPage(twice, 400, "invalid_request", "'username' must not be provided twice")
      // nothing was signed in, nothing audited as a login
      expect(yield* auditOf(s, "login.failed")).toHaveLength(0)
      expect(yield* auditOf(s, "login.succeeded")).toHaveLength(0)
      // the real form still works
      expect((yield* login(browser, page, s.username, s.password)).status).toBe(303)
    }))

  it.effect("a consent POST without or with a wrong csrf: 400 error page, and no code", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const browser = makeBrowser()
      const consent = yield* authorizeAndLogin(browser, s, pkce().challenge)
      const form = onlyForm(consent.text)
      const description = "The form could not be verified. Return to the application and start again."
      expectErrorPage(yield* browser.post(pathOf(form.action), [["interaction", form.hidden["interaction"]!], ["decision", "allow"]]), 400, "invalid_request", description)
      expectErrorPage(yield* browser.post(pathOf(form.action), [["interaction", form.hidden["interaction"]!], ["csrf", "x"], ["decision", "allow"]]), 400, "invalid_request", description)
      expectErrorPage(yield* browser.submit(form, {}, ["decision", "maybe"]), 400, "invalid_request", "The form must say allow or deny.")
      expect((yield* allow(browser, consent)).status).toBe(302)
    }))

  it.effect("GET consent: reloading shows the same form; another browser, or an unknown interaction, gets the error page", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const browser = makeBrowser()
      const page = yield* browser.get(authorizePath(s, pkce().challenge))
      const signedIn = yield* login(browser, page, s.username, s.password)
      const path = pathOf(signedIn.headers["location"]!)
      const first = yield* browser.get(path)
      const reload = yield* browser.get(path)
      expect(reload.status).toBe(200)
      expect(onlyForm(reload.text).hidden).toEqual(onlyForm(first.text).hidden)
      // a stranger with the URL: no interaction cookie
      const stranger = makeBrowser()
      expectErrorPage(yield* stranger.get(path), 400, "invalid_request",
        "This sign-in request was started in another browser. Return to the application and start again.")
      expectErrorPage(yield* browser.get(`/realms/${s.realm}/consent?interaction=nope`), 400, "invalid_request",
        "This sign-in request is unknown or already finished. Return to the application and start again.")
      expectErrorPage(yield* browser.get(`/realms/${s.realm}/consent`), 400, "invalid_request",
        "This sign-in request is unknown or already finished. Return to the application and start again.")
      // before signing in there is no consent to show
      const fresh = makeBrowser()
      const early = yield* fresh.get(authorizePath(s, pkce().challenge))
      expectErrorPage(yield* fresh.get(`/realms/${s.realm}/consent?interaction=${onlyForm(early.text).hidden["interaction"]}`),
        400, "invalid_request", "You are no longer signed in. Return to the application and start again.")
      // after the decision the URL is finished
      expect((yield* allow(browser, first)).status).toBe(302)
      expectErrorPage(yield* browser.get(path), 400, "invalid_request",
        "This sign-in request is unknown or already finished. Return to the application and start again.")
    }))

  it.effect("a replayed consent form is the error page (400), and issues no second code", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const browser = makeBrowser()
      const consent = yield* authorizeAndLogin(browser, s, pkce().challenge)
      const form = onlyForm(consent.text)
      const cookies = new Map(browser.jar)
      expect((yield* allow(browser, consent)).status).toBe(302)
      // the cookie jar as it was before the first submission, so only the interaction being gone stops it
      for (const [name, c] of cookies) browser.jar.set(name, c)
      const replay = yield* browser.submit(form, {}, ["decision", "allow"])
      expectErrorPage(replay, 400, "invalid_request", "This sign-in request is unknown or already finished. Return to the application and start again.")
      expect(yield* auditOf(s, "consent.granted")).toHaveLength(1)
    }))

  /** Signs in and posts the one consent form twice at once, with these decisions. */
  const raceConsent = (first: "allow" | "deny", second: "allow" | "deny") =>
    Effect.gen(function*() {
      const s = yield* setup()
      const browser = makeBrowser()
      const form = onlyForm((yield* authorizeAndLogin(browser, s, pkce().challenge)).text)
      const answers = yield* Effect.all(
        [browser.submit(form, {}, ["decision", first]), browser.submit(form, {}, ["decision", second])],
        { concurrency: "unbounded" }
      )
      expect(answers.map((a) => a.status).sort()).toEqual([302, 400])
      expectErrorPage(answers.find((a) => a.status === 400)!, 400, "invalid_request",
        "This sign-in request is unknown or already finished. Return to the application and start again.")
      return { s, won: answers.find((a) => a.status === 302)! }
    })

  it.effect("RFC 6749 §4.1.2: two consent forms of one interaction posted at once: one code, the other the error page (ADR 0054)", () =>
    Effect.gen(function*() {
      const { s, won } = yield* raceConsent("allow", "allow")
      expect(new URL(won.headers["location"]!).searchParams.has("code")).toBe(true)
      expect(yield* auditOf(s, "consent.granted")).toHaveLength(1)
    }))

  it.effect("OAuth 2.1 §4.1.2.1: an allow and a deny of one interaction posted at once: exactly one decides it (ADR 0054)", () =>
    Effect.gen(function*() {
      const { s, won } = yield* raceConsent("allow", "deny")
      const params = new URL(won.headers["location"]!).searchParams
      const granted = yield* auditOf(s, "consent.granted")
      const denied = yield* auditOf(s, "consent.denied")
      // the winner's decision is the one written and answered: a code and consent.granted, or access_denied and consent.denied
      expect([granted.length, denied.length]).toEqual(params.has("code") ? [1, 0] : [0, 1])
      expect(params.get("error") ?? undefined).toBe(params.has("code") ? undefined : "access_denied")
    }))
})

/** The tags of a page with their attribute names; throws on a tag whose attributes are not all name="value". */
const tagsOf = (html: string) =>
  [...html.slice("<!doctype html>".length).matchAll(/<\/?([a-z0-9]+)([^>]*)>/g)].map((m) => {
    if (!/^(?:\s+[a-z-]+(?:="[^"<>]*")?)*\s*$/.test(m[2]!)) throw new Error(`malformed tag: ${m[0]}`)
    return [m[1]!, [...m[2]!.matchAll(/([a-z-]+)(?:="[^"]*")?/g)].map((a) => a[1]!)] as const
  })

const pageTags = new Set([
  "html", "head", "meta", "title", "style", "body", "main", "div", "p", "h1", "h2", "strong", "span", "code", "ul", "li",
  "form", "input", "label", "button"
])

layer(TestMemory)("Escaping: scripts in every field are never reflected unescaped", (it) => {
  it.effect("client name, state, nonce, login_hint, username: the pages hold no markup from input", () =>
    Effect.gen(function*() {
      const evil = "\"'><script>alert(1)</script><img src=x onerror=alert(2)>"
      const s = yield* setup({ client: { client_name: evil } })
      const browser = makeBrowser()
      const page = yield* browser.get(authorizePath(s, pkce().challenge, { state: evil, nonce: evil, login_hint: evil }))
      expect(page.status).toBe(200)
      const failed = yield* login(browser, page, evil, evil)
      const consent = yield* followSeeOther(browser, yield* login(browser, page, s.username, s.password))
      for (const res of [page, consent, failed]) {
        expect(res.text).not.toContain("<script")
        expect(res.text).not.toContain("<img")
        const tags = tagsOf(res.text)
        expect(tags.every(([name]) => pageTags.has(name))).toBe(true)
        expect(tags.flatMap(([, attrs]) => attrs).filter((a) => a.startsWith("on"))).toEqual([])
      }
      expect(consent.text).toContain("&quot;&#39;&gt;&lt;script&gt;alert(1)&lt;/script&gt;")
      const done = yield* allow(browser, consent)
      expect(new URL(done.headers["location"]!).searchParams.get("state")).toBe(evil)
      expect(decodeEntities("&lt;")).toBe("<")
    }))
})

// ---------------------------------------------------------------------------------------------------------------
// Time: a world per test, so TestClock may move
// ---------------------------------------------------------------------------------------------------------------

it.effect("an interaction expires after 10 minutes: its forms are refused", () =>
  Effect.gen(function*() {
    const s = yield* setup()
    const browser = makeBrowser()
    const page = yield* browser.get(authorizePath(s, pkce().challenge))
    yield* TestClock.adjust("10 minutes")
    expectErrorPage(yield* login(browser, page, s.username, s.password), 400, "invalid_request",
      "This sign-in request has expired. Return to the application and start again.")
  }).pipe(Effect.provide(makeMemory())))

it.effect("the cookies are not Secure when the public URL is plain http (development)", () =>
  Effect.gen(function*() {
    const s = yield* setup()
    const browser = makeBrowser()
    const page = yield* browser.get(authorizePath(s, pkce().challenge))
    expect(page.rawSetCookies[0]).toMatch(new RegExp(`^tessera_ix_[A-Za-z0-9_-]{22}=[A-Za-z0-9_-]{43}; Max-Age=600; Path=/realms/${s.realm}; HttpOnly; SameSite=Lax$`))
    const signedIn = yield* login(browser, page, s.username, s.password)
    expect(signedIn.rawSetCookies[0]).toMatch(new RegExp(`^tessera_session_${s.realm}=[A-Za-z0-9_-]{43}; Max-Age=43200; Path=/realms/${s.realm}; HttpOnly; SameSite=Lax$`))
    expect(signedIn.headers["location"]).toMatch(/^http:\/\/localhost:8080\/realms\//)
  }).pipe(Effect.provide(makeMemory({ publicUrl: "http://localhost:8080" }))))

it.effect("max_age: an authentication older than max_age signs in again", () =>
  Effect.gen(function*() {
    const s = yield* setup()
    const browser = makeBrowser()
    yield* signIn(browser, s, pkce().challenge)
    yield* TestClock.adjust("2 minutes")
    expect((yield* browser.get(authorizePath(s, pkce().challenge, { max_age: "300" }))).status).toBe(302)
    const page = yield* browser.get(authorizePath(s, pkce().challenge, { max_age: "60" }))
    expect(page.status).toBe(200)
    expect(onlyForm(page.text).action).toBe(`${s.issuer}/login`)
  }).pipe(Effect.provide(makeMemory())))

it.effect("an expired session (12 h) no longer counts: prompt=none is login_required", () =>
  Effect.gen(function*() {
    const s = yield* setup()
    const browser = makeBrowser()
    yield* signIn(browser, s, pkce().challenge)
    yield* TestClock.adjust("12 hours")
    const silent = yield* browser.get(authorizePath(s, pkce().challenge, { prompt: "none" }))
    expect(redirectParams(silent.headers["location"]).params[0]).toEqual(["error", "login_required"])
  }).pipe(Effect.provide(makeMemory())))

// ---------------------------------------------------------------------------------------------------------------
// Constant time: one argon2id verification whether or not the username exists
// ---------------------------------------------------------------------------------------------------------------

const verifyCalls: Array<{ readonly hash: string; readonly password: string }> = []

/** Tessera as TestLive builds it, but with the argon2id primitive counting its verifications. */
const Counting = (() => {
  const server = Http.createServer()
  const Server = NodeHttpServer.layer(() => server, { port: 0, host: "127.0.0.1" })
  const Client = HttpServer.layerTestClient.pipe(Layer.provide(NodeHttpClient.layerUndici), Layer.provideMerge(Server))
  const Hasher = PasswordHasherArgon2.layerWith({
    hash: PasswordHasherArgon2.argon2.hash,
    verify: (hash, password) => {
      verifyCalls.push({ hash, password })
      return PasswordHasherArgon2.argon2.verify(hash, password)
    }
  }, 4)
  return HttpLayerRouter.serve(Live.Routes, { disableLogger: true, disableListenLog: true }).pipe(
    Layer.provide(Hasher),
    Layer.provideMerge(Live.Services),
    Layer.provideMerge(Live.MemoryPorts),
    Layer.provideMerge(Client),
    Layer.provideMerge(AppConfig.layer(config))
  )
})()

layer(Counting)("Constant-time login (issue 4 item 2)", (it) => {
  it.effect("an unknown username still costs one argon2id verification, against a hash with the users' parameters", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const browser = makeBrowser()
      const page = yield* browser.get(authorizePath(s, pkce().challenge))
      const unknownPassword = "password-for-an-unknown-user"
      expect((yield* login(browser, page, "no-such-user", unknownPassword)).status).toBe(400)
      const calls = verifyCalls.filter((c) => c.password === unknownPassword)
      expect(calls).toHaveLength(1)
      const knownPassword = "wrong-password-for-a-known-user"
      expect((yield* login(browser, page, s.username, knownPassword)).status).toBe(400)
      const known = verifyCalls.filter((c) => c.password === knownPassword)
      expect(known).toHaveLength(1)
      // the dummy hash has the same algorithm and cost as a real one, so both take as long
      const params = (phc: string) => phc.split("$").slice(1, 4)
      expect(params(calls[0]!.hash)).toEqual(params(known[0]!.hash))
      expect(params(calls[0]!.hash)).toEqual(["argon2id", "v=19", "m=19456,t=2,p=1"])
      expect(calls[0]!.hash).not.toBe(known[0]!.hash)
    }))
})
