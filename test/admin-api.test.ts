import type * as HttpClient from "@effect/platform/HttpClient"
import * as HttpServer from "@effect/platform/HttpServer"
import { expect, layer } from "@effect/vitest"
import { Effect, Option } from "effect"
import { Clients, Provisioning, Realms, Resources, TrustedIssuers, Users } from "@tessera/domain"
import type { WireResponse } from "./support/Http.js"
import { admin, bornEvents, createRealm, get, request, uniqueName } from "./support/Http.js"
import * as Streamed from "./support/Streamed.js"
import { adminToken, publicUrl, TestLive } from "./support/TestLive.js"

const owner = { authorization: `Bearer ${adminToken}` }

/** CONTRACT §3: a JSON answer that no cache keeps. */
const expectJson = (res: WireResponse, status: number) => {
  expect(res.status).toBe(status)
  expect(res.headers["content-type"]).toBe("application/json")
  expect(res.headers["cache-control"]).toBe("no-store")
}

/** CONTRACT §3: `{"error", "error_description"}` with a 4xx status, never cached. */
const expectError = (res: WireResponse, status: number, error: string, error_description: string) => {
  expectJson(res, status)
  expect(res.json).toEqual({ error, error_description })
}

const unknownRealm = { error: "not_found", error_description: "unknown realm" }

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

const ecPublicJwk = {
  kty: "EC",
  crv: "P-256",
  x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
  y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
}

/** The realm's audit trail as the admin API shows it, newest first. */
const auditTypes = (realm: string) =>
  Effect.map(admin.get(`/admin/realms/${realm}/audit`), (res) => {
    expect(res.status).toBe(200)
    return (res.json.events as Array<{ type: string }>).map((event) => event.type)
  })

const realmId = (name: string) => Effect.map(Provisioning.findRealm(name), (realm) => realm.id)

/** A raw body with the owner's token. */
const postRaw = (path: string, body: string, contentType = "application/json") =>
  request("POST", path, { headers: owner, body, contentType })

/** A JSON body sent chunked, without Content-Length, with the owner's token (test/support/Streamed.ts). */
const postChunked = (path: string, chunks: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const address = (yield* HttpServer.HttpServer).address
    if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("not a TCP server")
    return yield* Effect.promise(() =>
      Streamed.send({ port: address.port, method: "POST", path, headers: { ...owner, "content-type": "application/json" }, chunks })
    )
  })

layer(TestLive)("CONTRACT §3 and RFC 6750 §3: the owner's bearer token", (it) => {
  const challenge = `Bearer realm="tessera-admin", error="invalid_token"`
  const expectUnauthorized = (res: WireResponse) => {
    expectError(res, 401, "invalid_token", "the admin API needs the owner's token or a tenant admin's access token")
    expect(res.headers["www-authenticate"]).toBe(challenge)
  }

  it.effect("RFC 6750 §3.1: no Authorization header is 401 invalid_token with a Bearer challenge", () =>
    Effect.gen(function*() {
      const name = uniqueName()
      expectUnauthorized(yield* request("POST", "/admin/realms", { json: { name } }))
      // nothing was created
      expect(Option.isNone(yield* Effect.option(Provisioning.findRealm(name)))).toBe(true)
    }))

  it.effect("RFC 6750 §3.1: a wrong token is 401 invalid_token", () =>
    Effect.gen(function*() {
      expectUnauthorized(
        yield* request("POST", "/admin/realms", { headers: { authorization: `Bearer ${adminToken}x` }, json: { name: uniqueName() } })
      )
      expectUnauthorized(
        yield* request("POST", "/admin/realms", { headers: { authorization: "Bearer not-the-token" }, json: { name: uniqueName() } })
      )
    }))

  it.effect("RFC 6750 §2.1: the token under another scheme (Basic) is 401 invalid_token", () =>
    Effect.gen(function*() {
      expectUnauthorized(
        yield* request("POST", "/admin/realms", { headers: { authorization: `Basic ${btoa(`owner:${adminToken}`)}` }, json: { name: uniqueName() } })
      )
      expectUnauthorized(
        yield* request("POST", "/admin/realms", { headers: { authorization: `Basic ${adminToken}` }, json: { name: uniqueName() } })
      )
    }))

  it.effect("RFC 6750 §2.1: 'Bearer' with no token is 401 invalid_token", () =>
    Effect.gen(function*() {
      expectUnauthorized(yield* request("POST", "/admin/realms", { headers: { authorization: "Bearer " }, json: { name: uniqueName() } }))
      expectUnauthorized(yield* request("POST", "/admin/realms", { headers: { authorization: "Bearer" }, json: { name: uniqueName() } }))
    }))

  it.effect("CONTRACT §3: the token is checked before the realm, so realm names do not leak", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      expectUnauthorized(yield* request("GET", `/admin/realms/${realm.name}/keys`))
      expectUnauthorized(yield* request("GET", `/admin/realms/${uniqueName()}/keys`))
    }))

  it.effect("CONTRACT §3: every admin call needs the token", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const calls = [
        request("PATCH", `/admin/realms/${realm.name}`, { json: { dynamic_registration: true } }),
        request("POST", `/admin/realms/${realm.name}/users`, { json: { username: "u", password: "correct horse" } }),
        request("POST", `/admin/realms/${realm.name}/clients`, { json: { redirect_uris: ["https://app.example/cb"] } }),
        request("POST", `/admin/realms/${realm.name}/resources`, { json: { uri: "https://api.example/", scopes: ["read"] } }),
        request("POST", `/admin/realms/${realm.name}/trusted-issuers`, { json: { issuer: "https://idp.example", jwks_uri: "https://idp.example/jwks" } }),
        request("GET", `/admin/realms/${realm.name}/audit`),
        request("GET", `/admin/realms/${realm.name}/audit/verify`),
        request("GET", `/admin/realms/${realm.name}/keys`),
        request("POST", `/admin/realms/${realm.name}/keys/rotate`)
      ]
      for (const call of calls) expectUnauthorized(yield* call)
      // nothing changed: the trail holds only the realm's creation
      expect(yield* auditTypes(realm.name)).toEqual([...bornEvents])
    }))

  it.effect("RFC 9110 §11.1: the scheme name is case-insensitive ('bearer')", () =>
    Effect.gen(function*() {
      const res = yield* request("POST", "/admin/realms", { headers: { authorization: `bearer ${adminToken}` }, json: { name: uniqueName() } })
      expect(res.status).toBe(201)
    }))
})

layer(TestLive)("CONTRACT §3 POST /admin/realms", (it) => {
  it.effect("§3: a new realm is 201 {name, issuer}", () =>
    Effect.gen(function*() {
      const name = uniqueName()
      const res = yield* admin.post("/admin/realms", { name })
      expectJson(res, 201)
      expect(res.json).toEqual({ name, issuer: `${publicUrl}/realms/${name}` })
      expect(yield* auditTypes(name)).toEqual([...bornEvents])
    }))

  it.effect("§2: the longest realm name (63 characters) and digits-first names are accepted", () =>
    Effect.gen(function*() {
      const long = `z${process.pid}-${uniqueName()}`.padEnd(63, "x")
      expect(long.length).toBe(63)
      const res = yield* admin.post("/admin/realms", { name: long })
      expectJson(res, 201)
      expect(res.json).toEqual({ name: long, issuer: `${publicUrl}/realms/${long}` })
      const digits = `9${Date.now()}${process.pid}`
      expectJson(yield* admin.post("/admin/realms", { name: digits }), 201)
    }))

  it.effect("§3: creating an existing realm is 409 conflict, and nothing is written", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const before = yield* Effect.flatMap(Realms.Realms, (realms) => realms.findByName(realm.name))
      const res = yield* admin.post("/admin/realms", { name: realm.name })
      expectError(res, 409, "conflict", "the realm already exists")
      expect(yield* auditTypes(realm.name)).toEqual([...bornEvents])
      const all = yield* Effect.flatMap(Realms.Realms, (realms) => realms.list)
      expect(all.filter((r) => r.name === realm.name)).toEqual([Option.getOrThrow(before)])
    }))

  const badNames: ReadonlyArray<readonly [string, unknown, string]> = [
    ["upper case", { name: "Acme" }, "'name' must match ^[a-z0-9][a-z0-9-]{0,62}$"],
    ["a leading hyphen", { name: "-x" }, "'name' must match ^[a-z0-9][a-z0-9-]{0,62}$"],
    ["64 characters", { name: "a".repeat(64) }, "'name' must match ^[a-z0-9][a-z0-9-]{0,62}$"],
    ["an underscore", { name: "a_b" }, "'name' must match ^[a-z0-9][a-z0-9-]{0,62}$"],
    ["the empty string", { name: "" }, "'name' must match ^[a-z0-9][a-z0-9-]{0,62}$"],
    ["a slash", { name: "a/b" }, "'name' must match ^[a-z0-9][a-z0-9-]{0,62}$"],
    ["a trailing newline", { name: "acme\n" }, "'name' must match ^[a-z0-9][a-z0-9-]{0,62}$"],
    ["a number", { name: 42 }, "'name' must match ^[a-z0-9][a-z0-9-]{0,62}$"],
    ["no name", {}, "'name' is required"],
    ["null", { name: null }, "'name' must match ^[a-z0-9][a-z0-9-]{0,62}$"]
  ]
  for (const [what, body, description] of badNames) {
    it.effect(`§2: a realm name with ${what} is 400 invalid_request`, () =>
      Effect.gen(function*() {
        expectError(yield* admin.post("/admin/realms", body), 400, "invalid_request", description)
      }))
  }
})

layer(TestLive)("CONTRACT §3 request bodies: JSON in, 4xx JSON out", (it) => {
  it.effect("§3: malformed JSON is 400 invalid_request", () =>
    Effect.gen(function*() {
      expectError(yield* postRaw("/admin/realms", "{\"name\": \"acme\""), 400, "invalid_request", "the body is not valid JSON")
      expectError(yield* postRaw("/admin/realms", ""), 400, "invalid_request", "the body is not valid JSON")
    }))

  it.effect("§3: a JSON array (or any non-object) body is 400 invalid_request", () =>
    Effect.gen(function*() {
      expectError(yield* admin.post("/admin/realms", [{ name: uniqueName() }]), 400, "invalid_request", "the body must be a JSON object")
      expectError(yield* postRaw("/admin/realms", "null"), 400, "invalid_request", "the body must be a JSON object")
      expectError(yield* postRaw("/admin/realms", "\"acme\""), 400, "invalid_request", "the body must be a JSON object")
    }))

  it.effect("§3: a body that is not application/json is 400 invalid_request", () =>
    Effect.gen(function*() {
      const name = uniqueName()
      expectError(
        yield* postRaw("/admin/realms", JSON.stringify({ name }), "text/plain"),
        400,
        "invalid_request",
        "the body must be application/json"
      )
      expectError(
        yield* postRaw("/admin/realms", `name=${name}`, "application/x-www-form-urlencoded"),
        400,
        "invalid_request",
        "the body must be application/json"
      )
      expectError(yield* request("POST", "/admin/realms", { headers: owner }), 400, "invalid_request", "the body must be application/json")
      expect(Option.isNone(yield* Effect.option(Provisioning.findRealm(name)))).toBe(true)
    }))

  it.effect("RFC 8259 §11: application/json with a charset parameter or in upper case is JSON", () =>
    Effect.gen(function*() {
      expectJson(yield* postRaw("/admin/realms", JSON.stringify({ name: uniqueName() }), "application/json; charset=utf-8"), 201)
      expectJson(yield* postRaw("/admin/realms", JSON.stringify({ name: uniqueName() }), "Application/JSON"), 201)
    }))

  it.effect("§3: a body over 64 KiB is 413 with the contract's invalid_request JSON", () =>
    Effect.gen(function*() {
      const name = uniqueName()
      const body = JSON.stringify({ name, padding: "x".repeat(64 * 1024) })
      expectError(yield* postRaw("/admin/realms", body), 413, "invalid_request", "the body is larger than 65536 bytes")
      expect(Option.isNone(yield* Effect.option(Provisioning.findRealm(name)))).toBe(true)
    }))

  it.effect("§3: a chunked body over 64 KiB (no Content-Length) is 413 too", () =>
    Effect.gen(function*() {
      const name = uniqueName()
      const chunks = [`{"name":"${name}","padding":"`, ...Array.from({ length: 9 }, () => "x".repeat(8 * 1024)), "\"}"]
      expectError(yield* postChunked("/admin/realms", chunks), 413, "invalid_request", "the body is larger than 65536 bytes")
      expect(Option.isNone(yield* Effect.option(Provisioning.findRealm(name)))).toBe(true)
    }))

  it.effect("RFC 9112 §7.1: a chunked body under 64 KiB is read", () =>
    Effect.gen(function*() {
      const name = uniqueName()
      const res = yield* postChunked("/admin/realms", [`{"name":"${name}",`, `"padding":"${"x".repeat(32 * 1024)}"}`])
      expectJson(res, 201)
      expect(res.json).toEqual({ name, issuer: `${publicUrl}/realms/${name}` })
    }))

  it.effect("§3: a body of exactly 64 KiB is read", () =>
    Effect.gen(function*() {
      const name = uniqueName()
      const head = JSON.stringify({ name, padding: "" })
      const body = head.replace("\"padding\":\"\"", `"padding":"${"x".repeat(64 * 1024 - head.length)}"`)
      expect(new TextEncoder().encode(body).length).toBe(64 * 1024)
      expectJson(yield* postRaw("/admin/realms", body), 201)
    }))

  it.effect("§3: a malformed body on a realm-scoped call is 400 invalid_request too", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      for (const path of ["users", "clients", "resources", "trusted-issuers"]) {
        expectError(yield* postRaw(`/admin/realms/${realm.name}/${path}`, "{"), 400, "invalid_request", "the body is not valid JSON")
        expectError(yield* postRaw(`/admin/realms/${realm.name}/${path}`, "[]"), 400, "invalid_request", "the body must be a JSON object")
        expectError(
          yield* postRaw(`/admin/realms/${realm.name}/${path}`, "{}", "text/plain"),
          400,
          "invalid_request",
          "the body must be application/json"
        )
      }
      expect(yield* auditTypes(realm.name)).toEqual([...bornEvents])
    }))
})

layer(TestLive)("CONTRACT §3 PATCH /admin/realms/R", (it) => {
  it.effect("§3: dynamic registration is off by default; an empty patch answers the settings", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const res = yield* admin.patch(`/admin/realms/${realm.name}`, {})
      expectJson(res, 200)
      expect(res.json).toEqual({ name: realm.name, issuer: realm.issuer, dynamic_registration: false })
    }))

  it.effect("§3: display_name and dynamic_registration are set, and each patch keeps the other", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const first = yield* admin.patch(`/admin/realms/${realm.name}`, { display_name: "Acme Corp" })
      expectJson(first, 200)
      expect(first.json).toEqual({ name: realm.name, issuer: realm.issuer, display_name: "Acme Corp", dynamic_registration: false })
      const second = yield* admin.patch(`/admin/realms/${realm.name}`, { dynamic_registration: true })
      expectJson(second, 200)
      expect(second.json).toEqual({ name: realm.name, issuer: realm.issuer, display_name: "Acme Corp", dynamic_registration: true })
      const third = yield* admin.patch(`/admin/realms/${realm.name}`, { display_name: "Acme", dynamic_registration: false })
      expect(third.json).toEqual({ name: realm.name, issuer: realm.issuer, display_name: "Acme", dynamic_registration: false })
      expect(yield* auditTypes(realm.name)).toEqual(["realm.updated", "realm.updated", "realm.updated", ...bornEvents])
    }))

  it.effect("§3: an unknown realm is 404 not_found", () =>
    Effect.gen(function*() {
      expectError(yield* admin.patch(`/admin/realms/${uniqueName()}`, { dynamic_registration: true }), 404, "not_found", "unknown realm")
      expectError(yield* admin.patch("/admin/realms/Not-A-Realm", { dynamic_registration: true }), 404, "not_found", "unknown realm")
    }))

  it.effect("§3: wrongly typed settings are 400 invalid_request and change nothing", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      expectError(
        yield* admin.patch(`/admin/realms/${realm.name}`, { dynamic_registration: "yes" }),
        400,
        "invalid_request",
        "'dynamic_registration' must be a boolean"
      )
      expectError(
        yield* admin.patch(`/admin/realms/${realm.name}`, { display_name: "" }),
        400,
        "invalid_request",
        "'display_name' must be a string of 1 to 200 characters"
      )
      expectError(
        yield* admin.patch(`/admin/realms/${realm.name}`, { display_name: "x".repeat(201) }),
        400,
        "invalid_request",
        "'display_name' must be a string of 1 to 200 characters"
      )
      expect(yield* auditTypes(realm.name)).toEqual([...bornEvents])
      expect((yield* admin.patch(`/admin/realms/${realm.name}`, {})).json.dynamic_registration).toBe(false)
    }))
})

layer(TestLive)("CONTRACT §3 POST /admin/realms/R/users", (it) => {
  it.effect("§3: a new user is 201 {sub, username}", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const res = yield* admin.post(`/admin/realms/${realm.name}/users`, {
        username: "alice",
        password: "correct horse battery",
        email: "alice@example.com",
        name: "Alice Liddell"
      })
      expectJson(res, 201)
      expect(res.json).toEqual({ sub: expect.any(String), username: "alice" })
      expect(res.json.sub).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      expect(yield* auditTypes(realm.name)).toEqual(["user.created", ...bornEvents])
      // the password is stored only as an argon2id hash
      const stored = Option.getOrThrow(
        yield* Effect.flatMap(Users.Users, (users) => Effect.flatMap(realmId(realm.name), (id) => users.find(id, res.json.sub)))
      )
      expect(stored.passwordHash).toMatch(/^\$argon2id\$/)
      expect(JSON.stringify(stored)).not.toContain("correct horse battery")
    }))

  it.effect("§3: a duplicate username, also one differing only by case, is 409 conflict and writes nothing", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const first = yield* admin.post(`/admin/realms/${realm.name}/users`, { username: "Alice", password: "correct horse battery" })
      expectJson(first, 201)
      expectError(
        yield* admin.post(`/admin/realms/${realm.name}/users`, { username: "Alice", password: "another password" }),
        409,
        "conflict",
        "the user already exists"
      )
      expectError(
        yield* admin.post(`/admin/realms/${realm.name}/users`, { username: "alice", password: "another password" }),
        409,
        "conflict",
        "the user already exists"
      )
      expect(yield* auditTypes(realm.name)).toEqual(["user.created", ...bornEvents])
      const found = yield* Effect.flatMap(Users.Users, (users) =>
        Effect.flatMap(realmId(realm.name), (id) => users.findByUsername(id, "ALICE")))
      expect(Option.map(found, (u) => u.sub)).toEqual(Option.some(first.json.sub))
    }))

  it.effect("§3: usernames differing only in Unicode normal form are one username (409)", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      expectJson(yield* admin.post(`/admin/realms/${realm.name}/users`, { username: "jos\u00e9", password: "correct horse battery" }), 201)
      expectError(
        yield* admin.post(`/admin/realms/${realm.name}/users`, { username: "jose\u0301", password: "correct horse battery" }),
        409,
        "conflict",
        "the user already exists"
      )
    }))

  it.effect("§3: the same username in two realms is two users", () =>
    Effect.gen(function*() {
      const a = yield* createRealm()
      const b = yield* createRealm()
      const inA = yield* admin.post(`/admin/realms/${a.name}/users`, { username: "bob", password: "correct horse battery" })
      const inB = yield* admin.post(`/admin/realms/${b.name}/users`, { username: "bob", password: "correct horse battery" })
      expectJson(inA, 201)
      expectJson(inB, 201)
      expect(inA.json.sub).not.toBe(inB.json.sub)
    }))

  const refusals: ReadonlyArray<readonly [string, unknown, string]> = [
    ["NIST SP 800-63B §5.1.1.2: a password under 8 characters", { username: "carol", password: "short" }, "'password' must be a string of 8 to 1024 characters"],
    ["a missing username", { password: "correct horse battery" }, "'username' is required"],
    ["a missing password", { username: "carol" }, "'password' is required"],
    ["an empty username", { username: "", password: "correct horse battery" }, "'username' must be 1 to 255 characters without spaces or control characters"],
    ["a username with a space", { username: "carol smith", password: "correct horse battery" }, "'username' must be 1 to 255 characters without spaces or control characters"],
    ["a username that is a number", { username: 7, password: "correct horse battery" }, "'username' must be 1 to 255 characters without spaces or control characters"],
    ["an email that is not one", { username: "carol", password: "correct horse battery", email: "carol" }, "'email' must be an email address"]
  ]
  for (const [what, body, description] of refusals) {
    it.effect(`§3: ${what} is 400 invalid_request and writes nothing`, () =>
      Effect.gen(function*() {
        const realm = yield* createRealm()
        expectError(yield* admin.post(`/admin/realms/${realm.name}/users`, body), 400, "invalid_request", description)
        expect(yield* auditTypes(realm.name)).toEqual([...bornEvents])
      }))
  }
})

layer(TestLive)("CONTRACT §3 POST /admin/realms/R/resources (RFC 8707)", (it) => {
  it.effect("§3: a resource is 201 {uri, scopes, step_up_scopes}", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const res = yield* admin.post(`/admin/realms/${realm.name}/resources`, {
        uri: "https://api.example/mcp",
        scopes: ["read", "write"],
        step_up_scopes: ["write"]
      })
      expectJson(res, 201)
      expect(res.json).toEqual({
        id: expect.stringMatching(uuid),
        uri: "https://api.example/mcp",
        scopes: ["read", "write"],
        step_up_scopes: ["write"],
        scope_descriptions: {},
        created_at: expect.any(String)
      })
      expect(yield* auditTypes(realm.name)).toEqual(["resource.created", ...bornEvents])
    }))

  it.effect("§3: step_up_scopes defaults to none", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const res = yield* admin.post(`/admin/realms/${realm.name}/resources`, { uri: "urn:example:api", scopes: ["read"] })
      expectJson(res, 201)
      expect(res.json).toEqual({
        id: expect.stringMatching(uuid),
        uri: "urn:example:api",
        scopes: ["read"],
        step_up_scopes: [],
        scope_descriptions: {},
        created_at: expect.any(String)
      })
    }))

  it.effect("§3: a duplicate uri is 409 conflict and writes nothing", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      expectJson(yield* admin.post(`/admin/realms/${realm.name}/resources`, { uri: "https://api.example/", scopes: ["read"] }), 201)
      expectError(
        yield* admin.post(`/admin/realms/${realm.name}/resources`, { uri: "https://api.example/", scopes: ["write"] }),
        409,
        "conflict",
        "the resource already exists"
      )
      expect(yield* auditTypes(realm.name)).toEqual(["resource.created", ...bornEvents])
      const rows = yield* Effect.flatMap(Resources.Resources, (resources) => Effect.flatMap(realmId(realm.name), resources.list))
      expect(rows.map((r) => [r.uri, r.scopes]).sort()).toEqual([
        ["https://api.example/", ["read"]],
        [`${publicUrl}/admin/realms/${realm.name}`, ["tessera:admin"]]
      ])
    }))

  const refusals: ReadonlyArray<readonly [string, unknown, string]> = [
    [
      "step_up_scopes that are not a subset of scopes",
      { uri: "https://api.example/", scopes: ["read"], step_up_scopes: ["admin"] },
      "'step_up_scopes' must be a subset of 'scopes'"
    ],
    [
      "empty scopes",
      { uri: "https://api.example/", scopes: [] },
      "'scopes' must be a non-empty array of distinct scope tokens (RFC 6749 §3.3)"
    ],
    [
      "missing scopes",
      { uri: "https://api.example/" },
      "'scopes' is required"
    ],
    [
      "a repeated scope",
      { uri: "https://api.example/", scopes: ["read", "read"] },
      "'scopes' must be a non-empty array of distinct scope tokens (RFC 6749 §3.3)"
    ],
    [
      "a scope that is not a scope token (RFC 6749 §3.3)",
      { uri: "https://api.example/", scopes: ["read write"] },
      "'scopes' must be a non-empty array of distinct scope tokens (RFC 6749 §3.3)"
    ],
    [
      "a relative uri (RFC 8707 §2)",
      { uri: "/mcp", scopes: ["read"] },
      "'uri' must be an absolute URI without a fragment"
    ],
    [
      "a uri with a fragment (RFC 8707 §2)",
      { uri: "https://api.example/#mcp", scopes: ["read"] },
      "'uri' must be an absolute URI without a fragment"
    ],
    [
      "a uri with a space (RFC 3986 §4.3)",
      { uri: "https://api.example/a b", scopes: ["read"] },
      "'uri' must be an absolute URI without a fragment"
    ],
    [
      "a missing uri",
      { scopes: ["read"] },
      "'uri' is required"
    ]
  ]
  for (const [what, body, description] of refusals) {
    it.effect(`§3: ${what} is 400 invalid_request and writes nothing`, () =>
      Effect.gen(function*() {
        const realm = yield* createRealm()
        expectError(yield* admin.post(`/admin/realms/${realm.name}/resources`, body), 400, "invalid_request", description)
        expect(yield* auditTypes(realm.name)).toEqual([...bornEvents])
      }))
  }
})

layer(TestLive)("CONTRACT §3 POST /admin/realms/R/trusted-issuers (RFC 7523)", (it) => {
  it.effect("§3: a trusted issuer with jwks is 201", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const body = { issuer: "https://idp.example", jwks: { keys: [ecPublicJwk] } }
      const res = yield* admin.post(`/admin/realms/${realm.name}/trusted-issuers`, body)
      expectJson(res, 201)
      expect(res.json).toEqual({ id: expect.stringMatching(uuid), ...body, id_jag: false, provision_users: false, created_at: expect.any(String) })
      expect(yield* auditTypes(realm.name)).toEqual(["trusted_issuer.created", ...bornEvents])
    }))

  it.effect("§3: a trusted issuer with jwks_uri is 201", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const body = { issuer: "https://idp.example/tenant", jwks_uri: "https://idp.example/tenant/jwks" }
      const res = yield* admin.post(`/admin/realms/${realm.name}/trusted-issuers`, body)
      expectJson(res, 201)
      expect(res.json).toEqual({ id: expect.stringMatching(uuid), ...body, id_jag: false, provision_users: false, created_at: expect.any(String) })
    }))

  it.effect("§3: a duplicate issuer is 409 conflict and writes nothing", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const body = { issuer: "https://idp.example", jwks_uri: "https://idp.example/jwks" }
      expectJson(yield* admin.post(`/admin/realms/${realm.name}/trusted-issuers`, body), 201)
      expectError(
        yield* admin.post(`/admin/realms/${realm.name}/trusted-issuers`, { issuer: "https://idp.example", jwks: { keys: [ecPublicJwk] } }),
        409,
        "conflict",
        "the trusted issuer already exists"
      )
      expect(yield* auditTypes(realm.name)).toEqual(["trusted_issuer.created", ...bornEvents])
      const rows = yield* Effect.flatMap(TrustedIssuers.TrustedIssuers, (issuers) => Effect.flatMap(realmId(realm.name), issuers.list))
      expect(rows.map((r) => [r.issuer, r.keys])).toEqual([["https://idp.example", { _tag: "JwksUri", jwksUri: "https://idp.example/jwks" }]])
    }))

  const refusals: ReadonlyArray<readonly [string, unknown, string]> = [
    [
      "both jwks and jwks_uri",
      { issuer: "https://idp.example", jwks: { keys: [ecPublicJwk] }, jwks_uri: "https://idp.example/jwks" },
      "exactly one of 'jwks' and 'jwks_uri' is required"
    ],
    [
      "neither jwks nor jwks_uri",
      { issuer: "https://idp.example" },
      "exactly one of 'jwks' and 'jwks_uri' is required"
    ],
    [
      "a jwks with a private key (RFC 7517 §4)",
      { issuer: "https://idp.example", jwks: { keys: [{ ...ecPublicJwk, d: "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI" }] } },
      "'jwks' keys[0] must be a public key (no private members)"
    ],
    [
      "a jwks with a malformed RSA key (RFC 7518 §6.3.1)",
      { issuer: "https://idp.example", jwks: { keys: [{ kty: "RSA", n: "not base64url!", e: "AQAB" }] } },
      "'jwks' keys[0] must have 'n' as a base64url string"
    ],
    [
      "a non-https jwks_uri",
      { issuer: "https://idp.example", jwks_uri: "http://idp.example/jwks" },
      "'jwks_uri' must be an https URL"
    ],
    [
      "an http issuer off loopback (RFC 8414 §2)",
      { issuer: "http://idp.example", jwks_uri: "https://idp.example/jwks" },
      "'issuer' must be an https URL without query or fragment"
    ],
    [
      "an issuer with a query (RFC 8414 §2)",
      { issuer: "https://idp.example?x=1", jwks_uri: "https://idp.example/jwks" },
      "'issuer' must be an https URL without query or fragment"
    ],
    [
      "a missing issuer",
      { jwks_uri: "https://idp.example/jwks" },
      "'issuer' is required"
    ]
  ]
  for (const [what, body, description] of refusals) {
    it.effect(`§3: ${what} is 400 invalid_request and writes nothing`, () =>
      Effect.gen(function*() {
        const realm = yield* createRealm()
        expectError(yield* admin.post(`/admin/realms/${realm.name}/trusted-issuers`, body), 400, "invalid_request", description)
        expect(yield* auditTypes(realm.name)).toEqual([...bornEvents])
      }))
  }
})

layer(TestLive)("CONTRACT §3 POST /admin/realms/R/clients: nothing half-written, realms isolated", (it) => {
  it.effect("§3: a registration refused by validation writes no client and no event", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const res = yield* admin.post(`/admin/realms/${realm.name}/clients`, {
        redirect_uris: ["https://app.example/cb"],
        grant_types: ["implicit"]
      })
      expectError(res, 400, "invalid_client_metadata", "the 'implicit' grant is not supported")
      expect(yield* auditTypes(realm.name)).toEqual([...bornEvents])
      expect(yield* Effect.flatMap(Clients.Clients, (clients) => Effect.flatMap(realmId(realm.name), clients.list)).pipe(Effect.map((rows) => rows.map((c) => c.clientId)))).toEqual(["tessera-cli"])
    }))

  it.effect("§3: a registration refused by the realm (unknown resource) writes no client and no event", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const res = yield* admin.post(`/admin/realms/${realm.name}/clients`, {
        redirect_uris: ["https://app.example/cb"],
        resources: ["https://api.example/mcp"]
      })
      expectError(res, 400, "invalid_client_metadata", "resource 'https://api.example/mcp' is not registered in this realm")
      expect(yield* auditTypes(realm.name)).toEqual([...bornEvents])
      expect(yield* Effect.flatMap(Clients.Clients, (clients) => Effect.flatMap(realmId(realm.name), clients.list)).pipe(Effect.map((rows) => rows.map((c) => c.clientId)))).toEqual(["tessera-cli"])
    }))

  it.effect("§3: a registration writes one client and its client.created event", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const res = yield* admin.post(`/admin/realms/${realm.name}/clients`, { redirect_uris: ["https://app.example/cb"] })
      expectJson(res, 201)
      const trail = yield* admin.get(`/admin/realms/${realm.name}/audit?type=client.created`)
      expectJson(trail, 200)
      expect(trail.json).toEqual({
        events: [{
          id: expect.any(String),
          at: expect.any(String),
          realm: realm.name,
          type: "client.created",
          actor: { type: "owner", id: "owner" },
          client_id: res.json.client_id,
          result: "success"
        }, {
          id: expect.any(String),
          at: expect.any(String),
          realm: realm.name,
          type: "client.created",
          actor: { type: "owner", id: "owner" },
          client_id: "tessera-cli",
          result: "success",
          reason: "built in"
        }]
      })
      const rows = yield* Effect.flatMap(Clients.Clients, (clients) => Effect.flatMap(realmId(realm.name), clients.list))
      expect(rows.map((c) => c.clientId).sort()).toEqual(["tessera-cli", res.json.client_id].sort())
    }))

  it.effect("§2: a realm never sees another realm's clients", () =>
    Effect.gen(function*() {
      const a = yield* createRealm()
      const b = yield* createRealm()
      const res = yield* admin.post(`/admin/realms/${a.name}/clients`, { redirect_uris: ["https://app.example/cb"] })
      expectJson(res, 201)
      const clientId = res.json.client_id as string
      const clients = yield* Clients.Clients
      const idA = yield* realmId(a.name)
      const idB = yield* realmId(b.name)
      expect(Option.isNone(yield* clients.find(idB, clientId))).toBe(true)
      expect((yield* clients.list(idB)).map((c) => c.clientId)).toEqual(["tessera-cli"])
      expect(Option.map(yield* clients.find(idA, clientId), (c) => c.clientId)).toEqual(Option.some(clientId))
      expect((yield* clients.list(idA)).map((c) => c.clientId).sort()).toEqual(["tessera-cli", clientId].sort())
      // and B's trail does not mention it
      expect(yield* auditTypes(b.name)).toEqual([...bornEvents])
    }))
})

layer(TestLive)("CONTRACT §3 audit and keys", (it) => {
  it.effect("§3: GET audit is 200 {events, next_cursor}, newest first", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      expectJson(yield* admin.patch(`/admin/realms/${realm.name}`, { display_name: "Audited" }), 200)
      const res = yield* admin.get(`/admin/realms/${realm.name}/audit`)
      expectJson(res, 200)
      const event = (type: string) => ({
        id: expect.any(String),
        at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/),
        realm: realm.name,
        type,
        actor: { type: "owner", id: "owner" },
        result: "success"
      })
      // CONTRACT §7: an admin change's event names the fields it changed
      expect(res.json).toEqual({
        events: [
          { ...event("realm.updated"), reason: "changed: display_name" },
          // ADR 0035: the realm's built-ins, born with it
          { ...event("client.created"), client_id: "tessera-cli", reason: "built in" },
          { ...event("resource.created"), resource: `${publicUrl}/admin/realms/${realm.name}`, reason: "built in" },
          event("realm.created")
        ]
      })
    }))

  it.effect("§3: audit pages follow next_cursor", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      expectJson(yield* admin.patch(`/admin/realms/${realm.name}`, { display_name: "One" }), 200)
      const first = yield* admin.get(`/admin/realms/${realm.name}/audit?limit=1`)
      expectJson(first, 200)
      expect(first.json.events.map((e: { type: string }) => e.type)).toEqual(["realm.updated"])
      expect(first.json.next_cursor).toEqual(expect.any(String))
      const second = yield* admin.get(`/admin/realms/${realm.name}/audit?limit=1&cursor=${first.json.next_cursor}`)
      expectJson(second, 200)
      expect(second.json.events.map((e: { type: string }) => e.type)).toEqual(["client.created"])
      expect(second.json.next_cursor).toEqual(expect.any(String))
      const rest = yield* admin.get(`/admin/realms/${realm.name}/audit?limit=2&cursor=${second.json.next_cursor}`)
      expect(rest.json.events.map((e: { type: string }) => e.type)).toEqual(["resource.created", "realm.created"])
      // CONTRACT §3 lists: next_cursor absent on the last page
      expect(Object.keys(rest.json)).toEqual(["events"])
    }))

  it.effect("§3 lists: an audit limit outside 1-200, or not written plainly, is 400 invalid_request as on every list", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      for (const limit of ["0", "201", "1000", "-1", "+5", "05", "1e2", "0x10", "1.5", " 5", "", "abc"]) {
        expectError(
          yield* admin.get(`/admin/realms/${realm.name}/audit?limit=${encodeURIComponent(limit)}`),
          400,
          "invalid_request",
          "'limit' must be an integer from 1 to 200"
        )
        // the same text as another list's
        expectError(
          yield* admin.get(`/admin/realms/${realm.name}/users?limit=${encodeURIComponent(limit)}`),
          400,
          "invalid_request",
          "'limit' must be an integer from 1 to 200"
        )
      }
      expectJson(yield* admin.get(`/admin/realms/${realm.name}/audit?limit=200`), 200)
      expectJson(yield* admin.get(`/admin/realms/${realm.name}/audit?limit=1`), 200)
    }))

  it.effect("§3: bad audit queries are 400 invalid_request", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      expectError(yield* admin.get(`/admin/realms/${realm.name}/audit?limit=0`), 400, "invalid_request", "'limit' must be an integer from 1 to 200")
      expectError(yield* admin.get(`/admin/realms/${realm.name}/audit?since=yesterday`), 400, "invalid_request", "'since' must be an RFC 3339 date-time")
      expectError(yield* admin.get(`/admin/realms/${realm.name}/audit?type=a&type=b`), 400, "invalid_request", "'type' must not be given twice")
      expectError(
        yield* admin.get(`/admin/realms/${realm.name}/audit?cursor=bm9wZQ`),
        400,
        "invalid_request",
        "'cursor' must be a cursor from an earlier page"
      )
    }))

  type KeyView = { kid: string; alg: string; status: string }
  const byAlgAndStatus = (keys: ReadonlyArray<KeyView>) =>
    keys.map((k) => `${k.alg} ${k.status}`).sort()

  it.effect("§3: GET keys lists an active and a next key per algorithm", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const res = yield* admin.get(`/admin/realms/${realm.name}/keys`)
      expectJson(res, 200)
      const keys = res.json.keys as Array<KeyView>
      expect(byAlgAndStatus(keys)).toEqual(["ES256 active", "ES256 next", "RS256 active", "RS256 next"])
      for (const key of keys) {
        expect(key).toEqual({
          kid: expect.any(String),
          alg: key.alg,
          status: key.status,
          created_at: expect.any(String),
          activates_at: expect.any(String),
          ...("expires_at" in key ? { expires_at: expect.any(String) } : {})
        })
      }
      expect(new Set(keys.map((k) => k.kid)).size).toBe(keys.length)
    }))

  it.effect("§3: POST keys/rotate promotes next, makes a new next, retires the old active", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const before = (yield* admin.get(`/admin/realms/${realm.name}/keys`)).json.keys as Array<KeyView>
      const res = yield* admin.post(`/admin/realms/${realm.name}/keys/rotate`)
      expectJson(res, 200)
      const after = res.json.keys as Array<KeyView>
      const kid = (keys: ReadonlyArray<KeyView>, alg: string, status: string) => keys.find((k) => k.alg === alg && k.status === status)?.kid
      expect(byAlgAndStatus(after)).toEqual([
        "ES256 active", "ES256 next", "ES256 retired", "RS256 active", "RS256 next", "RS256 retired"
      ])
      for (const alg of ["ES256", "RS256"]) {
        expect(kid(after, alg, "active")).toBe(kid(before, alg, "next"))
        expect(kid(after, alg, "retired")).toBe(kid(before, alg, "active"))
        expect(before.map((k) => k.kid)).not.toContain(kid(after, alg, "next"))
      }
      expect(yield* auditTypes(realm.name)).toEqual(["key.rotated", ...bornEvents])
      expect((yield* admin.get(`/admin/realms/${realm.name}/keys`)).json).toEqual(res.json)
    }))

  it.effect("§3: GET audit/verify is 200 {ok: true, events: N} on an intact trail", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const res = yield* admin.get(`/admin/realms/${realm.name}/audit/verify`)
      expectJson(res, 200)
      expect(res.json).toEqual({ ok: true, events: 3 })
      expectJson(yield* admin.patch(`/admin/realms/${realm.name}`, { display_name: "Verified" }), 200)
      expect((yield* admin.get(`/admin/realms/${realm.name}/audit/verify`)).json).toEqual({ ok: true, events: 4 })
    }))
})

layer(TestLive)("CONTRACT §3 unknown realms, unknown paths and the OpenAPI document", (it) => {
  it.effect("§3: every realm-scoped call on an unknown realm is 404 not_found 'unknown realm'", () =>
    Effect.gen(function*() {
      for (const name of [uniqueName(), "Not-A-Realm", "a".repeat(64)]) {
        const calls: ReadonlyArray<readonly [string, Effect.Effect<WireResponse, never, HttpClient.HttpClient>]> = [
          ["PATCH realm", admin.patch(`/admin/realms/${name}`, { dynamic_registration: true })],
          ["POST users", admin.post(`/admin/realms/${name}/users`, { username: "dave", password: "correct horse battery" })],
          ["POST clients", admin.post(`/admin/realms/${name}/clients`, { redirect_uris: ["https://app.example/cb"] })],
          ["POST resources", admin.post(`/admin/realms/${name}/resources`, { uri: "https://api.example/", scopes: ["read"] })],
          [
            "POST trusted-issuers",
            admin.post(`/admin/realms/${name}/trusted-issuers`, { issuer: "https://idp.example", jwks_uri: "https://idp.example/jwks" })
          ],
          ["GET audit", admin.get(`/admin/realms/${name}/audit`)],
          ["GET audit/verify", admin.get(`/admin/realms/${name}/audit/verify`)],
          ["GET keys", admin.get(`/admin/realms/${name}/keys`)],
          ["POST keys/rotate", admin.post(`/admin/realms/${name}/keys/rotate`)]
        ]
        for (const [call, effect] of calls) {
          const res = yield* effect
          expect({ call, status: res.status, body: res.json }).toEqual({ call, status: 404, body: unknownRealm })
          expect(res.headers["content-type"]).toBe("application/json")
          expect(res.headers["cache-control"]).toBe("no-store")
        }
      }
    }))

  it.effect("§3: an unknown realm is 404 even when the body is also bad", () =>
    Effect.gen(function*() {
      expectError(yield* postRaw(`/admin/realms/${uniqueName()}/clients`, "{"), 404, "not_found", "unknown realm")
    }))

  it.effect("§3: an unknown admin path is 404 JSON", () =>
    Effect.gen(function*() {
      for (const res of [yield* admin.get("/admin/nope"), yield* admin.get("/admin/audits"), yield* admin.post("/admin/realms/x/y/z", {})]) {
        expectError(res, 404, "not_found", "nothing is served at this path")
      }
    }))

  it.effect("§3: GET /admin/openapi.json is the OpenAPI 3.1 document of every admin call", () =>
    Effect.gen(function*() {
      const res = yield* get("/admin/openapi.json")
      expect(res.status).toBe(200)
      expect(res.headers["content-type"]).toBe("application/json")
      expect(res.headers["cache-control"]).toBe("public, max-age=300")
      expect(res.json.openapi).toBe("3.1.0")
      const paths = res.json.paths as Record<string, Record<string, unknown>>
      const operations = Object.entries(paths).flatMap(([path, item]) =>
        Object.keys(item).filter((method) => ["get", "post", "patch", "put", "delete"].includes(method)).map((method) =>
          `${method.toUpperCase()} ${path}`
        )
      ).sort()
      expect(operations).toEqual([
        "DELETE /admin/realms/{realm}",
        "DELETE /admin/realms/{realm}/agents/{client_id}/delegations/{sub}",
        "DELETE /admin/realms/{realm}/clients/{client_id}",
        "DELETE /admin/realms/{realm}/invitations/{id}",
        "DELETE /admin/realms/{realm}/resources/{id}",
        "DELETE /admin/realms/{realm}/trusted-issuers/{id}",
        "DELETE /admin/realms/{realm}/users/{sub}",
        "DELETE /admin/realms/{realm}/users/{sub}/grants/{grant_id}",
        "DELETE /admin/realms/{realm}/users/{sub}/sessions/{sid}",
        "GET /admin/audit",
        "GET /admin/audit/verify",
        "GET /admin/realms",
        "GET /admin/realms/{realm}",
        "GET /admin/realms/{realm}/agents",
        "GET /admin/realms/{realm}/audit",
        "GET /admin/realms/{realm}/audit/verify",
        "GET /admin/realms/{realm}/clients",
        "GET /admin/realms/{realm}/clients/{client_id}",
        "GET /admin/realms/{realm}/invitations",
        "GET /admin/realms/{realm}/keys",
        "GET /admin/realms/{realm}/resources",
        "GET /admin/realms/{realm}/resources/{id}",
        "GET /admin/realms/{realm}/trusted-issuers",
        "GET /admin/realms/{realm}/trusted-issuers/{id}",
        "GET /admin/realms/{realm}/users",
        "GET /admin/realms/{realm}/users/{sub}",
        "GET /admin/realms/{realm}/users/{sub}/grants",
        "GET /admin/realms/{realm}/users/{sub}/sessions",
        "PATCH /admin/realms/{realm}",
        "PATCH /admin/realms/{realm}/clients/{client_id}",
        "PATCH /admin/realms/{realm}/resources/{id}",
        "PATCH /admin/realms/{realm}/trusted-issuers/{id}",
        "PATCH /admin/realms/{realm}/users/{sub}",
        "POST /admin/realms",
        "POST /admin/realms/{realm}/clients",
        "POST /admin/realms/{realm}/clients/{client_id}/secret",
        "POST /admin/realms/{realm}/invitations",
        "POST /admin/realms/{realm}/keys/rotate",
        "POST /admin/realms/{realm}/resources",
        "POST /admin/realms/{realm}/trusted-issuers",
        "POST /admin/realms/{realm}/users",
        "PUT /admin/realms/{realm}/users/{sub}/password"
      ])
    }))
})
