/** The Effect form of `@tessera/mcp` on `HttpLayerRouter`, and the key cache's timing under the TestClock. */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Either, Layer, TestClock } from "effect"
import { KeySet, McpAuth } from "@tessera/mcp"
import { Dpop } from "@tessera/protocol"
import { afterAll, beforeAll } from "vitest"
import { issuer, makeIssuer, resource } from "./support/Issuer.js"

let as: Awaited<ReturnType<typeof makeIssuer>>
let web: { readonly handler: (request: Request) => Promise<Response>; readonly dispose: () => Promise<void> }

beforeAll(async () => {
  as = await makeIssuer()
  const Mcp = HttpLayerRouter.add("POST", "/mcp", Effect.gen(function*() {
    const { claims } = yield* McpAuth.Authorized
    return HttpServerResponse.unsafeJson({ sub: claims.sub, scope: claims.scope })
  })).pipe(Layer.provide(McpAuth.middleware))
  web = HttpLayerRouter.toWebHandler(
    Layer.mergeAll(Mcp, McpAuth.Routes).pipe(
      Layer.provide(McpAuth.layer({ resource, issuer, scopes: ["mcp:tools"], toolScopes: { transfer: ["payments:send"] }, toolMaxAuthAge: { transfer: 300 }, fetch: as.fetch }))
    ),
    { disableLogger: true }
  )
})
afterAll(() => web.dispose())

const post = (body: unknown, token?: string) =>
  web.handler(new Request(resource, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body)
  }))

describe("McpAuth.layerHttpRouter / middleware (RFC 9728, RFC 6750 §3)", () => {
  it("RFC 9728 §3.1: the metadata at the path-inserted URL", async () => {
    const res = await web.handler(new Request("https://mcp.example.com/.well-known/oauth-protected-resource/mcp"))
    expect({ status: res.status, cors: res.headers.get("access-control-allow-origin"), body: await res.json() }).toStrictEqual({
      status: 200,
      cors: "*",
      body: {
        resource,
        authorization_servers: [issuer],
        scopes_supported: ["mcp:tools"],
        bearer_methods_supported: ["header"],
        dpop_signing_alg_values_supported: Dpop.algorithms
      }
    })
  })

  it("§3.1: 401 without a token, with the challenge and CORS headers", async () => {
    const res = await post({ jsonrpc: "2.0", id: 1, method: "tools/list" })
    expect({
      status: res.status,
      challenge: res.headers.get("www-authenticate"),
      expose: res.headers.get("access-control-expose-headers"),
      body: await res.json()
    }).toStrictEqual({
      status: 401,
      challenge: `Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="mcp:tools"`,
      expose: "WWW-Authenticate, Mcp-Session-Id, Mcp-Protocol-Version",
      body: { error: "invalid_token", error_description: "an access token is required" }
    })
  })

  it("the handler gets Authorized; a step-up tool without its scope is 403", async () => {
    const token = await as.sign()
    const ok = await post({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami" } }, token)
    expect({ status: ok.status, body: await ok.json() }).toStrictEqual({ status: 200, body: { sub: "person-1", scope: ["mcp:tools"] } })
    const denied = await post({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "transfer" } }, token)
    expect({ status: denied.status, challenge: denied.headers.get("www-authenticate") }).toStrictEqual({
      status: 403,
      challenge: `Bearer error="insufficient_scope", scope="mcp:tools payments:send", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"`
    })
  })
})

describe("McpAuth.middleware: RFC 9470 §3 toolMaxAuthAge", () => {
  it("transfer with payments:send and a login 6 minutes old is 401 insufficient_user_authentication with max_age; 4 minutes old passes", async () => {
    const now = Math.floor(Date.now() / 1000)
    const transfer = { jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "transfer" } }
    const stale = await post(transfer, await as.sign({ scope: "mcp:tools payments:send", auth_time: now - 360 }))
    expect({ status: stale.status, challenge: stale.headers.get("www-authenticate"), cors: stale.headers.get("access-control-allow-origin"), body: await stale.json() })
      .toStrictEqual({
        status: 401,
        challenge: `Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", max_age="300", ` +
          `resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"`,
        cors: "*",
        body: { error: "insufficient_user_authentication", error_description: "A different authentication level is required" }
      })
    const fresh = await post(transfer, await as.sign({ scope: "mcp:tools payments:send", auth_time: now - 240 }))
    expect({ status: fresh.status, body: await fresh.json() }).toStrictEqual({ status: 200, body: { sub: "person-1", scope: ["mcp:tools", "payments:send"] } })
  })
})

describe("KeySet: the cooldown is time, not request count", () => {
  it.effect("an unknown kid refetches once; again only after the cooldown; a fresh set is not refetched", () =>
    Effect.gen(function*() {
      const issuerDouble = yield* Effect.promise(makeIssuer)
      const keys = yield* KeySet.make({
        issuer,
        fetch: issuerDouble.fetch,
        maxAge: Duration.minutes(10),
        cooldown: Duration.seconds(30),
        timeout: Duration.seconds(5)
      })
      const fetches = () => issuerDouble.fetched.filter((u) => u.endsWith("/jwks")).length
      yield* keys.forKid("k1")
      yield* keys.forKid("k1")
      expect(fetches()).toBe(1)
      // the metadata is read once: jwks_uri is kept
      expect(issuerDouble.fetched.filter((u) => u.includes("/.well-known/")).length).toBe(1)
      yield* keys.forKid("nope")
      expect(fetches()).toBe(1) // within 30 s of the last fetch
      yield* TestClock.adjust("31 seconds")
      const set = yield* keys.forKid("nope")
      expect(fetches()).toBe(2)
      expect(set.keys.map((k) => k["kid"])).toStrictEqual(["k1"])
      yield* keys.forKid("nope")
      expect(fetches()).toBe(2)
      yield* TestClock.adjust("11 minutes")
      yield* keys.forKid("k1")
      expect(fetches()).toBe(3) // stale after maxAge
      issuerDouble.setDown(true)
      yield* TestClock.adjust("11 minutes")
      // stale and the issuer down: the keys we had still serve
      expect(Either.isRight(yield* Effect.either(keys.forKid("k1")))).toBe(true)
    }))
})
