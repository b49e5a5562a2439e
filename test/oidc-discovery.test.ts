import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { createRealm, get, request } from "./support/Http.js"
import { publicUrl, TestLive } from "./support/TestLive.js"

layer(TestLive)("OIDC Discovery 1.0 §4 and RFC 8414 §3: the three metadata URLs", (it) => {
  it.effect("§4.1: {issuer}/.well-known/openid-configuration serves the realm's metadata", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const res = yield* get(`/realms/${realm.name}/.well-known/openid-configuration`)
      expect(res.status).toBe(200)
      expect(res.headers["access-control-allow-origin"]).toBe("*")
      expect(res.headers["content-type"]).toBe("application/json")
      expect(res.json).toEqual({
        issuer: `${publicUrl}/realms/${realm.name}`,
        jwks_uri: `${publicUrl}/realms/${realm.name}/jwks`,
        response_types_supported: ["code"],
        response_modes_supported: ["query"],
        grant_types_supported: [],
        code_challenge_methods_supported: ["S256"],
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: ["RS256"]
      })
    }))

  it.effect("RFC 8414 §3.1: the path-inserted URLs serve the identical document", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const oidc = yield* get(`/realms/${realm.name}/.well-known/openid-configuration`)
      const rfc8414 = yield* get(`/.well-known/oauth-authorization-server/realms/${realm.name}`)
      const inserted = yield* get(`/.well-known/openid-configuration/realms/${realm.name}`)
      for (const res of [rfc8414, inserted]) {
        expect(res.status).toBe(200)
        expect(res.headers["access-control-allow-origin"]).toBe("*")
        expect(res.text).toBe(oidc.text)
      }
    }))
})
