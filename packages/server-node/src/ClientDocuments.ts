/**
 * Clients named by a client ID metadata document (draft-ietf-oauth-client-id-metadata-document; MCP 2025-11-25
 * "Client ID Metadata Documents"; ADR 0019): the document fetched through the `Fetcher` port (200 only, no
 * redirects, 5 KB, a short timeout, only public addresses — loopback too with `TESSERA_DEV_INSECURE_CIMD=1`),
 * validated, and cached as its HTTP caching allows, at most 24 hours; a failure is never cached. The cache drops the
 * least recently used document first, and fetches are budgeted per host separately for documents that validated
 * before and for the rest, so an attacker's URLs can neither evict nor starve a client in use (ADR 0028).
 */
import { Clock, Data, DateTime, Duration, Effect, Either, Option } from "effect"
import { Fetcher, RateLimit } from "@tessera/domain"
import type { StoreError } from "@tessera/domain"
import type { Client, Realm } from "@tessera/domain"
import { ClientIdMetadataDocument } from "@tessera/protocol"
import { AppConfig } from "./AppConfig.js"

/** Why a document URL names no usable client; `detail` is a fixed text for the error page and the log. */
export class DocumentRejected extends Data.TaggedError("DocumentRejected")<{
  readonly reason: "url" | "fetch" | "invalid" | "rate_limited" | "unavailable"
  readonly detail: string
}> {}

/** SEP-991 / draft -00 "Metadata Caching": at most 24 hours, whatever the response says. */
export const maxCache = Duration.hours(24)
/** Without caching headers, a document is reused for 5 minutes. */
export const defaultCache = Duration.minutes(5)
/** draft -01: a short timeout for the whole fetch. */
export const fetchTimeout = Duration.seconds(5)
/**
 * At most this many failed fetches per document host and minute, per node, of URLs that never served a valid document
 * (ADR 0019's budget, for failures only since ADR 0028): a first fetch takes from it, and gives it back when the
 * document validates.
 */
export const fetchesPerHost: RateLimit.Limit = { limit: 30, window: Duration.minutes(1) }
/**
 * Refetches of documents that validated before (`proven`), per host and minute, per node: a budget of their own, so a
 * burst of failing paths on a host does not stop its good documents from being refreshed (ADR 0028).
 */
export const refetchesPerHost: RateLimit.Limit = { limit: 30, window: Duration.minutes(1) }
/** The most documents kept; past it the least recently used is dropped (ADR 0028). */
export const maxEntries = 1_000
/**
 * The most URLs remembered as having served a valid document: their refetches draw on `refetchesPerHost`. Outlives a
 * document's eviction from the cache, so an attacker filling the cache costs a client one refetch, not its budget.
 */
export const maxProven = 10_000

/** A map that forgets its least recently used key past `max` (a JavaScript Map iterates in insertion order). */
const lru = <V>(max: number) => {
  const map = new Map<string, V>()
  return {
    /** The value, now the most recently used. */
    get: (key: string): V | undefined => {
      const value = map.get(key)
      if (value !== undefined) {
        map.delete(key)
        map.set(key, value)
      }
      return value
    },
    has: (key: string) => map.has(key),
    set: (key: string, value: V) => {
      map.delete(key)
      map.set(key, value)
      if (map.size > max) map.delete(map.keys().next().value!)
    }
  }
}

interface Entry {
  readonly metadata: Client.Metadata
  readonly fetchedAt: number
  readonly expiresAt: number
}

const fetchDetail: Record<Fetcher.FetchFailure, string> = {
  timeout: "the document did not arrive in time",
  too_large: `the document is larger than ${ClientIdMetadataDocument.maxDocumentBytes} bytes`,
  redirect: "the document URL answered with a redirect (redirects are not followed)",
  status: "the document URL did not answer 200",
  address_refused: "the document's host resolves to an address Tessera does not fetch from",
  network: "the document could not be fetched",
  invalid_url: "the document URL is not an https URL"
}

export class ClientDocuments extends Effect.Service<ClientDocuments>()("@tessera/server-node/ClientDocuments", {
  effect: Effect.gen(function*() {
    const config = yield* AppConfig
    const fetcher = yield* Fetcher.Fetcher
    const cache = lru<Entry>(maxEntries)
    const proven = lru<true>(maxProven)
    const limits = yield* RateLimit.RateLimit
    const unproven = RateLimit.rule("cimd.fetches", fetchesPerHost)
    const refetches = RateLimit.rule("cimd.refetches", refetchesPerHost)
    const urlOptions = { allowLoopbackHttp: config.devInsecureCimd }
    const fetchOptions: Fetcher.Options = {
      timeout: fetchTimeout,
      maxBytes: ClientIdMetadataDocument.maxDocumentBytes,
      // draft -01 "Security Considerations": never an internal address (DNS rebinding checked by the Fetcher)
      addresses: config.devInsecureCimd ? "public_or_loopback" : "public",
      allowHttp: config.devInsecureCimd
    }

    // ADR 0055: a budget that cannot be counted refuses the fetch (closed, as an exhausted one would)
    const unbudgeted = (e: StoreError.StoreError) =>
      Effect.zipRight(
        Effect.logWarning("client metadata document fetch budget unavailable", e.cause),
        Effect.fail(new DocumentRejected({ reason: "unavailable", detail: "the document cannot be fetched now; try again in a minute" }))
      )

    const fetchDocument = (url: string) =>
      Effect.gen(function*() {
        const host = new URL(url).host.toLowerCase()
        // ADR 0028: a URL that served a valid document before draws on its host's refetch budget, anything else on
        // the budget that failures use up
        const known = proven.has(url)
        const budget = known ? refetches : unproven
        if ((yield* limits.take(budget, host, yield* DateTime.now).pipe(Effect.catchTag("StoreError", unbudgeted)))._tag === "Throttled") {
          return yield* new DocumentRejected({ reason: "rate_limited", detail: "too many documents were fetched from this host; try again in a minute" })
        }
        const response = yield* fetcher.get(url, fetchOptions).pipe(
          Effect.tapError((e) => Effect.logInfo("client metadata document not fetched", url, e.reason, e.detail ?? "")),
          Effect.mapError((e) => new DocumentRejected({ reason: "fetch", detail: fetchDetail[e.reason] }))
        )
        let body: unknown
        try {
          body = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(response.body))
        } catch {
          return yield* new DocumentRejected({ reason: "invalid", detail: "the document is not JSON" })
        }
        const metadata = ClientIdMetadataDocument.validate(url, body)
        if (Either.isLeft(metadata)) {
          yield* Effect.logInfo("client metadata document refused", url, metadata.left)
          return yield* new DocumentRejected({ reason: "invalid", detail: metadata.left })
        }
        const now = yield* Clock.currentTimeMillis
        const seconds = Fetcher.freshForSeconds(response.headers, {
          min: 0,
          max: Duration.toSeconds(maxCache),
          fallback: Duration.toSeconds(defaultCache)
        })
        const entry: Entry = { metadata: metadata.right, fetchedAt: now, expiresAt: now + seconds * 1000 }
        // a first fetch that validated was no failure: it gives back what it took, and the URL's refetches have their
        // own budget from now on; the refund is best-effort (a lost one costs the host one failure's worth of budget)
        if (!known) {
          yield* limits.refund(unproven, host, yield* DateTime.now).pipe(Effect.catchTag("StoreError", (e) =>
            Effect.logWarning(`client metadata document fetch not refunded to rate limit rule ${unproven.name}`, host, e.cause)))
        }
        proven.set(url, true)
        if (seconds > 0) cache.set(url, entry)
        return entry
      })

    /** The client a document URL names, for `realm`: from the cache while fresh, else fetched. */
    const resolve = (realm: Realm.Realm, clientId: string) =>
      Effect.gen(function*() {
        const problem = ClientIdMetadataDocument.urlProblem(clientId, urlOptions)
        if (problem !== undefined) return yield* new DocumentRejected({ reason: "url", detail: `the client_id URL ${problem}` })
        const now = yield* Clock.currentTimeMillis
        // a lookup makes the document the most recently used, fresh or not
        const cached = Option.fromNullable(cache.get(clientId)).pipe(Option.filter((e) => e.expiresAt > now))
        const entry = Option.isSome(cached) ? cached.value : yield* fetchDocument(clientId)
        return {
          realmId: realm.id,
          clientId,
          metadata: entry.metadata,
          createdAt: DateTime.unsafeMake(entry.fetchedAt)
        } satisfies Client.Client
      })

    return { resolve }
  })
}) {}
