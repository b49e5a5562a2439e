/**
 * The domain's `Fetcher` port on `node:http`/`node:https`: DNS resolved first and every answer checked against the
 * address policy, then the connection pinned to the checked address (the `lookup` option), so a DNS answer that
 * changes between check and connect (rebinding) cannot reach a refused address.
 */
import * as Dns from "node:dns"
import * as Http from "node:http"
import * as Https from "node:https"
import { Duration, Effect, Exit, Layer } from "effect"
import { Fetcher } from "@tessera/domain"
import * as IpAddress from "./IpAddress.js"
import * as Traces from "./Traces.js"

export interface Resolved {
  readonly address: string
  readonly family: 4 | 6
}

/** A host name to every address it resolves to (as the OS resolver answers `getaddrinfo`). */
export type Resolve = (hostname: string) => Promise<ReadonlyArray<Resolved>>

export const systemResolve: Resolve = (hostname) =>
  Dns.promises.lookup(hostname, { all: true, verbatim: true }).then((all) =>
    all.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }))
  )

/** Whether the policy lets the fetcher connect to an address of this kind. */
export const allowed = (policy: Fetcher.AddressPolicy, kind: IpAddress.Kind): boolean => {
  if (kind === "invalid") return false
  switch (policy) {
    case "any":
      return true
    case "public_or_loopback":
      return kind === "public" || kind === "loopback"
    case "public":
      return kind === "public"
  }
}

const userAgent = "Tessera"

/** The Fetcher with a resolver of your choice (tests use a fake one; `layer` uses the system's). */
export const make = (resolve: Resolve = systemResolve): Fetcher.Fetcher["Type"] => ({
  get: (url, options) =>
    Effect.suspend(() => {
      const parsed = Fetcher.parseUrl(url, options)
      if (!parsed.ok) return Effect.fail(parsed.error)
      const target = parsed.value
      const fail = (reason: Fetcher.FetchFailure, extra: { status?: number; detail?: string } = {}) =>
        Exit.fail(new Fetcher.FetchError({ reason, url, ...extra }))
      const timeoutMillis = Duration.toMillis(Duration.decode(options.timeout))
      return Effect.async<Fetcher.Response, Fetcher.FetchError>((resume) => {
        let done = false
        let request: Http.ClientRequest | undefined
        // a network deadline, on the wall clock whatever the Effect Clock says (a TestClock would never fire it)
        const timer = setTimeout(() => finish(fail("timeout")), timeoutMillis)
        const finish = (exit: Exit.Exit<Fetcher.Response, Fetcher.FetchError>) => {
          if (done) return
          done = true
          clearTimeout(timer)
          request?.destroy()
          resume(exit)
        }
        const hostname = target.hostname.startsWith("[") ? target.hostname.slice(1, -1) : target.hostname
        const literal = IpAddress.classify(hostname) !== "invalid"
        const addresses: Promise<ReadonlyArray<Resolved>> = literal
          ? Promise.resolve([{ address: hostname, family: hostname.includes(":") ? 6 : 4 }])
          : resolve(hostname)
        addresses.then(
          (all) => {
            if (done) return
            if (all.length === 0) return finish(fail("network", { detail: "no address" }))
            // every answer must pass: a client picks any of them, and so could a later connection
            for (const a of all) {
              const kind = IpAddress.classify(a.address)
              if (!allowed(options.addresses, kind)) return finish(fail("address_refused", { detail: `${a.address} is ${kind}` }))
            }
            connect(all[0]!)
          },
          (e: { code?: string }) => finish(fail("network", { detail: `dns ${e.code ?? "failure"}` }))
        )
        const connect = (pinned: Resolved) => {
          const module = target.protocol === "https:" ? Https : Http
          request = module.request({
            protocol: target.protocol,
            hostname, // the Host header, TLS SNI and certificate check use the name
            port: target.port === "" ? undefined : Number(target.port),
            path: `${target.pathname}${target.search}`,
            method: "GET",
            headers: {
              accept: options.accept ?? "application/json",
              // no compression: the cap bounds what is read, and nothing is inflated after it
              "accept-encoding": "identity",
              "user-agent": userAgent
            },
            agent: false,
            // the connection goes to the checked address and nowhere else (Node asks with `all` when it races families)
            lookup: (_name, lookupOptions, callback) => {
              if ((lookupOptions as { all?: boolean }).all === true) {
                ;(callback as unknown as (e: null, all: ReadonlyArray<Resolved>) => void)(null, [pinned])
              } else {
                callback(null, pinned.address, pinned.family)
              }
            }
          })
          request.on("error", (e: Error & { code?: string }) => finish(fail("network", { detail: e.code ?? e.message })))
          request.on("response", (response) => {
            const status = response.statusCode ?? 0
            // no redirect is followed: the document must be at the URL asked for
            if (status >= 300 && status < 400) return finish(fail("redirect", { status }))
            if (status !== 200) return finish(fail("status", { status }))
            const announced = Number(response.headers["content-length"])
            if (Number.isFinite(announced) && announced > options.maxBytes) return finish(fail("too_large", { detail: `content-length ${announced}` }))
            const chunks: Array<Buffer> = []
            let size = 0
            response.on("data", (chunk: Buffer) => {
              size += chunk.byteLength
              // stop reading as soon as one byte too many has arrived (chunked bodies announce no length)
              if (size > options.maxBytes) return finish(fail("too_large"))
              chunks.push(chunk)
            })
            response.on("error", (e: Error & { code?: string }) => finish(fail("network", { detail: e.code ?? e.message })))
            response.on("end", () => {
              if (!response.complete) return finish(fail("network", { detail: "incomplete body" }))
              const headers: Record<string, string> = {}
              for (const [name, value] of Object.entries(response.headers)) {
                if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value
              }
              finish(Exit.succeed({ status, headers, body: new Uint8Array(Buffer.concat(chunks)) }))
            })
          })
          request.end()
        }
        return Effect.sync(() => {
          done = true
          clearTimeout(timer)
          request?.destroy()
        })
      })
    }).pipe(
      Effect.tap((response) => Effect.annotateCurrentSpan("http.response.status_code", response.status)),
      Traces.span("GET", { kind: "client", attributes: spanAttributes(url) })
    )
})

/**
 * ADR 0041: the outbound request's span names the server and path (OpenTelemetry HTTP client conventions), never the
 * query; the status and failure are in the span's end.
 */
const spanAttributes = (url: string): Record<string, string> => {
  try {
    const parsed = new URL(url)
    return { "http.request.method": "GET", "server.address": parsed.hostname, "url.full": `${parsed.origin}${parsed.pathname}` }
  } catch {
    return { "http.request.method": "GET" }
  }
}

export const layer = Layer.succeed(Fetcher.Fetcher, Fetcher.Fetcher.of(make()))
