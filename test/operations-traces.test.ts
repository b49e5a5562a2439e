/**
 * CONTRACT §1 `OTEL_EXPORTER_OTLP_ENDPOINT` (ADR 0041): a real Tessera process exports its spans over OTLP/HTTP to a
 * receiver inside this test process; one token request's trace is read back: the request span (child of the
 * `traceparent` the client sent), the grant span and a store transaction, nested, in one trace, with no secret in
 * any span. Unset, no tracer is installed and no request span is made (ADR 0024).
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { ConfigProvider, Effect, FiberRef, Layer, Option, Tracer } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import * as Traces from "@tessera/server-node/Traces"
import * as OtlpReceiver from "./support/OtlpReceiver.js"
import type { ReceivedSpan } from "./support/OtlpReceiver.js"
import { adminCall, cleanup, startTessera, stopProcess } from "./support/Process.js"
import { authorizationCode, basic, postForm, redirectUri } from "./support/SignInByHand.js"

afterAll(cleanup)

/** W3C Trace Context §3.2: the caller's trace and span. */
const callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
const callerSpan = "00f067aa0ba902b7"

/** The spans from `span` up to the root of its trace, `span` first. */
const ancestry = (spans: ReadonlyArray<ReceivedSpan>, span: ReceivedSpan) => {
  const chain = [span]
  let current: ReceivedSpan | undefined = span
  while (current?.parentSpanId !== undefined) {
    current = spans.find((s) => s.spanId === current!.parentSpanId)
    if (current !== undefined) chain.push(current)
  }
  return chain
}

describe("CONTRACT §1 OTEL_EXPORTER_OTLP_ENDPOINT: traces over OTLP/HTTP", () => {
  it("one token request's trace: request span (child of traceparent) > grant span > store transaction; no secret in any span", { timeout: 180_000 }, async () => {
    const receiver = await OtlpReceiver.start()
    try {
      const { base, child } = await startTessera({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint })
      const name = `traces-${process.pid}-${Date.now().toString(36)}`
      const realm = await adminCall(base, "/admin/realms", { name })
      const issuer = realm["issuer"] as string
      const password = "correct horse battery staple"
      await adminCall(base, `/admin/realms/${name}/users`, { username: "ada", password })
      const client = await adminCall(base, `/admin/realms/${name}/clients`, {
        client_name: "Traced app", redirect_uris: [redirectUri], grant_types: ["authorization_code"],
        token_endpoint_auth_method: "client_secret_basic"
      })
      const clientId = client["client_id"] as string
      const secret = client["client_secret"] as string
      const { browser, code, verifier } = await authorizationCode({ base, issuer, clientId, scope: "openid", username: "ada", password })

      const token = await postForm(`${issuer}/token`, { grant_type: "authorization_code", code, redirect_uri: redirectUri, code_verifier: verifier }, {
        authorization: basic(clientId, secret),
        traceparent: `00-${callerTrace}-${callerSpan}-01`
      })
      expect(token.status).toBe(200)
      // SIGTERM flushes what is pending (the batch would wait up to 5 s otherwise)
      await stopProcess(child)
      expect(child.exitCode).toBe(0)

      // OTLP/HTTP with the JSON encoding, every span from the service `tessera`
      expect(new Set(receiver.contentTypes)).toEqual(new Set(["application/json"]))
      expect(new Set(receiver.spans.map((s) => s.service))).toEqual(new Set(["tessera"]))

      const requests = receiver.spans.filter((s) => s.name === "POST /realms/:realm/token")
      expect(requests).toHaveLength(1)
      const request = requests[0]!
      // W3C Trace Context: the request continues the caller's trace, as a child of the caller's span
      expect(request).toEqual({
        traceId: callerTrace,
        spanId: expect.stringMatching(/^[0-9a-f]{16}$/),
        parentSpanId: callerSpan,
        name: "POST /realms/:realm/token",
        kind: 2,
        // a fixed list of attributes: never the path, query, headers or body
        attributes: { "http.request.method": "POST", "http.route": "/realms/:realm/token", "http.response.status_code": 200, "tessera.realm": name },
        service: "tessera"
      })
      const grant = receiver.spans.find((s) => s.name === "token.authorization_code")!
      expect(grant).toMatchObject({
        traceId: callerTrace,
        attributes: { "tessera.realm": name, "tessera.client_id": clientId, "oauth.grant_type": "authorization_code" }
      })
      expect(ancestry(receiver.spans, grant)).toContain(request)
      // a store transaction of the grant (the code consumed, the tokens written), inside the grant's span
      const transactions = receiver.spans.filter((s) => s.name === "sql.transaction" && ancestry(receiver.spans, s).includes(grant))
      expect(transactions.length).toBeGreaterThan(0)
      expect(transactions.every((s) => s.traceId === callerTrace && s.kind === 3)).toBe(true)
      // ... and its statements inside it
      expect(receiver.spans.some((s) => s.name === "sql.execute" && ancestry(receiver.spans, s).includes(transactions[0]!))).toBe(true)

      // CONTRACT §8, ADR 0041: nothing the client or the person handled reaches a span
      const exported = receiver.bodies.join("\n")
      const secrets = [
        secret, code, verifier, password, token.json["access_token"], token.json["id_token"], ...browser.cookies(),
        ...String(token.json["access_token"]).split("."), ...String(token.json["id_token"]).split(".").slice(1)
      ]
      for (const value of secrets) expect(value.length > 8 && exported.includes(value) ? value : undefined).toBeUndefined()
    } finally {
      await receiver.close()
    }
  })
})

/** Effect's own tracer, wrapped to keep the name of every span started under it. */
const recording = () => {
  const names: Array<string> = []
  const native = Effect.runSync(Effect.tracer)
  const tracer = Tracer.make({
    span: (name, ...rest) => {
      names.push(name)
      return native.span(name, ...rest)
    },
    context: native.context
  })
  return { names, tracer }
}

describe("ADR 0024, 0041: without OTEL_EXPORTER_OTLP_ENDPOINT no span is exported or made for a request", () => {
  const request = HttpServerRequest.fromWeb(new Request("http://127.0.0.1/realms/acme/token", { method: "POST" }))
  const app = Effect.succeed(HttpServerResponse.empty({ status: 204 }))

  it("unset: the configuration installs no tracer layer, request spans stay off, and the libraries' spans are no-ops", async () => {
    const withoutEndpoint = ConfigProvider.fromMap(new Map())
    const layer = await Effect.runPromise(Effect.withConfigProvider(Traces.config, withoutEndpoint))
    expect(layer).toEqual(Option.none())
    const [tracer, enabled, tracerEnabled] = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      yield* Layer.buildWithScope(Traces.layerConfig, yield* Effect.scope)
      return [yield* Effect.tracer, yield* FiberRef.get(Traces.enabled), yield* FiberRef.get(FiberRef.currentTracerEnabled)] as const
    })).pipe(Effect.withConfigProvider(withoutEndpoint)))
    expect(enabled).toBe(false)
    expect(tracer).toBe(await Effect.runPromise(Effect.tracer))
    // issue 17: nothing exports them, so @effect/sql's per-statement and per-transaction spans are made as no-op spans
    expect(tracerEnabled).toBe(false)
  })

  it("request spans off: the middleware makes no span; on: one span, named by method, with the realm", async () => {
    const off = recording()
    await Effect.runPromise(Traces.requestSpan(app).pipe(Effect.provideService(HttpServerRequest.HttpServerRequest, request), Effect.withTracer(off.tracer)))
    expect(off.names).toEqual([])
    const on = recording()
    await Effect.runPromise(Traces.requestSpan(app).pipe(
      Effect.provideService(HttpServerRequest.HttpServerRequest, request),
      Effect.withTracer(on.tracer),
      Effect.locally(Traces.enabled, true)
    ))
    expect(on.names).toEqual(["POST"])
  })

  it("rejects a bad endpoint at start, naming the variable", async () => {
    for (const bad of ["collector:4318", "ftp://collector:4318", "http://collector:4318/?x=1"]) {
      const result = await Effect.runPromise(Effect.either(Effect.withConfigProvider(Traces.config, ConfigProvider.fromMap(new Map([["OTEL_EXPORTER_OTLP_ENDPOINT", bad]])))))
      expect(result._tag).toBe("Left")
      expect(String(result._tag === "Left" ? result.left : "")).toContain("OTEL_EXPORTER_OTLP_ENDPOINT")
    }
    // OpenTelemetry specification: `/v1/traces` is appended to the endpoint's path
    const ok = await Effect.runPromise(Effect.withConfigProvider(Traces.config, ConfigProvider.fromMap(new Map([["OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector.example/otlp/"]]))))
    expect(ok).toEqual(Option.some("https://collector.example/otlp/v1/traces"))
  })
})
