/**
 * The Fetcher port's contract (what every layer does the same): 200 answered with its headers and body, 3xx refused as
 * `redirect`, other statuses as `status`, the body cap, the timeout, URL and scheme checks. Run on the memory layer
 * (packages/domain/test/Fetcher.test.ts) and the Node layer against a loopback server (test/fetcher-node.test.ts).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import type { Scope } from "effect"
import type { Fetcher } from "@tessera/domain"

/** What a test server answers on one path. */
export interface Answer {
  readonly status: number
  readonly headers?: Readonly<Record<string, string>>
  readonly body: string
  /** Milliseconds before the answer starts. */
  readonly delay?: number
}

export interface Harness {
  readonly fetcher: Fetcher.Fetcher["Type"]
  /** Makes `path` answer `answer`; returns its absolute URL. */
  readonly serve: (path: string, answer: Answer) => Effect.Effect<string>
  /** Options that let the harness's URLs through (e.g. `http:` and loopback for a local server). */
  readonly options: Pick<Fetcher.Options, "addresses" | "allowHttp">
}

const outcome = (effect: Effect.Effect<Fetcher.Response, Fetcher.FetchError>) =>
  Effect.map(Effect.either(effect), (e) =>
    Either.isLeft(e)
      ? { reason: e.left.reason, status: e.left.status }
      : { status: e.right.status, headers: e.right.headers, body: new TextDecoder().decode(e.right.body) })

export const suite = (name: string, harness: Effect.Effect<Harness, never, Scope.Scope>) =>
  describe(`Fetcher contract (${name})`, () => {
    const run = (test: (h: Harness, options: Fetcher.Options) => Effect.Effect<void>) =>
      Effect.scoped(Effect.flatMap(harness, (h) => test(h, { timeout: "2 seconds", maxBytes: 64, ...h.options })))

    it.live("200: the status, the headers (names lower-cased) and the body", () =>
      run((h, options) =>
        Effect.gen(function*() {
          const url = yield* h.serve("/doc", { status: 200, headers: { "Content-Type": "application/json", "Cache-Control": "max-age=60" }, body: `{"a":1}` })
          const res = yield* outcome(h.fetcher.get(url, options))
          expect(res).toMatchObject({ status: 200, body: `{"a":1}`, headers: { "content-type": "application/json", "cache-control": "max-age=60" } })
        })))

    it.live("3xx: redirect, never followed", () =>
      run((h, options) =>
        Effect.gen(function*() {
          for (const status of [301, 302, 303, 307, 308]) {
            const target = yield* h.serve(`/target-${status}`, { status: 200, body: "{}" })
            const url = yield* h.serve(`/moved-${status}`, { status, headers: { location: target }, body: "" })
            expect(yield* outcome(h.fetcher.get(url, options))).toEqual({ reason: "redirect", status })
          }
        })))

    it.live("any other status than 200: status", () =>
      run((h, options) =>
        Effect.gen(function*() {
          for (const status of [201, 204, 400, 404, 500, 503]) {
            const url = yield* h.serve(`/status-${status}`, { status, body: "" })
            expect(yield* outcome(h.fetcher.get(url, options))).toEqual({ reason: "status", status })
          }
        })))

    it.live("the body cap: maxBytes is accepted, one byte more is too_large", () =>
      run((h, options) =>
        Effect.gen(function*() {
          const fits = yield* h.serve("/fits", { status: 200, body: "x".repeat(64) })
          const over = yield* h.serve("/over", { status: 200, body: "x".repeat(65) })
          expect(yield* outcome(h.fetcher.get(fits, options))).toMatchObject({ status: 200, body: "x".repeat(64) })
          expect(yield* outcome(h.fetcher.get(over, options))).toEqual({ reason: "too_large", status: undefined })
        })))

    it.live("the timeout: an answer later than it is timeout", () =>
      run((h, options) =>
        Effect.gen(function*() {
          const slow = yield* h.serve("/slow", { status: 200, body: "{}", delay: 400 })
          expect(yield* outcome(h.fetcher.get(slow, { ...options, timeout: "100 millis" }))).toEqual({ reason: "timeout", status: undefined })
          const quick = yield* h.serve("/quick", { status: 200, body: "{}", delay: 20 })
          expect(yield* outcome(h.fetcher.get(quick, { ...options, timeout: "1 second" }))).toMatchObject({ status: 200 })
        })))

    it.live("URLs: relative, another scheme, http unless allowed, credentials: invalid_url", () =>
      run((h, options) =>
        Effect.gen(function*() {
          const strict = { ...options, allowHttp: false }
          for (const url of ["/relative", "ftp://example.com/x", "file:///etc/passwd", "http://example.com/x", "https://user:pw@example.com/x", "https://"]) {
            expect(yield* outcome(h.fetcher.get(url, strict))).toEqual({ reason: "invalid_url", status: undefined })
          }
        })))
  })
