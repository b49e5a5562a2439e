/**
 * Client ID metadata documents under attack (issue 12 item 11, ADR 0028): an attacker's URLs neither evict a document
 * in use from the cache (least recently used goes first) nor starve a host's good documents of fetches (failures have
 * their own budget). Fetches are counted through the memory Fetcher.
 */
import { describe, expect } from "@effect/vitest"
import { Effect, Either, Layer, Logger } from "effect"
import { Fetcher, Provisioning, RateLimit, StoreError } from "@tessera/domain"
import { ClientDocuments, fetchesPerHost, maxEntries } from "@tessera/server-node/ClientDocuments"
import { createRealm } from "./support/Http.js"
import * as TestLive from "./support/TestLive.js"

const it = TestLive.file()

/** A valid public client's document for `url`, cacheable for an hour unless `cacheControl` says otherwise. */
const serve = (url: string, cacheControl = "max-age=3600") =>
  Effect.flatMap(Fetcher.MemoryFetcher, (table) =>
    table.set(url, {
      _tag: "Response",
      status: 200,
      headers: { "content-type": "application/json", "cache-control": cacheControl },
      body: JSON.stringify({
        client_id: url,
        client_name: "An MCP client",
        redirect_uris: ["http://127.0.0.1/callback"],
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        token_endpoint_auth_method: "none"
      })
    }))

const calls = (url: string) => Effect.flatMap(Fetcher.MemoryFetcher, (table) => table.calls(url))

/** A realm, and what resolving a document URL for it comes to: the client's id, or why not. */
const resolver = Effect.gen(function*() {
  const realm = yield* Effect.flatMap(createRealm(), (r) => Provisioning.findRealm(r.name))
  const documents = yield* ClientDocuments
  return (url: string) =>
    Effect.map(Effect.either(documents.resolve(realm, url)), Either.match({ onLeft: (rejected) => rejected.reason, onRight: (client) => client.clientId }))
})

describe("ADR 0028: client ID metadata documents, cache and fetch budgets", () => {
  it.effect("filling the cache with more than its size of attacker documents does not evict a document in use", () =>
    Effect.gen(function*() {
      const resolvesTo = yield* resolver
      const legit = "https://claude.ai/oauth/claude-code-client-metadata"
      yield* serve(legit)
      expect(yield* resolvesTo(legit)).toBe(legit)
      expect(yield* calls(legit)).toBe(1)
      // one attacker document per host, so no per-host budget stops them: only the cache's size is in play
      for (let i = 0; i < maxEntries + 100; i++) {
        const url = `https://h${i}.attacker.example/client.json`
        yield* serve(url)
        expect(yield* resolvesTo(url)).toBe(url)
        // the legitimate client keeps signing people in meanwhile
        if (i % 100 === 99) expect(yield* resolvesTo(legit)).toBe(legit)
      }
      expect(yield* resolvesTo(legit)).toBe(legit)
      expect(yield* calls(legit)).toBe(1)
      // the least recently used went instead: the first attacker document is fetched again
      expect(yield* calls("https://h0.attacker.example/client.json")).toBe(1)
      expect(yield* resolvesTo("https://h0.attacker.example/client.json")).toBe("https://h0.attacker.example/client.json")
      expect(yield* calls("https://h0.attacker.example/client.json")).toBe(2)
    }).pipe(Effect.provide(TestLive.world())))

  it.effect("a burst of failing paths on a host does not stop a good document of that host from being fetched", () =>
    Effect.gen(function*() {
      const resolvesTo = yield* resolver
      // not cacheable: every use fetches it, the worst case for a budget
      const good = "https://claude.ai/oauth/claude-code-client-metadata"
      yield* serve(good, "no-store")
      expect(yield* resolvesTo(good)).toBe(good)
      const burst = Array.from({ length: 3 * fetchesPerHost.limit }, (_, i) => `https://claude.ai/probe/${i}.json`)
      const outcomes = []
      for (const url of burst) outcomes.push(yield* resolvesTo(url))
      // the failures are bounded by their own budget...
      expect(outcomes.filter((o) => o === "fetch")).toHaveLength(fetchesPerHost.limit)
      expect(outcomes.filter((o) => o === "rate_limited")).toHaveLength(2 * fetchesPerHost.limit)
      // ...which is not the good document's
      for (let i = 0; i < 5; i++) expect(yield* resolvesTo(good)).toBe(good)
      expect(yield* calls(good)).toBe(6)
    }).pipe(Effect.provide(TestLive.world())))

  it.effect("a good document evicted from the cache by a flood is fetched again even while its host's failures are over budget", () =>
    Effect.gen(function*() {
      const resolvesTo = yield* resolver
      const good = "https://claude.ai/oauth/claude-code-client-metadata"
      yield* serve(good)
      expect(yield* resolvesTo(good)).toBe(good)
      for (let i = 0; i < maxEntries; i++) {
        const url = `https://f${i}.attacker.example/client.json`
        yield* serve(url)
        yield* resolvesTo(url)
      }
      for (let i = 0; i <= fetchesPerHost.limit; i++) yield* resolvesTo(`https://claude.ai/probe/${i}.json`)
      expect(yield* resolvesTo("https://claude.ai/probe/new.json")).toBe("rate_limited")
      expect(yield* resolvesTo(good)).toBe(good)
      expect(yield* calls(good)).toBe(2)
    }).pipe(Effect.provide(TestLive.world())))

  it.effect("a document that validated is used, and proven, even when giving its first fetch back to the budget fails", () =>
    Effect.gen(function*() {
      const realm = yield* Effect.flatMap(createRealm(), (r) => Provisioning.findRealm(r.name))
      // the memory budget, except that a refund cannot be written
      const refundFails = Layer.effect(RateLimit.RateLimit, Effect.map(RateLimit.RateLimit, (limits) => RateLimit.RateLimit.of({
        take: limits.take,
        refund: () => Effect.fail(new StoreError.StoreError({ cause: "the budget store is down" }))
      }))).pipe(Layer.provide(RateLimit.layerMemory))
      const documents = yield* Effect.provide(ClientDocuments, ClientDocuments.Default.pipe(Layer.provide(refundFails)))
      const logged: Array<string> = []
      const capture = Logger.replace(Logger.defaultLogger, Logger.make(({ logLevel, message }) => {
        logged.push(`${logLevel.label} ${Array.isArray(message) ? message.join(" ") : String(message)}`)
      }))
      const good = "https://claude.ai/oauth/claude-code-client-metadata"
      yield* serve(good, "no-store")
      const resolved = yield* Effect.either(documents.resolve(realm, good)).pipe(Effect.provide(capture))
      expect(Either.map(resolved, (client) => client.clientId)).toEqual(Either.right(good))
      expect(logged.filter((line) => line.startsWith("WARN"))).toEqual([
        expect.stringContaining("cimd.fetches")
      ])
      // proven: its refetches draw on their own budget, not on the failures' one a burst of bad paths uses up
      for (let i = 0; i < fetchesPerHost.limit; i++) yield* Effect.either(documents.resolve(realm, `https://claude.ai/probe/${i}.json`))
      expect(Either.map(yield* Effect.either(documents.resolve(realm, "https://claude.ai/probe/new.json")), () => "resolved"))
        .toEqual(Either.left(expect.objectContaining({ reason: "rate_limited" })))
      expect(Either.map(yield* Effect.either(documents.resolve(realm, good)), (client) => client.clientId)).toEqual(Either.right(good))
      expect(yield* calls(good)).toBe(2)
    }).pipe(Effect.provide(TestLive.world())))
})
