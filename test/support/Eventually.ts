/** Waiting, in real time, for work the app does in the background (e.g. a rotation that TestClock woke). */
import { Effect } from "effect"

const realSleep = (ms: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))

/** Runs `read` until `done` holds (or `timeoutMs` of real time pass) and returns the last value read. */
export const eventually = <A, E, R>(read: Effect.Effect<A, E, R>, done: (a: A) => boolean, timeoutMs = 10_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMs
    let value = yield* read
    while (!done(value) && Date.now() < deadline) {
      yield* realSleep(25)
      value = yield* read
    }
    return value
  })
