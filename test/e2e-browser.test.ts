/**
 * One real browser (issue 4, "Tests"): playwright-core driving Debian's Chromium against the real server process.
 * A person types a username and password into the login form, allows on the consent page, and the browser lands
 * on a local redirect URI (a tiny node:http server here); the code is then exchanged at the token endpoint with
 * client_secret_basic and the PKCE verifier. No page of the flow may log a console error, throw, or report a
 * Content-Security-Policy violation: that proves the pages' CSP (`form-action` allowing the redirect after the
 * POST, the hashed stylesheet, no script) works in a real browser, not only on paper.
 *
 * playwright-core never downloads a browser: it runs /usr/bin/chromium (`.ci/run` installs it when missing).
 */
import { createHash, randomBytes } from "node:crypto"
import * as Http from "node:http"
import type * as Net from "node:net"
import { type Browser, chromium } from "playwright-core"
import { afterAll, describe, expect, it } from "vitest"
import { chromiumPath, requireChromium } from "./support/Chromium.js"
import { adminCall, cleanup, startTessera, stopProcess } from "./support/Process.js"

/** A browser still open when the file ends (a test that timed out while its own `finally` waits): closed here. */
const browsers = new Set<Browser>()
afterAll(async () => {
  await Promise.all([...browsers].map((browser) => browser.close().catch(() => undefined)))
  await cleanup()
})


/** Generous: the machine is slow and shared (these are not performance assertions). */
const stepTimeoutMs = 30_000

const base64url = (bytes: Buffer) => bytes.toString("base64url")

/** The payload of a compact JWS, decoded without verification (the signature is openid-client's test's business). */
const jwtPayload = (jwt: string): Record<string, unknown> => {
  const parts = jwt.split(".")
  if (parts.length !== 3) throw new Error(`not a compact JWS: ${jwt}`)
  return JSON.parse(Buffer.from(parts[1]!, "base64url").toString("utf8"))
}

/** The client's redirect URI: records every request, resolves `callback` on the first to /callback, answers 200 "ok". */
const startCallbackServer = async () => {
  const requests: Array<string> = []
  let arrived!: (url: URL) => void
  const callback = new Promise<URL>((resolve) => (arrived = resolve))
  const server = Http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1")
    requests.push(`${req.method} ${url.pathname}${url.search}`)
    if (url.pathname === "/callback") arrived(url)
    res.writeHead(200, { "content-type": "text/plain; charset=utf-8" })
    res.end("ok")
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
  return { port, requests, callback, close }
}

const within = <A>(promise: Promise<A>, ms: number, what: string) =>
  new Promise<A>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)
    promise.then(
      (a) => (clearTimeout(timer), resolve(a)),
      (e) => (clearTimeout(timer), reject(e))
    )
  })

describe("sign in with a real browser (Chromium via playwright-core)", () => {
  it("types into the login form, allows consent, lands on the redirect URI; the code exchanges for tokens", { timeout: 120_000 }, async (ctx) => {
    requireChromium(ctx)

    const callbackServer = await startCallbackServer()
    let tessera: Awaited<ReturnType<typeof startTessera>> | undefined
    let browser: Browser | undefined
    try {
      tessera = await startTessera({})
      const name = `browser-${process.pid}-${Date.now().toString(36)}`
      const realm = await adminCall(tessera.base, "/admin/realms", { name })
      const issuer = realm["issuer"] as string
      await adminCall(tessera.base, `/admin/realms/${name}/users`, { username: "ada", password: "correct horse battery", email: "ada@example.com", name: "Ada" })
      const redirectUri = `http://127.0.0.1:${callbackServer.port}/callback`
      const registered = await adminCall(tessera.base, `/admin/realms/${name}/clients`, {
        client_name: "Browser E2E app",
        redirect_uris: [redirectUri],
        grant_types: ["authorization_code", "refresh_token"],
        token_endpoint_auth_method: "client_secret_basic"
      })
      const clientId = registered["client_id"] as string
      const clientSecret = registered["client_secret"] as string

      const discovery = await fetch(`${issuer}/.well-known/openid-configuration`)
      expect(discovery.status).toBe(200)
      const metadata = (await discovery.json()) as Record<string, string>
      expect(metadata["issuer"]).toBe(issuer)

      // the authorization request, by hand (RFC 7636 S256, OIDC Core §3.1.2.1)
      const verifier = base64url(randomBytes(32))
      const challenge = base64url(createHash("sha256").update(verifier).digest())
      const state = base64url(randomBytes(16))
      const nonce = base64url(randomBytes(16))
      const authorizationUrl = new URL(metadata["authorization_endpoint"]!)
      for (const [k, v] of Object.entries({
        response_type: "code",
        client_id: clientId,
        redirect_uri: redirectUri,
        scope: "openid profile",
        state,
        nonce,
        code_challenge: challenge,
        code_challenge_method: "S256"
      })) authorizationUrl.searchParams.set(k, v)

      browser = await chromium.launch({
        executablePath: chromiumPath,
        headless: true,
        timeout: 60_000,
        args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
      })
      browsers.add(browser)
      const context = await browser.newContext()
      context.setDefaultTimeout(stepTimeoutMs)
      context.setDefaultNavigationTimeout(stepTimeoutMs)

      // everything a page says that would mean it is broken in a real browser
      const problems: Array<string> = []
      const tesseraOrigin = new URL(issuer).origin
      const cspViolations: Array<string> = []
      // the DOM's own report of a CSP violation, through a CDP binding (not subject to the pages' CSP)
      await context.exposeBinding("__tesseraCspViolation", ({ page }, report: string) => {
        cspViolations.push(`${page.url()}: ${report}`)
      })
      await context.addInitScript(() => {
        document.addEventListener("securitypolicyviolation", (e) => {
          const report = (globalThis as unknown as { __tesseraCspViolation: (s: string) => void }).__tesseraCspViolation
          report(`${e.effectiveDirective} blocked ${e.blockedURI} (${e.disposition})`)
        })
      })
      const page = await context.newPage()
      page.on("console", (message) => {
        const text = message.text()
        if (message.type() !== "error" && !/Refused to|Content Security Policy/i.test(text)) return
        // any console error (a failed load such as the favicon, a CSP refusal) fails the test
        problems.push(`console ${message.type()} on ${page.url()} (from ${message.location().url}): ${text}`)
      })
      page.on("pageerror", (error) => problems.push(`page error on ${page.url()}: ${error.message}`))
      const statuses: Array<string> = []
      const pagePolicies: Array<string> = []
      page.on("response", (response) => {
        statuses.push(`${response.status()} ${response.request().method()} ${response.url()}`)
        const type = response.headers()["content-type"] ?? ""
        if (response.url().startsWith(tesseraOrigin) && type.startsWith("text/html")) {
          pagePolicies.push(response.headers()["content-security-policy"] ?? "(none)")
        }
      })

      // the login page: type, as a person does, then press the button
      const login = await page.goto(authorizationUrl.href, { waitUntil: "load" })
      expect(login?.status()).toBe(200)
      expect(new URL(page.url()).origin).toBe(new URL(issuer).origin)
      await page.locator("input[name=username]").pressSequentially("ada")
      await page.locator("input[name=password]").pressSequentially("correct horse battery")
      await page.locator("form button[type=submit]").click()

      // the consent page (after the login POST's 303): allow
      const allow = page.locator("button[name=decision][value=allow]")
      await allow.waitFor({ state: "visible" })
      await Promise.all([
        page.waitForURL((url) => url.origin === `http://127.0.0.1:${callbackServer.port}`, { waitUntil: "load" }),
        allow.click()
      ])

      // the browser reached the client's redirect URI
      const callback = await within(callbackServer.callback, stepTimeoutMs, `the callback at ${redirectUri}; requests: ${callbackServer.requests.join(", ")}`)
      expect(await page.locator("body").innerText()).toBe("ok")
      const code = callback.searchParams.get("code")
      expect(code, `callback query: ${callback.search}`).toEqual(expect.any(String))
      expect(callback.searchParams.get("state")).toBe(state)
      // RFC 9207: the authorization response names the issuer
      expect(callback.searchParams.get("iss")).toBe(issuer)
      expect(callback.searchParams.get("error")).toBeNull()

      // the code, exchanged by the client (RFC 6749 §4.1.3, §2.3.1 client_secret_basic; RFC 7636 §4.5)
      const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString("base64")
      const tokenResponse = await fetch(metadata["token_endpoint"]!, {
        method: "POST",
        headers: { authorization: `Basic ${basic}`, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "authorization_code", code: code!, redirect_uri: redirectUri, code_verifier: verifier })
      })
      const tokenText = await tokenResponse.text()
      expect(tokenResponse.status, tokenText).toBe(200)
      const tokens = JSON.parse(tokenText) as Record<string, unknown>
      expect(tokens["access_token"]).toEqual(expect.any(String))
      expect(String(tokens["token_type"]).toLowerCase()).toBe("bearer")
      expect(tokens["id_token"]).toEqual(expect.any(String))
      const claims = jwtPayload(tokens["id_token"] as string)
      expect(claims["nonce"]).toBe(nonce)
      expect(claims["iss"]).toBe(issuer)
      expect(claims["aud"]).toBe(clientId)

      // the two pages (login, consent) carried a CSP with form-action, and the consent page's allowed the redirect
      // after its POST (the redirect URI's origin): Chromium checks form-action against that redirect too
      expect(pagePolicies, statuses.join("\n")).toHaveLength(2)
      const formAction = (policy: string) =>
        policy.split(";").map((d) => d.trim().split(/\s+/)).find(([name]) => name === "form-action")?.slice(1)
      expect(formAction(pagePolicies[0]!)).toContain("'self'")
      expect(formAction(pagePolicies[1]!)).toEqual(expect.arrayContaining(["'self'", `http://127.0.0.1:${callbackServer.port}`]))
      // no page of the flow logged an error, threw, or had something refused by its CSP
      expect({ problems, cspViolations }, `responses:\n${statuses.join("\n")}`).toEqual({ problems: [], cspViolations: [] })
    } finally {
      if (browser !== undefined) {
        await browser.close().catch(() => undefined)
        browsers.delete(browser)
      }
      if (tessera !== undefined) await stopProcess(tessera.child)
      await callbackServer.close()
    }
  })
})
