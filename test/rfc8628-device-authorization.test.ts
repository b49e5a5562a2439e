/**
 * RFC 8628, the device authorization grant, over the wire: the device authorization endpoint (§3.1-3.2), the
 * verification pages driven as a browser would (§3.3, CONTRACT §4), polling the token endpoint (§3.4-3.5, CONTRACT §5
 * slow_down), the tokens it ends with, and the audit trail (CONTRACT §7).
 */
import { expect } from "@effect/vitest"
import { Effect, Option, TestClock } from "effect"
import { DeviceAuthorizations, Hash, Provisioning } from "@tessera/domain"
import type { DeviceAuthorizationRequest } from "@tessera/protocol"
import { fieldsOf, followSeeOther, makeBrowser, onlyForm, pathOf } from "./support/Browser.js"
import type { Browser, Response } from "./support/Browser.js"
import { admin, get } from "./support/Http.js"
import * as Dpop from "./support/DpopFixtures.js"
import * as TestLive from "./support/TestLive.js"
import {
  accessTokenLifetime, auditOf, authOf, expectTokenError as expectError, expectTokenResponse as expectTokens, nowSeconds, post, refresh,
  registerClient, userAgent, verify, world
} from "./support/TokenFixtures.js"
import type { Auth, World } from "./support/TokenFixtures.js"

const it = TestLive.file()

const deviceGrant = "urn:ietf:params:oauth:grant-type:device_code"
const password = "correct horse battery staple"

/** A public device client (`none`) with the device and refresh grants, allowed the world's `resource`. */
const deviceClient = (w: World, metadata: Record<string, unknown> = {}) =>
  registerClient(w, { client_name: "Living Room TV", grant_types: [deviceGrant, "refresh_token"], token_endpoint_auth_method: "none", ...metadata })

const authorize = (w: World, auth: Auth, params: Record<string, string> | ReadonlyArray<readonly [string, string]> = {}) =>
  post(w, "device_authorization", auth, params)

/** A device authorization that succeeded. */
const begin = (w: World, auth: Auth, params: Record<string, string> | ReadonlyArray<readonly [string, string]> = {}) =>
  Effect.flatMap(authorize(w, auth, params), (res) =>
    res.status === 200
      ? Effect.succeed(res.json as DeviceAuthorizationRequest.DeviceAuthorizationResponse)
      : Effect.dieMessage(`device authorization: ${res.status} ${res.text}`))

/** Where most cases begin: a realm, a device client, and the device authorization it started for `scope`. */
const deviceStarted = (scope = "read") =>
  Effect.gen(function*() {
    const w = yield* world
    const client = yield* deviceClient(w)
    const auth = authOf(client)
    const started = yield* begin(w, auth, { scope })
    return { w, client, auth, started }
  })

const poll = (w: World, auth: Auth, deviceCode: string, extra: Record<string, string> = {}) =>
  post(w, "token", auth, { grant_type: deviceGrant, device_code: deviceCode, ...extra })

const pending = { error: "authorization_pending", error_description: "the person has not yet approved the request" }
const slowDown = (interval: number) => ({ error: "slow_down", error_description: `polling too fast: wait at least ${interval} seconds between requests` })

/** A page: HTML, never cached, never framed. */
const expectPage = (res: Response, status: number) => {
  expect(res.status).toBe(status)
  expect(res.headers["content-type"]).toBe("text/html; charset=utf-8")
  expect(res.headers["cache-control"]).toBe("no-store")
  expect(res.headers["x-frame-options"]).toBe("DENY")
}

/** The stored authorization, read through the port by the device code's hash. */
const stored = (w: World, deviceCode: string) =>
  Effect.flatMap(DeviceAuthorizations.DeviceAuthorizations, (store) =>
    Effect.flatMap(Hash.sha256(deviceCode), (hash) => store.find(w.realmId, hash)))

/** What a text input of the form holds as served (a browser submits it unchanged unless the person edits it). */
const valueOf = (form: ReturnType<typeof onlyForm>, name: string) =>
  form.controls.find(([tag, a]) => tag === "input" && a["name"] === name)?.[1]["value"] ?? ""

/** The verification page's form, opened from `verification_uri` (or `verification_uri_complete`). */
const openForm = (browser: Browser, uri: string) =>
  Effect.gen(function*() {
    const page = yield* browser.get(pathOf(uri))
    expectPage(page, 200)
    return page
  })

/**
 * The person's part (§3.3), through the pages: the code form, the login form when asked, the consent page, the
 * decision. Returns every page on the way.
 */
const decide = (w: World, browser: Browser, userCode: string, decision: "allow" | "deny" = "allow") =>
  Effect.gen(function*() {
    const entry = yield* openForm(browser, `${w.issuer}/device`)
    const afterCode = yield* browser.submit(onlyForm(entry.text), { user_code: userCode })
    const consent = onlyForm(afterCode.text).action.endsWith("/login")
      ? yield* followSeeOther(browser, yield* browser.submit(onlyForm(afterCode.text), { username: w.username, password }))
      : afterCode
    expectPage(consent, 200)
    const done = yield* browser.submit(onlyForm(consent.text), {}, ["decision", decision])
    return { entry, afterCode, consent, done }
  })

it.layer(TestLive.World)("RFC 8628 §3.1-3.2: the device authorization endpoint", (it) => {
  it.effect("§3.2: a public client gets a device code, a user code XXXX-XXXX, both URIs, expires_in and interval; never cached", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* deviceClient(w)
      const res = yield* authorize(w, authOf(client), { scope: "read" })
      expect(res.status).toBe(200)
      expect(res.headers["content-type"]).toBe("application/json")
      expect(res.headers["cache-control"]).toBe("no-store")
      expect(res.headers["pragma"]).toBe("no-cache")
      const body = res.json as DeviceAuthorizationRequest.DeviceAuthorizationResponse
      expect(body).toEqual({
        device_code: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
        // §6.1: 8 characters of the 20 consonants, shown with a dash
        user_code: expect.stringMatching(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/),
        verification_uri: `${w.issuer}/device`,
        verification_uri_complete: `${w.issuer}/device?user_code=${body.user_code}`,
        // CONTRACT §5: the interval is at most 5 s
        expires_in: 600,
        interval: 5
      })
      // the device code is stored as its SHA-256 only; the request is Pending for the client, scope and resource
      const device = Option.getOrThrow(yield* stored(w, body.device_code))
      expect(device).toMatchObject({
        _tag: "Pending", clientId: client.client_id, userCode: body.user_code.replace("-", ""), scopes: ["read"], resources: [w.resource],
        stepUp: false, interval: 5, version: 1
      })
      const store = yield* DeviceAuthorizations.DeviceAuthorizations
      expect(yield* store.find(w.realmId, body.device_code)).toEqual(Option.none())
      // two requests never share codes
      const again = yield* begin(w, authOf(client), { scope: "read" })
      expect(again.device_code).not.toBe(body.device_code)
      expect(again.user_code).not.toBe(body.user_code)
    }))

  it.effect("§3.1: a confidential client authenticates as at the token endpoint; a wrong secret or none is invalid_client", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* deviceClient(w, { token_endpoint_auth_method: "client_secret_basic" })
      const ok = yield* authorize(w, authOf(client), { scope: "read write" })
      expect(ok.status).toBe(200)
      const challenge = `Basic realm="${w.issuer}"`
      const wrong = yield* authorize(w, { basic: [client.client_id, "not the secret"] }, { scope: "read" })
      expectError(wrong, { error: "invalid_client", error_description: "client authentication failed" }, 401)
      expect(wrong.headers["www-authenticate"]).toBe(challenge)
      const none = yield* authorize(w, { none: client.client_id }, { scope: "read" })
      // RFC 6749 §5.2: one answer for every client authentication failure (rfc6749-client-authentication.test.ts)
      expectError(none, { error: "invalid_client", error_description: "client authentication failed" }, 401)
      const unknown = yield* authorize(w, { none: "no-such-client" }, { scope: "read" })
      expectError(unknown, { error: "invalid_client", error_description: "client authentication failed" }, 401)
      const nothing = yield* authorize(w, { nothing: true }, { scope: "read" })
      expectError(nothing, { error: "invalid_client", error_description: "client authentication failed" }, 401)
    }))

  it.effect("RFC 6749 §5.2: a client not registered for the device grant is unauthorized_client", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* registerClient(w, { token_endpoint_auth_method: "none" })
      expectError(yield* authorize(w, authOf(client), { scope: "read" }), {
        error: "unauthorized_client", error_description: "the client may not use the device authorization grant"
      })
    }))

  it.effect("§3.1 scope and RFC 8707 resource are checked as at the authorization endpoint: invalid_scope, invalid_target, invalid_request", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* deviceClient(w)
      const auth = authOf(client)
      expectError(yield* authorize(w, auth, { scope: "read delete" }), {
        error: "invalid_scope", error_description: "a requested scope is not allowed to this client or its resources"
      })
      expectError(yield* authorize(w, auth, { scope: "read  write" }), {
        error: "invalid_scope", error_description: "'scope' must be scope tokens separated by single spaces"
      })
      expectError(yield* authorize(w, auth, [["scope", "read"], ["scope", "write"]]), {
        error: "invalid_request", error_description: "'scope' must not be provided twice"
      })
      expectError(yield* authorize(w, auth, { scope: "read", resource: "https://unknown.example/" }), {
        error: "invalid_target", error_description: "a requested resource is not registered in this realm"
      })
      // registered in the realm, but not in the client's `resources`
      expectError(yield* authorize(w, auth, { scope: "admin", resource: w.otherResource }), {
        error: "invalid_target", error_description: "a requested resource is not allowed to this client"
      })
      expectError(yield* authorize(w, auth, { scope: "read", resource: `${w.resource}#frag` }), {
        error: "invalid_target", error_description: "'resource' must be an absolute URI without a fragment"
      })
    }))

  it.effect("CONTRACT §2: an unknown realm is 404", () =>
    Effect.gen(function*() {
      const res = yield* post({ name: "no-such-realm" }, "device_authorization", { none: "c" }, { scope: "read" })
      expectError(res, { error: "invalid_request", error_description: "unknown realm" }, 404)
    }))

  it.effect("§4: the metadata names the endpoint and the grant type", () =>
    Effect.gen(function*() {
      const w = yield* world
      const metadata = (yield* get(`/realms/${w.name}/.well-known/openid-configuration`)).json
      expect(metadata.device_authorization_endpoint).toBe(`${w.issuer}/device_authorization`)
      expect(metadata.grant_types_supported).toContain(deviceGrant)
    }))
})

it.layer(TestLive.World)("RFC 8628 §3.3-3.5: the person at the verification page, the device at the token endpoint", (it) => {
  it.effect("the whole flow through the pages: code form, login, consent naming client, resources and code; tokens; JWKS; audit", () =>
    Effect.gen(function*() {
      const { w, client, auth, started } = yield* deviceStarted("read write")
      // §3.4-3.5: before the person decides, the device is told to keep waiting
      expectError(yield* poll(w, auth, started.device_code), pending)

      const browser = makeBrowser()
      // CONTRACT §4: the verification page is a form with input user_code (and its CSRF token)
      const entry = yield* openForm(browser, started.verification_uri)
      const form = onlyForm(entry.text)
      expect(form.method).toBe("post")
      expect(form.action).toBe(`${w.issuer}/device`)
      expect(fieldsOf(form)).toEqual([["input", "hidden", "csrf"], ["input", "text", "user_code"], ["button", "submit", ""]])
      expect(form.hidden["csrf"]).toMatch(/^[A-Za-z0-9_-]{43}$/)
      expect(entry.rawSetCookies).toEqual([
        `tessera_device=${form.hidden["csrf"]}; Max-Age=600; Path=/realms/${w.name}; HttpOnly; Secure; SameSite=Lax`
      ])
      expect(entry.text).toContain("Connect a device")

      // §6.1: typed in lower case without the dash; the person is not signed in, so the login form follows
      const login = yield* browser.submit(form, { user_code: started.user_code.replace("-", "").toLowerCase() })
      expectPage(login, 200)
      const loginForm = onlyForm(login.text)
      expect(loginForm.action).toBe(`${w.issuer}/login`)
      expect(fieldsOf(loginForm)).toEqual([
        ["input", "hidden", "csrf"], ["input", "hidden", "interaction"], ["input", "text", "username"], ["input", "password", "password"],
        ["button", "submit", ""]
      ])
      expect(login.text).toContain("Living Room TV")
      // no redirect URI to allow: the forms stay on Tessera
      expect(login.headers["content-security-policy"]).toContain("form-action 'self';")

      const signedIn = yield* browser.submit(loginForm, { username: w.username, password })
      expect(signedIn.status).toBe(303)
      expect(signedIn.headers["location"]).toBe(`${w.issuer}/consent?interaction=${loginForm.hidden["interaction"]}`)
      const consent = yield* followSeeOther(browser, signedIn)
      expectPage(consent, 200)
      // the consent page names the client, the scopes, the resource, and shows the code to compare (§5.4)
      expect(consent.text).toContain("Living Room TV")
      expect(consent.text).toContain("<code>read</code>")
      expect(consent.text).toContain("<code>write</code>")
      expect(consent.text).toContain(`<code>${w.resource}</code>`)
      expect(consent.text).toContain(`<code id="user-code">${started.user_code}</code>`)
      expect(consent.headers["content-security-policy"]).toContain("form-action 'self';")
      const consentForm = onlyForm(consent.text)
      expect(consentForm.action).toBe(`${w.issuer}/consent`)
      expect(fieldsOf(consentForm)).toEqual([
        ["input", "hidden", "csrf"], ["input", "hidden", "interaction"], ["button", "submit", "decision", "allow"],
        ["button", "submit", "decision", "deny"]
      ])
      // still pending while the consent page is open
      expect((yield* poll(w, auth, started.device_code)).json).toEqual(slowDown(10))

      const done = yield* browser.submit(consentForm, {}, ["decision", "allow"])
      expectPage(done, 200)
      expect(done.text).toContain("Device connected")
      expect(done.text).toContain("Return to your device")
      // the interaction's cookie is removed
      expect(done.rawSetCookies).toEqual([
        `tessera_ix_${loginForm.hidden["interaction"]}=; Max-Age=0; Path=/realms/${w.name}; HttpOnly; Secure; SameSite=Lax`
      ])

      // §3.5: the next poll gets the tokens (CONTRACT §5: a resource token, and a refresh token for a refresh-capable client)
      const tokens = yield* poll(w, auth, started.device_code)
      expectTokens(tokens, {
        access_token: expect.any(String), token_type: "Bearer", expires_in: accessTokenLifetime, scope: "read write",
        refresh_token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/)
      })
      const body = tokens.json as { access_token: string; refresh_token: string }
      // RFC 9068: the access token verifies against the realm's JWKS, for the resource, with the person's login
      const now = yield* nowSeconds
      const { payload, protectedHeader } = yield* verify(w, body.access_token, { typ: "at+jwt", audience: w.resource })
      expect(protectedHeader).toMatchObject({ alg: "ES256", typ: "at+jwt" })
      expect(payload).toEqual({
        iss: w.issuer, sub: w.sub, aud: w.resource, client_id: client.client_id, scope: "read write", jti: expect.any(String),
        iat: now, exp: now + accessTokenLifetime, auth_time: now, acr: "urn:tessera:acr:password"
      })
      // redeemed exactly once
      expectError(yield* poll(w, auth, started.device_code), { error: "invalid_grant" })
      // the refresh token works like the code grant's
      expect((yield* refresh(w, auth, body.refresh_token)).status).toBe(200)

      // CONTRACT §7: the approval, the consent and the issuance, each with who and what
      const [approved] = yield* auditOf(w, "device.approved")
      expect(approved).toMatchObject({
        type: "device.approved", actor: { type: "user", id: w.sub }, subject: w.sub, client_id: client.client_id, scope: "read write",
        resource: w.resource, result: "success", user_agent: "tessera-test-browser/1.0"
      })
      const [granted] = yield* auditOf(w, "consent.granted")
      expect(granted).toMatchObject({ subject: w.sub, client_id: client.client_id, scope: "read write", resource: w.resource })
      const [issued] = yield* auditOf(w, "token.issued")
      expect(issued).toMatchObject({
        type: "token.issued", actor: { type: "client", id: client.client_id }, subject: w.sub, client_id: client.client_id,
        grant_type: deviceGrant, resource: w.resource, scope: "read write", result: "success", user_agent: userAgent
      })
      expect(Option.getOrThrow(yield* stored(w, started.device_code))._tag).toBe("Redeemed")
    }))

  it.effect("§5.4: verification_uri_complete fills the code in but approves nothing until the person continues and allows", () =>
    Effect.gen(function*() {
      const { w, client, started } = yield* deviceStarted()
      const browser = makeBrowser()
      const page = yield* openForm(browser, started.verification_uri_complete)
      expect(page.text).toContain(`value="${started.user_code}"`)
      expect(page.text).toContain("Check that this is the code your device shows, then continue.")
      // opening the link changed nothing
      expectError(yield* poll(w, authOf(client), started.device_code), pending)
      expect(Option.getOrThrow(yield* stored(w, started.device_code))._tag).toBe("Pending")
      // the person continues with the filled-in form unchanged, signs in, and sees the code again before allowing
      const filled = onlyForm(page.text)
      expect(valueOf(filled, "user_code")).toBe(started.user_code)
      const login = yield* browser.submit(filled, { user_code: valueOf(filled, "user_code") })
      const consent = yield* followSeeOther(browser, yield* browser.submit(onlyForm(login.text), { username: w.username, password }))
      expect(consent.text).toContain(`<code id="user-code">${started.user_code}</code>`)
      expect(Option.getOrThrow(yield* stored(w, started.device_code))._tag).toBe("Pending")
      expectPage(yield* browser.submit(onlyForm(consent.text), {}, ["decision", "allow"]), 200)
      expect(Option.getOrThrow(yield* stored(w, started.device_code))._tag).toBe("Approved")
    }))

  it.effect("RFC 9449 §5: polled with a DPoP proof, the device gets a DPoP-bound token and a refresh token bound to its key", () =>
    Effect.gen(function*() {
      const { w, client, started } = yield* deviceStarted()
      yield* decide(w, makeBrowser(), started.user_code)
      const k = yield* Dpop.key()
      const res = yield* post(w, "token", authOf(client), { grant_type: deviceGrant, device_code: started.device_code }, {
        headers: Dpop.dpop(yield* Dpop.proof(w, k, "token"))
      })
      expectTokens(res, { access_token: expect.any(String), token_type: "DPoP", expires_in: accessTokenLifetime, scope: "read", refresh_token: expect.any(String) })
      const { payload } = yield* verify(w, (res.json as { access_token: string }).access_token, { typ: "at+jwt" })
      expect(payload["cnf"]).toEqual({ jkt: k.jkt })
      // a public client: the refresh token needs a proof of that key
      const refreshToken = (res.json as { refresh_token: string }).refresh_token
      expectError(yield* refresh(w, authOf(client), refreshToken), {
        error: "invalid_grant", error_description: "the refresh token is bound to a DPoP key: send a DPoP proof of that key"
      })
      expect((yield* refresh(w, authOf(client), refreshToken, {}, Dpop.dpop(yield* Dpop.proof(w, k, "token")))).status).toBe(200)
    }))

  it.effect("a signed-in person goes straight to the consent page, and must still allow (no auto-approval)", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* deviceClient(w)
      const browser = makeBrowser()
      yield* decide(w, browser, (yield* begin(w, authOf(client), { scope: "read" })).user_code)
      // same browser, same client, same scope: remembered consent does not skip the page for a device
      const second = yield* begin(w, authOf(client), { scope: "read" })
      const { afterCode } = yield* decide(w, browser, second.user_code)
      expectPage(afterCode, 200)
      expect(onlyForm(afterCode.text).action).toBe(`${w.issuer}/consent`)
      expect(afterCode.text).toContain(`<code id="user-code">${second.user_code}</code>`)
      expect(afterCode.rawSetCookies[0]).toMatch(new RegExp(`^tessera_ix_[A-Za-z0-9_-]{22}=[A-Za-z0-9_-]{43}; Max-Age=600; Path=/realms/${w.name};`))
      expect((yield* poll(w, authOf(client), second.device_code)).status).toBe(200)
    }))

  it.effect("§3.5 access_denied: the person denies; consent.denied is audited; the device is told access_denied, 400", () =>
    Effect.gen(function*() {
      const { w, client, started } = yield* deviceStarted()
      const { done } = yield* decide(w, makeBrowser(), started.user_code, "deny")
      expectPage(done, 200)
      expect(done.text).toContain("Access denied")
      const denied = { error: "access_denied", error_description: "the person denied the request" }
      expectError(yield* poll(w, authOf(client), started.device_code), denied)
      expectError(yield* poll(w, authOf(client), started.device_code), denied)
      const [event] = yield* auditOf(w, "consent.denied")
      expect(event).toMatchObject({
        type: "consent.denied", actor: { type: "user", id: w.sub }, subject: w.sub, client_id: client.client_id, scope: "read",
        resource: w.resource, result: "failure", reason: "the person denied the request"
      })
      expect(yield* auditOf(w, "device.approved")).toEqual([])
      expect(yield* auditOf(w, "token.issued")).toEqual([])
    }))

  it.effect("a code already decided is refused at the form like a wrong one; a replayed consent form is the error page", () =>
    Effect.gen(function*() {
      const { w, client, started } = yield* deviceStarted()
      const browser = makeBrowser()
      const { consent } = yield* decide(w, browser, started.user_code)
      const again = yield* browser.submit(onlyForm((yield* openForm(browser, started.verification_uri)).text), { user_code: started.user_code })
      expectPage(again, 400)
      expect(again.text).toContain("That code is not valid.")
      const replay = yield* browser.submit(onlyForm(consent.text), {}, ["decision", "deny"])
      expectPage(replay, 400)
      expect(replay.text).toContain("This sign-in request is unknown or already finished.")
      expect(Option.getOrThrow(yield* stored(w, started.device_code))._tag).toBe("Approved")
    }))

  it.effect("a wrong code: the form again with an error, 400, the code echoed for correction; the right one still works", () =>
    Effect.gen(function*() {
      const { w, client, started } = yield* deviceStarted()
      const browser = makeBrowser()
      const entry = yield* openForm(browser, started.verification_uri)
      const wrong = started.user_code === "BCDF-GHJK" ? "BCDF-GHJL" : "BCDF-GHJK"
      let page = entry
      // markup typed into the field comes back as text in the value attribute, never as markup
      for (const typed of [wrong, "not a code", "WDJB-MJHA", "\"><b>x</b>"]) {
        const res = yield* browser.submit(onlyForm(page.text), { user_code: typed })
        expectPage(res, 400)
        expect(res.text).toContain("That code is not valid. Check the code on your device and try again; codes expire after 10 minutes.")
        const form = onlyForm(res.text)
        expect(fieldsOf(form)).toEqual([["input", "hidden", "csrf"], ["input", "text", "user_code"], ["button", "submit", ""]])
        expect(valueOf(form, "user_code")).toBe(typed)
        expect(res.text).not.toContain("<b>x</b>")
        // the same form token, still this browser's: no new cookie
        expect(form.hidden).toEqual(onlyForm(entry.text).hidden)
        expect(res.rawSetCookies).toEqual([])
        page = res
      }
      const login = yield* browser.submit(onlyForm(page.text), { user_code: started.user_code })
      expectPage(login, 200)
      expect(onlyForm(login.text).action).toBe(`${w.issuer}/login`)
    }))

  it.effect("§5.1, ADR 0027: after 5 wrong codes from an address, 429 with Retry-After, even for the right code", () =>
    Effect.gen(function*() {
      const { w, client, started } = yield* deviceStarted()
      const browser = makeBrowser()
      const entry = yield* openForm(browser, started.verification_uri)
      const wrong = started.user_code === "BCDF-GHJK" ? "BCDF-GHJL" : "BCDF-GHJK"
      for (let i = 0; i < 5; i++) expectPage(yield* browser.submit(onlyForm(entry.text), { user_code: wrong }), 400)
      const throttled = yield* browser.submit(onlyForm(entry.text), { user_code: started.user_code })
      expectPage(throttled, 429)
      // the clock stands still in this suite: past the burst of 5, the next code waits 1 s after the last wrong one
      expect(throttled.headers["retry-after"]).toBe("1")
      expect(throttled.text).toContain("Too many attempts; try again in 1 second.")
      expect(Option.getOrThrow(yield* stored(w, started.device_code))._tag).toBe("Pending")
      // another realm is not affected
      const other = yield* world
      const otherClient = yield* deviceClient(other)
      const elsewhere = yield* begin(other, authOf(otherClient), { scope: "read" })
      const otherEntry = yield* openForm(browser, elsewhere.verification_uri)
      expectPage(yield* browser.submit(onlyForm(otherEntry.text), { user_code: elsewhere.user_code }), 200)
    }))

  it.effect("CSRF: a code posted without this browser's form token is the form again (400), and nothing is looked up", () =>
    Effect.gen(function*() {
      const { w, client, started } = yield* deviceStarted()
      const browser = makeBrowser()
      const res = yield* browser.post(`/realms/${w.name}/device`, [["csrf", "forged"], ["user_code", started.user_code]])
      expectPage(res, 400)
      expect(res.text).toContain("The form has expired. Enter the code again.")
      // another browser's token does not do either
      const entry = yield* openForm(makeBrowser(), started.verification_uri)
      const stolen = yield* browser.post(`/realms/${w.name}/device`, [["csrf", onlyForm(entry.text).hidden["csrf"]!], ["user_code", started.user_code]])
      expectPage(stolen, 400)
      expect(stolen.text).toContain("The form has expired. Enter the code again.")
      // now the form it was given works
      expectPage(yield* browser.submit(onlyForm(stolen.text), { user_code: started.user_code }), 200)
    }))

  it.effect("§3.5 slow_down: a poll sooner than the interval (the clock stands still here) adds 5 s each time, persisted", () =>
    Effect.gen(function*() {
      const { w, client, started } = yield* deviceStarted()
      expectError(yield* poll(w, authOf(client), started.device_code), pending)
      expectError(yield* poll(w, authOf(client), started.device_code), slowDown(10))
      expectError(yield* poll(w, authOf(client), started.device_code), slowDown(15))
      expect(Option.getOrThrow(yield* stored(w, started.device_code)).interval).toBe(15)
    }))

  it.effect("§3.5 invalid_grant: an unknown device code, another client's, one already redeemed", () =>
    Effect.gen(function*() {
      const { w, client, started } = yield* deviceStarted()
      const other = yield* deviceClient(w)
      expectError(yield* poll(w, authOf(client), "unknown-device-code"), { error: "invalid_grant" })
      expectError(yield* poll(w, authOf(other), started.device_code), { error: "invalid_grant" })
      // another client's poll changed nothing: the right client's first poll is not "too soon"
      expectError(yield* poll(w, authOf(client), started.device_code), pending)
      yield* decide(w, makeBrowser(), started.user_code)
      expectError(yield* poll(w, authOf(other), started.device_code), { error: "invalid_grant" })
      expect((yield* poll(w, authOf(client), started.device_code)).status).toBe(200)
      expectError(yield* poll(w, authOf(client), started.device_code), { error: "invalid_grant" })
    }))

  it.effect("§3.4: device_code missing or repeated is invalid_request; a client without the grant is unauthorized_client", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* deviceClient(w)
      expectError(yield* post(w, "token", authOf(client), { grant_type: deviceGrant }), {
        error: "invalid_request", error_description: "'device_code' is required"
      })
      expectError(yield* post(w, "token", authOf(client), [["grant_type", deviceGrant], ["device_code", "a"], ["device_code", "b"]]), {
        error: "invalid_request", error_description: "'device_code' must not be provided twice"
      })
      const codeOnly = yield* registerClient(w, { token_endpoint_auth_method: "none" })
      const started = yield* begin(w, authOf(client), { scope: "read" })
      expectError(yield* poll(w, authOf(codeOnly), started.device_code), {
        error: "unauthorized_client", error_description: `the client may not use the '${deviceGrant}' grant`
      })
      expectError(yield* poll(w, { nothing: true }, started.device_code), { error: "invalid_client", error_description: "client authentication failed" }, 401)
    }))

  it.effect("single use: of 20 concurrent polls of an approved code exactly one gets tokens, the rest invalid_grant", () =>
    Effect.gen(function*() {
      const { w, client, started } = yield* deviceStarted()
      yield* decide(w, makeBrowser(), started.user_code)
      const results = yield* Effect.all(Array.from({ length: 20 }, () => poll(w, authOf(client), started.device_code)), {
        concurrency: "unbounded"
      })
      expect(results.filter((r) => r.status === 200)).toHaveLength(1)
      const refused = results.filter((r) => r.status !== 200)
      expect(refused.map((r) => [r.status, r.json])).toEqual(Array.from({ length: 19 }, () => [400, { error: "invalid_grant" }]))
      expect(yield* auditOf(w, "token.issued")).toHaveLength(1)
    }))

  it.effect("CONTRACT §5 token exchange: an agent the person authorized by the device grant may exchange that token; no act on the device token", () =>
    Effect.gen(function*() {
      const w = yield* world
      const exchangeGrant = "urn:ietf:params:oauth:grant-type:token-exchange"
      const agent = yield* deviceClient(w, {
        principal_type: "agent", token_endpoint_auth_method: "client_secret_basic", grant_types: [deviceGrant, exchangeGrant]
      })
      const started = yield* begin(w, authOf(agent), { scope: "read write" })
      const { consent } = yield* decide(w, makeBrowser(), started.user_code)
      // the consent page says the client is an agent
      expect(consent.text).toContain("This client is an automated agent.")
      const subject = (yield* poll(w, authOf(agent), started.device_code)).json as { access_token: string }
      expect((yield* verify(w, subject.access_token)).payload.act).toBeUndefined()
      const exchanged = yield* post(w, "token", authOf(agent), {
        grant_type: exchangeGrant, subject_token: subject.access_token, subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
        resource: w.resource, scope: "read"
      })
      expect(exchanged.status).toBe(200)
      const { payload } = yield* verify(w, (exchanged.json as { access_token: string }).access_token, { audience: w.resource })
      expect(payload).toMatchObject({ sub: w.sub, client_id: agent.client_id, scope: "read", act: { sub: agent.client_id } })
      const [issued] = yield* auditOf(w, "token.issued")
      expect(issued).toMatchObject({ actor: { type: "agent", id: agent.client_id }, grant_type: deviceGrant })
    }))

  it.effect("OIDC: openid gives an ID token and a userinfo token (aud the issuer); a public client gets no refresh token without offline_access", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* deviceClient(w, { resources: undefined })
      const started = yield* begin(w, authOf(client), { scope: "openid profile" })
      const { consent } = yield* decide(w, makeBrowser(), started.user_code)
      expect(consent.text).toContain("<code>openid</code>")
      const tokens = yield* poll(w, authOf(client), started.device_code)
      expectTokens(tokens, {
        access_token: expect.any(String), token_type: "Bearer", expires_in: accessTokenLifetime, scope: "openid profile",
        id_token: expect.any(String)
      })
      const body = tokens.json as { access_token: string; id_token: string }
      const now = yield* nowSeconds
      const id = yield* verify(w, body.id_token, { audience: client.client_id })
      expect(id.payload).toEqual({
        iss: w.issuer, sub: w.sub, aud: client.client_id, azp: client.client_id, iat: now, exp: now + 900, auth_time: now,
        acr: "urn:tessera:acr:password", amr: ["pwd"], sid: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/), at_hash: expect.any(String),
        preferred_username: "ada", name: "Ada Lovelace"
      })
      expect((yield* verify(w, body.access_token, { audience: w.issuer })).payload.aud).toBe(w.issuer)
      // CONTRACT §5: with offline_access, a refresh token too
      const offline = yield* begin(w, authOf(client), { scope: "openid offline_access" })
      yield* decide(w, makeBrowser(), offline.user_code)
      const withRefresh = (yield* poll(w, authOf(client), offline.device_code)).json as Record<string, unknown>
      expect(Object.keys(withRefresh).sort()).toEqual(["access_token", "expires_in", "id_token", "refresh_token", "scope", "token_type"])
    }))
})

// ---------------------------------------------------------------------------------------------------------------
// Time: a world per test, so TestClock may move
// ---------------------------------------------------------------------------------------------------------------

it.effect("§3.5 slow_down counts from the last poll: at the interval the poll is pending again; the grown interval holds", () =>
  Effect.gen(function*() {
    const { w, auth, started } = yield* deviceStarted()
    expectError(yield* poll(w, auth, started.device_code), pending)
    yield* TestClock.adjust("4999 millis")
    expectError(yield* poll(w, auth, started.device_code), slowDown(10))
    // 10 s is now the interval, from this last poll
    yield* TestClock.adjust("9 seconds")
    expectError(yield* poll(w, auth, started.device_code), slowDown(15))
    yield* TestClock.adjust("15 seconds")
    expectError(yield* poll(w, auth, started.device_code), pending)
    yield* TestClock.adjust("15 seconds")
    expectError(yield* poll(w, auth, started.device_code), pending)
    expect(Option.getOrThrow(yield* stored(w, started.device_code))).toMatchObject({ _tag: "Pending", interval: 15, version: 6 })
  }).pipe(Effect.provide(TestLive.world())))

it.effect("§3.5 expired_token: after expires_in (600 s) the device is told so, approved or not, and the code cannot be entered", () =>
  Effect.gen(function*() {
    const { w, auth, started: waiting } = yield* deviceStarted()
    const approved = yield* begin(w, auth, { scope: "read" })
    const browser = makeBrowser()
    yield* decide(w, browser, approved.user_code)
    const late = yield* begin(w, auth, { scope: "read" })
    const entry = yield* openForm(browser, late.verification_uri)
    yield* TestClock.adjust("599 seconds")
    expectError(yield* poll(w, auth, waiting.device_code), pending)
    yield* TestClock.adjust("1 second")
    const expired = { error: "expired_token", error_description: "the device code has expired: start again" }
    expectError(yield* poll(w, auth, waiting.device_code), expired)
    expectError(yield* poll(w, auth, approved.device_code), expired)
    const refused = yield* browser.submit(onlyForm(entry.text), { user_code: late.user_code })
    expectPage(refused, 400)
    expect(refused.text).toContain("That code is not valid.")
  }).pipe(Effect.provide(TestLive.world())))

it.effect("an approval on a consent page left open past expires_in is the error page, and nothing is approved", () =>
  Effect.gen(function*() {
    const { w, client, started } = yield* deviceStarted()
    const browser = makeBrowser()
    const entry = yield* openForm(browser, started.verification_uri)
    const login = yield* browser.submit(onlyForm(entry.text), { user_code: started.user_code })
    const consent = yield* followSeeOther(browser, yield* browser.submit(onlyForm(login.text), { username: w.username, password }))
    // the interaction lives 10 minutes as the code does: at 9:59 the code is still pending, at 10:00 both are gone
    yield* TestClock.adjust("599 seconds")
    expect(Option.getOrThrow(yield* stored(w, started.device_code))._tag).toBe("Pending")
    yield* TestClock.adjust("1 second")
    const res = yield* browser.submit(onlyForm(consent.text), {}, ["decision", "allow"])
    expectPage(res, 400)
    expect(Option.getOrThrow(yield* stored(w, started.device_code))._tag).toBe("Pending")
    expect(yield* auditOf(w, "device.approved")).toEqual([])
  }).pipe(Effect.provide(TestLive.world())))

it.effect("CONTRACT §5 step-up: a step-up scope forces a fresh login even with a session; the token's auth_time is that login", () =>
  Effect.gen(function*() {
    const w = yield* world
    const payments = `https://pay.example/${w.name}`
    const registered = yield* admin.post(`/admin/realms/${w.name}/resources`, { uri: payments, scopes: ["pay"], step_up_scopes: ["pay"] })
    expect(registered.status).toBe(201)
    const client = yield* deviceClient(w, { resources: [w.resource, payments] })
    const auth = authOf(client)
    const browser = makeBrowser()
    const first = yield* begin(w, auth, { scope: "read", resource: w.resource })
    yield* decide(w, browser, first.user_code)
    const firstLogin = yield* nowSeconds
    yield* TestClock.adjust("2 minutes")

    const stepUp = yield* begin(w, auth, { scope: "pay", resource: payments })
    expect(Option.getOrThrow(yield* stored(w, stepUp.device_code)).stepUp).toBe(true)
    const entry = yield* openForm(browser, stepUp.verification_uri)
    const confirm = yield* browser.submit(onlyForm(entry.text), { user_code: stepUp.user_code })
    expectPage(confirm, 200)
    expect(onlyForm(confirm.text).action).toBe(`${w.issuer}/login`)
    expect(confirm.text).toContain("Confirm it&#39;s you")
    expect(confirm.text).toContain(`value="${w.username}"`)
    const consent = yield* followSeeOther(browser, yield* browser.submit(onlyForm(confirm.text), { username: w.username, password }))
    yield* browser.submit(onlyForm(consent.text), {}, ["decision", "allow"])
    const freshLogin = yield* nowSeconds
    // the client may have two resources: RFC 8707 resource at the token endpoint says which (CONTRACT §5); the
    // refusal does not spend the code
    expectError(yield* poll(w, auth, stepUp.device_code), {
      error: "invalid_target", error_description: "'resource' is required: the client is not registered for exactly one resource"
    })
    const tokens = (yield* poll(w, auth, stepUp.device_code, { resource: payments })).json as { access_token: string; scope: string }
    expect(tokens.scope).toBe("pay")
    const { payload } = yield* verify(w, tokens.access_token, { audience: payments })
    expect(payload.auth_time).toBe(freshLogin)
    expect(freshLogin - firstLogin).toBe(120)
    const [stepped] = yield* auditOf(w, "stepup.succeeded")
    expect(stepped).toMatchObject({ subject: w.sub, client_id: client.client_id })
  }).pipe(Effect.provide(TestLive.world())))

it.effect("the stored realm: the device code's realm is where the code is looked up (another realm's code is unknown there)", () =>
  Effect.gen(function*() {
    const a = yield* world
    const b = yield* world
    const clientA = yield* deviceClient(a)
    const clientB = yield* deviceClient(b)
    const started = yield* begin(a, authOf(clientA), { scope: "read" })
    // B's verification page does not know A's user code, and B's token endpoint not A's device code
    const browser = makeBrowser()
    const entry = yield* openForm(browser, `${b.issuer}/device`)
    expectPage(yield* browser.submit(onlyForm(entry.text), { user_code: started.user_code }), 400)
    expectError(yield* poll(b, authOf(clientB), started.device_code), { error: "invalid_grant" })
    expect((yield* Provisioning.findRealm(a.name)).id).toBe(a.realmId)
  }).pipe(Effect.provide(TestLive.world())))

// issue 12 item 6, ADR 0027: the test client is the trusted proxy (loopback) and names each client in X-Forwarded-For
const behindProxy = TestLive.world({ trustedProxies: TestLive.loopbackProxies })
const from = (address: string) => makeBrowser({ headers: { "x-forwarded-for": address } })

it.layer(behindProxy)("§5.1, ADR 0027: user codes are throttled per client address, never per realm", (it) => {
  it.effect("100 wrong user codes, one from each of 100 addresses, do not stop the 101st address entering its right code", () =>
    Effect.gen(function*() {
      const { started, w } = yield* deviceStarted()
      const wrong = started.user_code === "BCDF-GHJK" ? "BCDF-GHJL" : "BCDF-GHJK"
      for (let i = 0; i < 100; i++) {
        const browser = from(`198.51.100.${i}`)
        const entry = yield* openForm(browser, started.verification_uri)
        expectPage(yield* browser.submit(onlyForm(entry.text), { user_code: wrong }), 400)
      }
      const person = from("203.0.113.5")
      const login = yield* person.submit(onlyForm((yield* openForm(person, started.verification_uri)).text), { user_code: started.user_code })
      expectPage(login, 200)
      expect(onlyForm(login.text).action).toBe(`${w.issuer}/login`)
    }), 120_000)

  it.effect("100 wrong user codes from one address: that address waits (429), another address of the realm goes on", () =>
    Effect.gen(function*() {
      const { started } = yield* deviceStarted()
      const wrong = started.user_code === "BCDF-GHJK" ? "BCDF-GHJL" : "BCDF-GHJK"
      const guesser = from("198.51.100.77")
      const entry = yield* openForm(guesser, started.verification_uri)
      const statuses: Array<number> = []
      for (let i = 0; i < 100; i++) statuses.push((yield* guesser.submit(onlyForm(entry.text), { user_code: wrong })).status)
      expect(statuses).toEqual([...Array(5).fill(400), ...Array(95).fill(429)])
      const throttled = yield* guesser.submit(onlyForm(entry.text), { user_code: started.user_code })
      expectPage(throttled, 429)
      expect(throttled.headers["retry-after"]).toBe("1")
      const person = from("203.0.113.5")
      expectPage(yield* person.submit(onlyForm((yield* openForm(person, started.verification_uri)).text), { user_code: started.user_code }), 200)
    }), 120_000)
})
