/**
 * The agent story end to end (DESIGN "Agents", CONTRACT §5 "Token exchange" and "Step-up", §7), with oauth4webapi as
 * the independent client for every protocol step and the person's forms driven by hand (CONTRACT §4): the owner
 * registers a realm, a person, an API and an agent; the person authorizes the agent (code + PKCE S256, found by
 * discovery); the agent exchanges that token (RFC 8693) for a narrower one to the API; the API verifies it with
 * `verifyAccessToken` from packages/protocol and sees the agent in `act`; a step-up scope is refused by exchange
 * until the person signs in again (`prompt=login`), then granted within 5 minutes; the audit trail tells the person
 * and the agent apart. On every store (the project's name says which).
 */
import * as HttpServer from "@effect/platform/HttpServer"
import { expect } from "@effect/vitest"
import { Clock, Duration, Effect, TestClock } from "effect"
import * as oauth from "oauth4webapi"
import { AccessToken } from "@tessera/protocol"
import { followSeeOther, makeBrowser, onlyForm, pathOf, redirectParams } from "./support/Browser.js"
import type { Browser } from "./support/Browser.js"
import { admin, createRealm, keptAlive, metadataHeaders, tokenEndpointHeaders } from "./support/Http.js"
import * as TestLive from "./support/TestLive.js"

const it = TestLive.file()

const tokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
const accessTokenType = "urn:ietf:params:oauth:token-type:access_token"
const redirectUri = "https://agent.example/callback"
const agentUserAgent = "notes-agent/1.0 (oauth4webapi)"
const personUserAgent = "tessera-test-browser/1.0"

interface Exchange {
  readonly method: string
  readonly url: string
  readonly status: number
  readonly headers: Record<string, string>
  readonly body: unknown
}

/**
 * oauth4webapi's `fetch`: the issuer's public origin (https://tessera.test) is this world's loopback server, so the
 * metadata and its endpoints stay what Tessera says; every response is kept for whole-response assertions.
 */
const wire = Effect.gen(function*() {
  const server = yield* HttpServer.HttpServer
  if (server.address._tag !== "TcpAddress") return yield* Effect.dieMessage("the test server is not on TCP")
  const origin = `http://127.0.0.1:${server.address.port}`
  const seen: Array<Exchange> = []
  const customFetch = async (input: string, init: oauth.CustomFetchOptions<string, unknown> = { method: "GET", headers: {}, body: undefined, redirect: "manual" }) => {
    const url = new URL(input)
    if (url.origin !== TestLive.publicUrl) throw new Error(`oauth4webapi asked for ${url.href}: not Tessera`)
    const res = await fetch(`${origin}${url.pathname}${url.search}`, {
      method: init.method,
      headers: { ...init.headers, "user-agent": agentUserAgent },
      redirect: init.redirect,
      ...(init.body !== undefined ? { body: init.body as BodyInit } : {})
    })
    const headers: Record<string, string> = {}
    res.headers.forEach((value, name) => (headers[name] = value))
    seen.push({ method: init.method, url: url.href, status: res.status, headers, body: await res.clone().json() })
    return res
  }
  /** The last response from `url`. */
  const last = (url: string | undefined) => {
    const found = seen.findLast((e) => e.url === url)
    if (found === undefined) throw new Error(`no response from ${url}`)
    return found
  }
  return { customFetch, last }
})

/** RFC 6749 §5.1 and §5.2: every header of a token endpoint answer (no challenge: the client authenticated). */
const tokenHeaders = { ...keptAlive, ...tokenEndpointHeaders }

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

/** The owner's setup through the admin API (CONTRACT §3). */
const register = Effect.gen(function*() {
  const realm = yield* createRealm()
  const person = yield* admin.post(`/admin/realms/${realm.name}/users`, {
    username: "ada", password: "correct horse battery staple", name: "Ada Lovelace", email: "ada@example.com"
  })
  expect(person.status).toBe(201)
  const api = `https://notes.example/${realm.name}/api`
  const resource = yield* admin.post(`/admin/realms/${realm.name}/resources`, {
    uri: api, scopes: ["notes:read", "notes:write", "notes:delete"], step_up_scopes: ["notes:delete"]
  })
  expect(resource.status).toBe(201)
  const agent = yield* admin.post(`/admin/realms/${realm.name}/clients`, {
    client_name: "Notes agent",
    principal_type: "agent",
    redirect_uris: [redirectUri],
    grant_types: ["authorization_code", tokenExchange],
    token_endpoint_auth_method: "client_secret_basic",
    resources: [api]
  })
  expect(agent.status).toBe(201)
  expect(agent.json).toMatchObject({ principal_type: "agent", grant_types: ["authorization_code", tokenExchange] })
  return {
    realm: realm.name,
    issuer: realm.issuer,
    sub: person.json.sub as string,
    api,
    client: { client_id: agent.json.client_id as string } satisfies oauth.Client,
    secret: agent.json.client_secret as string
  }
})

type Story = Effect.Effect.Success<typeof register>

/**
 * The person at the authorization endpoint: the login form (every time here: a step-up scope is asked, and the
 * second time `prompt=login`), then consent the first time only (it is remembered); back comes the redirect.
 */
const authorizeInBrowser = (browser: Browser, authorizationUrl: URL, firstTime: boolean) =>
  Effect.gen(function*() {
    const page = yield* browser.get(pathOf(authorizationUrl.href))
    expect(page.status).toBe(200)
    const login = onlyForm(page.text)
    expect(login.controls.map(([, a]) => a["name"])).toEqual(expect.arrayContaining(["username", "password"]))
    const afterLogin = yield* followSeeOther(browser, yield* browser.submit(login, { username: "ada", password: "correct horse battery staple" }))
    if (!firstTime) return afterLogin
    expect(afterLogin.status).toBe(200)
    return yield* browser.submit(onlyForm(afterLogin.text), {}, ["decision", "allow"])
  })

it.effect("DESIGN \"Agents\": a person authorizes an agent, the agent acts for them at an API, step-up needs the person", () =>
    Effect.gen(function*() {
      const story: Story = yield* register
      const { customFetch, last } = yield* wire
      const options = { [oauth.customFetch]: customFetch }
      const clientAuth = oauth.ClientSecretBasic(story.secret)

      // OIDC Discovery 1.0 §4: the agent finds the endpoints from the issuer alone
      const issuer = new URL(story.issuer)
      const as = yield* promise(async () => oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, options)))
      expect(last(`${story.issuer}/.well-known/openid-configuration`)).toEqual({
        method: "GET",
        url: `${story.issuer}/.well-known/openid-configuration`,
        status: 200,
        headers: { ...keptAlive, ...metadataHeaders },
        body: as
      })
      expect(as.issuer).toBe(story.issuer)
      expect(as.code_challenge_methods_supported).toEqual(["S256"])
      expect(as.grant_types_supported).toContain(tokenExchange)
      expect(as.authorization_response_iss_parameter_supported).toBe(true)

      /** The token endpoint's last answer, whole: status, every header, body. */
      const expectTokenAnswer = (status: number, body: unknown) =>
        expect(last(as.token_endpoint)).toEqual({ method: "POST", url: as.token_endpoint, status, headers: tokenHeaders, body })

      /** OAuth 2.1 §4.1: code + PKCE (S256) for every API scope; the person signs in (and consents the first time). */
      const authorize = (browser: Browser, firstTime: boolean, extra: Record<string, string> = {}) =>
        Effect.gen(function*() {
          const verifier = oauth.generateRandomCodeVerifier()
          const state = oauth.generateRandomState()
          const url = new URL(as.authorization_endpoint!)
          for (const [name, value] of Object.entries({
            response_type: "code",
            client_id: story.client.client_id,
            redirect_uri: redirectUri,
            scope: "notes:read notes:write notes:delete",
            resource: story.api,
            state,
            code_challenge: yield* promise(() => oauth.calculatePKCECodeChallenge(verifier)),
            code_challenge_method: "S256",
            ...extra
          })) url.searchParams.set(name, value)
          const back = yield* authorizeInBrowser(browser, url, firstTime)
          expect(back.status).toBe(302)
          // RFC 9207: the redirect names the issuer; oauth4webapi checks it and the state
          expect(redirectParams(back.headers["location"])).toEqual({
            base: redirectUri, params: [["code", expect.any(String)], ["state", state], ["iss", story.issuer]]
          })
          const params = oauth.validateAuthResponse(as, story.client, new URL(back.headers["location"]!), state)
          const response = yield* promise(() =>
            oauth.authorizationCodeGrantRequest(as, story.client, clientAuth, params, redirectUri, verifier, {
              ...options, additionalParameters: { resource: story.api }
            })
          )
          const tokens = yield* promise(() => oauth.processAuthorizationCodeResponse(as, story.client, response))
          // RFC 6749 §5.1: the whole token response; no refresh token (the agent may not refresh), no act (CONTRACT §5)
          expectTokenAnswer(200, {
            access_token: tokens.access_token, token_type: "Bearer", expires_in: 900, scope: "notes:read notes:write notes:delete"
          })
          return tokens.access_token
        })

      /** RFC 8693 §2.1 through oauth4webapi: the agent exchanges the person's token for one to the API. */
      const exchange = (subjectToken: string, scope: string) =>
        oauth.genericTokenEndpointRequest(as, story.client, clientAuth, tokenExchange, {
          subject_token: subjectToken, subject_token_type: accessTokenType, resource: story.api, scope
        }, options)

      /** The API's side (RFC 9068 §4): the realm's JWKS from the metadata, the issuer, its own resource as audience. */
      const apiVerifies = (token: string) =>
        Effect.gen(function*() {
          const jwks = yield* promise(async () => (await customFetch(as.jwks_uri!)).json())
          return yield* AccessToken.verifyAccessToken(token, { issuer: story.issuer, audience: story.api, jwks })
        })

      const browser = makeBrowser()
      const personToken = yield* authorize(browser, true)
      const loggedInAt = Math.floor((yield* Clock.currentTimeMillis) / 1000)

      // the agent narrows the person's token to what this task needs
      const narrowed = yield* promise(async () =>
        oauth.processGenericTokenEndpointResponse(as, story.client, await exchange(personToken, "notes:read"))
      )
      // RFC 8693 §2.2.1: the whole response
      expectTokenAnswer(200, {
        access_token: narrowed.access_token, issued_token_type: accessTokenType, token_type: "Bearer", expires_in: 900, scope: "notes:read"
      })

      // the API accepts it for itself and sees who acts for whom (RFC 8693 §4.1)
      const seen = yield* apiVerifies(narrowed.access_token)
      expect(seen).toEqual({
        iss: story.issuer, sub: story.sub, aud: story.api, client_id: story.client.client_id, scope: ["notes:read"],
        jti: expect.any(String), iat: loggedInAt, exp: loggedInAt + 900, auth_time: loggedInAt, acr: expect.any(String),
        act: { sub: story.client.client_id }
      })
      // ... and no other API would: the token is bound to this audience (RFC 8707)
      const elsewhere = yield* AccessToken.verifyAccessToken(narrowed.access_token, {
        issuer: story.issuer, audience: "https://other.example/api", jwks: yield* promise(async () => (await customFetch(as.jwks_uri!)).json())
      }).pipe(Effect.flip)
      expect(elsewhere.reason).toBe("audience")

      // six minutes on, the person's sign-in is no longer fresh: the step-up scope is refused by exchange alone
      yield* TestClock.adjust(Duration.minutes(6))
      const refused = yield* promise(async () =>
        oauth.processGenericTokenEndpointResponse(as, story.client, await exchange(personToken, "notes:delete")).then(
          () => undefined,
          (error: unknown) => error
        )
      )
      expect(refused).toBeInstanceOf(oauth.ResponseBodyError)
      expect((refused as oauth.ResponseBodyError).error).toBe("invalid_scope")
      expectTokenAnswer(400, {
        error: "invalid_scope", error_description: "fresh authentication required: a requested scope is a step-up scope of the resource"
      })

      // the person signs in again (OIDC Core §3.1.2.1 prompt=login); four minutes later the exchange is granted
      const freshToken = yield* authorize(browser, false, { prompt: "login" })
      const reauthenticatedAt = Math.floor((yield* Clock.currentTimeMillis) / 1000)
      yield* TestClock.adjust(Duration.minutes(4))
      const now = Math.floor((yield* Clock.currentTimeMillis) / 1000)
      const stepUp = yield* promise(async () =>
        oauth.processGenericTokenEndpointResponse(as, story.client, await exchange(freshToken, "notes:read notes:delete"))
      )
      // ADR 0011: the delegated token ends with the person's (issued four minutes ago for fifteen)
      expectTokenAnswer(200, {
        access_token: stepUp.access_token, issued_token_type: accessTokenType, token_type: "Bearer", expires_in: 660,
        scope: "notes:read notes:delete"
      })
      expect(yield* apiVerifies(stepUp.access_token)).toEqual({
        iss: story.issuer, sub: story.sub, aud: story.api, client_id: story.client.client_id, scope: ["notes:read", "notes:delete"],
        jti: expect.any(String), iat: now, exp: reauthenticatedAt + 900, auth_time: reauthenticatedAt, acr: expect.any(String),
        act: { sub: story.client.client_id }
      })

      // CONTRACT §7: the person's sign-ins and the agent's exchanges, as different actors
      const audit = (query: string) =>
        Effect.map(admin.get(`/admin/realms/${story.realm}/audit?${query}`), (res) => ({ status: res.status, body: res.json }))
      const event = { id: expect.any(String), at: expect.any(String), realm: story.realm, result: "success" }
      expect(yield* audit("type=login.succeeded")).toEqual({
        status: 200,
        body: {
          events: [0, 1].map(() => ({
            ...event, type: "login.succeeded", actor: { type: "user", id: story.sub }, subject: story.sub,
            client_id: story.client.client_id, ip: "127.0.0.1", user_agent: personUserAgent
          }))
        }
      })
      const exchanged = { ...event, type: "token.exchanged", actor: { type: "agent", id: story.client.client_id }, subject: story.sub,
        client_id: story.client.client_id, grant_type: tokenExchange, resource: story.api, act: { sub: story.client.client_id },
        ip: "127.0.0.1", user_agent: agentUserAgent }
      expect(yield* audit("type=token.exchanged")).toEqual({
        status: 200,
        body: {
          events: [
            { ...exchanged, scope: "notes:read notes:delete", reason: "step-up scope granted: the person authenticated within the last 5 minutes" },
            { ...exchanged, scope: "notes:read" }
          ]
        }
      })
  }).pipe(Effect.provide(TestLive.world())), 120_000)
