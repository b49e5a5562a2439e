/** RemoteJwks under TestClock: caching per URL by Cache-Control (bounded), errors never cached, shared fetches, and the
 * bounded refetch when a JWT names an unknown kid. Counted on the memory Fetcher. */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Either, Fiber, Layer, Option, TestClock } from "effect"
import { Fetcher, RemoteJwks } from "@tessera/domain"

const World = RemoteJwks.layer.pipe(Layer.provideMerge(Fetcher.layerMemory))

const url = "https://idp.example/jwks"
const key = (kid: string) => ({ kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", kid })
const jwks = (...kids: ReadonlyArray<string>) => ({ keys: kids.map(key) })
const kids = (set: RemoteJwks.JwkSet) => set.keys.map((k) => k["kid"])

const publish = (value: unknown, headers: Record<string, string> = {}, delay?: Duration.DurationInput) =>
  Effect.flatMap(Fetcher.MemoryFetcher, (table) => table.set(url, Fetcher.json(value, headers, delay)))
const calls = Effect.flatMap(Fetcher.MemoryFetcher, (table) => table.calls(url))
const get = (request: Partial<RemoteJwks.Request> = {}) => RemoteJwks.keys(url, { addresses: "public", ...request })
const outcome = (request: Partial<RemoteJwks.Request> = {}) =>
  Effect.map(Effect.either(get(request)), (e) => Either.isLeft(e) ? { reason: e.left.reason, fetch: e.left.fetch } : kids(e.right))

describe("RemoteJwks (RFC 7517 §5 key sets at a jwks_uri)", () => {
  it.effect("cached for the response's max-age: asked again within it, no fetch; at its end, fetched again", () =>
    Effect.gen(function*() {
      yield* publish(jwks("a"), { "cache-control": "public, max-age=300" })
      expect(kids(yield* get())).toEqual(["a"])
      yield* publish(jwks("b"))
      yield* TestClock.adjust("299 seconds")
      expect(kids(yield* get())).toEqual(["a"])
      expect(yield* calls).toBe(1)
      yield* TestClock.adjust("1 second")
      expect(kids(yield* get())).toEqual(["b"])
      expect(yield* calls).toBe(2)
    }).pipe(Effect.provide(World)))

  const bounded: ReadonlyArray<readonly [string, Record<string, string>, number]> = [
    ["no Cache-Control: 10 minutes", {}, 600],
    ["max-age=5: at least 60 s", { "cache-control": "max-age=5" }, 60],
    ["no-store: at least 60 s", { "cache-control": "no-store" }, 60],
    ["max-age of a year: at most 24 h", { "cache-control": "max-age=31536000" }, 86_400]
  ]
  for (const [name, headers, seconds] of bounded) {
    it.effect(`freshness bounded to [60 s, 24 h]: ${name}`, () =>
      Effect.gen(function*() {
        yield* publish(jwks("a"), headers)
        yield* get()
        yield* TestClock.adjust(`${seconds - 1} seconds`)
        yield* get()
        expect(yield* calls).toBe(1)
        yield* TestClock.adjust("1 second")
        yield* get()
        expect(yield* calls).toBe(2)
      }).pipe(Effect.provide(World)))
  }

  it.effect("errors are never cached: a failed fetch, then the next request fetches again and succeeds", () =>
    Effect.gen(function*() {
      const table = yield* Fetcher.MemoryFetcher
      yield* table.set(url, { _tag: "Response", status: 503, body: "" })
      expect(yield* outcome()).toEqual({ reason: "fetch", fetch: "status" })
      expect(yield* outcome()).toEqual({ reason: "fetch", fetch: "status" })
      expect(yield* calls).toBe(2)
      yield* publish(jwks("a"))
      expect(yield* outcome()).toEqual(["a"])
      expect(yield* calls).toBe(3)
    }).pipe(Effect.provide(World)))

  it.effect("concurrent requests for one URL share one fetch, success or failure", () =>
    Effect.gen(function*() {
      yield* publish(jwks("a"), {}, "1 second")
      const fibers = yield* Effect.forEach(Array.from({ length: 20 }), () => Effect.fork(outcome()))
      yield* TestClock.adjust("1 second")
      for (const fiber of fibers) expect(yield* Fiber.join(fiber)).toEqual(["a"])
      expect(yield* calls).toBe(1)
      // a failing fetch is shared the same way, and then forgotten
      const table = yield* Fetcher.MemoryFetcher
      const other = "https://idp.example/slow-failure"
      yield* table.set(other, Fetcher.json(jwks("x"), {}, "10 seconds")) // longer than the 3 s timeout
      const failing = yield* Effect.forEach(Array.from({ length: 5 }), () =>
        Effect.fork(Effect.either(RemoteJwks.keys(other, { addresses: "public" }))))
      yield* TestClock.adjust("3 seconds")
      for (const fiber of failing) {
        const result = yield* Fiber.join(fiber)
        expect(Either.isLeft(result) && [result.left.reason, result.left.fetch]).toEqual(["fetch", "timeout"])
      }
      expect(yield* table.calls(other)).toBe(1)
    }).pipe(Effect.provide(World)))

  it.effect("key rotation: a kid missing from the cached set refetches once the last fetch is 60 s old, and finds the new key", () =>
    Effect.gen(function*() {
      yield* publish(jwks("old"), { "cache-control": "max-age=3600" })
      expect(kids(yield* get({ kid: "old" }))).toEqual(["old"])
      yield* publish(jwks("old", "new"), { "cache-control": "max-age=3600" })
      // within 60 s of the fetch: no refetch, the caller gets the set it has (and its verification fails)
      yield* TestClock.adjust("59 seconds")
      expect(kids(yield* get({ kid: "new" }))).toEqual(["old"])
      expect(yield* calls).toBe(1)
      yield* TestClock.adjust("1 second")
      expect(kids(yield* get({ kid: "new" }))).toEqual(["old", "new"])
      expect(yield* calls).toBe(2)
      // a kid the set has, or no kid at all: the cache
      expect(kids(yield* get({ kid: "old" }))).toEqual(["old", "new"])
      expect(kids(yield* get())).toEqual(["old", "new"])
      expect(yield* calls).toBe(2)
    }).pipe(Effect.provide(World)))

  it.effect("a flood of unknown kids: at most one fetch per 60 s per URL", () =>
    Effect.gen(function*() {
      yield* publish(jwks("a"), { "cache-control": "max-age=86400" })
      yield* get()
      for (let minute = 1; minute <= 5; minute++) {
        yield* TestClock.adjust("61 seconds")
        // sequential and concurrent made-up kids alike
        for (let i = 0; i < 50; i++) expect(kids(yield* get({ kid: `forged-${minute}-${i}` }))).toEqual(["a"])
        yield* Effect.forEach(Array.from({ length: 50 }, (_, i) => i), (i) => get({ kid: `parallel-${minute}-${i}` }), { concurrency: "unbounded" })
        expect(yield* calls).toBe(1 + minute)
      }
    }).pipe(Effect.provide(World)))

  it.effect("a failed refetch for an unknown kid is not cached and does not evict the set; it still counts against the interval", () =>
    Effect.gen(function*() {
      const table = yield* Fetcher.MemoryFetcher
      yield* publish(jwks("a"), { "cache-control": "max-age=3600" })
      yield* get()
      yield* TestClock.adjust("61 seconds")
      yield* table.set(url, { _tag: "Failure", reason: "network" })
      expect(yield* outcome({ kid: "b" })).toEqual({ reason: "fetch", fetch: "network" })
      // the known key still verifies from the cache; another unknown kid inside the interval makes no fetch
      expect(yield* outcome({ kid: "a" })).toEqual(["a"])
      expect(yield* outcome({ kid: "c" })).toEqual(["a"])
      expect(yield* calls).toBe(2)
    }).pipe(Effect.provide(World)))

  it.effect("not a JWK Set is invalid (never cached); private and symmetric keys are dropped", () =>
    Effect.gen(function*() {
      const table = yield* Fetcher.MemoryFetcher
      for (const body of ["not json", "[]", `{"keys": {}}`, `{"nokeys": []}`, "\u00ff"]) {
        yield* table.set(url, { _tag: "Response", status: 200, body })
        expect(yield* outcome()).toEqual({ reason: "invalid", fetch: undefined })
      }
      yield* table.set(url, { _tag: "Response", status: 200, body: new Uint8Array([0x7b, 0xff, 0x7d]) })
      expect(yield* outcome()).toEqual({ reason: "invalid", fetch: undefined })
      yield* publish({ keys: [key("public"), { ...key("private"), d: "secret" }, { kty: "oct", k: "c2VjcmV0", kid: "hmac" }, "junk", { kid: "no-kty" }] })
      expect(yield* outcome()).toEqual(["public"])
      expect(yield* calls).toBe(7)
    }).pipe(Effect.provide(World)))

  it.effect("the fetch is capped at 64 KiB and 3 s, asks for a JWK Set, with the caller's address policy", () =>
    Effect.gen(function*() {
      const table = yield* Fetcher.MemoryFetcher
      yield* publish(jwks("a"))
      yield* get()
      expect(yield* table.lastOptions(url)).toEqual(Option.some({
        timeout: Duration.seconds(3), maxBytes: 65_536, addresses: "public", accept: "application/jwk-set+json, application/json"
      }))
      const padded = (size: number) => {
        const base = JSON.stringify({ keys: [key("a")], pad: "" })
        return base.slice(0, -2) + "x".repeat(size - base.length) + `"}`
      }
      yield* table.set(url, { _tag: "Response", status: 200, body: padded(64 * 1024) })
      expect(yield* outcome()).toEqual(["a"])
      const other = "https://idp.example/big"
      yield* table.set(other, { _tag: "Response", status: 200, body: padded(64 * 1024 + 1) })
      const big = yield* Effect.either(RemoteJwks.keys(other, { addresses: "public" }))
      expect(Either.isLeft(big) && big.left.fetch).toBe("too_large")
      const slow = "https://idp.example/slow"
      yield* table.set(slow, Fetcher.json(jwks("a"), {}, "2999 millis"))
      const fiber = yield* Effect.fork(RemoteJwks.keys(slow, { addresses: "public" }))
      yield* TestClock.adjust("2999 millis")
      expect(kids(yield* Fiber.join(fiber))).toEqual(["a"])
    }).pipe(Effect.provide(World)))

  it.effect("the cache is per URL and per address policy", () =>
    Effect.gen(function*() {
      const table = yield* Fetcher.MemoryFetcher
      yield* publish(jwks("a"))
      yield* table.set(`${url}?v=2`, Fetcher.json(jwks("b")))
      expect(kids(yield* get())).toEqual(["a"])
      expect(kids(yield* RemoteJwks.keys(`${url}?v=2`, { addresses: "public" }))).toEqual(["b"])
      expect(kids(yield* get({ addresses: "any" }))).toEqual(["a"])
      expect(yield* calls).toBe(2)
    }).pipe(Effect.provide(World)))
})
