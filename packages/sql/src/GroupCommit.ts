/**
 * Group commit (ADR 0022): items submitted under one key while that key's flush is running wait and go together, in
 * arrival order, in the next flush; each submitter is answered with its flush's outcome, only once it is known: its
 * own item's answer when the flush succeeded (ADR 0056), the flush's failure otherwise.
 */
import { Effect, Exit, FiberSet } from "effect"
import type { Scope } from "effect"

/**
 * A submitter waiting for its flush: `resume` answers it, once (Effect.async ignores any later call, and any call
 * after the submitter was interrupted).
 */
interface Waiter<A, B, E> {
  readonly item: A
  readonly resume: (outcome: Exit.Exit<B, E>) => void
}

/**
 * Answers each waiter of a batch (a waiter is answered once: it leaves `inFlight` or `queue` first): with its own
 * item's answer when the flush succeeded; with the flush's failure or defect otherwise, and with a defect when the
 * flush answered a number of items other than it was given (a bug of the flush: no waiter gets another's answer).
 */
const answer = <A, B, E>(waiters: ReadonlyArray<Waiter<A, B, E>>, outcome: Exit.Exit<ReadonlyArray<B>, E>) => {
  if (Exit.isSuccess(outcome) && outcome.value.length === waiters.length) {
    const answers = outcome.value
    for (let i = 0; i < waiters.length; i++) waiters[i]!.resume(Exit.succeed(answers[i]!))
    return
  }
  const failed: Exit.Exit<never, E> = Exit.isFailure(outcome)
    ? Exit.failCause(outcome.cause)
    : Exit.die(new Error(`group commit: the flush answered ${outcome.value.length} of ${waiters.length} items`))
  for (const w of waiters) w.resume(failed)
}

/** A key's lane exists exactly while a flush loop runs for it; `inFlight` is the batch being flushed. */
interface Lane<A, B, E> {
  readonly queue: Array<Waiter<A, B, E>>
  inFlight: ReadonlyArray<Waiter<A, B, E>>
}

export interface GroupCommit<K, A, E, B = void> {
  /**
   * Waits until `item` was flushed and answers what the flush answered for it; fails as its batch's flush failed.
   * Interrupting the wait leaves the item queued.
   */
  readonly submit: (key: K, item: A) => Effect.Effect<B, E>
}

/**
 * ADR 0056: a group commit whose flush answers each item (`answers[i]` is `items[i]`'s), so that every submitter
 * learns what happened to its own item. Flush loops run in the scope's fibers, not the submitters': a submitter that
 * is interrupted neither stops a flush nor loses its place. When the scope closes, whoever still waits is interrupted.
 */
export const makeAnswering = <K, A, B, E>(options: {
  /** At most this many items per flush. */
  readonly maxBatch: number
  /** Writes `items`, all of `key`, in order, atomically, and answers each of them, in the same order. */
  readonly flush: (key: K, items: ReadonlyArray<A>) => Effect.Effect<ReadonlyArray<B>, E>
}) =>
  Effect.gen(function*() {
    const runFork = yield* FiberSet.makeRuntime<never, void, never>()
    const lanes = new Map<K, Lane<A, B, E>>()

    const drain = (key: K, lane: Lane<A, B, E>): Effect.Effect<void> =>
      Effect.suspend(() => {
        const batch = lane.queue.splice(0, options.maxBatch)
        lane.inFlight = batch
        if (batch.length === 0) {
          lanes.delete(key)
          return Effect.void
        }
        const items = new Array<A>(batch.length)
        for (let i = 0; i < batch.length; i++) items[i] = batch[i]!.item
        // a failure or a defect of the flush is every waiter's of this batch, and only theirs
        return Effect.flatMap(Effect.exit(options.flush(key, items)), (outcome) => {
          // answered now, so that nothing (an interruption before the next batch) answers them again
          lane.inFlight = []
          answer(batch, outcome)
          return drain(key, lane)
        })
      })

    const enqueue = (key: K, item: A, resume: (outcome: Exit.Exit<B, E>) => void) => {
      const waiter: Waiter<A, B, E> = { item, resume }
      const running = lanes.get(key)
      if (running !== undefined) {
        running.queue.push(waiter)
        return
      }
      // no flush for this key: one starts at once, with this item
      const lane: Lane<A, B, E> = { queue: [waiter], inFlight: [] }
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

    const submit = (key: K, item: A): Effect.Effect<B, E> =>
      // no canceler: an interrupted submitter's item stays queued, and its later `resume` is ignored
      Effect.async<B, E>((resume) => enqueue(key, item, resume))

    return { submit } satisfies GroupCommit<K, A, E, B>
  })

/**
 * ADR 0022: a group commit whose flush only writes (the audit's appends): each submitter is answered with its batch's
 * outcome.
 */
export const make = <K, A, E>(options: {
  /** At most this many items per flush. */
  readonly maxBatch: number
  /** Writes `items`, all of `key`, in order, atomically. */
  readonly flush: (key: K, items: ReadonlyArray<A>) => Effect.Effect<void, E>
}): Effect.Effect<GroupCommit<K, A, E>, never, Scope.Scope> =>
  makeAnswering<K, A, void, E>({
    maxBatch: options.maxBatch,
    // one `void` per item (a sparse array: nothing to fill)
    flush: (key, items) => Effect.as(options.flush(key, items), new Array<void>(items.length))
  })
