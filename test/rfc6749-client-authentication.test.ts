/**
 * RFC 6749 §5.2 invalid_client, as an attacker probing client ids sees it: every way client authentication can fail
 * (unknown client, wrong secret, wrong method, bad assertion, malformed credentials, none at all) answers the same
 * status, the same bytes and the same headers at the token, introspection and revocation endpoints, so the answer
 * says neither that a client exists nor how it authenticates. The reason is only in the log.
 */
import { expect } from "@effect/vitest"
import { Effect } from "effect"
import { assertion, clientKey, nowSeconds, post, registerClient, world } from "./support/TokenFixtures.js"
import type { Auth, World } from "./support/TokenFixtures.js"
import * as TestLive from "./support/TestLive.js"

const it = TestLive.file()

/** The one answer's body, byte for byte. */
const refusal = "{\"error\":\"invalid_client\",\"error_description\":\"client authentication failed\"}"

type Endpoint = "token" | "introspect" | "revoke"

/** What the endpoint is asked besides the credentials. */
const paramsOf = (endpoint: Endpoint): ReadonlyArray<readonly [string, string]> =>
  endpoint === "token" ? [["grant_type", "client_credentials"]] : [["token", "a-token"]]

interface Attempt {
  readonly kind: string
  readonly auth?: Auth
  readonly params?: ReadonlyArray<readonly [string, string]>
  readonly headers?: Record<string, string>
  /** Sent once before, so that this attempt replays it. */
  readonly primed?: boolean
}

/** One client of each method, and every failure kind against them. */
const attempts = (w: World) =>
  Effect.gen(function*() {
    const key = yield* clientKey
    const stranger = yield* clientKey
    const machine = { grant_types: ["client_credentials"], redirect_uris: [], response_types: [] }
    const basic = yield* registerClient(w, machine)
    const postClient = yield* registerClient(w, { ...machine, token_endpoint_auth_method: "client_secret_post" })
    const spa = yield* registerClient(w, { token_endpoint_auth_method: "none" })
    const keyed = yield* registerClient(w, { ...machine, token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [key.publicJwk] } })
    const signed = (claims: Record<string, unknown> = {}, clientId = keyed.client_id, signer = key) =>
      assertion(signer, clientId, w.issuer, claims)
    const jwt = yield* signed()
    const now = yield* nowSeconds
    const list: ReadonlyArray<Attempt> = [
      { kind: "no credentials", auth: { nothing: true } },
      { kind: "unknown client (Basic)", auth: { basic: ["no-such-client", "a-secret"] } },
      { kind: "unknown client (post)", auth: { post: ["no-such-client", "a-secret"] } },
      { kind: "unknown client (none)", auth: { none: "no-such-client" } },
      { kind: "unknown client (assertion)", auth: { assertion: yield* signed({}, "no-such-client") } },
      { kind: "wrong secret (Basic)", auth: { basic: [basic.client_id, "wrong"] } },
      { kind: "wrong secret (post)", auth: { post: [postClient.client_id, "wrong"] } },
      { kind: "wrong method: post for a Basic client, right secret", auth: { post: [basic.client_id, basic.client_secret!] } },
      { kind: "wrong method: Basic for a post client, right secret", auth: { basic: [postClient.client_id, postClient.client_secret!] } },
      { kind: "wrong method: a confidential client naming itself", auth: { none: basic.client_id } },
      { kind: "wrong method: a secret for a public client", auth: { basic: [spa.client_id, "a-secret"] } },
      { kind: "wrong method: a secret for a private_key_jwt client", auth: { basic: [keyed.client_id, "a-secret"] } },
      { kind: "wrong method: an assertion for a Basic client", auth: { assertion: yield* signed({}, basic.client_id) } },
      { kind: "bad assertion: another key", auth: { assertion: yield* signed({}, keyed.client_id, { ...stranger, kid: key.kid }) } },
      { kind: "bad assertion: expired", auth: { assertion: yield* signed({ iat: now - 120, exp: now - 60 }) } },
      { kind: "bad assertion: valid too long", auth: { assertion: yield* signed({ exp: now + 301 }) } },
      { kind: "bad assertion: another audience", auth: { assertion: yield* assertion(key, keyed.client_id, "https://elsewhere.example/token") } },
      { kind: "bad assertion: no jti", auth: { assertion: yield* signed({ jti: undefined }) } },
      // random, so that no compression fits it in PostgreSQL's b-tree entry: a 503 there before the bound (ADR 0047)
      { kind: "bad assertion: jti longer than 255", auth: { assertion: yield* signed({ jti: Buffer.from(crypto.getRandomValues(new Uint8Array(1950))).toString("base64url") }) } },
      { kind: "bad assertion: replayed", auth: { assertion: jwt }, primed: true },
      { kind: "malformed Basic credentials", headers: { authorization: "Basic !!!" } },
      { kind: "another scheme", headers: { authorization: "Bearer a-token" } },
      {
        kind: "unsupported client_assertion_type",
        params: [["client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"], ["client_assertion", jwt]]
      },
      {
        kind: "client_assertion not a JWT",
        params: [["client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"], ["client_assertion", "abc"]]
      }
    ]
    return list
  })

const send = (w: World, endpoint: Endpoint, attempt: Attempt) =>
  post(w, endpoint, attempt.auth ?? { nothing: true }, [...paramsOf(endpoint), ...(attempt.params ?? [])], { headers: attempt.headers ?? {} })

it.layer(TestLive.World)("RFC 6749 §5.2 invalid_client: one answer for every client authentication failure", (it) => {
  for (const endpoint of ["token", "introspect", "revoke"] as const) {
    it.effect(`${endpoint}: every failure kind answers 401 with byte-identical body and headers`, () =>
      Effect.gen(function*() {
        const w = yield* world
        const answers: Array<{ kind: string; status: number; text: string; headers: Record<string, string> }> = []
        for (const attempt of yield* attempts(w)) {
          if (attempt.primed === true) yield* send(w, endpoint, attempt)
          const res = yield* send(w, endpoint, attempt)
          const { date: _date, ...headers } = res.headers
          answers.push({ kind: attempt.kind, status: res.status, text: res.text, headers })
        }
        const [first] = answers
        expect(first!.headers["www-authenticate"]).toBe(`Basic realm="${w.issuer}"`)
        expect(first!.headers["cache-control"]).toBe("no-store")
        expect(first!.headers["content-type"]).toBe("application/json")
        // the whole table at once: a failure shows every kind that answers differently
        expect(answers).toEqual(answers.map(({ kind }) => ({ kind, status: 401, text: refusal, headers: first!.headers })))
      }))
  }
})
