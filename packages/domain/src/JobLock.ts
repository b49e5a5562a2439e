/** Periodic jobs run on one node at a time: a job is skipped where another node already holds its lock. */
import { Context, Effect, HashMap, Layer, Option, Ref } from "effect"
import type { StoreError } from "./StoreError.js"

export class JobLock extends Context.Tag("@tessera/domain/JobLock")<JobLock, {
  /** Runs `job` if no one else is running the job named `name`; none when it was skipped. */
  readonly tryRun: <A, E, R>(name: string, job: Effect.Effect<A, E, R>) => Effect.Effect<Option.Option<A>, E | StoreError, R>
}>() {}

/** One process: a semaphore per job name. */
export const layerMemory = Layer.effect(JobLock, Effect.gen(function*() {
  const locks = yield* Ref.make(HashMap.empty<string, Effect.Semaphore>())
  const lockOf = (name: string) =>
    Effect.gen(function*() {
      const existing = HashMap.get(yield* Ref.get(locks), name)
      if (Option.isSome(existing)) return existing.value
      const created = yield* Effect.makeSemaphore(1)
      return yield* Ref.modify(locks, (map) =>
        Option.match(HashMap.get(map, name), {
          onSome: (sem) => [sem, map] as const,
          onNone: () => [created, HashMap.set(map, name, created)] as const
        }))
    })
  return JobLock.of({
    tryRun: (name, job) => Effect.flatMap(lockOf(name), (sem) => sem.withPermitsIfAvailable(1)(job))
  })
}))
