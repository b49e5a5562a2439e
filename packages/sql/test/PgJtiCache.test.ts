/**
 * ADR 0056: how one statement's batch of `remember`s is planned, as a table (RFC 9449 §11.1, RFC 7523 §3 item 7): one
 * row per distinct (issuer, jti), and each use answered as if the uses came one after another.
 */
import { describe, expect, it } from "@effect/vitest"
import * as PgJtiCache from "../src/PgJtiCache.js"

const now = 1_000_000
const live = now + 60_000
const use = (jti: string, expiresAt = live, issuer = "c1", at = now): PgJtiCache.Use => ({ issuer, jti, expiresAt, now: at })

describe("ADR 0056: a batch of remembered jtis, planned", () => {
  it("distinct jtis: one row each, in order of first use, each new if its row is", () => {
    expect(PgJtiCache.plan([use("a"), use("b"), use("a", live, "c2")])).toEqual({
      rows: [{ issuer: "c1", jti: "a", expiresAt: live }, { issuer: "c1", jti: "b", expiresAt: live }, { issuer: "c2", jti: "a", expiresAt: live }],
      uses: [{ row: 0, fresh: true }, { row: 1, fresh: true }, { row: 2, fresh: true }],
      now
    })
  })

  it("RFC 9449 §11.1: a later use of a jti the batch holds live is a replay; the row keeps the first use's expiry", () => {
    expect(PgJtiCache.plan([use("a"), use("b"), use("a", live + 5), use("a")])).toEqual({
      rows: [{ issuer: "c1", jti: "a", expiresAt: live }, { issuer: "c1", jti: "b", expiresAt: live }],
      uses: [{ row: 0, fresh: true }, { row: 1, fresh: true }, { row: 0, fresh: false }, { row: 0, fresh: false }],
      now
    })
  })

  it("a use past its expiry is forgotten at once: the next use of its jti is new, and the row takes the later expiry", () => {
    expect(PgJtiCache.plan([use("a", now), use("a", now - 1), use("a"), use("a", live + 5)])).toEqual({
      rows: [{ issuer: "c1", jti: "a", expiresAt: live }],
      uses: [{ row: 0, fresh: true }, { row: 0, fresh: true }, { row: 0, fresh: true }, { row: 0, fresh: false }],
      now
    })
  })

  it("the batch's time is its earliest caller's: a use forgotten for a later caller but not for the earliest is still a replay", () => {
    const plan = PgJtiCache.plan([use("a", now + 10, "c1", now + 20), use("a", live, "c1", now)])
    expect([plan.now, plan.uses]).toEqual([now, [{ row: 0, fresh: true }, { row: 0, fresh: false }]])
  })
})
