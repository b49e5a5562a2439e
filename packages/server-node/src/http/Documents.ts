/**
 * The realm's public documents (the JWKS, RFC 7517 §5, and the metadata, RFC 8414 §3 / OIDC Discovery §4) as the
 * exact response last built, kept in the `ReadCache` (ADR 0015), and answered from there by Node's request event
 * itself, before any fiber, route or middleware runs: a hit costs about what a bare `node:http` answer costs.
 * A miss (first request, a write forgot it, `ReadCache.ttl` passed, an unknown realm, anything but these exact GETs)
 * goes through the route as before, which builds the response and keeps it.
 */
import type * as Http from "node:http"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Data, Effect, Layer, Option } from "effect"
import { Metrics, ReadCache, Realm, Realms } from "@tessera/domain"

export type Kind = "jwks" | "metadata"

/** A response as platform-node writes it: `writeHead(status, headers)`, then `end(body)`. */
interface Kept {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: Uint8Array
}

const documentKey = ReadCache.key<Kept>("document")

/** Where the realm's document of that kind is kept, as last built. */
const document = (realmId: string, kind: Kind) => documentKey(realmId, kind)

/** A response the cache does not keep, returned to its request as it is. */
class NotKept extends Data.TaggedError("NotKept")<{ readonly response: HttpServerResponse.HttpServerResponse }> {}

/** Only a 200 with its bytes is kept, never an error (a 503 must not outlive the outage). */
const toKept = (response: HttpServerResponse.HttpServerResponse): Kept | undefined =>
  response.status === 200 && response.body._tag === "Uint8Array" && Object.keys(response.cookies.cookies).length === 0
    ? { status: response.status, headers: { ...response.headers }, body: response.body.body }
    : undefined

const fromKept = (kept: Kept) =>
  HttpServerResponse.uint8Array(kept.body, { status: kept.status, headers: kept.headers, contentType: kept.headers["content-type"] })

/**
 * The route's response for the `:realm` of the path, kept per realm. The response must depend only on the realm, its
 * stored data and the configuration, never on the request (its headers, query or address).
 */
export const cached = <E, R>(kind: Kind, route: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
  Effect.gen(function*() {
    const name = (yield* HttpRouter.params)["realm"] ?? ""
    const found = yield* Effect.serviceOption(ReadCache.ReadCache)
    if (Option.isNone(found)) return yield* route
    const cache = found.value
    const realm = Realm.namePattern.test(name) ? yield* Effect.flatMap(Realms.Realms, (r) => r.findByName(name)) : Option.none()
    if (Option.isNone(realm)) return yield* route
    const load = Effect.flatMap(route, (response) => {
      const kept = toKept(response)
      return kept !== undefined ? Effect.succeed(kept) : Effect.fail(new NotKept({ response }))
    })
    return yield* cache.get(document(realm.value.id, kind), load).pipe(
      Effect.map(fromKept),
      Effect.catchAll((e) => e instanceof NotKept ? Effect.succeed(e.response) : Effect.fail(e))
    )
  }).pipe(Effect.catchTag("StoreError", () => route))

/**
 * The exact paths (no percent-encoding; any query ignored, as the router ignores it), what they serve, and the route
 * pattern that serves them in the router (DiscoveryRoute), which names them in `tessera_http_request_duration_seconds`.
 */
const paths: ReadonlyArray<readonly [RegExp, Kind, string]> = [
  [/^\/realms\/([a-z0-9][a-z0-9-]{0,62})\/jwks$/, "jwks", "/realms/:realm/jwks"],
  [/^\/realms\/([a-z0-9][a-z0-9-]{0,62})\/\.well-known\/openid-configuration$/, "metadata", "/realms/:realm/.well-known/openid-configuration"],
  [/^\/\.well-known\/oauth-authorization-server\/realms\/([a-z0-9][a-z0-9-]{0,62})$/, "metadata", "/.well-known/oauth-authorization-server/realms/:realm"],
  [/^\/\.well-known\/openid-configuration\/realms\/([a-z0-9][a-z0-9-]{0,62})$/, "metadata", "/.well-known/openid-configuration/realms/:realm"]
]

/**
 * Answers `request` from the cache if it can, synchronously; false when the route must answer it. `startNanos`: when
 * the request arrived, on `nowNanos`'s clock, for CONTRACT §8's request duration.
 */
export const serveFromMemory = (
  cache: ReadCache.ReadCache["Type"],
  request: Http.IncomingMessage,
  response: Http.ServerResponse,
  nowNanos: () => bigint = () => 0n
) => {
  if (request.method !== "GET" || request.url === undefined) return false
  const startNanos = nowNanos()
  const query = request.url.indexOf("?")
  const path = query < 0 ? request.url : request.url.slice(0, query)
  for (const [pattern, kind, route] of paths) {
    const match = pattern.exec(path)
    if (match === null) continue
    const realm = cache.peek(ReadCache.realmByName(match[1]!))
    if (realm === undefined || Option.isNone(realm)) return false
    const kept = cache.peek(document(realm.value.id, kind))
    if (kept === undefined) return false
    response.writeHead(kept.status, kept.headers)
    response.end(kept.body)
    Metrics.unsafe.httpResponse(route, kept.status, Number(nowNanos() - startNanos) / 1e9)
    return true
  }
  return false
}

/** Puts `serveFromMemory` in front of every other `request` listener of `server` for as long as the layer lives. */
export const layerServer = (server: Http.Server) =>
  Layer.scopedDiscard(Effect.gen(function*() {
    const cache = yield* ReadCache.ReadCache
    const clock = yield* Effect.clock
    const nowNanos = () => clock.unsafeCurrentTimeNanos()
    const emit = server.emit
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        server.emit = function(this: Http.Server, event: string | symbol, ...args: Array<any>) {
          if (event === "request" && serveFromMemory(cache, args[0], args[1], nowNanos)) return true
          return Reflect.apply(emit, this, [event, ...args]) as boolean
        } as typeof server.emit
      }),
      () => Effect.sync(() => void (server.emit = emit))
    )
  }))
