import { expect } from "@effect/vitest"
import { Effect } from "effect"
import * as Jose from "jose"
import { admin, createRealm, get } from "./support/Http.js"
import * as TestLive from "./support/TestLive.js"

const it = TestLive.file()

const privateMembers = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]

it.layer(TestLive.World)("RFC 7517 §5: the realm's JWK Set", (it) => {
  it.effect("§5: a JWK Set of public signing keys, cacheable, readable from any origin", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const res = yield* get(`/realms/${realm.name}/jwks`)
      expect(res.status).toBe(200)
      // RFC 7517 §8.5.1: application/jwk-set+json
      expect(res.headers["content-type"]).toBe("application/jwk-set+json")
      expect(res.headers["cache-control"]).toBe("public, max-age=600")
      expect(res.headers["access-control-allow-origin"]).toBe("*")
      const keys = res.json.keys as Array<Record<string, unknown>>
      expect(keys).toHaveLength(4)
      const es = keys.filter((k) => k.alg === "ES256")
      const rs = keys.filter((k) => k.alg === "RS256")
      for (const key of es) {
        expect(key).toEqual({ kty: "EC", crv: "P-256", x: expect.any(String), y: expect.any(String), kid: expect.any(String), alg: "ES256", use: "sig" })
      }
      for (const key of rs) {
        expect(key).toEqual({ kty: "RSA", n: expect.any(String), e: "AQAB", kid: expect.any(String), alg: "RS256", use: "sig" })
        // RFC 7518 §3.3: RSA keys of 2048 bits or more
        expect(Buffer.from(key.n as string, "base64url").length * 8).toBeGreaterThanOrEqual(2048)
      }
      expect(es).toHaveLength(2)
      expect(rs).toHaveLength(2)
    }))

  it.effect("§4: never a private member; the kid is the RFC 7638 thumbprint and unique", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      yield* admin.post(`/admin/realms/${realm.name}/keys/rotate`)
      const keys = (yield* get(`/realms/${realm.name}/jwks`)).json.keys as Array<Jose.JWK & { kid: string }>
      expect(keys).toHaveLength(6)
      for (const key of keys) {
        for (const member of privateMembers) expect(key).not.toHaveProperty(member)
        expect(yield* Effect.promise(() => Jose.calculateJwkThumbprint(key, "sha256"))).toBe(key.kid)
      }
      expect(new Set(keys.map((k) => k.kid)).size).toBe(keys.length)
    }))

  it.effect("§5: the JWKS lists exactly the keys the owner sees as next, active or retired", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      yield* admin.post(`/admin/realms/${realm.name}/keys/rotate`)
      const owner = (yield* admin.get(`/admin/realms/${realm.name}/keys`)).json.keys as Array<{ kid: string; status: string }>
      const published = (yield* get(`/realms/${realm.name}/jwks`)).json.keys as Array<{ kid: string }>
      expect(published.map((k) => k.kid).sort()).toEqual(owner.map((k) => k.kid).sort())
      expect(owner.map((k) => k.status).sort()).toEqual(["active", "active", "next", "next", "retired", "retired"])
    }))

  it.effect("keys of one realm never appear in another realm's JWKS", () =>
    Effect.gen(function*() {
      const a = yield* createRealm()
      const b = yield* createRealm()
      const kids = (name: string) => Effect.map(get(`/realms/${name}/jwks`), (res) => res.json.keys.map((k: { kid: string }) => k.kid) as Array<string>)
      const ka = yield* kids(a.name)
      const kb = yield* kids(b.name)
      expect(ka.filter((kid) => kb.includes(kid))).toEqual([])
    }))

  it.effect("CONTRACT §2: an unknown realm's JWKS is 404 unknown realm", () =>
    Effect.gen(function*() {
      const res = yield* get(`/realms/no-such-realm/jwks`)
      expect(res.status).toBe(404)
      expect(res.headers["cache-control"]).toBe("no-store")
      expect(res.json).toEqual({ error: "invalid_request", error_description: "unknown realm" })
    }))
})
