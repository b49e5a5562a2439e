/**
 * Issue 12 items 5 and 6 (ADR 0027): login throttling reserves each attempt atomically before the password is verified,
 * keys on the client address (CONTRACT §1) and slows guessing down instead of locking a person or a realm out.
 */
import { expect } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { authorizePath, makeBrowser, onlyForm, pkce, setup } from "./support/Browser.js"
import type { Browser, Response, Setup } from "./support/Browser.js"
import { admin } from "./support/Http.js"
import { loopbackProxies } from "./support/TestLive.js"
import * as TestLive from "./support/TestLive.js"
import type { Store } from "./support/TestLive.js"

const it = TestLive.file()

/** The test client connects over loopback: as a trusted proxy, it names the client in X-Forwarded-For. */
const behindProxy = (store?: Store) => TestLive.world({ trustedProxies: loopbackProxies }, store !== undefined ? { store } : {})

/** The item 5 race on every store: memory, PGlite, and PostgreSQL when `DATABASE_URL` is set. */
const stores: ReadonlyArray<Store> = ["memory", "pglite", ...(process.env["DATABASE_URL"] !== undefined ? ["postgres" as const] : [])]

const from = (address: string) => makeBrowser({ headers: { "x-forwarded-for": address } })

const loginForm = (browser: Browser, s: Setup) => browser.get(authorizePath(s, pkce().challenge))

const login = (browser: Browser, page: Response, username: string, password: string) =>
  browser.submit(onlyForm(page.text), { username, password })

const failures = (s: Setup) =>
  Effect.map(admin.get(`/admin/realms/${s.realm}/audit?type=login.failed&limit=200`), (res) =>
    (res.json.events as Array<{ reason: string; ip: string }>).map((e) => `${e.reason} ${e.ip}`))

for (const store of stores) {
  it.effect(`issue 12 item 5 (${store}): 20 concurrent wrong passwords for one user: at most 5 are verified, the rest answered 429`, () =>
    Effect.gen(function*() {
      const s = yield* setup()
      const browser = from("198.51.100.7")
      const page = yield* loginForm(browser, s)
      const answers = yield* Effect.all(
        Array.from({ length: 20 }, (_, i) => login(browser, page, s.username, `wrong ${i}`)),
        { concurrency: "unbounded" }
      )
      const statuses = answers.map((a) => a.status).sort()
      expect(statuses).toEqual([...Array(5).fill(400), ...Array(15).fill(429)])
      // each verified attempt is one login.failed wrong_password; the throttled ones never reached argon2
      const events = yield* failures(s)
      expect(events.filter((e) => e === "wrong_password 198.51.100.7")).toHaveLength(5)
      expect(events.filter((e) => e === "throttled 198.51.100.7")).toHaveLength(15)
    }).pipe(Effect.provide(behindProxy(store))), 60_000)
}

it.effect("issue 12 item 6, ADR 0027: past the burst each wrong password doubles the wait (1 s, 2 s, 4 s); throttled answers are 429 with Retry-After and audited", () =>
  Effect.gen(function*() {
    const s = yield* setup()
    const browser = from("198.51.100.7")
    let page = yield* loginForm(browser, s)
    for (let i = 0; i < 5; i++) expect((page = yield* login(browser, page, s.username, `wrong ${i}`)).status).toBe(400)
    const waits: Array<string | undefined> = []
    for (const wait of [1, 2, 4]) {
      const throttled = yield* login(browser, page, s.username, s.password)
      expect(throttled.status).toBe(429)
      expect(throttled.text).toContain(`Too many attempts; try again in ${wait} ${wait === 1 ? "second" : "seconds"}.`)
      expect(onlyForm(throttled.text).hidden).toEqual(onlyForm(page.text).hidden)
      waits.push(throttled.headers["retry-after"])
      yield* TestClock.adjust(`${wait} seconds`)
      expect((page = yield* login(browser, page, s.username, "wrong again")).status).toBe(400)
    }
    expect(waits).toEqual(["1", "2", "4"])
    // the right password after the wait: signed in, and the failures from this address are forgiven
    yield* TestClock.adjust("8 seconds")
    expect((yield* login(browser, page, s.username, s.password)).status).toBe(303)
    // a new browser at the same address has the whole burst again
    const next = from("198.51.100.7")
    let form = yield* loginForm(next, s)
    for (let i = 0; i < 5; i++) expect((form = yield* login(next, form, s.username, `typo ${i}`)).status).toBe(400)
    expect((yield* login(next, form, s.username, s.password)).status).toBe(429)
    const events = yield* failures(s)
    expect(events.filter((e) => e === "throttled 198.51.100.7")).toHaveLength(4)
    expect(events.filter((e) => e === "wrong_password 198.51.100.7")).toHaveLength(13)
  }).pipe(Effect.provide(behindProxy())), 60_000)

it.effect("issue 12 item 6, ADR 0027: 20 wrong passwords from address X do not stop the person signing in from address Y at once", () =>
  Effect.gen(function*() {
    const s = yield* setup()
    const attacker = from("198.51.100.7")
    const page = yield* loginForm(attacker, s)
    for (let i = 0; i < 20; i++) yield* login(attacker, page, s.username, `guess ${i}`)
    expect((yield* login(attacker, page, s.username, s.password)).status).toBe(429)
    const person = from("203.0.113.5")
    expect((yield* login(person, yield* loginForm(person, s), s.username, s.password)).status).toBe(303)
  }).pipe(Effect.provide(behindProxy())), 60_000)

it.effect("issue 12 item 6, ADR 0027, NIST SP 800-63B §5.2.2: guesses from many addresses slow the username down, but never where the person signed in before", () =>
  Effect.gen(function*() {
    const s = yield* setup()
    // the person has signed in from home before
    const home = from("203.0.113.5")
    expect((yield* login(home, yield* loginForm(home, s), s.username, s.password)).status).toBe(303)
    // a guesser with 10 addresses, one guess each: the username's burst from unknown addresses
    for (let i = 0; i < 10; i++) {
      const bot = from(`198.51.100.${i}`)
      expect((yield* login(bot, yield* loginForm(bot, s), s.username, `guess ${i}`)).status).toBe(400)
    }
    // the next unknown address waits, even with the right password
    const elsewhere = from("192.0.2.99")
    const slowed = yield* login(elsewhere, yield* loginForm(elsewhere, s), s.username, s.password)
    expect(slowed.status).toBe(429)
    expect(slowed.headers["retry-after"]).toBe("1")
    // home is not slowed down: the guesser cannot lock the person out
    const homeAgain = from("203.0.113.5")
    expect((yield* login(homeAgain, yield* loginForm(homeAgain, s), s.username, s.password)).status).toBe(303)
    const events = yield* failures(s)
    expect(events.filter((e) => e.startsWith("wrong_password"))).toHaveLength(10)
    expect(events.filter((e) => e === "throttled 192.0.2.99")).toHaveLength(1)
  }).pipe(Effect.provide(behindProxy())), 60_000)
