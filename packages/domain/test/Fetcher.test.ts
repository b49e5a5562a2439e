/** The Fetcher port's memory layer (canned answers with the port's rules) and its Cache-Control reading. */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Either, Fiber, Layer, Option, TestClock } from "effect"
import { Fetcher } from "@tessera/domain"
import * as FetcherContract from "./FetcherContract.js"

FetcherContract.suite("memory", Effect.gen(function*() {
  const context = yield* Layer.build(Fetcher.layerMemory)
  const table = Context.get(context, Fetcher.MemoryFetcher)
  return {
    fetcher: Context.get(context, Fetcher.Fetcher),
    serve: (path, answer) => {
      const url = `https://contract.example${path}`
      return Effect.as(table.set(url, {
        _tag: "Response",
        status: answer.status,
        body: answer.body,
        ...(answer.headers !== undefined ? { headers: answer.headers } : {}),
        ...(answer.delay !== undefined ? { delay: `${answer.delay} millis` as const } : {})
      }), url)
    },
    options: { addresses: "public" }
  } satisfies FetcherContract.Harness
}))

const options: Fetcher.Options = { timeout: "3 seconds", maxBytes: 16, addresses: "public" }

const outcome = <R>(effect: Effect.Effect<Fetcher.Response, Fetcher.FetchError, R>) =>
  Effect.map(Effect.either(effect), (e) =>
    Either.isLeft(e) ? { reason: e.left.reason, status: e.left.status } : { body: new TextDecoder().decode(e.right.body), headers: e.right.headers })

describe("Fetcher.layerMemory (canned answers)", () => {
  it.effect("answers the canned 200 with lower-cased headers and counts every call per URL", () =>
    Effect.gen(function*() {
      const table = yield* Fetcher.MemoryFetcher
      yield* table.set("https://a.example/doc", { _tag: "Response", status: 200, headers: { "Cache-Control": "max-age=60" }, body: "{}" })
      expect(yield* outcome(Fetcher.get("https://a.example/doc", options))).toEqual({ body: "{}", headers: { "cache-control": "max-age=60" } })
      expect(yield* outcome(Fetcher.get("https://a.example/other", options))).toEqual({ reason: "network", status: undefined })
      expect(yield* table.calls("https://a.example/doc")).toBe(1)
      expect(yield* table.calls("https://a.example/other")).toBe(1)
      expect(yield* table.calls("https://a.example/never")).toBe(0)
      expect(yield* table.lastOptions("https://a.example/doc")).toEqual(Option.some(options))
      expect(yield* table.lastOptions("https://a.example/never")).toEqual(Option.none())
    }).pipe(Effect.provide(Fetcher.layerMemory)))

  it.effect("applies the port's rules: 3xx redirect, non-200 status, body over the cap, scheme and URL checks", () =>
    Effect.gen(function*() {
      const table = yield* Fetcher.MemoryFetcher
      yield* table.set("https://a.example/moved", { _tag: "Response", status: 302, headers: { location: "/" }, body: "" })
      yield* table.set("https://a.example/gone", { _tag: "Response", status: 404, body: "" })
      yield* table.set("https://a.example/big", { _tag: "Response", status: 200, body: "x".repeat(17) })
      yield* table.set("https://a.example/fits", { _tag: "Response", status: 200, body: "x".repeat(16) })
      yield* table.set("http://a.example/doc", Fetcher.json({}))
      yield* table.set("https://a.example/refused", { _tag: "Failure", reason: "address_refused" })
      expect(yield* outcome(Fetcher.get("https://a.example/moved", options))).toEqual({ reason: "redirect", status: 302 })
      expect(yield* outcome(Fetcher.get("https://a.example/gone", options))).toEqual({ reason: "status", status: 404 })
      expect(yield* outcome(Fetcher.get("https://a.example/big", options))).toEqual({ reason: "too_large", status: undefined })
      expect(yield* outcome(Fetcher.get("https://a.example/fits", options))).toEqual({ body: "x".repeat(16), headers: {} })
      expect(yield* outcome(Fetcher.get("http://a.example/doc", options))).toEqual({ reason: "invalid_url", status: undefined })
      expect(yield* outcome(Fetcher.get("http://a.example/doc", { ...options, allowHttp: true })))
        .toEqual({ body: "{}", headers: { "content-type": "application/json" } })
      expect(yield* outcome(Fetcher.get("not a url", options))).toEqual({ reason: "invalid_url", status: undefined })
      expect(yield* outcome(Fetcher.get("https://a.example/refused", options))).toEqual({ reason: "address_refused", status: undefined })
    }).pipe(Effect.provide(Fetcher.layerMemory)))

  it.effect("a delay at least the timeout fails as timeout once the timeout has passed on the Clock", () =>
    Effect.gen(function*() {
      const table = yield* Fetcher.MemoryFetcher
      yield* table.set("https://a.example/slow", Fetcher.json({}, {}, "5 seconds"))
      yield* table.set("https://a.example/late", Fetcher.json({}, {}, "1 second"))
      const slow = yield* Effect.fork(outcome(Fetcher.get("https://a.example/slow", options)))
      const late = yield* Effect.fork(outcome(Fetcher.get("https://a.example/late", options)))
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(late)).toEqual({ body: "{}", headers: { "content-type": "application/json" } })
      expect(Option.isNone(yield* Fiber.poll(slow))).toBe(true)
      yield* TestClock.adjust("2 seconds")
      expect(yield* Fiber.join(slow)).toEqual({ reason: "timeout", status: undefined })
    }).pipe(Effect.provide(Fetcher.layerMemory)))
})

describe("Fetcher.maxAgeSeconds (RFC 9111 §5.2.2)", () => {
  const table: ReadonlyArray<readonly [string | undefined, Option.Option<number>]> = [
    [undefined, Option.none()],
    ["public", Option.none()],
    ["max-age=300", Option.some(300)],
    ["public, max-age=86400, must-revalidate", Option.some(86400)],
    ["Max-Age=\"120\"", Option.some(120)],
    ["max-age=-1", Option.none()],
    ["max-age=abc", Option.none()],
    ["no-store", Option.some(0)],
    ["max-age=600, no-cache", Option.some(0)]
  ]
  for (const [value, expected] of table) {
    it(`Cache-Control: ${value ?? "(absent)"}`, () =>
      expect(Fetcher.maxAgeSeconds(value === undefined ? {} : { "cache-control": value })).toEqual(expected))
  }

  it("freshForSeconds bounds it, and uses the fallback when the response says nothing", () => {
    const bounds = { min: 60, max: 86_400, fallback: 600 }
    expect(Fetcher.freshForSeconds({}, bounds)).toBe(600)
    expect(Fetcher.freshForSeconds({ "cache-control": "max-age=5" }, bounds)).toBe(60)
    expect(Fetcher.freshForSeconds({ "cache-control": "no-store" }, bounds)).toBe(60)
    expect(Fetcher.freshForSeconds({ "cache-control": "max-age=31536000" }, bounds)).toBe(86_400)
    expect(Fetcher.freshForSeconds({ "cache-control": "max-age=3600" }, bounds)).toBe(3600)
  })
})
