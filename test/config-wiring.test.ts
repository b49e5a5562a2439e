import { expect } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { SigningKeys, Tokens } from "@tessera/domain"
import * as TestLive from "./support/TestLive.js"

const it = TestLive.file()

it.effect("configuration reaches the policies the domain runs on (keys, refresh lifetimes)", () =>
  Effect.gen(function*() {
    const tokens = yield* Tokens.TokenPolicy
    expect(tokens.refresh).toEqual({ idleLifetime: Duration.hours(1), absoluteLifetime: Duration.hours(2) })
    expect(tokens.lifetimes).toEqual(Tokens.defaultLifetimes)
    expect((yield* SigningKeys.KeyPolicy).rotateEvery).toEqual(Duration.days(2))
  }).pipe(Effect.provide(TestLive.world({
    refreshPolicy: { idleLifetime: Duration.hours(1), absoluteLifetime: Duration.hours(2) },
    keyPolicy: { ...TestLive.config.keyPolicy, rotateEvery: Duration.days(2) }
  }))))
