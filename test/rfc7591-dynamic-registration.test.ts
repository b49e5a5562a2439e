/**
 * Dynamic client registration (RFC 7591 §3) per realm (CONTRACT §3 `dynamic_registration`, off by default; ADR 0020),
 * and what MCP clients trip on at the authorization server (MCP 2025-11-25; issue 7 item 6): resource indicators
 * compared after normalising case and an origin's trailing slash, CORS on the token and registration endpoints.
 */
import { describe, expect } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import * as Jose from "jose"
import { authorizeAndLogin, codeOf, makeBrowser, onlyForm, pkce, setup } from "./support/Browser.js"
import type { Setup } from "./support/Browser.js"
import { admin, request } from "./support/Http.js"
import * as OpenRedirector from "./support/OpenRedirector.js"
import * as TestLive from "./support/TestLive.js"

const it = TestLive.file()

/**
 * What the MCP SDK registers (`provider.clientMetadata` plus the challenged scope), with the `application_type` MCP
 * 2026-07-28 requires of it ("Application Type and Redirect URI Constraints").
 */
const sdkMetadata = {
  application_type: "native",
  client_name: "e2e",
  redirect_uris: ["http://127.0.0.1:53682/callback"],
  response_types: ["code"],
  grant_types: ["authorization_code", "refresh_token"],
  token_endpoint_auth_method: "none",
  scope: "mcp:tools"
}

const register = (realm: string, body: unknown, headers: Record<string, string> = {}) =>
  request("POST", `/realms/${realm}/register`, { json: body, headers })

const enable = (realm: string, on = true) => admin.patch(`/admin/realms/${realm}`, { dynamic_registration: on })

/**
 * The person signs in and allows `scope` for `resource` (RFC 8707); the public client redeems the code with its PKCE
 * verifier (RFC 6749 §4.1.3, RFC 7636 §4.5). Returns the token endpoint's response.
 */
const allowAndRedeem = (s: Setup, scope: string, resource: string) =>
  Effect.gen(function*() {
    const browser = makeBrowser()
    const { verifier, challenge } = pkce()
    const consent = yield* authorizeAndLogin(browser, s, challenge, { scope, resource, nonce: undefined })
    expect(consent.status).toBe(200)
    const back = yield* browser.submit(onlyForm(consent.text), {}, ["decision", "allow"])
    return yield* request("POST", `/realms/${s.realm}/token`, {
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code: codeOf(back),
        redirect_uri: s.redirectUri,
        code_verifier: verifier,
        client_id: s.clientId,
        resource
      }).toString(),
      contentType: "application/x-www-form-urlencoded"
    })
  })

it.layer(TestLive.World)("RFC 7591 §3: dynamic client registration", (it) => {
  it.effect("CONTRACT §3: off by default: no registration_endpoint, and a registration is 403 access_denied", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const metadata = (yield* request("GET", `/.well-known/oauth-authorization-server/realms/${s.realm}`)).json
      expect(metadata.registration_endpoint).toBeUndefined()
      const res = yield* register(s.realm, sdkMetadata)
      expect({ status: res.status, json: res.json, cors: res.headers["access-control-allow-origin"], cache: res.headers["cache-control"] }).toEqual({
        status: 403,
        json: { error: "access_denied", error_description: "dynamic client registration is off in this realm" },
        cors: "*",
        cache: "no-store"
      })
    }))

  it.effect("§3.2.1: on: 201 echoing every registered field; the client signs in; client.created names it", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      expect((yield* enable(s.realm)).status).toBe(200)
      const metadata = (yield* request("GET", `/.well-known/oauth-authorization-server/realms/${s.realm}`)).json
      expect(metadata.registration_endpoint).toBe(`${s.issuer}/register`)
      const res = yield* register(s.realm, sdkMetadata, { "user-agent": "mcp-sdk-test" })
      expect(res.status).toBe(201)
      expect(res.headers["cache-control"]).toBe("no-store")
      expect(res.headers["access-control-allow-origin"]).toBe("*")
      const clientId = res.json.client_id as string
      expect(clientId).toMatch(/^[A-Za-z0-9_-]{22}$/)
      expect(res.json).toEqual({
        client_id: clientId,
        client_id_issued_at: res.json.client_id_issued_at,
        redirect_uris: ["http://127.0.0.1:53682/callback"],
        post_logout_redirect_uris: [],
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        token_endpoint_auth_method: "none",
        application_type: "native",
        client_name: "e2e",
        frontchannel_logout_session_required: false,
        dpop_bound_access_tokens: false,
        principal_type: "app"
      })
      expect(typeof res.json.client_id_issued_at).toBe("number")

      // the scope it registered with does not cap it: a step-up scope can still be asked (MCP "Scope Selection Strategy")
      const token = yield* allowAndRedeem({ ...s, clientId, redirectUri: "http://127.0.0.1:40000/callback" }, "mcp:tools payments:send", s.resource)
      expect(token.status).toBe(200)
      expect(Jose.decodeJwt(token.json.access_token)["scope"]).toBe("mcp:tools payments:send")

      const events = (yield* admin.get(`/admin/realms/${s.realm}/audit?type=client.created&client_id=${clientId}`)).json.events
      expect(events).toHaveLength(1)
      expect(events[0]).toMatchObject({
        type: "client.created",
        actor: { type: "client", id: clientId },
        client_id: clientId,
        result: "success",
        reason: "dynamic client registration (RFC 7591)",
        ip: "127.0.0.1",
        user_agent: "mcp-sdk-test"
      })
    }))

  it.effect("ADR 0020: token_endpoint_auth_method defaults to none; confidential clients, agents and resources are refused", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      yield* enable(s.realm)
      const { token_endpoint_auth_method: _, ...noMethod } = sdkMetadata
      const defaulted = yield* register(s.realm, noMethod)
      expect(defaulted.status).toBe(201)
      expect(defaulted.json.token_endpoint_auth_method).toBe("none")
      const refusals: ReadonlyArray<readonly [Record<string, unknown>, string, string]> = [
        [{ token_endpoint_auth_method: "client_secret_basic" }, "invalid_client_metadata", "only public clients ('token_endpoint_auth_method': 'none') may register here"],
        [{ token_endpoint_auth_method: "private_key_jwt" }, "invalid_client_metadata", "only public clients ('token_endpoint_auth_method': 'none') may register here"],
        [{ principal_type: "agent" }, "invalid_client_metadata", "agents are registered by the realm's owner"],
        [{ resources: [s.resource] }, "invalid_client_metadata", "'resources' is set by the realm's owner"],
        [{ grant_types: ["client_credentials"], response_types: [] }, "invalid_client_metadata", "the 'client_credentials' grant needs a client that authenticates, not 'none'"],
        [{ redirect_uris: ["http://app.example/cb"] }, "invalid_redirect_uri", "redirect_uris[0] may use http only for a loopback host"],
        [{ grant_types: ["implicit"] }, "invalid_client_metadata", "the 'implicit' grant is not supported"]
      ]
      for (const [change, error, description] of refusals) {
        const res = yield* register(s.realm, { ...sdkMetadata, ...change })
        expect({ status: res.status, json: res.json }).toEqual({ status: 400, json: { error, error_description: description } })
      }
      const notJson = yield* request("POST", `/realms/${s.realm}/register`, { body: "{", contentType: "application/json" })
      expect(notJson.status).toBe(400)
      expect(notJson.json.error).toBe("invalid_request")
      // nothing but the one good registration was written
      const events = (yield* admin.get(`/admin/realms/${s.realm}/audit?type=client.created`)).json.events
      expect(events.filter((e: { actor: { type: string } }) => e.actor.type === "client")).toHaveLength(1)
    }))

  it.effect("turned off again: 403 and no registration_endpoint", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      yield* enable(s.realm)
      expect((yield* register(s.realm, sdkMetadata)).status).toBe(201)
      yield* enable(s.realm, false)
      expect((yield* register(s.realm, sdkMetadata)).status).toBe(403)
      expect((yield* request("GET", `/.well-known/oauth-authorization-server/realms/${s.realm}`)).json.registration_endpoint).toBeUndefined()
    }))

  it.effect("an unknown realm is 404", () =>
    Effect.gen(function*() {
      const res = yield* register("no-such-realm", sdkMetadata)
      expect({ status: res.status, json: res.json }).toEqual({ status: 404, json: { error: "invalid_request", error_description: "unknown realm" } })
    }))

  it.effect("MCP: CORS preflights of the registration and token endpoints allow MCP-Protocol-Version", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      for (const path of [`/realms/${s.realm}/register`, `/realms/${s.realm}/token`]) {
        const res = yield* request("OPTIONS", path, {
          headers: { origin: "https://inspector.example", "access-control-request-method": "POST", "access-control-request-headers": "mcp-protocol-version, content-type" }
        })
        expect({ status: res.status, text: res.text }).toEqual({ status: 204, text: "" })
        expect(res.headers["access-control-allow-origin"]).toBe("*")
        expect(res.headers["access-control-allow-methods"]).toBe("POST, OPTIONS")
        expect(res.headers["access-control-allow-headers"]).toBe("MCP-Protocol-Version, Authorization, Content-Type, DPoP")
        expect(res.headers["access-control-allow-credentials"]).toBeUndefined()
      }
      // an error answer of the token endpoint is readable cross-origin too
      const token = yield* request("POST", `/realms/${s.realm}/token`, { body: "grant_type=nope", contentType: "application/x-www-form-urlencoded" })
      expect(token.status).toBe(400)
      expect(token.headers["access-control-allow-origin"]).toBe("*")
    }))
})

it.layer(TestLive.World)("RFC 9700 §4.11.2: a dynamically registered client is not redirected to before a person approved it", (it) => {
  it.effect("CONTRACT §4: prompt=none, a bad request and a refusal are the error page; after a person's consent, redirects", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      yield* enable(s.realm)
      const registered = yield* register(s.realm, sdkMetadata)
      expect(registered.status).toBe(201)
      yield* OpenRedirector.attack(
        { ...s, clientId: registered.json.client_id, redirectUri: sdkMetadata.redirect_uris[0]! },
        { scope: "mcp:tools", resource: s.resource, nonce: undefined }
      )
    }))
})

describe("ADR 0020: registrations are rate-limited", () => {
  it.effect("10 a minute from one address; the 11th is 429 with Retry-After; a minute later it is allowed again", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      yield* enable(s.realm)
      for (let i = 0; i < 10; i++) expect((yield* register(s.realm, sdkMetadata)).status).toBe(201)
      const throttled = yield* register(s.realm, sdkMetadata)
      expect({ status: throttled.status, json: throttled.json, retry: throttled.headers["retry-after"] }).toEqual({
        status: 429,
        json: { error: "temporarily_unavailable", error_description: "too many registrations; try again later" },
        retry: "60"
      })
      yield* TestClock.adjust("61 seconds")
      expect((yield* register(s.realm, sdkMetadata)).status).toBe(201)
    }).pipe(Effect.provide(TestLive.world())))
})

it.layer(TestLive.World)("MCP 2025-11-25 \"Canonical Server URI\": resource indicators as MCP clients spell them", (it) => {
  it.effect("RFC 3986 §6.2.2.1: scheme and host case, and one trailing slash on an origin-only resource; aud is the registered spelling", () =>
    Effect.gen(function*() {
      const s = yield* setup({
        resources: [
          { uri: "https://mcp.example.com/mcp", scopes: ["mcp:tools"] },
          { uri: "https://origin.example.com", scopes: ["files:read"] }
        ]
      })
      for (const [asked, registered, scope] of [
        ["HTTPS://MCP.Example.COM/mcp", "https://mcp.example.com/mcp", "mcp:tools"],
        ["https://origin.example.com/", "https://origin.example.com", "files:read"]
      ] as const) {
        const token = yield* allowAndRedeem(s, scope, asked)
        expect(token.status).toBe(200)
        expect(Jose.decodeJwt(token.json.access_token).aud).toBe(registered)
      }
      // the path is still compared exactly: another path, or a slash on a path, is another resource
      for (const other of ["https://mcp.example.com/mcp/", "https://mcp.example.com/MCP"]) {
        const page = yield* makeBrowser().get(`/realms/${s.realm}/authorize?${new URLSearchParams({
          response_type: "code",
          client_id: s.clientId,
          redirect_uri: s.redirectUri,
          scope: "mcp:tools",
          resource: other,
          code_challenge: pkce().challenge,
          code_challenge_method: "S256",
          state: "st"
        })}`)
        expect(page.status).toBe(302)
        expect(new URL(page.headers["location"]!).searchParams.get("error")).toBe("invalid_target")
      }
    }))

  it.effect("MCP: every unserved well-known path is a 4xx, never a 5xx (the SDK gives up on a 5xx)", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      for (const path of [
        `/.well-known/oauth-protected-resource/realms/${s.realm}`,
        `/.well-known/openid-configuration/realms/${s.realm}/mcp`,
        `/realms/${s.realm}/.well-known/oauth-protected-resource`,
        "/.well-known/oauth-authorization-server/realms/",
        "/.well-known/oauth-authorization-server/realms/UPPER",
        "/.well-known/jwks.json",
        "/.well-known/"
      ]) {
        for (const method of ["GET", "POST"] as const) {
          const res = yield* request(method, path)
          expect([path, method, res.status >= 400 && res.status < 500]).toEqual([path, method, true])
        }
      }
    }))
})
