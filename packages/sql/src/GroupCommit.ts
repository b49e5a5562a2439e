/**
 * Group commit (ADR 0022): items submitted under one key while that key's flush is running wait and go together, in
 * arrival order, in the next flush; each submitter is answered with its flush's outcome, only once it is known.
 */
import { Deferred, Effect, Exit, FiberSet } from "effect"

interface Waiter<A, E> {
  readonly item: A
  readonly done: Deferred.Deferred<void, E>
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
        return options.flush(key, batch.map((w) => w.item)).pipe(
          // a failure or a defect of the flush is every waiter's of this batch, and only theirs
          Effect.asVoid,
          Effect.exit,
          Effect.flatMap((exit) => Effect.forEach(batch, (w) => Deferred.done(w.done, exit), { discard: true })),
          Effect.zipRight(drain(key, lane))
        )
      })

    const submit = (key: K, item: A): Effect.Effect<void, E> =>
      Effect.flatMap(Deferred.make<void, E>(), (done) =>
        Effect.zipRight(
          Effect.sync(() => {
            const running = lanes.get(key)
            if (running !== undefined) {
              running.queue.push({ item, done })
              return
            }
            // no flush for this key: one starts at once, with this item
            const lane: Lane<A, E> = { queue: [{ item, done }], inFlight: [] }
            lanes.set(key, lane)
            const fiber = runFork(drain(key, lane))
            fiber.addObserver((exit) => {
              if (Exit.isSuccess(exit)) return
              // the loop was interrupted (the scope closed): nobody may be left waiting for it
              if (lanes.get(key) === lane) lanes.delete(key)
              for (const w of [...lane.inFlight, ...lane.queue.splice(0)]) Deferred.unsafeDone(w.done, Exit.interrupt(fiber.id()))
            })
          }),
          Deferred.await(done)
        ))

    return { submit } satisfies GroupCommit<K, A, E>
  })
