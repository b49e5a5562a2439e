import { expect } from "@effect/vitest"
import { Duration, Effect, Option } from "effect"
import { Provisioning, Tokens } from "@tessera/domain"
import { Dpop } from "@tessera/protocol"
import { admin, createRealm, request } from "./support/Http.js"
import { publicUrl } from "./support/TestLive.js"
import * as TestLive from "./support/TestLive.js"

const it = TestLive.file()

/** RFC 9449 §7.2: the DPoP challenge offered beside the Bearer one. */
const dpop = (issuer: string) => `DPoP realm="${issuer}", algs="${Dpop.algorithms.join(" ")}"`

/** A realm with a person, and an access token for them minted the way the token endpoint mints it. */
const fixture = (scope: ReadonlyArray<string>, audience?: string, lifetime = Duration.minutes(15)) =>
  Effect.gen(function*() {
    const realm = yield* createRealm()
    const user = (yield* admin.post(`/admin/realms/${realm.name}/users`, {
      username: "ada", password: "correct horse", email: "ada@example.com", name: "Ada Lovelace"
    })).json as { sub: string }
    const { id } = yield* Provisioning.findRealm(realm.name)
    const issuer = `${publicUrl}/realms/${realm.name}`
    // CONTRACT §5 Introspection (ADR 0034): a token of a client that is not registered is inactive, so a real one
    const client = (yield* admin.post(`/admin/realms/${realm.name}/clients`, { redirect_uris: ["https://app.example/cb"] })).json as {
      client_id: string
    }
    const { token } = yield* Tokens.accessToken({
      realmId: id, issuer, sub: user.sub, audience: audience ?? issuer, clientId: client.client_id, scope, dpopKey: Option.none()
    }, lifetime)
    return { realm, issuer, sub: user.sub, token }
  })

it.layer(TestLive.World)("OIDC Core §5.3 UserInfo", (it) => {
  it.effect("§5.3.2: GET with a bearer token for the issuer returns sub and the claims its scopes release", () =>
    Effect.gen(function*() {
      const { realm, sub, token } = yield* fixture(["openid", "profile", "email"])
      const res = yield* request("GET", `/realms/${realm.name}/userinfo`, { headers: { authorization: `Bearer ${token}` } })
      expect(res.status).toBe(200)
      expect(res.headers["cache-control"]).toBe("no-store")
      expect(res.headers["content-type"]).toBe("application/json")
      expect(res.json).toEqual({ sub, preferred_username: "ada", name: "Ada Lovelace", email: "ada@example.com" })
    }))

  it.effect("§5.4: only openid releases nothing but sub; POST with the token in the form body (RFC 6750 §2.2) works too", () =>
    Effect.gen(function*() {
      const { realm, sub, token } = yield* fixture(["openid"])
      const res = yield* request("POST", `/realms/${realm.name}/userinfo`, {
        body: `access_token=${token}`, contentType: "application/x-www-form-urlencoded"
      })
      expect(res.status).toBe(200)
      expect(res.json).toEqual({ sub })
    }))

  it.effect("RFC 6750 §3.1: no token is 401 with a challenge and no error code in it", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const res = yield* request("GET", `/realms/${realm.name}/userinfo`)
      expect(res.status).toBe(401)
      const issuer = `${publicUrl}/realms/${realm.name}`
      expect(res.headers["www-authenticate"]).toBe(`Bearer realm="${issuer}", ${dpop(issuer)}`)
      expect(res.json).toEqual({ error: "invalid_token", error_description: "an access token is required" })
    }))

  it.effect("RFC 6750 §3.1: a garbage, expired or other-audience token is 401 invalid_token", () =>
    Effect.gen(function*() {
      const good = yield* fixture(["openid"], "https://api.example")
      const expired = yield* fixture(["openid"], undefined, Duration.seconds(-1))
      for (const [realm, issuer, token] of [
        [good.realm.name, good.issuer, good.token],
        [expired.realm.name, expired.issuer, expired.token],
        [good.realm.name, good.issuer, "not-a-jwt"]
      ] as const) {
        const res = yield* request("GET", `/realms/${realm}/userinfo`, { headers: { authorization: `Bearer ${token}` } })
        expect(res.status).toBe(401)
        expect(res.headers["www-authenticate"]).toBe(`Bearer realm="${issuer}", error="invalid_token", ${dpop(issuer)}`)
        expect(res.json).toEqual({ error: "invalid_token", error_description: "the access token is invalid, expired, or not for this endpoint" })
      }
    }))

  it.effect("a token of another realm is invalid_token here", () =>
    Effect.gen(function*() {
      const a = yield* fixture(["openid"])
      const b = yield* createRealm()
      const res = yield* request("GET", `/realms/${b.name}/userinfo`, { headers: { authorization: `Bearer ${a.token}` } })
      expect(res.status).toBe(401)
      expect(res.json.error).toBe("invalid_token")
    }))

  it.effect("§5.3.1: a token without openid is 403 insufficient_scope", () =>
    Effect.gen(function*() {
      const { realm, issuer, token } = yield* fixture(["profile"])
      const res = yield* request("GET", `/realms/${realm.name}/userinfo`, { headers: { authorization: `Bearer ${token}` } })
      expect(res.status).toBe(403)
      expect(res.headers["www-authenticate"]).toBe(`Bearer realm="${issuer}", error="insufficient_scope", ${dpop(issuer)}`)
      expect(res.json).toEqual({ error: "insufficient_scope", error_description: "the access token lacks the openid scope" })
    }))

  it.effect("RFC 6750 §2.3 is refused (never in the query), and two ways at once are invalid_request", () =>
    Effect.gen(function*() {
      const { realm, issuer, token } = yield* fixture(["openid"])
      const query = yield* request("GET", `/realms/${realm.name}/userinfo?access_token=${token}`)
      expect(query.status).toBe(400)
      expect(query.headers["www-authenticate"]).toBe(`Bearer realm="${issuer}", error="invalid_request", ${dpop(issuer)}`)
      expect(query.json).toEqual({ error: "invalid_request", error_description: "the access token must not be sent in the query" })
      const both = yield* request("POST", `/realms/${realm.name}/userinfo`, {
        headers: { authorization: `Bearer ${token}` }, body: `access_token=${token}`, contentType: "application/x-www-form-urlencoded"
      })
      expect(both.status).toBe(400)
      expect(both.json).toEqual({ error: "invalid_request", error_description: "the access token must be sent one way only" })
    }))
})
