/**
 * Group commit (ADR 0022): items submitted under one key while that key's flush is running wait and go together, in
 * arrival order, in the next flush; each submitter is answered with its flush's outcome, only once it is known.
 */
import { Effect, Exit, FiberSet } from "effect"

/**
 * A submitter waiting for its flush: `resume` answers it, once (Effect.async ignores any later call, and any call
 * after the submitter was interrupted).
 */
interface Waiter<A, E> {
  readonly item: A
  readonly resume: (outcome: Exit.Exit<void, E>) => void
}

/** Answers each waiter of a batch with its outcome (a waiter is answered once: it leaves `inFlight` or `queue` first). */
const answer = <A, E>(waiters: ReadonlyArray<Waiter<A, E>>, outcome: Exit.Exit<void, E>) => {
  for (const w of waiters) w.resume(outcome)
}

/** A key's lane exists exactly while a flush loop runs for it; `inFlight` is the batch being flushed. */
interface Lane<A, E> {
  readonly queue: Array<Waiter<A, E>>
  inFlight: ReadonlyArray<Waiter<A, E>>
}

export interface GroupCommit<K, A, E> {
  /** Waits until `item` was flushed; fails as its batch's flush failed. Interrupting the wait leaves the item queued. */
  readonly submit: (key: K, item: A) => Effect.Effect<void, E>
}

/**
 * Flush loops run in the scope's fibers, not the submitters': a submitter that is interrupted neither stops a flush
 * nor loses its place. When the scope closes, whoever still waits is interrupted.
 */
export const make = <K, A, E>(options: {
  /** At most this many items per flush. */
  readonly maxBatch: number
  /** Writes `items`, all of `key`, in order, atomically. */
  readonly flush: (key: K, items: ReadonlyArray<A>) => Effect.Effect<void, E>
}) =>
  Effect.gen(function*() {
    const runFork = yield* FiberSet.makeRuntime<never, void, never>()
    const lanes = new Map<K, Lane<A, E>>()

    const drain = (key: K, lane: Lane<A, E>): Effect.Effect<void> =>
      Effect.suspend(() => {
        const batch = lane.queue.splice(0, options.maxBatch)
        lane.inFlight = batch
        if (batch.length === 0) {
          lanes.delete(key)
          return Effect.void
        }
        const items = new Array<A>(batch.length)
        for (let i = 0; i < batch.length; i++) items[i] = batch[i]!.item
        return Effect.flatMap(Effect.exit(options.flush(key, items)), (exit) => {
          // a failure or a defect of the flush is every waiter's of this batch, and only theirs
          const outcome: Exit.Exit<void, E> = Exit.isSuccess(exit) ? Exit.void : exit
          // answered now, so that nothing (an interruption before the next batch) answers them again
          lane.inFlight = []
          answer(batch, outcome)
          return drain(key, lane)
        })
      })

    const enqueue = (key: K, item: A, resume: (outcome: Exit.Exit<void, E>) => void) => {
      const waiter: Waiter<A, E> = { item, resume }
      const running = lanes.get(key)
      if (running !== undefined) {
        running.queue.push(waiter)
        return
      }
      // no flush for this key: one starts at once, with this item
      const lane: Lane<A, E> = { queue: [waiter], inFlight: [] }
      lanes.set(key, lane)
      const fiber = runFork(drain(key, lane))
      fiber.addObserver((exit) => {
        if (Exit.isSuccess(exit)) return
        // the loop was interrupted (the scope closed): nobody may be left waiting for it
        if (lanes.get(key) === lane) lanes.delete(key)
        const interrupted = Exit.interrupt(fiber.id())
        answer(lane.inFlight, interrupted)
        answer(lane.queue.splice(0), interrupted)
      })
    }

    const submit = (key: K, item: A): Effect.Effect<void, E> =>
      // no canceler: an interrupted submitter's item stays queued, and its later `resume` is ignored
      Effect.async<void, E>((resume) => enqueue(key, item, resume))

    return { submit } satisfies GroupCommit<K, A, E>
  })
