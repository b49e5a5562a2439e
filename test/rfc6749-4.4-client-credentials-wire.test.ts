import { expect } from "@effect/vitest"
import { Effect } from "effect"
import { tokenEndpointHeaders } from "./support/Http.js"
import type { WireResponse } from "./support/Http.js"
import * as TestLive from "./support/TestLive.js"
import { auditOf, authOf, basicHeader, introspect, post, registerClient, revoke, userAgent, verify, world } from "./support/TokenFixtures.js"
import type { Auth, World } from "./support/TokenFixtures.js"

const it = TestLive.file()

/** A machine client of the realm, allowed both resources. */
const machine = (w: World, metadata: Record<string, unknown> = {}) =>
  registerClient(w, {
    grant_types: ["client_credentials"], redirect_uris: [], response_types: [], resources: [w.resource, w.otherResource], ...metadata
  })

const clientCredentials = (w: World, auth: Auth, extra: ReadonlyArray<readonly [string, string]> = [], headers: Record<string, string> = {}) =>
  post(w, "token", auth, [["grant_type", "client_credentials"], ["resource", w.resource], ...extra], { headers })

/** A wire response without what Node adds per response (date, connection, keep-alive). */
const stable = (res: WireResponse) => {
  const { date: _date, connection: _connection, "keep-alive": _keepAlive, ...headers } = res.headers
  return { status: res.status, headers, json: res.json }
}

/** The token's claims and header, verified against the realm's JWKS, with the per-token values made comparable. */
const claimsOf = (w: World, res: WireResponse) =>
  Effect.map(verify(w, res.json.access_token, { typ: "at+jwt", audience: w.resource, algorithms: ["ES256"] }), ({ payload, protectedHeader }) => ({
    header: protectedHeader,
    claims: { ...payload, jti: typeof payload.jti, iat: typeof payload.iat, exp: (payload.exp ?? 0) - (payload.iat ?? 0) }
  }))

it.layer(TestLive.World)("RFC 6749 §4.4: the client credentials grant on the wire (ADR 0052: one implementation, the route)", (it) => {
  it.effect("RFC 6749 §4.4.3, §5.1: the token response (status, headers, body), the token's claims and its audit event, alike on every request", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* machine(w)
      // the first request reads the realm, client, resources and key from the store; the second from the ReadCache
      const first = yield* clientCredentials(w, authOf(client), [["scope", "read"]])
      const second = yield* clientCredentials(w, authOf(client), [["scope", "read"]])
      for (const res of [first, second]) {
        expect(stable(res)).toEqual({
          status: 200,
          headers: { ...tokenEndpointHeaders, "content-length": String(res.text.length) },
          json: { access_token: expect.any(String), token_type: "Bearer", expires_in: 900, scope: "read" }
        })
      }
      expect(second.json.access_token).not.toBe(first.json.access_token)
      const claims = yield* claimsOf(w, second)
      expect(claims).toEqual(yield* claimsOf(w, first))
      expect(claims).toEqual({
        header: { alg: "ES256", typ: "at+jwt", kid: expect.any(String) },
        claims: {
          iss: w.issuer, sub: client.client_id, aud: w.resource, client_id: client.client_id, scope: "read",
          jti: "string", iat: "number", exp: 900
        }
      })
      // both recorded alike, newest first
      const events = yield* auditOf(w, "token.issued")
      expect(events).toHaveLength(2)
      const shape = ({ id: _id, at: _at, ...rest }: Record<string, unknown>) => rest
      expect(shape(events[0]!)).toEqual(shape(events[1]!))
      expect(shape(events[0]!)).toEqual({
        realm: w.name, type: "token.issued", actor: { type: "client", id: client.client_id }, subject: client.client_id,
        client_id: client.client_id, grant_type: "client_credentials", resource: w.resource, scope: "read", result: "success",
        ip: expect.stringMatching(/^(::ffff:)?127\.0\.0\.1$|^::1$/), user_agent: userAgent
      })
    }))

  it.effect("RFC 6749 §2.3.1: client_secret_post is answered as Basic is", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* machine(w, { token_endpoint_auth_method: "client_secret_post" })
      yield* clientCredentials(w, authOf(client))
      const second = yield* clientCredentials(w, authOf(client))
      expect(stable(second)).toEqual({
        status: 200,
        headers: { ...tokenEndpointHeaders, "content-length": String(second.text.length) },
        json: { access_token: expect.any(String), token_type: "Bearer", expires_in: 900, scope: "read write" }
      })
    }))

  it.effect("RFC 6749 §5.2: the refusals (wrong secret, unknown client, bad scope and resource), with the realm's values in memory", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* machine(w)
      yield* clientCredentials(w, authOf(client))
      const wrongSecret = yield* clientCredentials(w, { basic: [client.client_id, "not-the-secret"] })
      expect(stable(wrongSecret)).toEqual({
        status: 401,
        headers: {
          ...tokenEndpointHeaders,
          "content-length": String(wrongSecret.text.length),
          "www-authenticate": `Basic realm="${w.issuer}"`
        },
        json: { error: "invalid_client", error_description: "client authentication failed" }
      })
      const unknown = yield* clientCredentials(w, { basic: ["no-such-client", "secret"] })
      expect(unknown).toMatchObject({ status: 401, json: { error: "invalid_client" } })
      const scope = yield* clientCredentials(w, authOf(client), [["scope", "admin"]])
      expect(scope).toMatchObject({ status: 400, json: { error: "invalid_scope" } })
      const twoResources = yield* clientCredentials(w, authOf(client), [["resource", w.otherResource]])
      expect(twoResources).toMatchObject({ status: 400, json: { error: "invalid_target" } })
    }))

  it.effect("RFC 9449 §4, RFC 6749 §3.2, CONTRACT §2: a bad DPoP proof, another grant, a body not a form, an unknown realm", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* machine(w)
      yield* clientCredentials(w, authOf(client))
      const dpop = yield* clientCredentials(w, authOf(client), [], { dpop: "not-a-proof" })
      expect(dpop).toMatchObject({ status: 400, json: { error: "invalid_dpop_proof" } })
      const other = yield* post(w, "token", authOf(client), [["grant_type", "refresh_token"], ["refresh_token", "x"]])
      expect(other).toMatchObject({ status: 400 })
      const json = yield* post(w, "token", authOf(client), [["grant_type", "client_credentials"]], { contentType: "application/json" })
      expect(json).toMatchObject({ status: 400, json: { error: "invalid_request" } })
      const realm = yield* post({ name: "no-such-realm" }, "token", authOf(client), [["grant_type", "client_credentials"]])
      expect(realm).toMatchObject({ status: 404 })
      // RFC 7617: Basic credentials in the header as the client sends them
      const header = yield* clientCredentials(w, { basic: [client.client_id, client.client_secret!] }, [], {
        authorization: basicHeader(client.client_id, client.client_secret!)
      })
      expect(header).toMatchObject({ status: 200 })
    }))

  it.effect("RFC 7009 §2 and RFC 7662 §2.2: a client credentials token is revoked and introspected", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* machine(w)
      yield* clientCredentials(w, authOf(client))
      const token = (yield* clientCredentials(w, authOf(client))).json.access_token as string
      expect((yield* introspect(w, authOf(client), token)).json).toMatchObject({ active: true, client_id: client.client_id, aud: w.resource })
      expect((yield* revoke(w, authOf(client), token)).status).toBe(200)
      expect((yield* introspect(w, authOf(client), token)).json).toEqual({ active: false })
    }))
})
