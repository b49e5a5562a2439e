/**
 * ADR 0051: test files run one after another in a worker that keeps its modules (`isolate: false`), so what one file
 * changes in a shared module must be undone before the next (test/support/perFile.ts). Here, @effect/vitest's shared
 * `it`, which a `layer(...)` block rewrites: as another file's block would have, before this file.
 */
import { effect, it, layer } from "@effect/vitest"
import { Clock, Duration, Effect, Layer, TestClock } from "effect"
import { describe, expect } from "vitest"
import { restoreEffectVitest } from "./support/FileEnd.js"

// a layer(...) block without the test services (as packages/sql/test/Proofs.ts); unnamed, so it runs now, not when
// vitest collects a describe's body
layer(Layer.empty, { excludeTestServices: true })((it) => {
  it.effect("a layer(...) block without the test services runs on the live clock", () =>
    Effect.map(Clock.currentTimeMillis, (now) => expect(now).toBeGreaterThan(0)))
})

// what @effect/vitest 0.30 does: the block's testers are now on the `it` every later file of the worker imports
const rewritten = it.effect !== effect

// what test/support/perFile.ts does before each file
restoreEffectVitest()

describe("ADR 0051: a file's layer(...) block does not reach the files after it in the worker", () => {
  it("the block rewrote the shared it.effect (the leak perFile.ts undoes)", () => {
    expect(rewritten).toBe(true)
  })

  it.effect("after the restore, it.effect runs on TestClock again: time moves only when the test moves it", () =>
    Effect.gen(function*() {
      expect(yield* Clock.currentTimeMillis).toBe(0)
      yield* TestClock.adjust(Duration.days(1))
      expect(yield* Clock.currentTimeMillis).toBe(86_400_000)
    }))
})
