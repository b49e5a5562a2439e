/**
 * ADR 0007: an audit link's hash covers `AuditChain.canonical(event)`, so its bytes may never change. The fast
 * `canonicalJson`/`canonical` are held to the plain form they replaced (kept in CanonicalOracle.ts as the oracle),
 * over hand-picked and generated values.
 */
import { describe, expect, it } from "@effect/vitest"
import { DateTime } from "effect"
import { AuditChain } from "@tessera/domain"
import type { AuditEvent } from "@tessera/domain"
import { awkward, generate, oracle, oracleJson, prng } from "./CanonicalOracle.js"

const eventOf = (random: () => number, value: (depth: number) => unknown): AuditEvent.AuditEvent => {
  const maybe = <A>(a: A) => (random() < 0.5 ? a : undefined)
  const text = () => String(value(4))
  // members present but undefined, as a spread draft carries them at run time: canonical drops them
  return {
    id: crypto.randomUUID(),
    at: DateTime.unsafeMake(Math.floor(random() * 4102444800000)),
    realmId: crypto.randomUUID(),
    realm: text(),
    type: "token.exchanged",
    actor: { type: "agent", id: text() },
    subject: maybe(text()),
    clientId: maybe(text()),
    grantType: maybe("urn:ietf:params:oauth:grant-type:token-exchange"),
    resource: maybe(text()),
    scope: maybe(text()),
    // RFC 8693 §4.1: a nested delegation chain
    act: maybe(value(0)),
    result: random() < 0.5 ? "success" : "failure",
    reason: maybe(text()),
    ip: maybe("2001:db8::1"),
    userAgent: maybe(text())
  } as AuditEvent.AuditEvent
}

describe("ADR 0007 canonical(event): the bytes every audit link hashes", () => {
  it("canonicalJson equals the reference on hand-picked values", () => {
    const values: ReadonlyArray<unknown> = [
      null, true, 0, -0, 12.5, Number.NaN, "", ...awkward,
      [], [1, undefined, null, "x"], [undefined], [[[]]], new Array(3), [() => 1, Symbol("s")],
      {}, { b: 1, a: 2 }, { z: undefined, y: null }, { "10": 1, "2": 2, "a": 3, "A": 4, "ä": 5, "😀": 6, "\ud800": 7 },
      { "quo\"te": { "back\\": ["\n", { deep: { deeper: [undefined, { x: undefined }] } }] } },
      { f: () => 1 }, { date: new Date(0) }, { nested: { act: { sub: "a", act: { sub: "b", act: { sub: "c" } } } } }
    ]
    for (const value of values) expect(AuditChain.canonicalJson(value)).toBe(oracleJson(value))
  })

  it("canonicalJson equals the reference on 2000 generated values", () => {
    const random = prng(7)
    const value = generate(random)
    for (let i = 0; i < 2000; i++) {
      const v = value(0)
      expect(AuditChain.canonicalJson(v), JSON.stringify(v)).toBe(oracleJson(v))
    }
  })

  it("canonical equals the reference on 2000 generated events (absent fields, nested act, unicode, escapes)", () => {
    const random = prng(11)
    const value = generate(random)
    for (let i = 0; i < 2000; i++) {
      const event = eventOf(random, value)
      expect(AuditChain.canonical(event)).toBe(oracle(event))
    }
  })

  it("canonical of a token.issued event is exactly these bytes (time as RFC 3339 with milliseconds, UTC)", () => {
    const event = {
      id: "0b6f8a44-7c1e-4a53-9a55-0e4a4a1c2f10",
      at: DateTime.unsafeMake("2026-11-29T12:00:00.5+02:00"),
      realmId: "2f3c0d6e-1b7a-4c8e-9f00-5d7e6a1b2c3d",
      realm: "acme",
      type: "token.issued",
      actor: { type: "client", id: "svc" },
      subject: undefined,
      clientId: "svc",
      grantType: "client_credentials",
      resource: "https://api.example.com/",
      scope: "read write",
      result: "success"
    } as unknown as AuditEvent.AuditEvent
    expect(AuditChain.canonical(event)).toBe(
      `{"actor":{"id":"svc","type":"client"},"at":"2026-11-29T10:00:00.500Z","clientId":"svc",` +
        `"grantType":"client_credentials","id":"0b6f8a44-7c1e-4a53-9a55-0e4a4a1c2f10","realm":"acme",` +
        `"realmId":"2f3c0d6e-1b7a-4c8e-9f00-5d7e6a1b2c3d","resource":"https://api.example.com/","result":"success",` +
        `"scope":"read write","type":"token.issued"}`
    )
    expect(AuditChain.canonical(event)).toBe(oracle(event))
  })

  it("canonical equals the reference on events with members beyond AuditEvent's, members null, or members missing", () => {
    const random = prng(13)
    const value = generate(random)
    for (let i = 0; i < 1000; i++) {
      const event: Record<string, unknown> = { ...eventOf(random, value) }
      const r = random()
      if (r < 0.25) event[String(value(4))] = value(1)
      else if (r < 0.5) event["subject"] = null
      else if (r < 0.75) delete event["actor"]
      else event["actor"] = value(2)
      expect(AuditChain.canonical(event as unknown as AuditEvent.AuditEvent)).toBe(oracle(event as unknown as AuditEvent.AuditEvent))
    }
  })

  it("the time is toISOString's for 20 000 instants in order and at random, across days, months and years (its day is reused)", () => {
    const random = prng(17)
    const instants: Array<number> = []
    // a trail's order: 100 ms apart across midnight, a month's end and a leap day
    for (const start of [Date.UTC(2026, 0, 1) - 5_000, Date.UTC(2024, 1, 29, 23, 59, 59), Date.UTC(1999, 11, 31, 23, 59, 59, 990)]) {
      for (let i = 0; i < 2000; i++) instants.push(start + i * 100 + (i % 7))
    }
    for (let i = 0; i < 14_000; i++) instants.push(Math.floor((random() - 0.2) * 300_000_000_000_000))
    for (const millis of instants) {
      const event = { ...eventOf(prng(1), generate(prng(2))), at: DateTime.unsafeMake(millis) }
      expect(AuditChain.time(event), String(millis)).toBe(new Date(millis).toISOString())
    }
  })

  it("the time is DateTime.formatIso's, for instants from year 0 to past 9999 and for a zoned time", () => {
    for (const millis of [-62167219200000, -1, 0, 1, 999, 1764417600123, 253402300799999, 253402300800000, 8.64e15]) {
      const event = { ...eventOf(prng(millis), generate(prng(1))), at: DateTime.unsafeMake(millis) }
      expect(AuditChain.time(event)).toBe(DateTime.formatIso(event.at))
      expect(AuditChain.canonical(event)).toBe(oracle(event))
    }
    const zoned = DateTime.unsafeMakeZoned(1764417600123, { timeZone: "Asia/Kolkata" })
    const event = { ...eventOf(prng(3), generate(prng(4))), at: zoned as unknown as DateTime.Utc }
    expect(AuditChain.time(event)).toBe(DateTime.formatIso(zoned))
    expect(AuditChain.canonical(event)).toBe(oracle(event))
  })
})
