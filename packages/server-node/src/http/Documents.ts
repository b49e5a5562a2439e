/**
 * The realm's public documents (the JWKS, RFC 7517 §5, and the metadata, RFC 8414 §3 / OIDC Discovery §4) as the
 * exact response last built, kept in the `ReadCache` (ADR 0015), and answered from there by their routes: a hit is a
 * realm lookup and a cache read, no document built. A miss (first request, a write forgot it, `ReadCache.ttl`
 * passed) builds the response and keeps it. ADR 0052: no answer from Node's request event before the routes any more.
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Context, Data, Effect, Option } from "effect"
import { ReadCache, Realm, Realms } from "@tessera/domain"
import * as Kernel from "./Kernel.js"

export type Kind = "jwks" | "metadata"

/** A response as the HTTP kernel writes it (Kernel.write): its status, headers and bytes. */
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
  Kernel.withImmediate(handler(kind, route), (context, params) => {
    // the commonest case, without a fiber (ADR 0052): the realm and its document both in memory
    const cache = Context.getOption(context, ReadCache.ReadCache)
    const name = params["realm"] ?? ""
    const hit = Option.isSome(cache) && Realm.namePattern.test(name) ? kept(cache.value, name, kind) : undefined
    return hit === undefined ? undefined : fromKept(hit)
  })

const handler = <E, R>(kind: Kind, route: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
  Effect.gen(function*() {
    const name = (yield* HttpRouter.params)["realm"] ?? ""
    const found = yield* Effect.serviceOption(ReadCache.ReadCache)
    if (Option.isNone(found)) return yield* route
    const cache = found.value
    // the commonest case first, without a store read: the realm and its document both in memory
    const hit = Realm.namePattern.test(name) ? kept(cache, name, kind) : undefined
    if (hit !== undefined) return fromKept(hit)
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

/** The document of that kind kept for the realm named `name`, if any (for tests and profiles: the routes read it through `cached`). */
export const kept = (cache: ReadCache.ReadCache["Type"], name: string, kind: Kind): Kept | undefined => {
  const realm = cache.peek(ReadCache.realmByName(name))
  return realm !== undefined && Option.isSome(realm) ? cache.peek(document(realm.value.id, kind)) : undefined
}
