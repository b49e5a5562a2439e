/**
 * What a test file opened for all its tests and closes after its last one, whether or not vitest gives each file a
 * fresh module graph: `test/support/perFile.ts` (a setup file, run again before every file) registers `closeAll` as
 * that file's `afterAll`. A module-level `afterAll` in a support module would be registered only by the first file
 * of a worker once modules are shared between files (vitest.config.ts `isolate: false`). Also what a file changes in
 * a shared module and the next file must not see (`restoreEffectVitest`).
 */
import * as EffectVitest from "@effect/vitest"

const closers = new Set<() => Promise<void>>()

/** Runs `close` after the current file's last test. */
export const onFileEnd = (close: () => Promise<void>) => {
  closers.add(close)
}

/**
 * Closes the last opened first (a pool before the database it is connected to is dropped), every one of them even
 * when one fails; the first failure is then reported.
 */
export const closeAll = async () => {
  const failures: Array<unknown> = []
  for (const close of [...closers].reverse()) {
    closers.delete(close)
    await close().catch((failure: unknown) => failures.push(failure))
  }
  if (failures.length > 0) throw failures[0]
}

/**
 * Puts back @effect/vitest's own testers on the `it` every file shares. @effect/vitest 0.30's `layer(...)` assigns its
 * `effect`, `scoped`, `layer`, `flakyTest` and `prop` onto that one object (vitest's own `it`, `Object.assign(V.it,
 * ...)`) and never undoes it: every later `it.effect` of the worker, in any later file, ran with that layer's runtime
 * (its scope already closed), and without TestClock when the layer excluded the test services
 * (packages/sql/test/Proofs.ts): "testClock.adjust is not a function" in test/key-lifecycle.test.ts after
 * packages/sql/test/PostgresProofs.test.ts in one worker (ADR 0051). Run before each file (perFile.ts).
 */
export const restoreEffectVitest = () => {
  Object.assign(EffectVitest.it, {
    effect: EffectVitest.effect,
    scoped: EffectVitest.scoped,
    live: EffectVitest.live,
    scopedLive: EffectVitest.scopedLive,
    layer: EffectVitest.layer,
    flakyTest: EffectVitest.flakyTest,
    prop: EffectVitest.prop
  })
}
