/**
 * The attacks of the adversarial review of tenancy (issue 14) that failed when they were written, fixed since: a tenant
 * admin dropping the admin resource's step-up (CONTRACT §3) and then skipping it, and invitation addresses the API took
 * but the mailer could never send to (CONTRACT §3 "mailed to `email`"). Runs on memory, PGlite and PostgreSQL.
 */
import { expect, it, layer } from "@effect/vitest"
import * as HttpServer from "@effect/platform/HttpServer"
import { DateTime, Duration, Effect, Option, TestClock } from "effect"
import * as Net from "node:net"
import { AuditEvent, Base64Url, Hash, Jwt, Session, SignIn, SigningKeys } from "@tessera/domain"
import { Dpop } from "@tessera/protocol"
import * as Proofs from "../packages/protocol/test/support/DpopProofs.js"
import type { WireResponse } from "./support/Http.js"
import { admin, request, uniqueName } from "./support/Http.js"
import { makeBrowser, onlyForm } from "./support/Browser.js"
import { startSmtpSink } from "./support/SmtpSink.js"
import * as TestLive from "./support/TestLive.js"
import { authOf, clientKey, exchange, issueCode, nowSeconds, post, refresh, registerClient, world } from "./support/TokenFixtures.js"
import * as AppConfig from "@tessera/server-node/AppConfig"
import { ConfigProvider } from "effect"
import type { RegisteredClient, World } from "./support/TokenFixtures.js"

const ownerHeaders = { authorization: `Bearer ${TestLive.adminToken}` }
const password = "correct horse battery staple"
type Method = "GET" | "POST" | "PATCH" | "PUT" | "DELETE"

/** CONTRACT §3: the realm's built-in admin resource. */
const adminResourceOf = (name: string) => `${TestLive.publicUrl}/admin/realms/${name}`

const signIn = (w: World, sub: string) =>
  Effect.gen(function*() {
    const now = yield* DateTime.now
    const sid = crypto.randomUUID()
    const session: Session.Session = {
      realmId: w.realmId, sid, cookieHash: yield* Hash.sha256(crypto.randomUUID()), sub, createdAt: now, authTime: now,
      acr: Session.passwordAcr, amr: Session.passwordAmr, expiresAt: DateTime.addDuration(now, Session.lifetime), clientIds: []
    }
    const event: AuditEvent.AuditEvent = {
      id: crypto.randomUUID(), at: now, realmId: w.realmId, realm: w.name, type: "login.succeeded", actor: { type: "user", id: sub },
      subject: sub, result: "success"
    }
    yield* Effect.flatMap(SignIn.Sessions, (sessions) => sessions.create(session, event))
    return sid
  })

/** A token signed by the realm's own key with any claims (what the token endpoint would never issue). */
const minted = (w: World, claims: Record<string, unknown>, typ = "at+jwt") =>
  Effect.gen(function*() {
    const iat = yield* nowSeconds
    return yield* Jwt.sign({ iss: w.issuer, jti: crypto.randomUUID(), iat, exp: iat + 900, ...claims }, yield* SigningKeys.signer(w.realmId, "ES256"), typ)
  })

interface Tenant {
  readonly w: World
  readonly adminResource: string
  readonly app: RegisteredClient
  readonly adminToken: string
  readonly automation: RegisteredClient
  readonly clientToken: string
  readonly memberSub: string
}

const personToken = (w: World, sub: string, app: RegisteredClient, scopes: ReadonlyArray<string> = ["tessera:admin"]) =>
  Effect.gen(function*() {
    const sid = yield* signIn(w, sub)
    const code = yield* issueCode({ ...w, sub }, { clientId: app.client_id, scopes, resources: [adminResourceOf(w.name)], sid })
    return yield* exchange(w, authOf(app), code)
  })

/** A realm with its admin resource, Ada its admin with a token, an automation client with one, and Bob a member. */
const tenant = Effect.gen(function*() {
  const w = yield* world
  const adminResource = adminResourceOf(w.name)
  const registered = yield* admin.post(`/admin/realms/${w.name}/resources`, { uri: adminResource, scopes: ["tessera:admin"] })
  expect([201, 409]).toContain(registered.status)
  expect((yield* admin.patch(`/admin/realms/${w.name}/users/${w.sub}`, { roles: ["admin"] })).status).toBe(200)
  const app = yield* registerClient(w, { resources: [adminResource] })
  const got = yield* personToken(w, w.sub, app)
  if (got.status !== 200) return yield* Effect.dieMessage(`admin token: ${got.status} ${got.text}`)
  const automation = yield* registerClient(w, {
    grant_types: ["client_credentials"], redirect_uris: [], response_types: [], resources: [adminResource]
  })
  const cc = yield* post(w, "token", authOf(automation), { grant_type: "client_credentials", scope: "tessera:admin", resource: adminResource })
  if (cc.status !== 200) return yield* Effect.dieMessage(`client credentials: ${cc.status} ${cc.text}`)
  const bob = yield* admin.post(`/admin/realms/${w.name}/users`, { username: "bob", password })
  expect(bob.status).toBe(201)
  return {
    w, adminResource, app, adminToken: got.json.access_token, automation, clientToken: cc.json.access_token, memberSub: bob.json.sub
  } satisfies Tenant
})

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
const call = (method: Method, path: string, headers: Record<string, string>, json?: unknown) =>
  request(method, path, { headers, ...(json !== undefined ? { json } : {}) })
const realmPath = (t: Tenant) => `/admin/realms/${t.w.name}`

/** RFC 6750 §3.1, CONTRACT §3: the whole refusal. */
const expectRefusal = (res: WireResponse, status: number, body: unknown, challenge: string | undefined) => {
  expect({ status: res.status, body: res.json, challenge: res.headers["www-authenticate"] }).toEqual({ status, body, challenge })
  expect(res.headers["content-type"]).toBe("application/json")
  expect(res.headers["cache-control"]).toBe("no-store")
}
const noCredential = [401, {
  error: "invalid_token", error_description: "the admin API needs the owner's token or a tenant admin's access token"
}, `Bearer realm="tessera-admin", error="invalid_token"`] as const
const invalidToken = [401, {
  error: "invalid_token", error_description: "the access token is invalid, expired, or not for the admin API"
}, `Bearer realm="tessera-admin", error="invalid_token"`] as const
const unknownRealm = [404, { error: "not_found", error_description: "unknown realm" }, undefined] as const
const ownerOnly = [403, { error: "insufficient_scope", error_description: "only the owner may make this call" },
  `Bearer realm="tessera-admin", error="insufficient_scope"`] as const

const b64 = (value: unknown) => Base64Url.encode(new TextEncoder().encode(JSON.stringify(value)))

// ---------------------------------------------------------------------------------------------------------------
// The tenant boundary
// ---------------------------------------------------------------------------------------------------------------

const mailSettings = (url: string) =>
  Effect.flatMap(
    AppConfig.config.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["TESSERA_SMTP_URL", url], ["TESSERA_MAIL_FROM", "invitations@tessera.example"]])))),
    (config) => Option.match(config.mail, { onNone: () => Effect.dieMessage("mail not configured"), onSome: Effect.succeed })
  ).pipe(Effect.orDie)

layer(TestLive.TestLive, { timeout: "120 seconds" })("escalation inside a realm, and invitation addresses", (it) => {
  it.effect("§3, §6: a tenant admin cannot remove the step-up the admin resource declares, then skip it", () =>
    Effect.gen(function*() {
      const t = yield* tenant
      const listed = yield* admin.get(`${realmPath(t)}/resources`)
      const res = listed.json.resources.find((r: { uri: string }) => r.uri === t.adminResource)
      expect((yield* admin.patch(`${realmPath(t)}/resources/${res.id}`, {
        scopes: ["tessera:admin", "tessera:admin:step-up"], step_up_scopes: ["tessera:admin:step-up"]
      })).status).toBe(200)
      const weakened = yield* call("PATCH", `${realmPath(t)}/resources/${res.id}`, bearer(t.adminToken), { step_up_scopes: [] })
      const victim = yield* admin.post(`${realmPath(t)}/users`, { username: uniqueName("v"), password })
      const deleted = yield* call("DELETE", `${realmPath(t)}/users/${victim.json.sub}`, bearer(t.adminToken))
      const stepUp = {
        status: 403,
        body: { error: "insufficient_scope", error_description: "this call needs a fresh login with the scope tessera:admin:step-up" },
        challenge: `Bearer error="insufficient_scope", scope="tessera:admin tessera:admin:step-up"`
      }
      const answer = (res: WireResponse) => ({ status: res.status, body: res.json, challenge: res.headers["www-authenticate"] })
      expect({ weakened: answer(weakened), deleted: answer(deleted) }).toEqual({ weakened: stepUp, deleted: stepUp })
    }))


  it.effect("§3: an email that is no single address (a@b,c) is 400 invalid_request", () =>
    Effect.gen(function*() {
      const t = yield* tenant
      const res = yield* call("POST", `${realmPath(t)}/invitations`, bearer(t.adminToken), { email: "a@b,c", role: "member" })
      expect({ status: res.status, body: res.json }).toEqual({
        status: 400, body: { error: "invalid_request", error_description: "'email' must be one email address that can be mailed (ASCII local@domain)" }
      })
    }))
})

it.live("§3: an internationalized email the API accepts (201) is mailed, or refused by the API with 400", () =>
  Effect.gen(function*() {
    const sink = yield* Effect.promise(() => startSmtpSink({ user: "u@relay.example", pass: "relay-pass" }))
    const settings = yield* mailSettings(`smtp://${encodeURIComponent("u@relay.example")}:relay-pass@127.0.0.1:${sink.port}`)
    const outcome = yield* Effect.gen(function*() {
      const realm = yield* admin.post("/admin/realms", { name: uniqueName() })
      const res = yield* admin.post(`/admin/realms/${realm.json.name}/invitations`, { role: "member", email: "zoë@exämple.com" })
      const failed = yield* admin.get(`/admin/audit?type=invitation.mail_failed&limit=50`)
      return {
        status: res.status,
        reasons: failed.json.events.filter((e: { realm: string }) => e.realm === realm.json.name).map((e: { reason: string }) => e.reason.replace(/^invitation [0-9a-f-]+; /, ""))
      }
    }).pipe(Effect.provide(TestLive.make({ mail: Option.some(settings) })))
    yield* Effect.sleep(Duration.millis(1000))
    const envelopes = sink.received.map((r) => r.envelope.to)
    yield* Effect.promise(() => sink.close())
    if (outcome.status === 201) {
      expect({ envelopes, reasons: outcome.reasons }).toEqual({ envelopes: [["zoë@exämple.com"]], reasons: [] })
    } else {
      expect(outcome.status).toBe(400)
    }
  }), 60_000)
