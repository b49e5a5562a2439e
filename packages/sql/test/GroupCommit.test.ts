/**
 * ADR 0022's group commit on its own, with a flush that records its batches and waits until the test lets it finish:
 * arrival order, one outcome per batch, interrupted submitters, and the scope's close.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Option, Scope } from "effect"
import * as GroupCommit from "../src/GroupCommit.js"

/** A flush per batch, each held until `finish` completes it with an outcome. */
const harness = Effect.gen(function*() {
  const batches: Array<{ readonly key: string; readonly items: ReadonlyArray<number> }> = []
  const gates: Array<Deferred.Deferred<void, string>> = []
  const scope = yield* Scope.make()
  const group = yield* GroupCommit.make({
    maxBatch: 3,
    flush: (key: string, items: ReadonlyArray<number>) =>
      Effect.flatMap(Deferred.make<void, string>(), (gate) => {
        batches.push({ key, items: [...items] })
        gates.push(gate)
        return Deferred.await(gate)
      })
  }).pipe(Scope.extend(scope))
  const finish = (i: number, outcome: Exit.Exit<void, string>) =>
    Effect.flatMap(waitFor(() => gates.length > i), () => Deferred.done(gates[i]!, outcome))
  return { batches, group, finish, scope }
})

/** Lets forked fibers run until `ready` holds (they run on the test's scheduler, no clock involved). */
const waitFor = (ready: () => boolean): Effect.Effect<void> =>
  Effect.suspend(() => (ready() ? Effect.void : Effect.zipRight(Effect.yieldNow(), waitFor(ready))))

const submitAll = (group: GroupCommit.GroupCommit<string, number, string>, key: string, items: ReadonlyArray<number>) =>
  Effect.forEach(items, (item) => Effect.fork(group.submit(key, item)))

describe("ADR 0022 group commit: batches, outcomes, interruption", () => {
  it.effect("items arriving during a flush go in the next one, in arrival order, at most maxBatch at a time; each submitter gets its batch's outcome", () =>
    Effect.gen(function*() {
      const { batches, finish, group } = yield* harness
      const [first] = yield* submitAll(group, "a", [1])
      yield* waitFor(() => batches.length === 1)
      const queued = yield* submitAll(group, "a", [2, 3, 4, 5, 6])
      yield* Effect.yieldNow()
      yield* finish(0, Exit.void)
      yield* finish(1, Exit.fail("refused"))
      yield* finish(2, Exit.void)
      expect(yield* Fiber.await(first!)).toEqual(Exit.void)
      const outcomes = yield* Effect.forEach(queued, Fiber.await)
      expect(batches).toEqual([{ key: "a", items: [1] }, { key: "a", items: [2, 3, 4] }, { key: "a", items: [5, 6] }])
      expect(outcomes).toEqual([Exit.fail("refused"), Exit.fail("refused"), Exit.fail("refused"), Exit.void, Exit.void])
    }))

  it.effect("each submitter is answered exactly once, with its own batch's outcome; the lane goes on after a failed batch", () =>
    Effect.gen(function*() {
      const { batches, finish, group } = yield* harness
      const [first] = yield* submitAll(group, "a", [1])
      yield* waitFor(() => batches.length === 1)
      const refused = yield* submitAll(group, "a", [2, 3, 4])
      yield* Effect.yieldNow()
      yield* finish(0, Exit.void)
      yield* finish(1, Exit.fail("refused"))
      expect(yield* Fiber.await(first!)).toEqual(Exit.void)
      expect(yield* Effect.forEach(refused, Fiber.await)).toEqual([Exit.fail("refused"), Exit.fail("refused"), Exit.fail("refused")])
      // the lane goes on: a later item is flushed and answered with its own batch's outcome, not an earlier one's
      const [later] = yield* submitAll(group, "a", [5])
      yield* finish(2, Exit.void)
      expect(yield* Fiber.await(later!)).toEqual(Exit.void)
      const [last] = yield* submitAll(group, "a", [6])
      yield* finish(3, Exit.fail("full"))
      expect(yield* Fiber.await(last!)).toEqual(Exit.fail("full"))
      expect(batches).toEqual([
        { key: "a", items: [1] }, { key: "a", items: [2, 3, 4] }, { key: "a", items: [5] }, { key: "a", items: [6] }
      ])
    }))

  it.effect("a defect of the flush is every waiter's of its batch", () =>
    Effect.gen(function*() {
      const { finish, group } = yield* harness
      const waiters = yield* submitAll(group, "a", [1])
      yield* finish(0, Exit.die("boom"))
      const exit = yield* Fiber.await(waiters[0]!)
      expect(Exit.isFailure(exit) && Option.getOrUndefined(Cause.dieOption(exit.cause))).toBe("boom")
    }))

  it.effect("keys flush independently", () =>
    Effect.gen(function*() {
      const { batches, finish, group } = yield* harness
      const a = yield* submitAll(group, "a", [1])
      const b = yield* submitAll(group, "b", [2])
      yield* waitFor(() => batches.length === 2)
      expect(batches).toEqual([{ key: "a", items: [1] }, { key: "b", items: [2] }])
      yield* finish(1, Exit.void)
      expect(yield* Fiber.await(b[0]!)).toEqual(Exit.void)
      expect(a[0]!.unsafePoll()).toBe(null)
      yield* finish(0, Exit.void)
      expect(yield* Fiber.await(a[0]!)).toEqual(Exit.void)
    }))

  it.effect("an interrupted submitter's item stays queued and is flushed; the others are answered", () =>
    Effect.gen(function*() {
      const { batches, finish, group } = yield* harness
      const [first] = yield* submitAll(group, "a", [1])
      yield* waitFor(() => batches.length === 1)
      const [gone, kept] = yield* submitAll(group, "a", [2, 3])
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(gone!)
      yield* finish(0, Exit.void)
      yield* finish(1, Exit.void)
      expect(yield* Fiber.await(first!)).toEqual(Exit.void)
      expect(yield* Fiber.await(kept!)).toEqual(Exit.void)
      expect(Exit.isInterrupted(yield* Fiber.await(gone!))).toBe(true)
      expect(batches).toEqual([{ key: "a", items: [1] }, { key: "a", items: [2, 3] }])
    }))

  it.effect("closing the scope interrupts whoever waits, in flight or queued", () =>
    Effect.gen(function*() {
      const { batches, group, scope } = yield* harness
      const [inFlight] = yield* submitAll(group, "a", [1])
      yield* waitFor(() => batches.length === 1)
      const queued = yield* submitAll(group, "a", [2, 3])
      yield* Effect.yieldNow()
      yield* Scope.close(scope, Exit.void)
      for (const fiber of [inFlight!, ...queued]) expect(Exit.isInterrupted(yield* Fiber.await(fiber))).toBe(true)
      expect(batches).toEqual([{ key: "a", items: [1] }])
    }))
})

/** As `harness`, for a flush that answers each item (ADR 0056): each batch held until `finish` gives its answers. */
const answering = Effect.gen(function*() {
  const batches: Array<ReadonlyArray<number>> = []
  const gates: Array<Deferred.Deferred<ReadonlyArray<string>, string>> = []
  const group = yield* GroupCommit.makeAnswering({
    maxBatch: 3,
    flush: (_key: string, items: ReadonlyArray<number>) =>
      Effect.flatMap(Deferred.make<ReadonlyArray<string>, string>(), (gate) => {
        batches.push([...items])
        gates.push(gate)
        return Deferred.await(gate)
      })
  })
  const finish = (i: number, outcome: Exit.Exit<ReadonlyArray<string>, string>) =>
    Effect.flatMap(waitFor(() => gates.length > i), () => Deferred.done(gates[i]!, outcome))
  return { batches, group, finish }
})

describe("ADR 0056 group commit with an answer per item", () => {
  it.scoped("each submitter gets its own item's answer, in its batch's order; a failed batch fails each of its submitters", () =>
    Effect.gen(function*() {
      const { batches, finish, group } = yield* answering
      const [first] = yield* Effect.forEach([1], (item) => Effect.fork(group.submit("a", item)))
      yield* waitFor(() => batches.length === 1)
      const queued = yield* Effect.forEach([2, 3, 4, 5], (item) => Effect.fork(group.submit("a", item)))
      yield* Effect.yieldNow()
      yield* finish(0, Exit.succeed(["one"]))
      yield* finish(1, Exit.succeed(["two", "three", "four"]))
      yield* finish(2, Exit.fail("refused"))
      expect(yield* Fiber.await(first!)).toEqual(Exit.succeed("one"))
      expect(yield* Effect.forEach(queued, Fiber.await)).toEqual([
        Exit.succeed("two"), Exit.succeed("three"), Exit.succeed("four"), Exit.fail("refused")
      ])
      expect(batches).toEqual([[1], [2, 3, 4], [5]])
    }))

  it.scoped("a flush that answers another number of items than it was given is a defect for each of its batch, answered once; the lane goes on", () =>
    Effect.gen(function*() {
      const { batches, finish, group } = yield* answering
      const [first] = yield* Effect.forEach([1], (item) => Effect.fork(group.submit("a", item)))
      yield* waitFor(() => batches.length === 1)
      const short = yield* Effect.forEach([2, 3], (item) => Effect.fork(group.submit("a", item)))
      yield* Effect.yieldNow()
      yield* finish(0, Exit.succeed(["one", "extra"]))
      yield* finish(1, Exit.succeed(["two"]))
      const defect = (exit: Exit.Exit<string, string>) =>
        Exit.isFailure(exit) ? Option.getOrUndefined(Option.map(Cause.dieOption(exit.cause), (e) => (e as Error).message)) : exit.value
      expect(defect(yield* Fiber.await(first!))).toBe("group commit: the flush answered 2 of 1 items")
      expect((yield* Effect.forEach(short, Fiber.await)).map(defect)).toEqual([
        "group commit: the flush answered 1 of 2 items", "group commit: the flush answered 1 of 2 items"
      ])
      const [later] = yield* Effect.forEach([6], (item) => Effect.fork(group.submit("a", item)))
      yield* finish(2, Exit.succeed(["six"]))
      expect(yield* Fiber.await(later!)).toEqual(Exit.succeed("six"))
      expect(batches).toEqual([[1], [2, 3], [6]])
    }))
})
