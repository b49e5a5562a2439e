/**
 * Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document-00/-01; MCP 2025-11-25 "Client ID
 * Metadata Documents"; CONTRACT §6; ADR 0019): an https URL as `client_id`, fetched, validated, cached, and
 * recognised at the authorization, token (code and refresh), revocation and introspection endpoints.
 */
import * as Http from "node:http"
import type * as Net from "node:net"
import { describe, expect } from "@effect/vitest"
import { Clock, Effect, Layer, TestClock } from "effect"
import * as Jose from "jose"
import { Fetcher } from "@tessera/domain"
import * as FetcherNode from "@tessera/server-node/FetcherNode"
import {
  authorizeAndLogin, authorizePath, codeOf, decodeEntities, makeBrowser, onlyForm, pkce, setup
} from "./support/Browser.js"
import type { Setup } from "./support/Browser.js"
import { admin, request, uniqueName } from "./support/Http.js"
import * as OpenRedirector from "./support/OpenRedirector.js"
import * as TestLive from "./support/TestLive.js"

const it = TestLive.file()

const resource = "https://mcp.example.com/mcp"

/** A valid document for `url`: Claude Code's shape (portless loopback redirect URIs, `none`). */
const documentFor = (url: string, extra: Record<string, unknown> = {}) => ({
  client_id: url,
  client_name: "Example MCP Client",
  client_uri: "https://client.example",
  redirect_uris: ["http://127.0.0.1/callback", "http://localhost/callback", "https://client.example/cb"],
  grant_types: ["authorization_code", "refresh_token"],
  response_types: ["code"],
  token_endpoint_auth_method: "none",
  ...extra
})

let docs = 0
const documentUrl = () => `https://client.example/oauth/${uniqueName("doc")}-${docs++}.json`

const serveDocument = (url: string, answer: Fetcher.Canned) => Effect.flatMap(Fetcher.MemoryFetcher, (table) => table.set(url, answer))
const calls = (url: string) => Effect.flatMap(Fetcher.MemoryFetcher, (table) => table.calls(url))

/** The realm, its user and resource, and the document client asking to come back to `redirectUri`. */
const world = (clientId: string, redirectUri = "http://127.0.0.1:54321/callback") =>
  Effect.map(setup(), (s): Setup => ({ ...s, clientId, redirectUri }))

const form = (fields: Record<string, string>) => ({ body: new URLSearchParams(fields).toString(), contentType: "application/x-www-form-urlencoded" })

/** Authorize, sign in, allow: the redirect back with the code. */
const codeFor = (s: Setup, challenge: string) =>
  Effect.gen(function*() {
    const browser = makeBrowser()
    const consent = yield* authorizeAndLogin(browser, s, challenge, { scope: "mcp:tools", resource, nonce: undefined })
    expect(consent.status).toBe(200)
    const back = yield* browser.submit(onlyForm(consent.text), {}, ["decision", "allow"])
    return { consent, back }
  })

/** The error page for a client whose document cannot be used: 400, no redirect, the fixed reason. */
const expectRefused = (s: Setup, detail: string) =>
  Effect.gen(function*() {
    const page = yield* makeBrowser().get(authorizePath(s, pkce().challenge, { scope: "mcp:tools", resource }))
    expect(page.status).toBe(400)
    expect(page.headers["location"]).toBeUndefined()
    expect(decodeEntities(page.text)).toContain(`The application's client ID metadata document cannot be used: ${detail}.`)
    expect(page.text).toContain("<code>invalid_client</code>")
  })

it.layer(TestLive.World)("draft-ietf-oauth-client-id-metadata-document: a URL as client_id", (it) => {
  it.effect("the whole flow: consent names the document host and warns of the loopback redirect; code, token, refresh, revocation; one fetch", () =>
    Effect.gen(function*() {
      const url = documentUrl()
      yield* serveDocument(url, Fetcher.json(documentFor(url), { "cache-control": "max-age=600" }))
      const s = yield* world(url)
      const { verifier, challenge } = pkce()
      const { back, consent } = yield* codeFor(s, challenge)
      const text = decodeEntities(consent.text)
      // MCP "Localhost Redirect URI Risks": the redirect host, the document host, and the warning
      expect(text).toContain("<h1 class=\"wrap\">Example MCP Client wants access to your account</h1>")
      expect(text).toContain("This application describes itself in a document published by <strong>client.example</strong>.")
      expect(text).toContain("you will return to <strong>127.0.0.1:54321</strong>.")
      expect(text).toContain("id=\"loopback-warning\"")
      // RFC 8252 §7.3: the document lists http://127.0.0.1/callback; any port is that redirect URI
      expect(back.status).toBe(302)
      const location = new URL(back.headers["location"]!)
      expect(`${location.origin}${location.pathname}`).toBe("http://127.0.0.1:54321/callback")
      expect(location.searchParams.get("iss")).toBe(s.issuer)

      const token = yield* request("POST", `/realms/${s.realm}/token`, form({
        grant_type: "authorization_code",
        code: codeOf(back),
        redirect_uri: s.redirectUri,
        code_verifier: verifier,
        client_id: url,
        resource
      }))
      expect(token.status).toBe(200)
      expect(token.headers["access-control-allow-origin"]).toBe("*")
      const claims = Jose.decodeJwt(token.json.access_token)
      expect({ client_id: claims["client_id"], aud: claims.aud, scope: claims["scope"] }).toEqual({ client_id: url, aud: resource, scope: "mcp:tools" })

      const refreshed = yield* request("POST", `/realms/${s.realm}/token`, form({
        grant_type: "refresh_token",
        refresh_token: token.json.refresh_token,
        client_id: url,
        resource
      }))
      expect(refreshed.status).toBe(200)
      const revoked = yield* request("POST", `/realms/${s.realm}/revoke`, form({ token: refreshed.json.refresh_token, client_id: url }))
      expect(revoked.status).toBe(200)
      const again = yield* request("POST", `/realms/${s.realm}/token`, form({
        grant_type: "refresh_token",
        refresh_token: refreshed.json.refresh_token,
        client_id: url
      }))
      // MCP 2025-11-25: invalid_grant, so the SDK re-authorizes cleanly
      expect({ status: again.status, json: again.json }).toEqual({ status: 400, json: { error: "invalid_grant" } })
      // authorize, login, consent, token, refresh, revoke, refresh: one fetch while the document is fresh
      expect(yield* calls(url)).toBe(1)
    }))

  it.effect("RFC 7662: a private_key_jwt document client (jwks in the document) introspects; a `none` one is invalid_client", () =>
    Effect.gen(function*() {
      const url = documentUrl()
      const key = yield* Effect.promise(() => Jose.generateKeyPair("ES256", { extractable: true }))
      const jwk = { ...(yield* Effect.promise(() => Jose.exportJWK(key.publicKey))), kid: "c1", alg: "ES256" }
      yield* serveDocument(url, Fetcher.json(documentFor(url, { token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [jwk] } })))
      const s = yield* world(url)
      const now = Math.floor((yield* Clock.currentTimeMillis) / 1000)
      const assertion = yield* Effect.promise(() =>
        new Jose.SignJWT({ jti: crypto.randomUUID() }).setProtectedHeader({ alg: "ES256", kid: "c1" }).setIssuer(url).setSubject(url)
          .setAudience(s.issuer).setIssuedAt(now).setExpirationTime(now + 60).sign(key.privateKey)
      )
      const res = yield* request("POST", `/realms/${s.realm}/introspect`, form({
        token: "not-a-token",
        client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion: assertion
      }))
      expect({ status: res.status, json: res.json }).toEqual({ status: 200, json: { active: false } })

      const publicUrl = documentUrl()
      yield* serveDocument(publicUrl, Fetcher.json(documentFor(publicUrl)))
      const denied = yield* request("POST", `/realms/${s.realm}/introspect`, form({ token: "x", client_id: publicUrl }))
      expect(denied.status).toBe(401)
      expect(denied.json.error).toBe("invalid_client")
    }))

  const invalid: ReadonlyArray<readonly [string, (url: string) => Fetcher.Canned, string]> = [
    ["draft -00: the document's client_id must be its URL (simple string comparison)", (url) => Fetcher.json(documentFor(url, { client_id: `${url}?x` })), "the document's 'client_id' must be its own URL"],
    ["draft -00: client_id differing only in case is another URL", (url) => Fetcher.json(documentFor(url, { client_id: url.replace("client.example", "CLIENT.example") })), "the document's 'client_id' must be its own URL"],
    ["draft -00: no client_secret in a document", (url) => Fetcher.json(documentFor(url, { client_secret: "s3cret" })), "the document must not hold a 'client_secret'"],
    ["draft -00: no shared-secret auth method", (url) => Fetcher.json(documentFor(url, { token_endpoint_auth_method: "client_secret_basic" })), "the document's 'token_endpoint_auth_method' must be 'none' or 'private_key_jwt'"],
    ["MCP: client_name is required", (url) => Fetcher.json(documentFor(url, { client_name: undefined })), "the document must have a 'client_name'"],
    ["MCP: redirect_uris is required", (url) => Fetcher.json(documentFor(url, { redirect_uris: [] })), "the document must have 'redirect_uris'"],
    ["RFC 7591 §2: a redirect URI with a fragment", (url) => Fetcher.json(documentFor(url, { redirect_uris: ["https://client.example/cb#x"] })), "the document's metadata is not valid: redirect_uris[0] must not contain a fragment"],
    ["grant types beyond the code flow", (url) => Fetcher.json(documentFor(url, { grant_types: ["client_credentials"] })), "the document's 'grant_types' may hold only 'authorization_code' and 'refresh_token'"],
    ["CONTRACT §2: a NUL in the document's client_name (no store holds it)", (url) => Fetcher.json(documentFor(url, { client_name: "a\u0000b" })), "the document must not contain NUL characters or unpaired surrogates"],
    ["CONTRACT §2: a lone surrogate in the document's client_name", (url) => Fetcher.json(documentFor(url, { client_name: "a\ud800b" })), "the document must not contain NUL characters or unpaired surrogates"],
    ["a document that is not JSON", () => ({ _tag: "Response", status: 200, body: "<html>" }), "the document is not JSON"],
    ["draft -01: a redirect is not followed", () => ({ _tag: "Response", status: 302, headers: { location: "https://elsewhere.example/doc" }, body: "" }), "the document URL answered with a redirect (redirects are not followed)"],
    ["draft -01: 200 only", () => ({ _tag: "Response", status: 404, body: "{}" }), "the document URL did not answer 200"],
    ["draft -01: at most 5 KB", (url) => Fetcher.json(documentFor(url, { client_name: "x".repeat(6000) })), "the document is larger than 5120 bytes"]
  ]
  for (const [name, answer, detail] of invalid) {
    it.effect(`${name}: the error page, no redirect`, () =>
      Effect.gen(function*() {
        const url = documentUrl()
        yield* serveDocument(url, answer(url))
        yield* expectRefused(yield* world(url), detail)
      }))
  }

  const badUrls: ReadonlyArray<readonly [string, string, string]> = [
    ["draft -00: https only (no TESSERA_DEV_INSECURE_CIMD)", "http://127.0.0.1:9/client.json", "the client_id URL must be an https URL"],
    ["draft -00: a path is required", "https://client.example/", "the client_id URL must have a path"],
    ["draft -00: no dot segments", "https://client.example/a/../client.json", "the client_id URL must not have . or .. path segments"],
    ["draft -00: no fragment", "https://client.example/client.json#x", "the client_id URL must not have a fragment"],
    ["draft -00: no username or password", "https://user@client.example/client.json", "the client_id URL must not have a username or password"],
    ["ADR 0019: no query", "https://client.example/client.json?v=1", "the client_id URL must not have a query"],
    ["ADR 0019: at most 255 characters (RFC 6749 A.1: a longer id names no client)", `https://client.example/${"a".repeat(240)}`, "-"]
  ]
  for (const [name, url, detail] of badUrls) {
    it.effect(`${name}: refused without a fetch`, () =>
      Effect.gen(function*() {
        const s = yield* world(url)
        if (url.length <= 255) yield* expectRefused(s, detail)
        else {
          const page = yield* makeBrowser().get(authorizePath(s, pkce().challenge))
          expect(page.status).toBe(400)
          expect(page.text).toContain("The application is not registered with this realm.")
        }
        expect(yield* calls(url)).toBe(0)
      }))
  }

  it.effect("OAuth 2.1 §4.1.2.1: a redirect URI the document does not list is the error page", () =>
    Effect.gen(function*() {
      const url = documentUrl()
      yield* serveDocument(url, Fetcher.json(documentFor(url)))
      const s = yield* world(url, "https://attacker.example/cb")
      const page = yield* makeBrowser().get(authorizePath(s, pkce().challenge, { scope: "mcp:tools", resource }))
      expect(page.status).toBe(400)
      expect(page.headers["location"]).toBeUndefined()
      expect(decodeEntities(page.text)).toContain("The application's return address (redirect_uri) is not registered for it.")
    }))

  it.effect("RFC 9700 §4.11.2, CONTRACT §4: the document's redirect URI is not redirected to before a person of the realm approved it", () =>
    Effect.gen(function*() {
      const url = documentUrl()
      yield* serveDocument(url, Fetcher.json(documentFor(url)))
      yield* OpenRedirector.attack(yield* world(url, "https://client.example/cb"), { scope: "mcp:tools", resource, nonce: undefined })
    }))

  it.effect("draft -00 \"Metadata Caching\": a failure is never cached (the next request fetches again)", () =>
    Effect.gen(function*() {
      const url = documentUrl()
      yield* serveDocument(url, { _tag: "Response", status: 500, body: "" })
      const s = yield* world(url)
      yield* expectRefused(s, "the document URL did not answer 200")
      yield* serveDocument(url, Fetcher.json(documentFor(url), { "cache-control": "max-age=600" }))
      const page = yield* makeBrowser().get(authorizePath(s, pkce().challenge, { scope: "mcp:tools", resource }))
      expect(page.status).toBe(200)
      expect(yield* calls(url)).toBe(2)
    }))

  it.effect("draft -00 \"Metadata Caching\": Cache-Control: no-store is fetched on every use", () =>
    Effect.gen(function*() {
      const url = documentUrl()
      yield* serveDocument(url, Fetcher.json(documentFor(url), { "cache-control": "no-store" }))
      const s = yield* world(url)
      for (let i = 0; i < 2; i++) expect((yield* makeBrowser().get(authorizePath(s, pkce().challenge, { scope: "mcp:tools", resource }))).status).toBe(200)
      expect(yield* calls(url)).toBe(2)
    }))

  it.effect("CONTRACT §6: Tessera's own client ids never start with https:// (nor http://)", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      for (let i = 0; i < 50; i++) {
        const res = yield* admin.post(`/admin/realms/${s.realm}/clients`, { redirect_uris: ["https://app.example/cb"], token_endpoint_auth_method: "none" })
        expect(res.json.client_id).not.toMatch(/^https?:/i)
      }
    }))

  it.effect("draft -00: the metadata advertises client_id_metadata_document_supported and the none method", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const doc = (yield* request("GET", `/.well-known/oauth-authorization-server/realms/${s.realm}`)).json
      expect(doc.client_id_metadata_document_supported).toBe(true)
      expect(doc.token_endpoint_auth_methods_supported).toContain("none")
    }))
})

describe("draft -00 \"Metadata Caching\": bounded to 24 hours", () => {
  it.effect("max-age of a week is kept 24 hours, then the document is fetched again", () =>
    Effect.gen(function*() {
      const url = documentUrl()
      yield* serveDocument(url, Fetcher.json(documentFor(url), { "cache-control": "max-age=604800" }))
      const s = yield* world(url)
      const visit = () => makeBrowser().get(authorizePath(s, pkce().challenge, { scope: "mcp:tools", resource }))
      expect((yield* visit()).status).toBe(200)
      yield* TestClock.adjust("23 hours")
      expect((yield* visit()).status).toBe(200)
      expect(yield* calls(url)).toBe(1)
      yield* TestClock.adjust("61 minutes")
      expect((yield* visit()).status).toBe(200)
      expect(yield* calls(url)).toBe(2)
    }).pipe(Effect.provide(TestLive.world())))
})

// ---------------------------------------------------------------------------------------------------------------
// The Node fetcher: documents served on loopback (TESSERA_DEV_INSECURE_CIMD=1), and addresses by a fake DNS
// ---------------------------------------------------------------------------------------------------------------

/** A loopback server answering `handler` for the duration of the test. */
const serve = (handler: (req: Http.IncomingMessage, res: Http.ServerResponse) => void) =>
  Effect.acquireRelease(
    Effect.async<{ server: Http.Server; origin: string }>((resume) => {
      const server = Http.createServer(handler)
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, origin: `http://127.0.0.1:${(server.address() as Net.AddressInfo).port}` })))
    }),
    ({ server }) => Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
  )

const insecure = TestLive.world({ devInsecureCimd: true }, { fetcher: "node" })

describe("CONTRACT §1 TESSERA_DEV_INSECURE_CIMD=1: documents on loopback, through the Node fetcher", () => {
  it.live("a document on http://127.0.0.1:<port>/ works; redirects and oversize documents are refused", () =>
    Effect.gen(function*() {
      const { origin } = yield* serve((req, res) => {
        const self = `http://127.0.0.1:${(req.socket.address() as Net.AddressInfo).port}${req.url}`
        if (req.url === "/client.json") return res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(documentFor(self)))
        if (req.url === "/moved.json") return res.writeHead(301, { location: "/client.json" }).end()
        if (req.url === "/big.json") return res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(documentFor(self, { client_uri: `https://client.example/${"x".repeat(6000)}` })))
        if (req.url === "/other.json") return res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(documentFor("https://client.example/other.json")))
        res.writeHead(404).end()
      })
      const base = yield* setup()
      const at = (path: string) => ({ ...base, clientId: `${origin}${path}`, redirectUri: "http://localhost:60000/callback" })
      const page = yield* makeBrowser().get(authorizePath(at("/client.json"), pkce().challenge, { scope: "mcp:tools", resource }))
      expect(page.status).toBe(200)
      yield* expectRefused(at("/moved.json"), "the document URL answered with a redirect (redirects are not followed)")
      yield* expectRefused(at("/big.json"), "the document is larger than 5120 bytes")
      yield* expectRefused(at("/other.json"), "the document's 'client_id' must be its own URL")
    }).pipe(Effect.provide(insecure), Effect.scoped))
})

/** The Node fetcher over a fake DNS: names resolve to what the test says. */
const fakeDns: FetcherNode.Resolve = async (hostname) => {
  switch (hostname) {
    case "private.example":
      return [{ address: "10.0.0.7", family: 4 }]
    case "cgnat.example":
      return [{ address: "100.64.1.2", family: 4 }]
    case "linklocal.example":
      return [{ address: "169.254.169.254", family: 4 }]
    case "rebind.example":
      // a public answer with an internal one beside it: the shape of a DNS rebinding attempt
      return [{ address: "93.184.216.34", family: 4 }, { address: "127.0.0.1", family: 4 }]
    case "v6.example":
      return [{ address: "::ffff:192.168.1.1", family: 6 }]
    default:
      throw new Error("ENOTFOUND")
  }
}

describe("draft -01 \"Security Considerations\": no document from an internal address (checked after DNS resolution)", () => {
  it.live("private, CGNAT, link-local, IPv4-mapped private and rebinding answers are refused, loopback too without the dev flag", () =>
    Effect.gen(function*() {
      const base = yield* setup()
      for (const host of ["private.example", "cgnat.example", "linklocal.example", "rebind.example", "v6.example", "localhost"]) {
        yield* expectRefused(
          { ...base, clientId: `https://${host}/client.json`, redirectUri: "http://127.0.0.1:60000/callback" },
          "the document's host resolves to an address Tessera does not fetch from"
        )
      }
    }).pipe(Effect.provide(TestLive.world({}, { fetcher: Layer.succeed(Fetcher.Fetcher, FetcherNode.make((host) => host === "localhost" ? Promise.resolve([{ address: "127.0.0.1", family: 4 }]) : fakeDns(host))) }))))
})

describe("ADR 0019: document fetches are rate-limited per host", () => {
  it.effect("past 30 fetches a minute from one host, the next is refused without a fetch", () =>
    Effect.gen(function*() {
      const base = yield* setup()
      const urls = Array.from({ length: 31 }, (_, i) => `https://busy.example/c${i}.json`)
      for (const url of urls) yield* serveDocument(url, { _tag: "Response", status: 404, body: "" })
      for (const url of urls.slice(0, 30)) yield* expectRefused({ ...base, clientId: url }, "the document URL did not answer 200")
      yield* expectRefused({ ...base, clientId: urls[30]! }, "too many documents were fetched from this host; try again in a minute")
      expect(yield* calls(urls[30]!)).toBe(0)
      yield* TestClock.adjust("61 seconds")
      yield* expectRefused({ ...base, clientId: urls[30]! }, "the document URL did not answer 200")
    }).pipe(Effect.provide(TestLive.world())))
})
