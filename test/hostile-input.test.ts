/**
 * Bad input on the real SQL store (PGlite): a NUL character fits no OAuth parameter (RFC 6749 Appendix A) and no
 * PostgreSQL text or jsonb value, so it must be refused as a 4xx before it reaches the store, never turn into a
 * store failure (503). Found by fuzzing the running server.
 */
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { admin, createRealm, request } from "./support/Http.js"
import * as TestLive from "./support/TestLive.js"

const OnPglite = TestLive.make({}, { store: "pglite" })

layer(OnPglite, { timeout: 60_000 })("RFC 6749 Appendix A: a NUL in any input is invalid_request, on the SQL store", (it) => {
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
        expect(res.status).toBe(400)
        expect(res.text).toContain("invalid_client")
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
      // each parameter judges its own syntax (RFC 6749 A.17: refresh-token = 1*VSCHAR)
      expect(res.json).toEqual({ error: "invalid_request", error_description: "'refresh_token' must contain only printable ASCII characters" })
    }))

  it.effect("in an admin JSON body (a client name), and nothing is written", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const res = yield* admin.post(`/admin/realms/${realm.name}/clients`, { redirect_uris: ["https://app.example/cb"], client_name: "a\u0000b" })
      expect(res.status).toBe(400)
      expect(res.json).toEqual({ error: "invalid_request", error_description: "the body must not contain NUL characters" })
      const events = (yield* admin.get(`/admin/realms/${realm.name}/audit`)).json.events.map((e: { type: string }) => e.type)
      expect(events).toEqual(["realm.created"])
    }))

  it.effect("in an audit filter", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const res = yield* admin.get(`/admin/realms/${realm.name}/audit?subject=a%00b`)
      expect(res.status).toBe(400)
      expect(res.json).toEqual({ error: "invalid_request", error_description: "'subject' must be 1 to 1024 characters without control characters" })
    }))
})
