/**
 * The domain's spans (ADR 0041): each grant, client authentication and flow step is a span while spans are exported
 * (`OTEL_EXPORTER_OTLP_ENDPOINT`, CONTRACT §1), and nothing at all otherwise: no span object, no stack trace, no
 * context copy. Effect's `Effect.fn(name)` makes an in-memory span and captures its call site on every call, whether
 * or not anything exports it; a step here is `Effect.fnUntraced(body, Tracing.span(name))`.
 */
import { Effect, FiberRef } from "effect"
import type { Tracer } from "effect"

/** Whether spans are exported: set by the layer that installs the exporter (server-node `Traces.layer`). */
export const exported: FiberRef.FiberRef<boolean> = FiberRef.unsafeMake(false)

/** `effect` inside a span `name`, only while spans are exported; as is otherwise (no span is made). */
export const span = (name: string, options: Tracer.SpanOptions = {}) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.withFiberRuntime<A, E, R>((fiber) => (fiber.getFiberRef(exported) ? Effect.withSpan(effect, name, options) : effect))
