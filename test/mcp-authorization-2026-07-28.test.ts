/**
 * MCP authorization 2026-07-28 at the authorization server (CONTRACT §6, ADR 0046): RFC 9207 `iss` on every path of
 * the authorization endpoint and advertised in every metadata document; dynamic client registration (deprecated)
 * refusing a registration without `application_type`; refresh tokens for MCP clients asking `offline_access`
 * (SEP-2207). The protected-resource side (packages/mcp) is in mcp-protected-resource-2026-07-28.test.ts.
 */
import { expect } from "@effect/vitest"
import { Effect } from "effect"
import * as Jose from "jose"
import { authorizeAndLogin, authorizePath, codeOf, makeBrowser, onlyForm, pathOf, pkce, redirectParams, setup } from "./support/Browser.js"
import type { Setup } from "./support/Browser.js"
import { admin, request } from "./support/Http.js"
import * as TestLive from "./support/TestLive.js"

const it = TestLive.file()

const register = (realm: string, body: unknown) => request("POST", `/realms/${realm}/register`, { json: body })

/** What an MCP 2026-07-28 client registers: a native app coming back to loopback, refresh tokens wanted (SEP-2207). */
const nativeClient = {
  application_type: "native",
  client_name: "MCP client",
  redirect_uris: ["http://127.0.0.1:53682/callback"],
  grant_types: ["authorization_code", "refresh_token"],
  response_types: ["code"],
  token_endpoint_auth_method: "none"
}

/** RFC 9207 §2: exactly one `iss`, the realm issuer, by simple string comparison. */
const issOf = (location: string | undefined) => new URL(location!).searchParams.getAll("iss")

const form = (fields: Record<string, string>) => ({ body: new URLSearchParams(fields).toString(), contentType: "application/x-www-form-urlencoded" })

/** The code redeemed by the public client (RFC 6749 §4.1.3, RFC 7636 §4.5, RFC 8707 §2.2). */
const redeem = (s: Setup, code: string, verifier: string) =>
  request("POST", `/realms/${s.realm}/token`, form({
    grant_type: "authorization_code",
    code,
    redirect_uri: s.redirectUri,
    code_verifier: verifier,
    client_id: s.clientId,
    resource: s.resource
  }))

/** Sign in and allow `scope` for the MCP server; the token response. */
const allowAndRedeem = (s: Setup, scope: string) =>
  Effect.gen(function*() {
    const browser = makeBrowser()
    const { verifier, challenge } = pkce()
    const consent = yield* authorizeAndLogin(browser, s, challenge, { scope, resource: s.resource, nonce: undefined })
    expect(consent.status).toBe(200)
    const back = yield* browser.submit(onlyForm(consent.text), {}, ["decision", "allow"])
    expect(issOf(back.headers["location"])).toEqual([s.issuer])
    return yield* redeem(s, codeOf(back), verifier)
  })

it.layer(TestLive.World)("MCP 2026-07-28 \"Authorization Response Validation\" (RFC 9207 §2): iss in every authorization response", (it) => {
  it.effect("RFC 9207 §3: authorization_response_iss_parameter_supported in the OAuth and both OpenID metadata documents", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      for (const path of [
        `/.well-known/oauth-authorization-server/realms/${s.realm}`,
        `/realms/${s.realm}/.well-known/openid-configuration`,
        `/.well-known/openid-configuration/realms/${s.realm}`
      ]) {
        const metadata = (yield* request("GET", path)).json
        expect({ issuer: metadata.issuer, iss: metadata.authorization_response_iss_parameter_supported }).toEqual({ issuer: s.issuer, iss: true })
      }
    }))

  it.effect("RFC 9207 §2: refused request, prompt=none, consent denied, consent allowed, login with consent given, step-up: each carries iss once", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const mcp = { scope: "mcp:tools", resource: s.resource, nonce: undefined }
      // OAuth 2.1 §4.1.2.1: a refused request, sent back to this owner-registered client
      const refused = yield* makeBrowser().get(authorizePath(s, pkce().challenge, { ...mcp, code_challenge_method: "plain" }))
      expect(refused.status).toBe(302)
      expect(redirectParams(refused.headers["location"]).params.map(([n]) => n)).toEqual(["error", "error_description", "state", "iss"])
      expect(issOf(refused.headers["location"])).toEqual([s.issuer])
      // OIDC Core §3.1.2.6: prompt=none without a session
      const none = yield* makeBrowser().get(authorizePath(s, pkce().challenge, { ...mcp, prompt: "none" }))
      expect(redirectParams(none.headers["location"]).params).toEqual([
        ["error", "login_required"], ["error_description", "the person must sign in"], ["state", "state-123"], ["iss", s.issuer]
      ])
      // the consent page: denied
      const denier = makeBrowser()
      const consent = yield* authorizeAndLogin(denier, s, pkce().challenge, mcp)
      const denied = yield* denier.submit(onlyForm(consent.text), {}, ["decision", "deny"])
      expect(redirectParams(denied.headers["location"]).params).toEqual([
        ["error", "access_denied"], ["error_description", "the person denied the request"], ["state", "state-123"], ["iss", s.issuer]
      ])
      // allowed
      const browser = makeBrowser()
      const asked = yield* authorizeAndLogin(browser, s, pkce().challenge, mcp)
      const allowed = yield* browser.submit(onlyForm(asked.text), {}, ["decision", "allow"])
      expect(redirectParams(allowed.headers["location"]).params.map(([n]) => n)).toEqual(["code", "state", "iss"])
      expect(issOf(allowed.headers["location"])).toEqual([s.issuer])
      // another browser: the login form's POST goes straight back to the client, consent already given
      const again = yield* authorizeAndLogin(makeBrowser(), s, pkce().challenge, mcp)
      expect(again.status).toBe(302)
      expect(redirectParams(again.headers["location"]).params.map(([n]) => n)).toEqual(["code", "state", "iss"])
      expect(issOf(again.headers["location"])).toEqual([s.issuer])
      // CONTRACT §5 "Step-up": the step-up scope shows the login form again; its answer carries iss too
      const stepUp = yield* browser.get(authorizePath(s, pkce().challenge, { ...mcp, scope: "mcp:tools payments:send" }))
      expect(stepUp.status).toBe(200)
      const loggedIn = yield* browser.submit(onlyForm(stepUp.text), { username: s.username, password: s.password })
      const stepUpConsent = loggedIn.status === 303 ? yield* browser.get(pathOf(loggedIn.headers["location"]!)) : loggedIn
      const upgraded = stepUpConsent.status === 200
        ? yield* browser.submit(onlyForm(stepUpConsent.text), {}, ["decision", "allow"])
        : stepUpConsent
      expect(redirectParams(upgraded.headers["location"]).params.map(([n]) => n)).toEqual(["code", "state", "iss"])
      expect(issOf(upgraded.headers["location"])).toEqual([s.issuer])
    }))
})

it.layer(TestLive.World)("MCP 2026-07-28 \"Dynamic Client Registration\" (deprecated): application_type is required", (it) => {
  it.effect("\"Application Type and Redirect URI Constraints\": no application_type is 400 invalid_client_metadata naming it; nothing registered", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      expect((yield* admin.patch(`/admin/realms/${s.realm}`, { dynamic_registration: true })).status).toBe(200)
      const { application_type: _, ...without } = nativeClient
      const res = yield* register(s.realm, without)
      expect({ status: res.status, json: res.json, cache: res.headers["cache-control"] }).toEqual({
        status: 400,
        json: { error: "invalid_client_metadata", error_description: "'application_type' is required: 'native' or 'web'" },
        cache: "no-store"
      })
      const events = (yield* admin.get(`/admin/realms/${s.realm}/audit?type=client.created`)).json.events
      expect(events.filter((e: { actor: { type: string } }) => e.actor.type === "client")).toEqual([])
    }))

  it.effect("OIDC Registration §2: an unknown application_type, and a web client with a private-use scheme, are refused", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      yield* admin.patch(`/admin/realms/${s.realm}`, { dynamic_registration: true })
      const refusals: ReadonlyArray<readonly [Record<string, unknown>, string, string]> = [
        [{ application_type: "browser" }, "invalid_client_metadata", "'application_type' must be 'web' or 'native'"],
        [{ application_type: null }, "invalid_client_metadata", "'application_type' must be 'web' or 'native'"],
        [{ application_type: "web", redirect_uris: ["com.example.app:/callback"] }, "invalid_redirect_uri", "redirect_uris[0] must use https or loopback http for 'application_type' 'web'"]
      ]
      for (const [change, error, description] of refusals) {
        const res = yield* register(s.realm, { ...nativeClient, ...change })
        expect({ status: res.status, json: res.json }).toEqual({ status: 400, json: { error, error_description: description } })
      }
    }))

  it.effect("RFC 7591 §3.2.1: native and web clients are registered with application_type echoed; the owner's clients keep the default (none recorded)", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      yield* admin.patch(`/admin/realms/${s.realm}`, { dynamic_registration: true })
      const native = yield* register(s.realm, { ...nativeClient, redirect_uris: ["com.example.app:/callback", "http://127.0.0.1/callback"] })
      expect(native.status).toBe(201)
      expect(native.json).toEqual({
        client_id: native.json.client_id,
        client_id_issued_at: native.json.client_id_issued_at,
        redirect_uris: ["com.example.app:/callback", "http://127.0.0.1/callback"],
        post_logout_redirect_uris: [],
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        token_endpoint_auth_method: "none",
        application_type: "native",
        client_name: "MCP client",
        frontchannel_logout_session_required: false,
        dpop_bound_access_tokens: false,
        principal_type: "app"
      })
      const web = yield* register(s.realm, { ...nativeClient, application_type: "web", redirect_uris: ["https://app.example/cb"] })
      expect({ status: web.status, type: web.json.application_type }).toEqual({ status: 201, type: "web" })
      // the admin API: a client registered without it has none, and is not refused
      const owned = (yield* admin.get(`/admin/realms/${s.realm}/clients/${s.clientId}`))
      expect(owned.status).toBe(200)
      expect("application_type" in owned.json).toBe(false)
    }))
})

it.layer(TestLive.World)("MCP 2026-07-28 \"Refresh Tokens\" (SEP-2207): offline_access", (it) => {
  it.effect("RFC 8414 §2: scopes_supported lists offline_access, so MCP clients may ask for it", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const metadata = (yield* request("GET", `/.well-known/oauth-authorization-server/realms/${s.realm}`)).json
      expect(metadata.scopes_supported).toContain("offline_access")
    }))

  it.effect("a dynamically registered public client asking mcp:tools offline_access: a refresh token; the access token's scope is the resource's", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      yield* admin.patch(`/admin/realms/${s.realm}`, { dynamic_registration: true })
      const registered = yield* register(s.realm, nativeClient)
      expect(registered.status).toBe(201)
      const c: Setup = { ...s, clientId: registered.json.client_id, redirectUri: "http://127.0.0.1:40000/callback" }
      const token = yield* allowAndRedeem(c, "mcp:tools offline_access")
      expect(token.status).toBe(200)
      expect(Object.keys(token.json).sort()).toEqual(["access_token", "expires_in", "refresh_token", "scope", "token_type"])
      expect(token.json.scope).toBe("mcp:tools")
      const claims = Jose.decodeJwt(token.json.access_token)
      expect({ aud: claims.aud, scope: claims["scope"], client_id: claims["client_id"] }).toEqual({ aud: s.resource, scope: "mcp:tools", client_id: c.clientId })
      // the refresh token works, for the MCP server, and rotates (CONTRACT §5)
      const refreshed = yield* request("POST", `/realms/${s.realm}/token`, form({
        grant_type: "refresh_token", refresh_token: token.json.refresh_token, client_id: c.clientId, resource: s.resource
      }))
      expect(refreshed.status).toBe(200)
      expect(refreshed.json.refresh_token).not.toBe(token.json.refresh_token)
      expect(Jose.decodeJwt(refreshed.json.access_token)["aud"]).toBe(s.resource)
    }))

  it.effect("an OpenID request of a public client (openid mcp:tools offline_access): a refresh token and an ID token", () =>
    Effect.gen(function*() {
      const s = yield* setup({ client: { redirect_uris: ["http://127.0.0.1:40000/callback"] } })
      const browser = makeBrowser()
      const { verifier, challenge } = pkce()
      const consent = yield* authorizeAndLogin(browser, s, challenge, { scope: "openid mcp:tools offline_access", resource: s.resource })
      const back = yield* browser.submit(onlyForm(consent.text), {}, ["decision", "allow"])
      const token = yield* redeem(s, codeOf(back), verifier)
      expect(token.status).toBe(200)
      expect(Object.keys(token.json).sort()).toEqual(["access_token", "expires_in", "id_token", "refresh_token", "scope", "token_type"])
      expect(Jose.decodeJwt(token.json.access_token)["scope"]).toBe("mcp:tools")
    }))

  it.effect("SEP-2207 \"Why check client metadata for grant types?\": without refresh_token in grant_types, offline_access brings none", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      yield* admin.patch(`/admin/realms/${s.realm}`, { dynamic_registration: true })
      const registered = yield* register(s.realm, { ...nativeClient, grant_types: ["authorization_code"] })
      expect(registered.status).toBe(201)
      const token = yield* allowAndRedeem({ ...s, clientId: registered.json.client_id, redirectUri: "http://127.0.0.1:40000/callback" }, "openid mcp:tools offline_access")
      expect(token.status).toBe(200)
      expect(token.json.refresh_token).toBeUndefined()
    }))
})
