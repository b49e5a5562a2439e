/**
 * The issuer's signing keys, as a resource server needs them (RFC 8414 §3, RFC 7517 §5): `jwks_uri` discovered from
 * the issuer's metadata once, the set cached, and fetched again when it is stale or when a token names a key not in
 * it, at most once per cooldown, so tokens with made-up `kid`s cannot make the resource server hammer the issuer.
 */
import { Clock, Data, Duration, Effect, Ref } from "effect"
import { Jwks } from "@tessera/protocol"

/** The keys could not be had (the issuer unreachable, or its answer unusable). `reason` is for logs. */
export class KeysUnavailable extends Data.TaggedError("KeysUnavailable")<{ readonly reason: string }> {}

export interface Options {
  /** The authorization server's issuer identifier (the realm issuer). */
  readonly issuer: string
  /** Where the keys are; absent, read from the issuer's RFC 8414 metadata. */
  readonly jwksUri?: string | undefined
  readonly fetch: typeof globalThis.fetch
  /** How long a fetched set is used before it is fetched again. */
  readonly maxAge: Duration.Duration
  /** The least time between two fetches caused by a token naming an unknown key (or after a failed fetch). */
  readonly cooldown: Duration.Duration
  /** How long one fetch may take. */
  readonly timeout: Duration.Duration
}

export interface KeySet {
  /** The current set, fetched again if stale, or if it lacks `kid` and the cooldown allows. */
  readonly forKid: (kid: string | undefined) => Effect.Effect<Jwks.Jwks, KeysUnavailable>
}

interface State {
  readonly jwksUri?: string
  readonly jwks?: Jwks.Jwks
  readonly fetchedAt: number
  readonly attemptedAt: number
}

/** RFC 8414 §3.1: the metadata URL of an issuer with a path has the well-known suffix inserted before the path. */
export const metadataUrl = (issuer: string) => {
  const url = new URL(issuer)
  const path = url.pathname === "/" ? "" : url.pathname
  return `${url.origin}/.well-known/oauth-authorization-server${path}`
}

export const make = (options: Options): Effect.Effect<KeySet> =>
  Effect.gen(function*() {
    const state = yield* Ref.make<State>({ fetchedAt: -Infinity, attemptedAt: -Infinity })
    const lock = yield* Effect.makeSemaphore(1)

    const getJson = (url: string) =>
      Effect.tryPromise({
        // the issuer's own documents never redirect; a redirect is refused rather than followed
        try: (signal) =>
          options.fetch(url, { signal, redirect: "error", headers: { accept: "application/json" } }).then(async (res) => {
            if (res.status !== 200) throw new Error(`${url} answered ${res.status}`)
            return (await res.json()) as unknown
          }),
        catch: (e) => new KeysUnavailable({ reason: e instanceof Error ? e.message : String(e) })
      }).pipe(
        Effect.timeoutFail({ duration: options.timeout, onTimeout: () => new KeysUnavailable({ reason: `${url} timed out` }) })
      )

    const jwksUri = (s: State) =>
      s.jwksUri !== undefined ? Effect.succeed(s.jwksUri) : options.jwksUri !== undefined
        ? Effect.succeed(options.jwksUri)
        : Effect.flatMap(getJson(metadataUrl(options.issuer)), (doc) => {
          const metadata = doc as { issuer?: unknown; jwks_uri?: unknown }
          // RFC 8414 §3.3: the issuer in the metadata MUST be identical to the one the URL was built from
          if (metadata.issuer !== options.issuer) return Effect.fail(new KeysUnavailable({ reason: "the metadata names another issuer" }))
          if (typeof metadata.jwks_uri !== "string") return Effect.fail(new KeysUnavailable({ reason: "the metadata has no jwks_uri" }))
          return Effect.succeed(metadata.jwks_uri)
        })

    /** Fetches the set, unless another fiber did so after `since` (then its result serves). */
    const refresh = (since: number) =>
      lock.withPermits(1)(Effect.gen(function*() {
        const s = yield* Ref.get(state)
        if (s.attemptedAt > since) {
          return s.jwks !== undefined ? s.jwks : yield* new KeysUnavailable({ reason: "the last fetch failed" })
        }
        const now = yield* Clock.currentTimeMillis
        yield* Ref.update(state, (current) => ({ ...current, attemptedAt: now }))
        const uri = yield* jwksUri(s)
        const set = Jwks.validatePublic(yield* getJson(uri))
        if (typeof set === "string") return yield* new KeysUnavailable({ reason: `the JWK Set ${set}` })
        yield* Ref.update(state, (current) => ({ ...current, jwksUri: uri, jwks: set, fetchedAt: now }))
        return set
      }))

    const forKid = (kid: string | undefined) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const s = yield* Ref.get(state)
        const cached = s.jwks
        const fresh = cached !== undefined && now - s.fetchedAt < Duration.toMillis(options.maxAge)
        const known = cached !== undefined && (kid === undefined || cached.keys.some((key) => key["kid"] === kid))
        if (fresh && known) return cached
        const cooling = now - s.attemptedAt < Duration.toMillis(options.cooldown)
        if (cooling) {
          // within the cooldown nothing is fetched: the set we have decides (an unknown kid then fails to verify)
          return cached !== undefined ? cached : yield* new KeysUnavailable({ reason: "the last fetch failed" })
        }
        // a stale set still serves while the issuer is unreachable: its keys were the issuer's a moment ago
        return yield* refresh(s.attemptedAt).pipe(
          Effect.catchAll((e) => cached !== undefined && known ? Effect.succeed(cached) : Effect.fail(e))
        )
      })

    return { forKid }
  })
