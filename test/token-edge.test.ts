import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as TokenEdge from "@tessera/server-node/http/TokenEdge"
import { tokenEndpointHeaders } from "./support/Http.js"
import type { WireResponse } from "./support/Http.js"
import * as TestLive from "./support/TestLive.js"
import { auditOf, authOf, basicHeader, introspect, post, registerClient, revoke, userAgent, verify, world } from "./support/TokenFixtures.js"
import type { Auth, World } from "./support/TokenFixtures.js"

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

/** Runs `effect` and tells how many requests the edge answered and handed to the route meanwhile. */
const counted = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const before = { ...TokenEdge.counts }
    const value = yield* effect
    return { value, answered: TokenEdge.counts.answered - before.answered, toRoute: TokenEdge.counts.toRoute - before.toRoute }
  })

/** The token's claims and header, verified against the realm's JWKS, with the per-token values made comparable. */
const claimsOf = (w: World, res: WireResponse) =>
  Effect.map(verify(w, res.json.access_token, { typ: "at+jwt", audience: w.resource, algorithms: ["ES256"] }), ({ payload, protectedHeader }) => ({
    header: protectedHeader,
    claims: { ...payload, jti: typeof payload.jti, iat: typeof payload.iat, exp: (payload.exp ?? 0) - (payload.iat ?? 0) }
  }))

layer(TestLive.TestLive)("ADR 0023: client credentials tokens answered from memory at the edge", (it) => {
  it.effect("RFC 6749 §4.4.3: the edge's answer is the route's (status, headers, body, token claims, audit event)", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* machine(w)
      // the first request reads the realm, client, resources and key through the route, which keeps them in memory
      const first = yield* counted(clientCredentials(w, authOf(client), [["scope", "read"]]))
      expect(first.answered).toBe(0)
      const second = yield* counted(clientCredentials(w, authOf(client), [["scope", "read"]]))
      expect(second).toMatchObject({ answered: 1, toRoute: 0 })
      expect(stable(second.value)).toEqual({ ...stable(first.value), json: { ...first.value.json, access_token: expect.any(String) } })
      expect(stable(second.value)).toEqual({
        status: 200,
        headers: { ...tokenEndpointHeaders, "content-length": String(second.value.text.length) },
        json: { access_token: expect.any(String), token_type: "Bearer", expires_in: 900, scope: "read" }
      })
      expect(second.value.json.access_token).not.toBe(first.value.json.access_token)
      expect(yield* claimsOf(w, second.value)).toEqual(yield* claimsOf(w, first.value))
      // both recorded alike, newest first; the edge's event is the token's own (its jti is not in events)
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

  it.effect("client_secret_post is answered at the edge too", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* machine(w, { token_endpoint_auth_method: "client_secret_post" })
      yield* clientCredentials(w, authOf(client))
      const second = yield* counted(clientCredentials(w, authOf(client)))
      expect(second).toMatchObject({ answered: 1, toRoute: 0, value: { status: 200 } })
      expect(second.value.json.scope).toBe("read write")
    }))

  it.effect("RFC 6749 §5.2: every refusal is the route's, byte for byte as before (wrong secret, unknown client, bad scope and resource)", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* machine(w)
      yield* clientCredentials(w, authOf(client))
      const wrongSecret = yield* counted(clientCredentials(w, { basic: [client.client_id, "not-the-secret"] }))
      expect(wrongSecret).toMatchObject({ answered: 0, toRoute: 1 })
      expect(stable(wrongSecret.value)).toEqual({
        status: 401,
        headers: {
          ...tokenEndpointHeaders,
          "content-length": String(wrongSecret.value.text.length),
          "www-authenticate": `Basic realm="${w.issuer}"`
        },
        json: { error: "invalid_client", error_description: "client authentication failed" }
      })
      const unknown = yield* counted(clientCredentials(w, { basic: ["no-such-client", "secret"] }))
      expect(unknown).toMatchObject({ answered: 0, toRoute: 1, value: { status: 401, json: { error: "invalid_client" } } })
      const scope = yield* counted(clientCredentials(w, authOf(client), [["scope", "admin"]]))
      expect(scope).toMatchObject({ answered: 0, toRoute: 1, value: { status: 400, json: { error: "invalid_scope" } } })
      const twoResources = yield* counted(clientCredentials(w, authOf(client), [["resource", w.otherResource]]))
      expect(twoResources).toMatchObject({ answered: 0, toRoute: 1, value: { status: 400, json: { error: "invalid_target" } } })
    }))

  it.effect("only client credentials with a secret and no DPoP: other requests never reach the edge's decision", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* machine(w)
      yield* clientCredentials(w, authOf(client))
      // RFC 9449 §4: a DPoP header is the route's to check, whatever it holds
      const dpop = yield* counted(clientCredentials(w, authOf(client), [], { dpop: "not-a-proof" }))
      expect(dpop).toMatchObject({ answered: 0, toRoute: 0, value: { status: 400, json: { error: "invalid_dpop_proof" } } })
      // another grant: decided by the route
      const other = yield* counted(post(w, "token", authOf(client), [["grant_type", "refresh_token"], ["refresh_token", "x"]]))
      expect(other).toMatchObject({ answered: 0, toRoute: 1, value: { status: 400 } })
      // not a form
      const json = yield* counted(post(w, "token", authOf(client), [["grant_type", "client_credentials"]], { contentType: "application/json" }))
      expect(json).toMatchObject({ answered: 0, toRoute: 0, value: { status: 400, json: { error: "invalid_request" } } })
      // an unknown realm is never in memory
      const realm = yield* counted(post({ name: "no-such-realm" }, "token", authOf(client), [["grant_type", "client_credentials"]]))
      expect(realm).toMatchObject({ answered: 0, toRoute: 0, value: { status: 404 } })
      // Basic with a header the route reads the same way
      const header = yield* counted(clientCredentials(w, { basic: [client.client_id, client.client_secret!] }, [], {
        authorization: basicHeader(client.client_id, client.client_secret!)
      }))
      expect(header).toMatchObject({ answered: 1, value: { status: 200 } })
    }))

  it.effect("RFC 7009 §2 and RFC 7662 §2.2: an edge token is revoked and introspected like any other", () =>
    Effect.gen(function*() {
      const w = yield* world
      const client = yield* machine(w)
      yield* clientCredentials(w, authOf(client))
      const edge = yield* counted(clientCredentials(w, authOf(client)))
      expect(edge.answered).toBe(1)
      const token = edge.value.json.access_token as string
      expect((yield* introspect(w, authOf(client), token)).json).toMatchObject({ active: true, client_id: client.client_id, aud: w.resource })
      expect((yield* revoke(w, authOf(client), token)).status).toBe(200)
      expect((yield* introspect(w, authOf(client), token)).json).toEqual({ active: false })
    }))
})
