/**
 * RFC 9700 §4.11.2 "Authorization Server as Open Redirector" (CONTRACT §4, ADR 0026), played against a client that
 * registered itself (a client ID metadata document, RFC 7591): the three attacks of §4.11.2 answer the error page
 * while no person of the realm has approved the client, and redirect as RFC 6749 §4.1.2.1 says once one has.
 */
import { expect } from "@effect/vitest"
import { Effect } from "effect"
import {
  authorizeAndLogin, authorizePath, codeOf, expectErrorPage, makeBrowser, onlyForm, pkce, redirectParams, signIn
} from "./Browser.js"
import type { Response, Setup } from "./Browser.js"

/** What the error page adds for a client nobody has approved. */
export const notApproved = "You were not sent back to the application: nobody in this realm has approved it yet."

const expectNotRedirected = (res: Response, error: string, description: string) => {
  expectErrorPage(res, 400, error, description)
  expect(res.text).toContain(`<p>${notApproved}</p>`)
}

/** RFC 6749 §4.1.2.1: the error on the client's redirect URI, with state and iss (RFC 9207). */
const expectRedirected = (res: Response, s: Setup, error: string, description: string) => {
  expect({ status: res.status, location: redirectParams(res.headers["location"]) }).toEqual({
    status: 302,
    location: {
      base: new URL(s.redirectUri).origin + new URL(s.redirectUri).pathname,
      params: [["error", error], ["error_description", description], ["state", "state-123"], ["iss", s.issuer]]
    }
  })
}

const loginRequired = ["login_required", "the person must sign in"] as const
const badScope = ["invalid_scope", "a requested scope is not allowed to this client or its resources"] as const
const badResponseType = ["unsupported_response_type", "only the 'code' response type is supported"] as const
const consentRequired = ["consent_required", "the person must consent to this request"] as const
const denied = ["access_denied", "the person denied the request"] as const

/**
 * The attacks with `s.clientId` (its redirect URI `s.redirectUri`), the request otherwise `changes`: error pages
 * before a person approved the client, redirects after.
 */
export const attack = (s: Setup, changes: Parameters<typeof authorizePath>[2]) =>
  Effect.gen(function*() {
    const { challenge } = pkce()
    const path = (more: Parameters<typeof authorizePath>[2]) => authorizePath(s, challenge, { ...changes, ...more })
    // §4.11.2 attack 3: a silent request, no person involved
    expectNotRedirected(yield* makeBrowser().get(path({ prompt: "none" })), ...loginRequired)
    // §4.11.2 attack 1: an intentionally erroneous request (a scope nobody has, a response type nobody serves)
    expectNotRedirected(yield* makeBrowser().get(path({ scope: "no-such-scope" })), ...badScope)
    expectNotRedirected(yield* makeBrowser().get(path({ response_type: "token" })), ...badResponseType)
    // a signed-in person's browser asked silently, then the person refusing on the consent page (§4.11.2 attack 2)
    const person = makeBrowser()
    const consent = yield* authorizeAndLogin(person, s, challenge, changes)
    expect(consent.status).toBe(200)
    expectNotRedirected(yield* person.get(path({ prompt: "none" })), ...consentRequired)
    expectNotRedirected(yield* person.submit(onlyForm(consent.text), {}, ["decision", "deny"]), ...denied)

    // a person of the realm approves the client: from then on RFC 6749 §4.1.2.1 redirects
    const approved = yield* signIn(makeBrowser(), s, pkce().challenge, changes)
    expect(approved.status).toBe(302)
    expect(codeOf(approved)).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expectRedirected(yield* makeBrowser().get(path({ prompt: "none" })), s, ...loginRequired)
    expectRedirected(yield* makeBrowser().get(path({ scope: "no-such-scope" })), s, ...badScope)
    expectRedirected(yield* makeBrowser().get(path({ response_type: "token" })), s, ...badResponseType)
    const again = makeBrowser()
    const second = yield* authorizeAndLogin(again, s, challenge, { ...changes, prompt: "consent" })
    expectRedirected(yield* again.submit(onlyForm(second.text), {}, ["decision", "deny"]), s, ...denied)
  })
