/**
 * What exporting traces costs a request (ADR 0041), in this process, no server: `spans` nested spans (as many as one
 * authorization-code token request makes: the request, the grant, the domain steps, the store's transactions and
 * statements) made with Effect's own tracer (traces off: no request span, the rest as today) and with the
 * OpenTelemetry SDK exporting over OTLP/HTTP JSON to a receiver on loopback (traces on, as Traces.layer does it).
 *
 *   npm run bench:traces [-- <spans per request, default 26>]
 */
import * as Http from "node:http"
import type * as Net from "node:net"
import * as Os from "node:os"
import { Effect, Layer } from "effect"
import * as Traces from "../packages/server-node/src/Traces.js"

const spansPerRequest = Number(process.argv[2] ?? 26)
const requests = 5_000

// every span exported, none dropped: the batch queue holds them all and is emptied often (the defaults, 2 048 spans
// every 5 s, would drop most of them at this rate, which costs less than exporting them)
process.env["OTEL_BSP_MAX_QUEUE_SIZE"] ??= "1000000"
process.env["OTEL_BSP_SCHEDULE_DELAY"] ??= "100"

/** One request's spans: a chain of `spansPerRequest` spans, each ended before its parent. */
const request = (depth: number): Effect.Effect<void> =>
  depth === 0 ? Effect.void : Effect.withSpan(request(depth - 1), `span-${depth}`, { attributes: { "tessera.realm": "acme" } })

const perRequest = (run: (n: number) => Promise<void>) => async () => {
  await run(500)
  const started = process.cpuUsage()
  const wall = process.hrtime.bigint()
  await run(requests)
  const cpu = process.cpuUsage(started)
  return { cpuUs: (cpu.user + cpu.system) / requests, wallUs: Number(process.hrtime.bigint() - wall) / 1e3 / requests }
}

const main = async () => {
  console.log(`node ${process.version}, ${Os.cpus().length} CPUs, load average ${Os.loadavg().map((l) => l.toFixed(2)).join(" ")}`)
  let received = 0
  const receiver = Http.createServer((req, res) => {
    req.resume()
    req.on("end", () => {
      received++
      res.writeHead(200, { "content-type": "application/json" }).end("{}")
    })
  })
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve))
  const endpoint = `http://127.0.0.1:${(receiver.address() as Net.AddressInfo).port}`

  const loop = (n: number) => Effect.gen(function*() {
    for (let i = 0; i < n; i++) yield* request(spansPerRequest)
  })
  const off = perRequest((n) => Effect.runPromise(loop(n)))
  const on = perRequest((n) => Effect.runPromise(Effect.scoped(Layer.build(Traces.layer(`${endpoint}/v1/traces`)).pipe(
    Effect.flatMap((context) => Effect.provide(loop(n), context))
  ))))
  // interleaved, twice each, so a change of load hits both
  const rows: Array<[string, { cpuUs: number; wallUs: number }]> = []
  for (let round = 0; round < 2; round++) {
    rows.push(["off", await off()])
    rows.push(["on", await on()])
  }
  for (const [name, r] of rows) console.log(`traces ${name.padEnd(3)}: ${r.cpuUs.toFixed(1)} µs CPU, ${r.wallUs.toFixed(1)} µs wall per request of ${spansPerRequest} spans`)
  console.log(`export requests received: ${received}; load average after ${Os.loadavg().map((l) => l.toFixed(2)).join(" ")}`)
  receiver.close()
}

await main()
