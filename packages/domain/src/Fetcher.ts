/**
 * Outbound HTTP GET for the documents Tessera reads from elsewhere: a `jwks_uri` (RFC 7517 §5, RFC 7591 §2,
 * RFC 7523) and client ID metadata documents (draft-ietf-oauth-client-id-metadata-document). The port states the
 * hygiene every caller gets: 200 only, no redirects followed, a body cap, one timeout over the whole exchange, and an
 * address policy checked after DNS resolution (the Node layer in server-node enforces it; see `AddressPolicy`).
 */
import { Context, Data, Duration, Effect, HashMap, Layer, Option, Ref } from "effect"

/**
 * Which addresses the fetched host may resolve to, checked on the resolved address (so DNS rebinding cannot swap it):
 * - `public`: globally reachable unicast only: no loopback, private (RFC 1918, fc00::/7), link-local, CGNAT
 *   (100.64/10), unspecified, multicast, documentation, benchmarking or other special-use range (IPv4 or IPv6, also
 *   as IPv4-mapped IPv6);
 * - `public_or_loopback`: as `public`, plus loopback (development: `TESSERA_DEV_INSECURE_CIMD=1`);
 * - `any`: no restriction (configuration the owner wrote, e.g. a `jwks_uri` on an internal network).
 */
export type AddressPolicy = "public" | "public_or_loopback" | "any"

export interface Options {
  /** Bounds the whole exchange: DNS, connect, TLS, headers and body. */
  readonly timeout: Duration.DurationInput
  /** The largest body accepted; reading stops at `maxBytes + 1` bytes, also for chunked responses. */
  readonly maxBytes: number
  readonly addresses: AddressPolicy
  /** `http:` URLs are refused unless this is true (only `https:` otherwise). */
  readonly allowHttp?: boolean
  /** The `Accept` header; `application/json` when absent. */
  readonly accept?: string
}

export interface Response {
  /** Always 200: any other status is a `FetchError`. */
  readonly status: number
  /** Response headers, names lower-cased, repeated fields joined with ", " (RFC 9110 §5.3). */
  readonly headers: Readonly<Record<string, string>>
  readonly body: Uint8Array
}

export type FetchFailure =
  /** The whole exchange took longer than `timeout`. */
  | "timeout"
  /** The body (or its announced `Content-Length`) exceeds `maxBytes`. */
  | "too_large"
  /** A 3xx: redirects are never followed. */
  | "redirect"
  /** Any status but 200 (and not a redirect). */
  | "status"
  /** The host resolved to an address the `AddressPolicy` refuses. */
  | "address_refused"
  /** DNS failure, connection refused or reset, TLS failure, a malformed response. */
  | "network"
  /** Not an absolute URL, a scheme other than https (or http when allowed), or credentials in the URL. */
  | "invalid_url"

/** Why a document could not be fetched; callers map it to their own refusal (never a 500). */
export class FetchError extends Data.TaggedError("FetchError")<{
  readonly reason: FetchFailure
  readonly url: string
  /** The HTTP status, for `redirect` and `status`. */
  readonly status?: number
  /** A few words for the log (the refused address, the error code); never shown on the wire. */
  readonly detail?: string
}> {}

export class Fetcher extends Context.Tag("@tessera/domain/Fetcher")<Fetcher, {
  readonly get: (url: string, options: Options) => Effect.Effect<Response, FetchError>
}>() {}

export const get = (url: string, options: Options) => Effect.flatMap(Fetcher, (fetcher) => fetcher.get(url, options))

/**
 * The URL checks every layer applies before anything goes out: absolute, `https:` (or `http:` when allowed), no
 * credentials (RFC 9110 §4.2.4: userinfo is deprecated and would be sent to whoever answers).
 */
export const parseUrl = (url: string, options: Pick<Options, "allowHttp">): Parsed => {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return { ok: false, error: new FetchError({ reason: "invalid_url", url, detail: "not an absolute URL" }) }
  }
  if (parsed.protocol !== "https:" && !(parsed.protocol === "http:" && options.allowHttp === true)) {
    return { ok: false, error: new FetchError({ reason: "invalid_url", url, detail: `scheme ${parsed.protocol} not allowed` }) }
  }
  if (parsed.username !== "" || parsed.password !== "") {
    return { ok: false, error: new FetchError({ reason: "invalid_url", url, detail: "credentials in the URL" }) }
  }
  return { ok: true, value: parsed }
}

export type Parsed = { readonly ok: true; readonly value: URL } | { readonly ok: false; readonly error: FetchError }

/**
 * What a response says about how long it may be reused (RFC 9111 §5.2.2): `no-store` and `no-cache` mean not at all
 * (0), `max-age=N` means N seconds; none means the caller's default. Bounding it is the caller's business.
 */
export const maxAgeSeconds = (headers: Readonly<Record<string, string>>): Option.Option<number> => {
  const value = headers["cache-control"]
  if (value === undefined) return Option.none()
  let maxAge: Option.Option<number> = Option.none()
  for (const directive of value.split(",")) {
    const [rawName, rawArg] = directive.trim().split("=", 2)
    const name = rawName!.toLowerCase()
    // RFC 9111 §5.2.2.5 no-store, §5.2.2.4 no-cache (reuse only after validation, which Tessera does not do)
    if (name === "no-store" || name === "no-cache") return Option.some(0)
    if (name === "max-age" && rawArg !== undefined) {
      // RFC 9111 §1.2.2: delta-seconds is 1*DIGIT (a quoted form is tolerated, §5.2)
      const arg = rawArg.trim().replace(/^"(.*)"$/, "$1")
      if (/^[0-9]+$/.test(arg)) maxAge = Option.some(Math.min(Number(arg), 2 ** 31))
    }
  }
  return maxAge
}

/** The seconds to keep a response: its `maxAgeSeconds`, else `fallback`, bounded to [`min`, `max`]. */
export const freshForSeconds = (
  headers: Readonly<Record<string, string>>,
  bounds: { readonly min: number; readonly max: number; readonly fallback: number }
) => Math.min(bounds.max, Math.max(bounds.min, Option.getOrElse(maxAgeSeconds(headers), () => bounds.fallback)))

// ---------------------------------------------------------------------------------------------------------------
// In memory: a table of canned responses, for domain and HTTP tests.

/** What the memory layer answers for a URL. */
export type Canned =
  | {
    readonly _tag: "Response"
    readonly status: number
    readonly headers?: Readonly<Record<string, string>>
    readonly body: string | Uint8Array
    /** How long the answer takes (on the Clock); at least `timeout` is a `timeout` failure. */
    readonly delay?: Duration.DurationInput
  }
  | { readonly _tag: "Failure"; readonly reason: FetchFailure }

/** A JSON document, 200, with the given headers. */
export const json = (value: unknown, headers: Readonly<Record<string, string>> = {}, delay?: Duration.DurationInput): Canned => ({
  _tag: "Response",
  status: 200,
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(value),
  ...(delay === undefined ? {} : { delay })
})

/** The memory layer's control side: which URL answers what, and how often each was asked; `get` is the Fetcher. */
export class MemoryFetcher extends Context.Tag("@tessera/domain/MemoryFetcher")<MemoryFetcher, {
  readonly set: (url: string, answer: Canned) => Effect.Effect<void>
  readonly remove: (url: string) => Effect.Effect<void>
  /** How many times `get` was called with this URL (whatever it answered). */
  readonly calls: (url: string) => Effect.Effect<number>
  /** The options of the last `get` of this URL. */
  readonly lastOptions: (url: string) => Effect.Effect<Option.Option<Options>>
  readonly get: (url: string, options: Options) => Effect.Effect<Response, FetchError>
}>() {}

/**
 * An empty table; unknown URLs fail as `network` (as a host that does not resolve). `get` applies the port's rules
 * that need no network: URL and scheme checks, 200 only, 3xx refused, the body cap and the timeout (on the Clock).
 * The address policy needs DNS and is the Node layer's (tested there).
 */
export const layerMemoryTable = Layer.effect(
  MemoryFetcher,
  Effect.gen(function*() {
    const table = yield* Ref.make(HashMap.empty<string, Canned>())
    const counts = yield* Ref.make(HashMap.empty<string, number>())
    const lastOptions = yield* Ref.make(HashMap.empty<string, Options>())
    return MemoryFetcher.of({
      set: (url, answer) => Ref.update(table, HashMap.set(url, answer)),
      remove: (url) => Ref.update(table, HashMap.remove(url)),
      calls: (url) => Effect.map(Ref.get(counts), (m) => Option.getOrElse(HashMap.get(m, url), () => 0)),
      lastOptions: (url) => Effect.map(Ref.get(lastOptions), HashMap.get(url)),
      get: (url, options) =>
        Effect.gen(function*() {
          yield* Ref.update(counts, (m) => HashMap.set(m, url, Option.getOrElse(HashMap.get(m, url), () => 0) + 1))
          yield* Ref.update(lastOptions, HashMap.set(url, options))
          const parsed = parseUrl(url, options)
          if (!parsed.ok) return yield* parsed.error
          const answer = HashMap.get(yield* Ref.get(table), url)
          if (Option.isNone(answer)) return yield* new FetchError({ reason: "network", url, detail: "no canned answer" })
          const canned = answer.value
          if (canned._tag === "Failure") return yield* new FetchError({ reason: canned.reason, url })
          if (canned.delay !== undefined) {
            const delay = Duration.decode(canned.delay)
            const timeout = Duration.decode(options.timeout)
            if (Duration.greaterThanOrEqualTo(delay, timeout)) {
              yield* Effect.sleep(timeout)
              return yield* new FetchError({ reason: "timeout", url })
            }
            yield* Effect.sleep(delay)
          }
          return yield* check(url, canned, options)
        })
    })
  })
)

const check = (url: string, canned: Extract<Canned, { _tag: "Response" }>, options: Options) => {
  if (canned.status >= 300 && canned.status < 400) return Effect.fail(new FetchError({ reason: "redirect", url, status: canned.status }))
  if (canned.status !== 200) return Effect.fail(new FetchError({ reason: "status", url, status: canned.status }))
  const body = typeof canned.body === "string" ? new TextEncoder().encode(canned.body) : canned.body
  if (body.byteLength > options.maxBytes) return Effect.fail(new FetchError({ reason: "too_large", url }))
  const headers = Object.fromEntries(Object.entries(canned.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]))
  return Effect.succeed<Response>({ status: 200, headers, body })
}

/** The memory Fetcher over a `MemoryFetcher` table. */
export const layerFromTable = Layer.effect(Fetcher, Effect.map(MemoryFetcher, (table) => Fetcher.of({ get: table.get })))

/** The memory Fetcher together with its control (`MemoryFetcher`), empty. */
export const layerMemory = layerFromTable.pipe(Layer.provideMerge(layerMemoryTable))
