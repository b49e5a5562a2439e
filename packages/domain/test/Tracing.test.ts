import { describe, expect, it } from "@effect/vitest"
import { DateTime, Effect, Layer, Option, Tracer } from "effect"
import { ClientAuth, Fetcher, JtiCache, MemoryDb, RemoteJwks, Tracing } from "@tessera/domain"
import { clientWith } from "./ClientFixture.js"

const realm = { id: "r1", name: "r1", dynamicRegistration: false, createdAt: DateTime.unsafeMake(0), version: 1 }

/** A public client authenticating with `none`: a domain step that needs no port. */
const authenticate = ClientAuth.authenticate({
  realm,
  issuer: "https://tessera.test/realms/r1",
  credentials: { _tag: "None", clientId: "c1" },
  allowNone: true,
  find: () => Effect.succeed(Option.some(clientWith()))
})

/** What a client assertion would need (none is made here). */
const Ports = Layer.mergeAll(JtiCache.layerMemory, RemoteJwks.layer).pipe(Layer.provide(Fetcher.layerMemory), Layer.provide(MemoryDb.layer))

/** The names of the spans `effect` makes under a parent span, through a tracer that records them. */
const spansOf = <A, E>(effect: Effect.Effect<A, E, JtiCache.JtiCache | RemoteJwks.RemoteJwks>) =>
  Effect.gen(function*() {
    const native = yield* Effect.tracer
    const names: Array<string> = []
    const recording = Tracer.make({
      span: (name, ...rest) => {
        names.push(name)
        return native.span(name, ...rest)
      },
      context: native.context
    })
    yield* effect.pipe(Effect.withSpan("parent"), Effect.withTracer(recording), Effect.provide(Ports))
    return names
  })

describe("Tracing: the domain's spans, only while exported (ADR 0041)", () => {
  it.effect("not exported: a domain step (ClientAuth.authenticate) makes no span at all", () =>
    Effect.gen(function*() {
      expect(yield* spansOf(authenticate)).toEqual(["parent"])
    }))

  it.effect("exported: the same step is one span of its name, inside its caller's", () =>
    Effect.gen(function*() {
      expect(yield* spansOf(Effect.locally(authenticate, Tracing.exported, true))).toEqual(["parent", "ClientAuth.authenticate"])
    }))
})
