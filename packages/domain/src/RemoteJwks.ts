/**
 * The keys published at a `jwks_uri` (RFC 7517 §5; RFC 7591 §2 `jwks_uri`; RFC 7523 §3 item 9), fetched through the
 * Fetcher and cached per URL: the response's Cache-Control max-age bounded to [60 s, 24 h] (10 minutes when it says
 * nothing), errors never cached, concurrent fetches of one URL shared, and a JWT naming a `kid` the cached set lacks
 * triggers one refetch (the publisher rotated its keys) at most once per 60 s per URL.
 */
import { Clock, Context, Data, Deferred, Duration, Effect, Exit, HashMap, Layer, Option, Ref, SynchronizedRef } from "effect"
import * as Fetcher from "./Fetcher.js"

/** A JWK Set is a few keys; 64 KiB holds dozens of 4096-bit RSA keys, and bounds what a hostile URL can make us read. */
export const maxBytes = 64 * 1024

/** The whole fetch, on a request's critical path (a client or assertion waits for it): short. */
export const timeout = Duration.seconds(3)

/** How long a fetched set is used: Cache-Control max-age, bounded (RFC 9111 §5.2.2.1; a floor so that `no-store` or
 * `max-age=0` cannot make every request a fetch, a ceiling so that a revoked key is dropped within a day). */
export const freshness = { min: 60, max: 24 * 60 * 60, fallback: 10 * 60 } as const

/** A `kid` the cached set lacks refetches the set at most this often per URL, so a flood of made-up kids is one fetch. */
export const refreshInterval = Duration.seconds(60)

/**
 * Which addresses a `jwks_uri` registered through the admin API may resolve to (ADR 0012): public ones only, as for
 * any URL a tenant administrator can write; the owner with an internal identity provider registers inline `jwks`.
 */
export const adminRegisteredAddresses: Fetcher.AddressPolicy = "public"

export interface JwkSet {
  readonly keys: ReadonlyArray<Readonly<Record<string, unknown>>>
}

/** The keys could not be had: the fetch failed, or the document is no JWK Set. Never cached. */
export class JwksUnavailable extends Data.TaggedError("JwksUnavailable")<{
  readonly url: string
  readonly reason: "fetch" | "invalid"
  /** The Fetcher's reason, for the log. */
  readonly fetch?: Fetcher.FetchFailure
}> {}

export interface Request {
  readonly addresses: Fetcher.AddressPolicy
  /** The `kid` of the JWT to verify, when it names one: absent from a fresh cached set, it may trigger a refetch. */
  readonly kid?: string | undefined
}

export class RemoteJwks extends Context.Tag("@tessera/domain/RemoteJwks")<RemoteJwks, {
  /** The key set at `url`, from the cache when fresh and holding `kid`, else fetched (see the module comment). */
  readonly keys: (url: string, request: Request) => Effect.Effect<JwkSet, JwksUnavailable>
  /**
   * Drops what this process holds for `url` (under every address policy): the next use fetches it again. For an
   * issuer deleted or re-keyed through the admin API, whose keys must not be trusted from the cache (ADR 0033).
   */
  readonly forget: (url: string) => Effect.Effect<void>
}>() {}

export const keys = (url: string, request: Request) => Effect.flatMap(RemoteJwks, (remote) => remote.keys(url, request))

export const forget = (url: string) => Effect.flatMap(RemoteJwks, (remote) => remote.forget(url))

/** Asymmetric public keys only (RFC 7517 §4.1 `kty`; no private members, RFC 7518 §6): an HMAC secret or a private key
 * published at a URL is no key Tessera verifies with. */
const publicKey = (key: unknown): key is Readonly<Record<string, unknown>> =>
  typeof key === "object" && key !== null && !Array.isArray(key) &&
  ["RSA", "EC", "OKP"].includes((key as Record<string, unknown>)["kty"] as string) &&
  !["d", "p", "q", "dp", "dq", "qi", "oth", "k"].some((member) => member in key)

/** RFC 7517 §5: a JSON object with a `keys` array; members that are not public asymmetric keys are dropped. */
export const parse = (body: Uint8Array): JwkSet | undefined => {
  let value: unknown
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body))
  } catch {
    return undefined
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined
  const keys = (value as Record<string, unknown>)["keys"]
  if (!Array.isArray(keys)) return undefined
  return { keys: keys.filter(publicKey) }
}

interface Entry {
  readonly jwks: JwkSet
  /** Epoch milliseconds until which the set is used without asking again. */
  readonly freshUntil: number
  /** When it was last fetched, or a refetch for an unknown kid last tried (epoch milliseconds). */
  readonly lastFetch: number
}

const hasKid = (jwks: JwkSet, kid: string) => jwks.keys.some((key) => key["kid"] === kid)

export const layer = Layer.effect(
  RemoteJwks,
  Effect.gen(function*() {
    const fetcher = yield* Fetcher.Fetcher
    const cache = yield* Ref.make(HashMap.empty<string, Entry>())
    const inflight = yield* SynchronizedRef.make(HashMap.empty<string, Deferred.Deferred<Entry, JwksUnavailable>>())

    const fetchNow = (key: string, url: string, addresses: Fetcher.AddressPolicy) =>
      Effect.gen(function*() {
        const response = yield* fetcher.get(url, { timeout, maxBytes, addresses, accept: "application/jwk-set+json, application/json" }).pipe(
          Effect.mapError((e) => new JwksUnavailable({ url, reason: "fetch", fetch: e.reason }))
        )
        const jwks = parse(response.body)
        if (jwks === undefined) return yield* new JwksUnavailable({ url, reason: "invalid" })
        const now = yield* Clock.currentTimeMillis
        const entry: Entry = { jwks, freshUntil: now + Fetcher.freshForSeconds(response.headers, freshness) * 1000, lastFetch: now }
        yield* Ref.update(cache, HashMap.set(key, entry))
        return entry
      }).pipe(
        Effect.tapError((e) => Effect.logWarning("jwks_uri not usable", e.url, e.reason, e.fetch ?? ""))
      )

    /** One fetch per URL at a time: who comes while it runs waits for its outcome (success or failure alike). */
    const shared = (key: string, url: string, addresses: Fetcher.AddressPolicy) =>
      Effect.gen(function*() {
        const mine = yield* Deferred.make<Entry, JwksUnavailable>()
        const [deferred, leader] = yield* SynchronizedRef.modify(
          inflight,
          (m): readonly [readonly [Deferred.Deferred<Entry, JwksUnavailable>, boolean], HashMap.HashMap<string, Deferred.Deferred<Entry, JwksUnavailable>>] =>
            Option.match(HashMap.get(m, key), {
              onSome: (running) => [[running, false], m],
              onNone: () => [[mine, true], HashMap.set(m, key, mine)]
            })
        )
        if (leader) {
          // the fetch runs to its end (bounded by `timeout`) even if the request that started it goes away: others wait on it
          yield* fetchNow(key, url, addresses).pipe(
            Effect.exit,
            Effect.flatMap((exit: Exit.Exit<Entry, JwksUnavailable>) =>
              SynchronizedRef.update(inflight, HashMap.remove(key)).pipe(Effect.zipRight(Deferred.done(deferred, exit)))),
            Effect.uninterruptible
          )
        }
        return yield* Deferred.await(deferred)
      })

    return RemoteJwks.of({
      forget: (url) => Ref.update(cache, HashMap.filter((_, key) => key.slice(key.indexOf(" ") + 1) !== url)),
      keys: (url, request) =>
        Effect.gen(function*() {
          // a set fetched under one address policy says nothing about what another policy may reach
          const key = `${request.addresses} ${url}`
          const now = yield* Clock.currentTimeMillis
          const cached = HashMap.get(yield* Ref.get(cache), key)
          if (Option.isNone(cached) || cached.value.freshUntil <= now) return (yield* shared(key, url, request.addresses)).jwks
          const entry = cached.value
          if (request.kid === undefined || hasKid(entry.jwks, request.kid)) return entry.jwks
          // an unknown kid: the publisher may have rotated; refetch, but not more than once per interval per URL
          if (now - entry.lastFetch < Duration.toMillis(refreshInterval)) return entry.jwks
          // the attempt counts even if it fails, so failures cannot be used to refetch on every request
          yield* Ref.update(cache, HashMap.set(key, { ...entry, lastFetch: now }))
          return (yield* shared(key, url, request.addresses)).jwks
        })
    })
  })
)
