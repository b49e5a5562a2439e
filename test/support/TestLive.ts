/** The whole app as `Live.app` builds it, on in-memory ports, a loopback server on a random port, and fixed config. */
import * as Http from "node:http"
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Layer, Option, Redacted } from "effect"
import { Fetcher, RefreshFamily, SigningKey } from "@tessera/domain"
import * as FetcherNode from "@tessera/server-node/FetcherNode"
import * as AppConfig from "@tessera/server-node/AppConfig"
import * as Live from "@tessera/server-node/Live"

export const adminToken = "test-owner-token-0123456789abcdefghijklmnop"

export const publicUrl = "https://tessera.test"

export const config: AppConfig.AppConfigShape = {
  port: 8080,
  host: "127.0.0.1",
  publicUrl,
  dataDir: "/nonexistent",
  databaseUrl: Option.none(),
  devInsecureCimd: false,
  adminToken: Option.some(Redacted.make(adminToken)),
  kek: Option.some(Redacted.make("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8")),
  keyPolicy: SigningKey.defaultPolicy,
  refreshPolicy: RefreshFamily.defaultPolicy,
  dpopNonceRequired: false
}

/**
 * A fresh world: new in-memory stores, a new server on a loopback port, and an `HttpClient` aimed at it. Outbound
 * HTTP goes to the memory Fetcher, whose table (`Fetcher.MemoryFetcher`) a test fills and counts; `fetcher: "node"`
 * uses the real one instead (for documents a test serves itself on loopback), or pass any Fetcher layer (e.g. the
 * Node one over a fake DNS resolver).
 */
export const make = (
  overrides: Partial<AppConfig.AppConfigShape> = {},
  options: { readonly fetcher?: "memory" | "node" | Layer.Layer<Fetcher.Fetcher> } = {}
) => {
  const server = Http.createServer()
  // loopback only: NodeHttpServer.layerTest would listen on every interface
  const Server = NodeHttpServer.layer(() => server, { port: 0, host: "127.0.0.1" })
  const Client = HttpServer.layerTestClient.pipe(Layer.provide(NodeHttpClient.layerUndici), Layer.provideMerge(Server))
  const Table = Fetcher.layerMemoryTable
  const Outbound = options.fetcher === "node"
    ? FetcherNode.layer
    : options.fetcher === undefined || options.fetcher === "memory"
    ? Fetcher.layerFromTable.pipe(Layer.provide(Table))
    : options.fetcher
  return Live.app(server, Layer.merge(Live.MemoryPorts, Table), Outbound).pipe(
    Layer.provideMerge(Client),
    Layer.provideMerge(AppConfig.layer({ ...config, ...overrides }))
  )
}

export const TestLive = make()
