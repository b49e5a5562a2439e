import { describe, expect, it } from "@effect/vitest"
import { DateTime, Either } from "effect"
import { StepUp } from "@tessera/domain"
import type { Resource } from "@tessera/domain"

const payments: Resource.Resource = {
  realmId: "r", id: "https://payments.example/mcp", version: 1, uri: "https://payments.example/mcp", scopes: ["mcp:tools", "payments:send"], stepUpScopes: ["payments:send"],
  createdAt: DateTime.unsafeMake(0)
}
const now = 1_000_000

describe("StepUp.withoutStale (CONTRACT §5 \"Step-up\", a refresh)", () => {
  const table: ReadonlyArray<readonly [string, ReadonlyArray<string>, Resource.Resource | undefined, number | undefined, Either.Either<ReadonlyArray<string>, StepUp.FreshAuthenticationRequired>]> = [
    ["a login 4 minutes old keeps the step-up scope", ["mcp:tools", "payments:send"], payments, now - 240, Either.right(["mcp:tools", "payments:send"])],
    ["exactly 5 minutes old keeps it", ["mcp:tools", "payments:send"], payments, now - StepUp.freshAuthenticationSeconds, Either.right(["mcp:tools", "payments:send"])],
    ["one second more leaves it out", ["mcp:tools", "payments:send"], payments, now - 301, Either.right(["mcp:tools"])],
    ["6 minutes old, only step-up scopes: nothing left", ["payments:send"], payments, now - 360, Either.left(new StepUp.FreshAuthenticationRequired({ reason: "stale" }))],
    ["no login at all, only step-up scopes", ["payments:send"], payments, undefined, Either.left(new StepUp.FreshAuthenticationRequired({ reason: "no_authentication" }))],
    ["an old login without step-up scopes changes nothing", ["mcp:tools"], payments, now - 86_400, Either.right(["mcp:tools"])],
    ["an empty scope stays empty (a userinfo token's issuer audience has no resource)", [], undefined, now - 86_400, Either.right([])],
    ["no resource (the issuer as audience): no step-up scopes", ["openid", "payments:send"], undefined, now - 86_400, Either.right(["openid", "payments:send"])]
  ]
  for (const [name, scope, resource, authTime, expected] of table) {
    it(name, () => {
      expect(StepUp.withoutStale(scope, resource, authTime, now)).toStrictEqual(expected)
    })
  }
})
