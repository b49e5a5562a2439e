/**
 * Issue 14, "Tests": the whole tenancy story in a real browser (playwright-core driving Debian's Chromium), against a
 * real Tessera (`Live.app` on a loopback port, on this run's store: memory, PGlite or PostgreSQL) with SMTP configured
 * to a real SMTP server in this process (`smtp-server`, messages parsed with `mailparser`).
 *
 * The owner creates realm `acme` and invites its first admin by mail (CONTRACT §3); the mail arrives; its link opens
 * the invitation page (§4) in Chromium and the admin picks a username and password; the owner registers a client for
 * an admin console (its `resources` listing `$TESSERA_PUBLIC_URL/admin/realms/acme`); the admin signs in through
 * Tessera's authorization code flow with PKCE in the browser and calls the admin API with the token (§3 tenant
 * admins); the admin invites a member, who accepts in the browser; the admin disables the member; the realm audit
 * trail and the owner trail show each step with the right actor (§7).
 */
import { createHash, randomBytes } from "node:crypto"
import * as Http from "node:http"
import type * as Net from "node:net"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { ConfigProvider, Effect, Layer, ManagedRuntime, Option } from "effect"
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core"
import { afterAll, describe, expect, it } from "vitest"
import * as AppConfig from "@tessera/server-node/AppConfig"
import * as FetcherNode from "@tessera/server-node/FetcherNode"
import * as Live from "@tessera/server-node/Live"
import { freePort } from "./support/Children.js"
import { startSmtpSink } from "./support/SmtpSink.js"
import { chromiumPath, requireChromium } from "./support/Chromium.js"
import * as TestLive from "./support/TestLive.js"


/** Generous: the machine is slow and shared (these are not performance assertions). */
const stepTimeoutMs = 30_000

const browsers = new Set<Browser>()
afterAll(async () => {
  await Promise.all([...browsers].map((browser) => browser.close().catch(() => undefined)))
})

const smtpUser = "relay-user"
const smtpPass = "relay p@ss/word"

/** Tessera on a free loopback port whose public URL is that port, SMTP to `smtpUrl`; stopped by `dispose`. */
const startTessera = async (smtpUrl: string) => {
  const port = await freePort()
  const publicUrl = `http://127.0.0.1:${port}`
  const mail = await Effect.runPromise(
    AppConfig.config.pipe(
      Effect.withConfigProvider(
        ConfigProvider.fromMap(new Map([["TESSERA_SMTP_URL", smtpUrl], ["TESSERA_MAIL_FROM", "Acme Sign-in <signin@acme.example>"]]))
      ),
      Effect.map((config) => config.mail)
    )
  )
  expect(Option.isSome(mail)).toBe(true)
  const server = Http.createServer(Live.serverOptions)
  const layer = Live.app(server, TestLive.portsOf(TestLive.store), FetcherNode.layer).pipe(
    Layer.provide(NodeHttpServer.layer(() => server, { port, host: "127.0.0.1" })),
    Layer.provide(AppConfig.layer({ ...TestLive.config, port, publicUrl, mail }))
  )
  const runtime = ManagedRuntime.make(layer)
  await runtime.runPromise(Effect.void)
  return { publicUrl, dispose: () => runtime.dispose() }
}

/** The client's redirect URI: resolves `callback` on the first request to /callback, answers 200 "signed in". */
const startCallbackServer = async () => {
  let arrived!: (url: URL) => void
  const callback = new Promise<URL>((resolve) => (arrived = resolve))
  const server = Http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1")
    if (url.pathname === "/callback") arrived(url)
    res.writeHead(200, { "content-type": "text/plain; charset=utf-8" })
    res.end("signed in")
  })
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => resolve())
  })
  const port = (server.address() as Net.AddressInfo).port
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  return { redirectUri: `http://127.0.0.1:${port}/callback`, callback, close }
}

const within = <A>(promise: Promise<A>, ms: number, what: string) =>
  new Promise<A>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)
    promise.then(
      (a) => (clearTimeout(timer), resolve(a)),
      (e) => (clearTimeout(timer), reject(e))
    )
  })

interface Wire {
  readonly status: number
  readonly json: any
  readonly text: string
}

/** An admin API call with a bearer credential (the owner token, or a tenant admin's access token). */
const call = async (base: string, bearer: string, method: string, path: string, body?: unknown): Promise<Wire> => {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${bearer}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {})
  })
  const text = await res.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  return { status: res.status, json, text }
}

/** The payload of a compact JWS, decoded without verification. */
const jwtPayload = (jwt: string): Record<string, unknown> => JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString("utf8"))

/** The one http(s) link in a mail's text. */
const linkOf = (text: string) => {
  const links = text.match(/https?:\/\/\S+/g) ?? []
  expect(links, text).toHaveLength(1)
  return links[0]!
}

/** A fresh browser context whose pages must never log an error or throw (a broken page in a real browser). */
const newContext = async (browser: Browser, problems: Array<string>) => {
  const context = await browser.newContext()
  context.setDefaultTimeout(stepTimeoutMs)
  context.setDefaultNavigationTimeout(stepTimeoutMs)
  context.on("page", (page) => watch(page, problems))
  return context
}

const watch = (page: Page, problems: Array<string>) => {
  page.on("console", (message) => {
    if (message.type() === "error" || /Refused to|Content Security Policy/i.test(message.text())) {
      problems.push(`console ${message.type()} on ${page.url()}: ${message.text()}`)
    }
  })
  page.on("pageerror", (error) => problems.push(`page error on ${page.url()}: ${error.message}`))
}

/** CONTRACT §4: the invitation page's form, filled and sent as a person does; resolves with the answer page's text. */
const acceptInvitation = async (context: BrowserContext, url: string, username: string, password: string) => {
  const page = await context.newPage()
  const opened = await page.goto(url, { waitUntil: "load" })
  expect(opened?.status()).toBe(200)
  expect(await page.locator("form[method=post] input[name=username]").count()).toBe(1)
  expect(await page.locator("form[method=post] input[name=password]").count()).toBe(1)
  await page.locator("input[name=username]").pressSequentially(username)
  await page.locator("input[name=password]").pressSequentially(password)
  const [answer] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === "POST" && r.url().startsWith(url.split("?")[0]!)),
    page.locator("form[method=post] button[type=submit]").click()
  ])
  await page.waitForLoadState("load")
  return { status: answer.status(), text: await page.locator("body").innerText(), page }
}

describe("issue 14: the tenancy story in a real browser (Chromium via playwright-core), mail over SMTP", () => {
  it("owner invites the admin by mail; the admin signs up, signs in with PKCE, invites a member, disables them; the trails show who did what", { timeout: 240_000 }, async (ctx) => {
    requireChromium(ctx)
    const sink = await startSmtpSink({ user: smtpUser, pass: smtpPass })
    const callbackServer = await startCallbackServer()
    let tessera: Awaited<ReturnType<typeof startTessera>> | undefined
    let browser: Browser | undefined
    try {
      tessera = await startTessera(sink.url)
      const base = tessera.publicUrl
      const owner = TestLive.adminToken
      const realm = "acme"
      const issuer = `${base}/realms/${realm}`
      const adminResource = `${base}/admin/realms/${realm}`

      // a database shared with earlier runs (PostgreSQL) may still hold an acme: the owner deletes it first
      const stale = await call(base, owner, "DELETE", `/admin/realms/${realm}?confirm=${realm}`)
      expect([204, 404], stale.text).toContain(stale.status)

      // 1. the owner creates the realm (CONTRACT §3)
      const created = await call(base, owner, "POST", "/admin/realms", { name: realm })
      expect(created.status, created.text).toBe(201)
      expect(created.json).toEqual({ name: realm, issuer })

      // 2. the owner invites the first admin, by mail (CONTRACT §3: mailed to `email` when SMTP is configured)
      const adminInvite = await call(base, owner, "POST", `/admin/realms/${realm}/invitations`, { email: "ada@acme.example", role: "admin" })
      expect(adminInvite.status, adminInvite.text).toBe(201)
      expect(adminInvite.json).toEqual({ id: expect.any(String), url: expect.any(String), role: "admin", email: "ada@acme.example", expires_at: expect.any(String) })

      // 3. the mail arrives at the SMTP server: from the configured sender, to Ada, the API's url its only link
      const adminMail = await sink.message(1)
      expect(adminMail.user).toBe(smtpUser)
      expect(adminMail.envelope).toEqual({ from: "signin@acme.example", to: ["ada@acme.example"] })
      expect(adminMail.parsed.from?.value).toEqual([{ name: "Acme Sign-in", address: "signin@acme.example" }])
      expect(adminMail.parsed.subject).toContain(realm)
      expect(linkOf(adminMail.parsed.text ?? "")).toBe(adminInvite.json.url)

      browser = await chromium.launch({
        executablePath: chromiumPath,
        headless: true,
        timeout: 60_000,
        args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
      })
      browsers.add(browser)
      const problems: Array<string> = []

      // 4. Ada follows the link in the browser and picks a username and password (CONTRACT §4)
      const adaContext = await newContext(browser, problems)
      const adaPassword = "ada's correct horse battery staple"
      const accepted = await acceptInvitation(adaContext, linkOf(adminMail.parsed.text ?? ""), "ada", adaPassword)
      expect(accepted.status, accepted.text).toBe(200)
      const users = await call(base, owner, "GET", `/admin/realms/${realm}/users?q=ada`)
      expect(users.status).toBe(200)
      expect(users.json).toEqual({
        users: [{ sub: expect.any(String), username: "ada", email: "ada@acme.example", roles: ["admin"], disabled: false, created_at: expect.any(String) }]
      })
      const adaSub = users.json.users[0].sub as string

      // 5. the owner registers the admin console: a public client whose resources list the realm's admin resource
      const consoleClient = await call(base, owner, "POST", `/admin/realms/${realm}/clients`, {
        client_name: "Acme admin console",
        redirect_uris: [callbackServer.redirectUri],
        grant_types: ["authorization_code"],
        token_endpoint_auth_method: "none",
        resources: [adminResource]
      })
      expect(consoleClient.status, consoleClient.text).toBe(201)
      const clientId = consoleClient.json.client_id as string

      // 6. Ada signs in through the authorization code flow with PKCE (RFC 7636 S256, RFC 8707 resource), in the browser
      const verifier = randomBytes(32).toString("base64url")
      const challenge = createHash("sha256").update(verifier).digest("base64url")
      const state = randomBytes(16).toString("base64url")
      const authorize = new URL(`${issuer}/authorize`)
      for (const [k, v] of Object.entries({
        response_type: "code",
        client_id: clientId,
        redirect_uri: callbackServer.redirectUri,
        scope: "tessera:admin",
        resource: adminResource,
        state,
        code_challenge: challenge,
        code_challenge_method: "S256"
      })) authorize.searchParams.set(k, v)
      const page = await adaContext.newPage()
      const login = await page.goto(authorize.href, { waitUntil: "load" })
      expect(login?.status()).toBe(200)
      await page.locator("input[name=username]").pressSequentially("ada")
      await page.locator("input[name=password]").pressSequentially(adaPassword)
      await page.locator("form button[type=submit]").click()
      const allow = page.locator("button[name=decision][value=allow]")
      await allow.waitFor({ state: "visible" })
      await Promise.all([
        page.waitForURL((url) => url.href.startsWith(callbackServer.redirectUri), { waitUntil: "load" }),
        allow.click()
      ])
      const callback = await within(callbackServer.callback, stepTimeoutMs, "the console's callback")
      expect(callback.searchParams.get("state")).toBe(state)
      expect(callback.searchParams.get("iss")).toBe(issuer)
      const tokenResponse = await fetch(`${issuer}/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          grant_type: "authorization_code",
          code: callback.searchParams.get("code") ?? "",
          redirect_uri: callbackServer.redirectUri,
          code_verifier: verifier,
          client_id: clientId,
          resource: adminResource
        })
      })
      const tokens = JSON.parse(await tokenResponse.text()) as Record<string, unknown>
      expect(tokenResponse.status, JSON.stringify(tokens)).toBe(200)
      const accessToken = tokens["access_token"] as string
      // CONTRACT §3: aud is the realm's admin resource, scope tessera:admin, the person is Ada
      expect(jwtPayload(accessToken)).toMatchObject({ iss: issuer, aud: adminResource, sub: adaSub, scope: "tessera:admin", client_id: clientId })

      // 7. Ada calls the admin API with her token: her realm answers
      const asAda = (method: string, path: string, body?: unknown) => call(base, accessToken, method, path, body)
      const listed = await asAda("GET", `/admin/realms/${realm}/users`)
      expect(listed.status, listed.text).toBe(200)
      expect(listed.json.users.map((u: { username: string }) => u.username)).toEqual(["ada"])

      // 8. Ada invites a member, by mail
      const memberInvite = await asAda("POST", `/admin/realms/${realm}/invitations`, { email: "bob@members.example", role: "member" })
      expect(memberInvite.status, memberInvite.text).toBe(201)
      expect(memberInvite.json).toEqual({ id: expect.any(String), url: expect.any(String), role: "member", email: "bob@members.example", expires_at: expect.any(String) })
      const memberMail = await sink.message(2)
      expect(memberMail.envelope).toEqual({ from: "signin@acme.example", to: ["bob@members.example"] })
      expect(linkOf(memberMail.parsed.text ?? "")).toBe(memberInvite.json.url)

      // 9. Bob accepts in his own browser
      const bobContext = await newContext(browser, problems)
      const bobAccepted = await acceptInvitation(bobContext, memberInvite.json.url, "bob", "bob's long enough password")
      expect(bobAccepted.status, bobAccepted.text).toBe(200)
      // the same link again: used (CONTRACT §4: 410; fetched, not browsed: Chromium logs every 4xx as a console error)
      const again = await fetch(memberInvite.json.url)
      expect(again.status).toBe(410)

      // 10. Ada disables Bob
      const bob = await asAda("GET", `/admin/realms/${realm}/users?q=bob`)
      expect(bob.status).toBe(200)
      expect(bob.json.users).toEqual([{ sub: expect.any(String), username: "bob", email: "bob@members.example", roles: [], disabled: false, created_at: expect.any(String) }])
      const bobSub = bob.json.users[0].sub as string
      const disabled = await asAda("PATCH", `/admin/realms/${realm}/users/${bobSub}`, { disabled: true })
      expect(disabled.status, disabled.text).toBe(200)
      expect(disabled.json).toMatchObject({ sub: bobSub, username: "bob", disabled: true })

      // 11. the trails (CONTRACT §7), oldest first
      const ownerTrail = await call(base, owner, "GET", "/admin/audit?limit=200")
      expect(ownerTrail.status).toBe(200)
      // newest first: this acme's events are those up to its realm.created (an earlier run's acme is older)
      const acmeEvents = (ownerTrail.json.events as Array<any>).filter((e) => e.realm === realm)
      const ownerSteps = acmeEvents.slice(0, acmeEvents.findIndex((e) => e.type === "realm.created") + 1).reverse().map((e) => [e.type, e.actor])
      // the realm's creation and its first admin's invitation, made and accepted (issue 14: the owner trail)
      expect(ownerSteps).toEqual([
        ["realm.created", { type: "owner", id: "owner" }],
        ["invitation.created", { type: "owner", id: "owner" }],
        ["invitation.accepted", { type: "user", id: adaSub }]
      ])

      const realmTrail = await call(base, owner, "GET", `/admin/realms/${realm}/audit?limit=200`)
      expect(realmTrail.status).toBe(200)
      const ada = { type: "tenant_admin", id: adaSub }
      const steps = (realmTrail.json.events as Array<any>).reverse().map((e) => ({ type: e.type, actor: e.actor, subject: e.subject, client_id: e.client_id }))
      const of = (...types: Array<string>) => steps.filter((s) => types.includes(s.type))
      const people = of("invitation.created", "invitation.accepted", "user.created", "user.disabled", "user.updated")
      // events written in one transaction share their time: their order among themselves is the store's
      const byType = (events: Array<{ type: string }>) => [...events].sort((x, y) => x.type.localeCompare(y.type))
      expect(people, JSON.stringify(steps)).toHaveLength(5)
      expect([people[0], people[1], byType(people.slice(2, 4)), people[4]]).toEqual([
        // Ada accepted the owner's invitation (that event is in the owner trail): she is the user created
        { type: "user.created", actor: { type: "user", id: adaSub }, subject: adaSub },
        // Ada, a tenant admin now, invited Bob, who accepted: he is the user created
        { type: "invitation.created", actor: ada, subject: memberInvite.json.id },
        [
          { type: "invitation.accepted", actor: { type: "user", id: bobSub }, subject: memberInvite.json.id },
          { type: "user.created", actor: { type: "user", id: bobSub }, subject: bobSub }
        ],
        // and Ada disabled him
        { type: "user.disabled", actor: ada, subject: bobSub }
      ])
      // the console client was the owner's; Ada's sign-in and consent were hers, as a user of the realm; the token
      // went to the console, for Ada
      expect(steps.filter((e) => e.client_id === clientId || e.subject === clientId).map((e) => [e.type, e.actor, e.subject])).toEqual([
        ["client.created", { type: "owner", id: "owner" }, undefined],
        ["login.succeeded", { type: "user", id: adaSub }, adaSub],
        ["consent.granted", { type: "user", id: adaSub }, adaSub],
        ["token.issued", { type: "client", id: clientId }, adaSub]
      ])

      // no page of the story logged an error, threw, or had something refused by its CSP
      expect(problems).toEqual([])
    } finally {
      if (browser !== undefined) {
        await browser.close().catch(() => undefined)
        browsers.delete(browser)
      }
      if (tessera !== undefined) await tessera.dispose()
      await callbackServer.close()
      await sink.close()
    }
  })
})
