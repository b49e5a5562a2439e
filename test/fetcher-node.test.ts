/**
 * The Node `Fetcher` (outbound GET for jwks_uri and client ID metadata documents) against servers on loopback: 200
 * only, no redirect followed, the body cap (also chunked), one timeout over the whole exchange, and the address
 * policy checked on resolved addresses, with the connection pinned to the checked one.
 */
import * as Http from "node:http"
import type * as Net from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { Fetcher } from "@tessera/domain"
import * as FetcherNode from "@tessera/server-node/FetcherNode"
import * as FetcherContract from "../packages/domain/test/FetcherContract.js"

interface Served {
  readonly origin: string
  readonly port: number
  /** Connections the server accepted. */
  readonly connections: () => number
  /** Requests it saw: path and Host header. */
  readonly requests: ReadonlyArray<{ readonly path: string; readonly host: string | undefined; readonly headers: Http.IncomingHttpHeaders }>
  /** Whether a response write failed or the socket closed before the handler finished (the client hung up). */
  readonly clientHungUp: () => boolean
}

/** A loopback server for the duration of one test. */
const serve = (handler: (req: Http.IncomingMessage, res: Http.ServerResponse) => void) =>
  Effect.acquireRelease(
    Effect.async<{ server: Http.Server; served: Served }>((resume) => {
      let connections = 0
      let hungUp = false
      const requests: Array<{ path: string; host: string | undefined; headers: Http.IncomingHttpHeaders }> = []
      const sockets = new Set<Net.Socket>()
      const server = Http.createServer((req, res) => {
        requests.push({ path: req.url ?? "", host: req.headers.host, headers: req.headers })
        res.on("close", () => {
          if (!res.writableFinished) hungUp = true
        })
        handler(req, res)
      })
      server.on("connection", (socket) => {
        connections++
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
      })
      ;(server as unknown as { sockets: Set<Net.Socket> }).sockets = sockets
      server.listen(0, "127.0.0.1", () => {
        const port = (server.address() as Net.AddressInfo).port
        resume(Effect.succeed({
          server,
          served: { origin: `http://127.0.0.1:${port}`, port, connections: () => connections, requests, clientHungUp: () => hungUp }
        }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        for (const socket of (server as unknown as { sockets: Set<Net.Socket> }).sockets) socket.destroy()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ served }) => served))

const options: Fetcher.Options = { timeout: "2 seconds", maxBytes: 1024, addresses: "any", allowHttp: true }

const failure = (effect: Effect.Effect<Fetcher.Response, Fetcher.FetchError>) =>
  Effect.map(Effect.either(effect), (e) => Either.isLeft(e) ? { reason: e.left.reason, status: e.left.status } : { ok: e.right.status })

FetcherContract.suite("node:http on loopback", Effect.gen(function*() {
  const answers = new Map<string, FetcherContract.Answer>()
  const s = yield* serve((req, res) => {
    const answer = answers.get(req.url ?? "")
    if (answer === undefined) {
      res.writeHead(404)
      return res.end()
    }
    setTimeout(() => {
      res.writeHead(answer.status, answer.headers)
      res.end(answer.body)
    }, answer.delay ?? 0)
  })
  return {
    fetcher: FetcherNode.make(),
    serve: (path, answer) => Effect.sync(() => {
      answers.set(path, answer)
      return `${s.origin}${path}`
    }),
    options: { addresses: "public_or_loopback", allowHttp: true }
  } satisfies FetcherContract.Harness
}))

describe("Fetcher on node:http (outbound GET)", () => {
  const fetcher = FetcherNode.make()

  it.scoped("a 200 answers status, lower-cased headers and the body bytes", () =>
    Effect.gen(function*() {
      const s = yield* serve((_req, res) => {
        res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "max-age=300" })
        res.end(`{"keys":[]}`)
      })
      const res = yield* fetcher.get(`${s.origin}/jwks?x=1`, options)
      expect(res.status).toBe(200)
      expect(res.headers["content-type"]).toBe("application/json")
      expect(res.headers["cache-control"]).toBe("max-age=300")
      expect(new TextDecoder().decode(res.body)).toBe(`{"keys":[]}`)
      expect(s.requests).toHaveLength(1)
      expect(s.requests[0]!.path).toBe("/jwks?x=1")
      expect(s.requests[0]!.headers.accept).toBe("application/json")
      // no compression asked for: the cap bounds what is read and nothing is inflated afterwards
      expect(s.requests[0]!.headers["accept-encoding"]).toBe("identity")
    }))

  it.scoped("a redirect is never followed: 301, 302, 303, 307, 308 fail as redirect", () =>
    Effect.gen(function*() {
      let code = 301
      const s = yield* serve((req, res) => {
        if (req.url === "/target") return res.end("{}")
        res.writeHead(code, { Location: "/target" })
        res.end()
      })
      for (const status of [301, 302, 303, 307, 308]) {
        code = status
        expect(yield* failure(fetcher.get(`${s.origin}/moved`, options))).toEqual({ reason: "redirect", status })
      }
      expect(s.requests.map((r) => r.path)).toEqual(["/moved", "/moved", "/moved", "/moved", "/moved"])
    }))

  it.scoped("any status but 200 fails as status (204, 404, 500)", () =>
    Effect.gen(function*() {
      let code = 204
      const s = yield* serve((_req, res) => {
        res.writeHead(code)
        res.end()
      })
      for (const status of [204, 404, 500]) {
        code = status
        expect(yield* failure(fetcher.get(`${s.origin}/`, options))).toEqual({ reason: "status", status })
      }
    }))

  it.scoped("a Content-Length over the cap is refused before the body is read", () =>
    Effect.gen(function*() {
      const s = yield* serve((_req, res) => {
        res.writeHead(200, { "Content-Length": "2048" })
        res.end("x".repeat(2048))
      })
      expect(yield* failure(fetcher.get(`${s.origin}/`, options))).toEqual({ reason: "too_large", status: undefined })
    }))

  it.scoped("exactly maxBytes is accepted; one more is too_large", () =>
    Effect.gen(function*() {
      let size = 1024
      const s = yield* serve((_req, res) => res.end("y".repeat(size)))
      expect((yield* fetcher.get(`${s.origin}/`, options)).body.byteLength).toBe(1024)
      size = 1025
      expect(yield* failure(fetcher.get(`${s.origin}/`, options))).toEqual({ reason: "too_large", status: undefined })
    }))

  it.live("a chunked body that never ends is cut at the cap: too_large, and the connection is closed", () =>
    Effect.gen(function*() {
      let writes = 0
      const s = yield* serve((_req, res) => {
        res.writeHead(200, { "Content-Type": "application/json" }) // no Content-Length: chunked
        const more = () => {
          if (res.destroyed || writes > 10_000) return
          writes++
          res.write("z".repeat(512), () => setTimeout(more, 1))
        }
        more()
      })
      const started = Date.now()
      expect(yield* failure(fetcher.get(`${s.origin}/`, options))).toEqual({ reason: "too_large", status: undefined })
      expect(Date.now() - started).toBeLessThan(1500)
      // the server notices the client went away instead of streaming forever
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 100)))
      expect(s.clientHungUp()).toBe(true)
      expect(writes).toBeLessThan(100)
    }).pipe(Effect.scoped))

  it.live("the timeout covers waiting for the headers", () =>
    Effect.gen(function*() {
      const s = yield* serve(() => {}) // accepts, never answers
      const started = Date.now()
      expect(yield* failure(fetcher.get(`${s.origin}/`, { ...options, timeout: "200 millis" }))).toEqual({ reason: "timeout", status: undefined })
      const took = Date.now() - started
      expect(took).toBeGreaterThanOrEqual(190)
      expect(took).toBeLessThan(1500)
    }).pipe(Effect.scoped))

  it.live("the timeout covers the whole body: a trickling server fails as timeout", () =>
    Effect.gen(function*() {
      const s = yield* serve((_req, res) => {
        res.writeHead(200)
        const drip = () => {
          if (res.destroyed) return
          res.write("a", () => setTimeout(drip, 50))
        }
        drip()
      })
      const started = Date.now()
      expect(yield* failure(fetcher.get(`${s.origin}/`, { ...options, timeout: "300 millis" }))).toEqual({ reason: "timeout", status: undefined })
      expect(Date.now() - started).toBeLessThan(1500)
    }).pipe(Effect.scoped))

  it.live("a connection refused or a body cut short is network", () =>
    Effect.gen(function*() {
      // a port nobody listens on any more (the server is closed right away)
      const gone = yield* Effect.scoped(serve(() => {}))
      expect(yield* failure(fetcher.get(`http://127.0.0.1:${gone.port}/`, options))).toEqual({ reason: "network", status: undefined })
      const cut = yield* serve((_req, res) => {
        res.writeHead(200, { "Content-Length": "100" })
        res.write("only a little")
        setTimeout(() => res.destroy(), 20)
      })
      expect(yield* failure(fetcher.get(`${cut.origin}/`, options))).toEqual({ reason: "network", status: undefined })
    }).pipe(Effect.scoped))

  it.effect("URLs: not absolute, another scheme, http unless allowed, credentials: invalid_url, nothing sent", () =>
    Effect.gen(function*() {
      for (const url of ["/relative", "ftp://example.com/x", "file:///etc/passwd", "http://example.com/x", "https://user:pw@example.com/x"]) {
        expect(yield* failure(fetcher.get(url, { ...options, allowHttp: false }))).toEqual({ reason: "invalid_url", status: undefined })
      }
    }))

  it.live("an https URL to a server that speaks no TLS fails as network (the TLS handshake fails)", () =>
    Effect.gen(function*() {
      const s = yield* serve((_req, res) => res.end("{}"))
      expect(yield* failure(fetcher.get(`https://127.0.0.1:${s.port}/`, options))).toEqual({ reason: "network", status: undefined })
    }).pipe(Effect.scoped))
})

describe("Fetcher address policy (checked after DNS, connection pinned)", () => {
  /** A resolver that answers from a table and counts its calls. */
  const fakeResolver = (answers: (name: string, call: number) => ReadonlyArray<FetcherNode.Resolved>) => {
    let calls = 0
    const resolve: FetcherNode.Resolve = (name) => Promise.resolve(answers(name, ++calls))
    return { resolve, calls: () => calls }
  }

  it.live("public: a name resolving to loopback is address_refused and no connection is made", () =>
    Effect.gen(function*() {
      const s = yield* serve((_req, res) => res.end("{}"))
      const dns = fakeResolver(() => [{ address: "127.0.0.1", family: 4 }])
      const fetcher = FetcherNode.make(dns.resolve)
      expect(yield* failure(fetcher.get(`http://metadata.example:${s.port}/`, { ...options, addresses: "public" })))
        .toEqual({ reason: "address_refused", status: undefined })
      expect(s.connections()).toBe(0)
    }).pipe(Effect.scoped))

  it.live("public: one refused answer among public ones refuses the whole name", () =>
    Effect.gen(function*() {
      const dns = fakeResolver(() => [{ address: "93.184.215.14", family: 4 }, { address: "::ffff:10.1.2.3", family: 6 }])
      const fetcher = FetcherNode.make(dns.resolve)
      expect(yield* failure(fetcher.get("https://mixed.example/", { ...options, addresses: "public" })))
        .toEqual({ reason: "address_refused", status: undefined })
    }))

  it.live("public: IP literals are checked without DNS (127.0.0.1, [::1], [::ffff:127.0.0.1], 169.254.169.254, 0.0.0.0)", () =>
    Effect.gen(function*() {
      const s = yield* serve((_req, res) => res.end("{}"))
      const dns = fakeResolver(() => [])
      const fetcher = FetcherNode.make(dns.resolve)
      for (const host of ["127.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "169.254.169.254", "0.0.0.0", "[fd00::1]"]) {
        expect(yield* failure(fetcher.get(`http://${host}:${s.port}/`, { ...options, addresses: "public" })))
          .toEqual({ reason: "address_refused", status: undefined })
      }
      expect(dns.calls()).toBe(0)
      expect(s.connections()).toBe(0)
    }).pipe(Effect.scoped))

  it.live("public_or_loopback admits loopback but still refuses private addresses", () =>
    Effect.gen(function*() {
      const s = yield* serve((_req, res) => res.end("{}"))
      const dns = fakeResolver((name) => name === "private.example" ? [{ address: "192.168.1.10", family: 4 }] : [{ address: "127.0.0.1", family: 4 }])
      const fetcher = FetcherNode.make(dns.resolve)
      const policy = { ...options, addresses: "public_or_loopback" } as const
      expect(yield* failure(fetcher.get(`http://localhost:${s.port}/`, policy))).toEqual({ ok: 200 })
      expect(yield* failure(fetcher.get(`http://private.example:${s.port}/`, policy))).toEqual({ reason: "address_refused", status: undefined })
    }).pipe(Effect.scoped))

  it.live("DNS rebinding: the connection goes to the address that was checked; the name is resolved once", () =>
    Effect.gen(function*() {
      const s = yield* serve((_req, res) => res.end("{}"))
      // first answer loopback (allowed here), every later one a private address the policy refuses
      const dns = fakeResolver((_name, call) => call === 1 ? [{ address: "127.0.0.1", family: 4 }] : [{ address: "10.0.0.1", family: 4 }])
      const fetcher = FetcherNode.make(dns.resolve)
      expect(yield* failure(fetcher.get(`http://rebind.example:${s.port}/doc`, { ...options, addresses: "public_or_loopback" }))).toEqual({ ok: 200 })
      expect(dns.calls()).toBe(1)
      expect(s.requests).toHaveLength(1)
      // the Host header still names the host (what a virtual host or TLS certificate is chosen by)
      expect(s.requests[0]!.host).toBe(`rebind.example:${s.port}`)
    }).pipe(Effect.scoped))

  it.live("a name that does not resolve is network; no answer at all is network", () =>
    Effect.gen(function*() {
      const failing = FetcherNode.make(() => Promise.reject(Object.assign(new Error("ENOTFOUND"), { code: "ENOTFOUND" })))
      expect(yield* failure(failing.get("https://nowhere.example/", options))).toEqual({ reason: "network", status: undefined })
      const empty = FetcherNode.make(() => Promise.resolve([]))
      expect(yield* failure(empty.get("https://nowhere.example/", options))).toEqual({ reason: "network", status: undefined })
    }))

  it.live("a resolver slower than the timeout fails as timeout", () =>
    Effect.gen(function*() {
      const slow = FetcherNode.make(() => new Promise((r) => setTimeout(() => r([{ address: "127.0.0.1", family: 4 }]), 1000)))
      expect(yield* failure(slow.get("https://slow.example/", { ...options, timeout: "100 millis" }))).toEqual({ reason: "timeout", status: undefined })
    }))
})
