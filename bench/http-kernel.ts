/**
 * Where the HTTP stack's CPU goes on a trivial request (issue 17, ADR 0052): one form POST to
 * `/realms/:realm/token`, its body read and a small JSON object answered, served by each of these in a child process
 * of its own, one at a time, with the child's CPU per request read from /proc over the measured window:
 *
 *   bare       node:http alone
 *   fiber      node:http, one fiber per request on a runtime built once (`Runtime.runCallback`)
 *   platform   @effect/platform's HttpLayerRouter.serve on platform-node, logger and tracer off (Live before 0052)
 *   handler    platform-node's `NodeHttpServer.makeHandler` over the same router on a plain node:http server
 *   kernel     Tessera's HTTP kernel (packages/server-node/src/http/Kernel.ts) over the same route
 *
 *   node --import tsx bench/http-kernel.ts [seconds] [variant...]
 */
import { spawn } from "node:child_process"
import * as Http from "node:http"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import { Effect, Layer, ManagedRuntime, Runtime } from "effect"
import * as Kernel from "../packages/server-node/src/http/Kernel.js"
import * as Load from "./load.js"

const variants = ["bare", "fiber", "platform", "handler", "kernel"] as const
type Variant = typeof variants[number]

const readBody = (request: Http.IncomingMessage, done: (body: Buffer) => void) => {
  const chunks: Array<Buffer> = []
  request.on("data", (chunk: Buffer) => chunks.push(chunk))
  request.on("end", () => done(Buffer.concat(chunks)))
}

const answer = (body: Buffer) => ({ ok: true, length: body.length })

/** The trivial route as an Effect: the body read through the request, a JSON answer. */
const route = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const realm = (yield* HttpRouter.params)["realm"]
  const body = yield* Effect.async<Buffer>((resume) => readBody(NodeHttpServerRequest.toIncomingMessage(request), (b) => resume(Effect.succeed(b))))
  return HttpServerResponse.unsafeJson({ ...answer(body), realm }, { headers: { "cache-control": "no-store" } })
})

const Routes = HttpLayerRouter.add("POST", "/realms/:realm/token", route)

const listen = (server: Http.Server) =>
  server.listen(0, "127.0.0.1", () => console.log(`port ${(server.address() as { port: number }).port}`))

const serve = async (variant: Variant) => {
  const server = Http.createServer()
  switch (variant) {
    case "bare": {
      server.on("request", (request, response) =>
        readBody(request, (body) => {
          const json = JSON.stringify(answer(body))
          response.writeHead(200, { "content-type": "application/json", "cache-control": "no-store", "content-length": Buffer.byteLength(json) })
          response.end(json)
        }))
      return listen(server)
    }
    case "fiber": {
      const run = Runtime.runCallback(Runtime.defaultRuntime)
      server.on("request", (request, response) =>
        run(Effect.async<Buffer>((resume) => readBody(request, (b) => resume(Effect.succeed(b)))).pipe(Effect.map(answer)), { onExit: (exit) => {
          if (exit._tag !== "Success") return void response.destroy()
          const json = JSON.stringify(exit.value)
          response.writeHead(200, { "content-type": "application/json", "cache-control": "no-store", "content-length": Buffer.byteLength(json) })
          response.end(json)
        } }))
      return listen(server)
    }
    case "platform": {
      server.once("listening", () => console.log(`port ${(server.address() as { port: number }).port}`))
      return Layer.launch(HttpLayerRouter.serve(Routes, { disableLogger: true, disableListenLog: true }).pipe(
        HttpMiddleware.withTracerDisabledWhen(() => true),
        Layer.provide(NodeHttpServer.layer(() => server, { port: 0, host: "127.0.0.1" }))
      )).pipe(Effect.runFork)
    }
    case "handler": {
      const runtime = ManagedRuntime.make(Layer.empty)
      const handler = await runtime.runPromise(Effect.scoped(Effect.flatMap(HttpLayerRouter.toHttpEffect(Routes), (app) =>
        NodeHttpServer.makeHandler(app))).pipe(Effect.provide(HttpLayerRouter.layer)) as Effect.Effect<(a: Http.IncomingMessage, b: Http.ServerResponse) => void>)
      server.on("request", handler)
      return listen(server)
    }
    case "kernel": {
      const runtime = await Effect.runPromise(Effect.runtime<never>())
      const table = await Effect.runPromise(Effect.scoped(Kernel.tableOf(Routes)))
      server.on("request", Kernel.handler(table, runtime, { middleware: (app) => app, immediate: true }))
      return listen(server)
    }
  }
}

const measure = async (variant: Variant, seconds: number) => {
  const child = spawn(process.execPath, ["--import", "tsx", new URL(import.meta.url).pathname, "serve", variant], { stdio: ["ignore", "pipe", "inherit"] })
  const port = await new Promise<number>((resolve) => child.stdout.on("data", (d: Buffer) => {
    const m = /port (\d+)/.exec(d.toString())
    if (m !== null) resolve(Number(m[1]))
  }))
  const row = await Load.measure({
    url: `http://127.0.0.1:${port}/realms/demo/token`,
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "grant_type=client_credentials&scope=read",
    check: (body) => body.includes("\"ok\":true") ? undefined : body
  }, { connections: 10, seconds, warmupSeconds: 3 }, child.pid!)
  child.kill()
  return row
}

if (process.argv[2] === "serve") {
  // a clean exit on SIGTERM, so that `node --cpu-prof` writes its profile
  process.once("SIGTERM", () => process.exit(0))
  await serve(process.argv[3] as Variant)
} else {
  const seconds = Number(process.argv[2] ?? 5) || 5
  const chosen = process.argv.slice(3).filter((v): v is Variant => (variants as ReadonlyArray<string>).includes(v))
  for (const variant of chosen.length > 0 ? chosen : variants) {
    const row = await measure(variant, seconds)
    console.log(`${variant.padEnd(9)} ${row.serverCpu.toFixed(1).padStart(7)} µs/request  ${Math.round(row.perSecond)}/s  p50 ${row.p50} ms  p99 ${row.p99} ms  errors ${row.errors + row.non2xx + row.wrong}`)
  }
}
