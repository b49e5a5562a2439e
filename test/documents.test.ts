import { expect } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { ReadCache } from "@tessera/domain"
import * as Documents from "@tessera/server-node/http/Documents"
import { admin, createRealm, get, request } from "./support/Http.js"
import type { WireResponse } from "./support/Http.js"
import * as TestLive from "./support/TestLive.js"

const it = TestLive.file()

/** The four URLs of a realm's documents, and which document each serves. */
const documentPath = /^\/(?:realms\/([a-z0-9-]+)\/(jwks|\.well-known\/openid-configuration)|\.well-known\/(?:oauth-authorization-server|openid-configuration)\/realms\/([a-z0-9-]+))$/

/** The response kept in memory for the document `url` serves (ADR 0015), as its route answers it next, or undefined. */
const fromMemory = (url: string) =>
  Effect.map(ReadCache.ReadCache, (cache) => {
    const match = documentPath.exec(url)
    if (match === null) return undefined
    const kept = Documents.kept(cache, match[1] ?? match[3]!, match[2] === "jwks" ? "jwks" : "metadata")
    return kept === undefined ? undefined : { status: kept.status, headers: kept.headers, body: Buffer.from(kept.body).toString("utf8") }
  })

/** A wire response without the headers Node adds per response (date, connection, keep-alive). */
const stable = (res: WireResponse) => {
  const { date: _date, connection: _connection, "keep-alive": _keepAlive, ...headers } = res.headers
  return { status: res.status, headers, text: res.text }
}

const paths = (name: string) => [
  `/realms/${name}/jwks`,
  `/realms/${name}/.well-known/openid-configuration`,
  `/.well-known/oauth-authorization-server/realms/${name}`,
  `/.well-known/openid-configuration/realms/${name}`
]

it.layer(TestLive.World)("ADR 0015: the JWKS and metadata answered from what is kept in memory", (it) => {
  it.effect("the bytes answered from memory are exactly the route's: status, headers and body, at all four URLs", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      // nothing is kept before the first GET; the three metadata URLs share one document
      for (const path of paths(realm.name)) expect(yield* fromMemory(path)).toBeUndefined()
      for (const path of paths(realm.name)) {
        const first = yield* get(path) // through the route, which keeps the response (or from memory, for the 2nd and 3rd metadata URL)
        expect(first.status).toBe(200)
        const kept = yield* fromMemory(path)
        expect(kept).toEqual({ status: 200, headers: expect.any(Object), body: first.text })
        const second = yield* get(path) // answered from what is kept
        expect(stable(second)).toEqual(stable(first))
        expect(Object.fromEntries(Object.entries(kept!.headers).map(([k, v]) => [k.toLowerCase(), v])))
          .toEqual(Object.fromEntries(Object.entries(stable(first).headers)))
        // the router ignores a query string
        expect(stable(yield* get(`${path}?x=1`))).toEqual(stable(first))
      }
    }))

  it.effect("a write through the admin API is in the next answer (a new resource's scopes, rotated keys)", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const metadataPath = `/realms/${realm.name}/.well-known/openid-configuration`
      expect((yield* get(metadataPath)).json.scopes_supported).not.toContain("ledger:read")
      expect(yield* fromMemory(metadataPath)).toBeDefined()
      yield* admin.post(`/admin/realms/${realm.name}/resources`, { uri: `https://ledger.example/${realm.name}`, scopes: ["ledger:read"] })
      expect(yield* fromMemory(metadataPath)).toBeUndefined()
      expect((yield* get(metadataPath)).json.scopes_supported).toContain("ledger:read")
      expect((yield* get(`/realms/${realm.name}/jwks`)).json.keys).toHaveLength(4)
      yield* admin.post(`/admin/realms/${realm.name}/keys/rotate`)
      expect(yield* fromMemory(`/realms/${realm.name}/jwks`)).toBeUndefined()
      expect((yield* get(`/realms/${realm.name}/jwks`)).json.keys).toHaveLength(6)
      // PATCH: the realm's settings are in its metadata (registration_endpoint when dynamic registration is on)
      yield* get(metadataPath)
      yield* admin.patch(`/admin/realms/${realm.name}`, { dynamic_registration: true })
      expect((yield* get(metadataPath)).json.registration_endpoint).toBe(`${realm.issuer}/register`)
    }))

  it.effect("an unknown realm is 404 and keeps nothing; the documents' preflight is answered", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      yield* get(`/realms/${realm.name}/jwks`)
      expect(yield* fromMemory(`/realms/${realm.name}/jwks`)).toBeDefined()
      expect(yield* fromMemory(`/realms/no-such-realm/jwks`)).toBeUndefined()
      const unknown = yield* get(`/realms/no-such-realm/jwks`)
      expect(unknown.status).toBe(404)
      expect(unknown.json).toEqual({ error: "invalid_request", error_description: "unknown realm" })
      expect((yield* request("OPTIONS", `/realms/${realm.name}/jwks`)).status).toBe(204)
    }))
})

it.effect("ADR 0015: a kept document is answered from memory for at most ReadCache.ttl", () =>
  Effect.gen(function*() {
    const realm = yield* createRealm()
    yield* get(`/realms/${realm.name}/jwks`)
    yield* TestClock.adjust("999 millis")
    expect(yield* fromMemory(`/realms/${realm.name}/jwks`)).toBeDefined()
    yield* TestClock.adjust("1 millis")
    expect(yield* fromMemory(`/realms/${realm.name}/jwks`)).toBeUndefined()
    expect((yield* get(`/realms/${realm.name}/jwks`)).status).toBe(200)
  }).pipe(Effect.provide(TestLive.world())))
