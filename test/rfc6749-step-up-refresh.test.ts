/**
 * CONTRACT §5 "Step-up" at the refresh grant (RFC 6749 §6): a refreshed token keeps a resource's step-up scope only
 * while the login behind it is at most 5 minutes old (`StepUp.freshAuthenticationSeconds`); later refreshes leave it
 * out, and a grant of step-up scopes only has nothing left to refresh (invalid_scope, ADR 0025). A world per test, so
 * TestClock may move (minutes only).
 */
import { expect } from "@effect/vitest"
import { Duration, Effect, TestClock } from "effect"
import { StepUp } from "@tessera/domain"
import { admin } from "./support/Http.js"
import * as TestLive from "./support/TestLive.js"
import {
  auditOf, authOf, exchange, expectTokenError, expectTokenResponse, issueCode, nowSeconds, refresh, registerClient, resourceTokens, userAgent,
  verify, world
} from "./support/TokenFixtures.js"
import type { World } from "./support/TokenFixtures.js"

const it = TestLive.file()

/** A payments resource whose `payments:send` needs step-up (CONTRACT §6's example), and a person's grant of `scopes` for it just now. */
const stepUpGrant = (scopes: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const w = yield* world
    const payments = `https://payments.example/${w.name}/mcp`
    const created = yield* admin.post(`/admin/realms/${w.name}/resources`, {
      uri: payments, scopes: ["mcp:tools", "payments:send"], step_up_scopes: ["payments:send"]
    })
    expect(created.status).toBe(201)
    const client = yield* registerClient(w, { resources: [payments] })
    const loginAt = yield* nowSeconds
    const code = yield* issueCode(w, { clientId: client.client_id, scopes, resources: [payments] })
    const first = yield* exchange(w, authOf(client), code)
    expectTokenResponse(first, resourceTokens(scopes.join(" ")))
    return { w, payments, client, loginAt, refreshToken: (first.json as { refresh_token: string }).refresh_token }
  })

/** The refreshed access token's claims: its scope, and auth_time still the step-up login's. */
const expectAccessToken = (w: World, res: { json: unknown }, audience: string, scope: string, authTime: number) =>
  Effect.gen(function*() {
    const { payload } = yield* verify(w, (res.json as { access_token: string }).access_token)
    expect(payload).toMatchObject({ aud: audience, scope, auth_time: authTime })
  })

/**
 * Every test here has its own world; on a SQL store the first one also opens the file's database (PGlite: every
 * migration), which on a busy machine takes most of vitest's 30 s: the hook timeout's minute instead.
 */
const openingTimeout = 60_000

const freshAuthenticationRequired = {
  error: "invalid_scope", error_description: "fresh authentication required: a requested scope is a step-up scope of the resource"
}

it.effect("CONTRACT §5 Step-up: a refresh 4 minutes after the step-up login keeps payments:send; 6 minutes after, leaves it out", () =>
  Effect.gen(function*() {
    const { client, loginAt, payments, refreshToken, w } = yield* stepUpGrant(["mcp:tools", "payments:send"])
    expect(StepUp.freshAuthenticationSeconds).toBe(300)
    yield* TestClock.adjust(Duration.minutes(4))
    const kept = yield* refresh(w, authOf(client), refreshToken)
    expectTokenResponse(kept, resourceTokens("mcp:tools payments:send"))
    yield* expectAccessToken(w, kept, payments, "mcp:tools payments:send", loginAt)
    yield* TestClock.adjust(Duration.minutes(2))
    const dropped = yield* refresh(w, authOf(client), (kept.json as { refresh_token: string }).refresh_token)
    expectTokenResponse(dropped, resourceTokens("mcp:tools"))
    yield* expectAccessToken(w, dropped, payments, "mcp:tools", loginAt)
    // asked for by name, it is left out all the same (RFC 6749 §3.3: the response's scope says what was issued)
    const asked = yield* refresh(w, authOf(client), (dropped.json as { refresh_token: string }).refresh_token, { scope: "mcp:tools payments:send" })
    expectTokenResponse(asked, resourceTokens("mcp:tools"))
    yield* expectAccessToken(w, asked, payments, "mcp:tools", loginAt)
    // the grant still holds it: the trail says what each refresh issued, and why the scope is narrower
    const [latest, second, first] = yield* auditOf(w, "token.refreshed")
    const refreshed = {
      id: expect.any(String), at: expect.any(String), realm: w.name, type: "token.refreshed", actor: { type: "client", id: client.client_id },
      subject: w.sub, client_id: client.client_id, grant_type: "refresh_token", resource: payments, result: "success", ip: "127.0.0.1",
      user_agent: userAgent
    }
    const leftOut = "step-up scope left out: the login is older than 300 seconds"
    expect([first, second, latest]).toEqual([
      { ...refreshed, scope: "mcp:tools payments:send" },
      { ...refreshed, scope: "mcp:tools", reason: leftOut },
      { ...refreshed, scope: "mcp:tools", reason: leftOut }
    ])
  }).pipe(Effect.provide(TestLive.world())), openingTimeout)

it.effect("CONTRACT §5 Step-up: exactly 5 minutes after the login still keeps it", () =>
  Effect.gen(function*() {
    const { client, refreshToken, w } = yield* stepUpGrant(["mcp:tools", "payments:send"])
    yield* TestClock.adjust(Duration.minutes(5))
    expectTokenResponse(yield* refresh(w, authOf(client), refreshToken), resourceTokens("mcp:tools payments:send"))
  }).pipe(Effect.provide(TestLive.world())), openingTimeout)

it.effect("CONTRACT §5 Step-up: a grant of step-up scopes only: after 5 minutes a refresh is invalid_scope, and nothing is rotated", () =>
  Effect.gen(function*() {
    const { client, refreshToken, w } = yield* stepUpGrant(["payments:send"])
    yield* TestClock.adjust(Duration.minutes(1))
    const kept = yield* refresh(w, authOf(client), refreshToken)
    expectTokenResponse(kept, resourceTokens("payments:send"))
    const current = (kept.json as { refresh_token: string }).refresh_token
    yield* TestClock.adjust(Duration.minutes(5))
    expectTokenError(yield* refresh(w, authOf(client), current), freshAuthenticationRequired)
    // refused before anything was written: the same refresh token is still the current one, not a reuse
    expectTokenError(yield* refresh(w, authOf(client), current), freshAuthenticationRequired)
    expect(yield* auditOf(w, "refresh.reuse_detected")).toEqual([])
    expect((yield* auditOf(w, "token.refreshed")).length).toBe(1)
  }).pipe(Effect.provide(TestLive.world())), openingTimeout)
