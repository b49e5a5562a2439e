/**
 * Bad input on the real SQL store (PGlite): a NUL character fits no OAuth parameter (RFC 6749 Appendix A) and no
 * PostgreSQL text or jsonb value, nor does a lone surrogate, so it must be refused as a 4xx before it reaches the store,
 * never turn into a store failure (503). Found by fuzzing the running server; CONTRACT §2 names the rule, and each
 * path by which request text reaches the store is attacked below.
 */
import * as Net from "node:net"
import * as HttpServer from "@effect/platform/HttpServer"
import { expect } from "@effect/vitest"
import { Clock, Effect } from "effect"
import { Provisioning, Users } from "@tessera/domain"
import { Dpop } from "@tessera/protocol"
import * as Respond from "@tessera/server-node/http/Respond"
import * as SignInFlow from "@tessera/server-node/http/SignInFlow"
import { makeBrowser, onlyForm, pkce, authorizePath, setup } from "./support/Browser.js"
import * as DpopFixtures from "./support/DpopFixtures.js"
import { admin, bornEvents, createRealm, request } from "./support/Http.js"
import * as TestLive from "./support/TestLive.js"
import { assertion, authOf, clientKey, post, registerClient, signJwt, trustedIssuer, world } from "./support/TokenFixtures.js"

const it = TestLive.file()

const OnPglite = TestLive.world({}, { store: "pglite" })

it.layer(OnPglite, { timeout: 60_000 })("RFC 6749 Appendix A: a NUL in any input is invalid_request, on the SQL store", (it) => {
  it.effect("in a query parameter read from the store (the consent page's interaction)", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const res = yield* request("GET", `/realms/${realm.name}/consent?interaction=%00`)
      expect(res.status).toBe(400)
      expect(res.text).toContain("invalid_request")
    }))

  it.effect("in the client_id of a logout request (GET query and POST body)", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      for (const res of [
        yield* request("GET", `/realms/${realm.name}/logout?client_id=a%00b`),
        yield* request("POST", `/realms/${realm.name}/logout`, { body: "client_id=a%00b", contentType: "application/x-www-form-urlencoded" })
      ]) {
        // CONTRACT §2: refused before the client is looked up
        expect(res.status).toBe(400)
        expect(res.text).toContain("<p class=\"wrap\">&#39;client_id&#39; must not contain NUL characters</p>")
      }
    }))

  it.effect("in a form body (the token endpoint)", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const res = yield* request("POST", `/realms/${realm.name}/token`, {
        body: "grant_type=refresh_token&refresh_token=a%00b&client_id=x",
        contentType: "application/x-www-form-urlencoded"
      })
      expect(res.status).toBe(400)
      // CONTRACT §2: refused as it is read, before its own syntax is judged (RFC 6749 A.17: refresh-token = 1*VSCHAR)
      expect(res.json).toEqual({ error: "invalid_request", error_description: "'refresh_token' must not contain NUL characters" })
    }))

  it.effect("in an admin JSON body (a client name), and nothing is written", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const res = yield* admin.post(`/admin/realms/${realm.name}/clients`, { redirect_uris: ["https://app.example/cb"], client_name: "a\u0000b" })
      expect(res.status).toBe(400)
      expect(res.json).toEqual({ error: "invalid_request", error_description: "the body must not contain NUL characters or unpaired surrogates" })
      const events = (yield* admin.get(`/admin/realms/${realm.name}/audit`)).json.events.map((e: { type: string }) => e.type)
      expect(events).toEqual([...bornEvents])
    }))

  it.effect("in an audit filter", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const res = yield* admin.get(`/admin/realms/${realm.name}/audit?subject=a%00b`)
      expect(res.status).toBe(400)
      expect(res.json).toEqual({ error: "invalid_request", error_description: "'subject' must be 1 to 1024 characters without control characters" })
    }))
})

const wrongCredentials = "<p class=\"error\" id=\"login-error\" role=\"alert\">Wrong username or password.</p>"

/** The JSON body exactly as written (a `\\ud800` escape survives no JSON.stringify of a JS string). */
const rawAdminPost = (path: string, body: string) =>
  request("POST", path, { headers: { authorization: `Bearer ${TestLive.adminToken}` }, body, contentType: "application/json" })

const unstorableBody = { error: "invalid_request", error_description: "the body must not contain NUL characters or unpaired surrogates" }

it.layer(OnPglite, { timeout: 60_000 })("CONTRACT §2: text that cannot be stored is the endpoint's 4xx, on the SQL store", (it) => {
  it.effect("the login form: a NUL in the username or the password is a failed login, exactly as a wrong password", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const browser = makeBrowser()
      const page = yield* browser.get(authorizePath(s, pkce().challenge))
      const wrong = yield* browser.submit(onlyForm(page.text), { username: s.username, password: "wrong password" })
      expect(wrong.status).toBe(400)
      expect(wrong.text).toContain(wrongCredentials)
      for (const [username, password] of [[`${s.username}\u0000`, s.password], [s.username, `${s.password}\u0000`]] as const) {
        const res = yield* browser.submit(onlyForm(page.text), { username, password })
        expect(res.status).toBe(400)
        expect(res.headers["content-type"]).toBe("text/html; charset=utf-8")
        expect(res.text).toContain(wrongCredentials)
        expect(onlyForm(res.text).hidden).toEqual(onlyForm(page.text).hidden)
        expect(res.setCookies[`tessera_session_${s.realm}`]).toBeUndefined()
      }
      // and the right ones still work
      const ok = yield* browser.submit(onlyForm(page.text), { username: s.username, password: s.password })
      expect(ok.status).toBe(303)
    }))

  it.effect("a JSON body: a lone surrogate (\\ud800) in a value, or a NUL in a key, is invalid_request, and nothing is written", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const path = `/admin/realms/${realm.name}/clients`
      for (
        const body of [
          `{"redirect_uris":["https://app.example/cb"],"client_name":"a\\ud800b"}`,
          `{"redirect_uris":["https://app.example/cb"],"client_name":"\\udfff"}`,
          `{"redirect_uris":["https://app.example/cb"],"client_name":"x","a\\u0000b":1}`
        ]
      ) {
        const res = yield* rawAdminPost(path, body)
        expect(res.status).toBe(400)
        expect(res.headers["content-type"]).toBe("application/json")
        expect(res.json).toEqual(unstorableBody)
      }
      // a pair of surrogates is one character, and is stored
      const paired = yield* rawAdminPost(path, `{"redirect_uris":["https://app.example/cb"],"client_name":"\\ud83d\\ude00"}`)
      expect(paired.status).toBe(201)
      expect(paired.json.client_name).toBe("\u{1F600}")
    }))

  it.effect("RFC 9449: a DPoP proof whose jti (stored in the replay cache) holds a NUL is invalid_dpop_proof", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* registerClient(w, { grant_types: ["client_credentials"], redirect_uris: [], response_types: [] })
      const k = yield* DpopFixtures.key()
      for (const jti of ["a\u0000b", "a\ud800b"]) {
        const proof = yield* DpopFixtures.proof(w, k, "token", { claims: { jti } })
        const res = yield* post(w, "token", authOf(client), { grant_type: "client_credentials" }, { headers: DpopFixtures.dpop(proof) })
        DpopFixtures.expectTokenError(res, DpopFixtures.invalidProof(Dpop.descriptions.malformed))
      }
    }))

  it.effect("RFC 7523 §2.2: a client assertion whose jti holds a NUL is invalid_client", () =>
    Effect.gen(function*() {
      const w = yield* world
      const key = yield* clientKey
      const client = yield* registerClient(w, {
        token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [key.publicJwk] }, grant_types: ["client_credentials"], redirect_uris: [], response_types: []
      })
      const signed = yield* assertion(key, client.client_id, w.issuer, { jti: "a\u0000b" })
      const res = yield* post(w, "token", { assertion: signed }, { grant_type: "client_credentials" })
      expect(res.status).toBe(401)
      expect(res.json.error).toBe("invalid_client")
    }))

  it.effect("RFC 7523 §3: a trusted issuer's assertion with a NUL (in jti, sub or iss) is invalid_grant", () =>
    Effect.gen(function*() {
      const w = yield* world
      const idp = yield* trustedIssuer(w)
      const jwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"
      const client = yield* registerClient(w, { grant_types: [jwtBearer], redirect_uris: [], response_types: [] })
      const now = Math.floor((yield* Clock.currentTimeMillis) / 1000)
      const claims = { iss: idp.issuer, sub: w.sub, aud: w.issuer, iat: now, exp: now + 60, jti: crypto.randomUUID() }
      for (const changes of [{ jti: "a\u0000b" }, { sub: "a\u0000b" }, { iss: `${idp.issuer}\u0000` }, { name: "\ud800" }]) {
        const res = yield* post(w, "token", authOf(client), { grant_type: jwtBearer, assertion: yield* signJwt(idp.key, { ...claims, ...changes }) })
        expect(res.status).toBe(400)
        expect(res.json).toEqual({ error: "invalid_grant", error_description: "the assertion is not a JWT signed by a trusted issuer of the realm" })
      }
    }))

  it.effect("RFC 8628 §3.3: a user_code holding a NUL is refused as a bad code (4xx), not the store's failure", () =>
    Effect.gen(function*() {
      const s = yield* setup({ client: { grant_types: ["urn:ietf:params:oauth:grant-type:device_code"], redirect_uris: [] } })
      const browser = makeBrowser()
      const entry = yield* browser.get(`/realms/${s.realm}/device`)
      expect(entry.status).toBe(200)
      const res = yield* browser.submit(onlyForm(entry.text), { user_code: "BCDF\u0000GHJK" })
      expect(res.status).toBeGreaterThanOrEqual(400)
      expect(res.status).toBeLessThan(500)
    }))

  it.effect("a session cookie holding an encoded NUL is no session: the login form, not the store's failure", () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const res = yield* request("GET", authorizePath(s, pkce().challenge), { headers: { cookie: `tessera_session_${s.realm}=a%00b` } })
      expect(res.status).toBe(200)
      expect(onlyForm(res.text).action).toBe(`${s.issuer}/login`)
    }))

  it.effect("a User-Agent with bytes 0x80-0xFF (Node reads them as latin1) is stored in the audit event as those characters", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* registerClient(w, { grant_types: ["client_credentials"], redirect_uris: [], response_types: [] })
      const address = (yield* HttpServer.HttpServer).address
      if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("not a TCP server")
      const body = "grant_type=client_credentials"
      const raw = yield* Effect.async<string>((resume) => {
        const socket = Net.connect(address.port, "127.0.0.1")
        let received = ""
        socket.on("data", (data: Buffer) => (received += data.toString("latin1")))
        socket.on("error", () => undefined)
        socket.on("close", () => resume(Effect.succeed(received)))
        socket.write(Buffer.concat([
          Buffer.from(
            `POST /realms/${w.name}/token HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n` +
              `authorization: Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString("base64")}\r\n` +
              `content-type: application/x-www-form-urlencoded\r\ncontent-length: ${body.length}\r\nuser-agent: `
          ),
          Buffer.from([0x80, 0xe9, 0xff]),
          Buffer.from(`\r\n\r\n${body}`)
        ]))
      })
      expect(raw).toMatch(/^HTTP\/1\.1 200 /)
      const events = (yield* admin.get(`/admin/realms/${w.name}/audit`)).json.events as Array<Record<string, unknown>>
      expect(events.find((e) => e["type"] === "token.issued")?.["user_agent"]).toBe("\u0080\u00e9\u00ff")
      expect((yield* admin.get(`/admin/realms/${w.name}/audit/verify`)).json.ok).toBe(true)
    }))

  it.effect("defence in depth: text that reaches the store after all is the route's 400, not the 503 of an outage", () =>
    Effect.gen(function*() {
      const realm = yield* Provisioning.findRealm((yield* createRealm()).name)
      // a lookup no route makes with such text any more (the boundaries above refuse it): PostgreSQL refuses the NUL
      const response = yield* Respond.handle(
        Effect.flatMap(Users.Users, (users) => users.find(realm.id, "a\u0000b")).pipe(Effect.as(Respond.json({})))
      )
      expect(response.status).toBe(400)
      expect(response.headers["content-type"]).toBe("application/json")
      expect(response.headers["cache-control"]).toBe("no-store")
      const body = response.body._tag === "Uint8Array" ? JSON.parse(new TextDecoder().decode(response.body.body)) : undefined
      expect(body).toEqual({ error: "invalid_request", error_description: "the request holds text that cannot be stored" })
    }))

  it.effect("defence in depth on the pages (login, consent, device): the error page's 400, not the 503 of an outage", () =>
    Effect.gen(function*() {
      const realm = yield* Provisioning.findRealm((yield* createRealm()).name)
      const refused = yield* Effect.flip(Effect.flatMap(Users.Users, (users) => users.find(realm.id, "a\u0000b")))
      const response = yield* SignInFlow.storeFailurePage(refused)
      expect(response.status).toBe(400)
      expect(response.headers["content-type"]).toBe("text/html; charset=utf-8")
      expect(response.headers["cache-control"]).toBe("no-store")
      expect(response.headers["retry-after"]).toBeUndefined()
      const html = response.body._tag === "Uint8Array" ? new TextDecoder().decode(response.body.body) : ""
      expect(html).toContain("<p class=\"wrap\">The request holds text that cannot be stored.</p>")
      expect(html).toContain("<code>invalid_request</code>")
    }))
})
