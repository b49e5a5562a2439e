/**
 * CONTRACT §8 `tessera <noun> <verb>`: every admin API operation (CONTRACT §3) is a command, and each noun's verbs
 * work end to end, run as the built CLI (a child process) against a real server on a loopback port.
 */
import * as HttpApi from "@effect/platform/HttpApi"
import { DateTime, Effect } from "effect"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { Audit, Hash, Provisioning, Session, Sessions } from "@tessera/domain"
import { AdminApi } from "@tessera/protocol"
import * as Commands from "../packages/cli/src/Commands.js"
import * as Cli from "./support/Cli.js"
import { issueCode, registerClient, tokenExchangeGrant, world } from "./support/TokenFixtures.js"

/** Each test runs the CLI several times, each a Node start (about 0.35 s of CPU): room for a loaded machine. */
const slow = 120_000

let base: string
let runtime: Awaited<ReturnType<typeof Cli.serve>>["runtime"]

beforeAll(async () => {
  await Cli.build()
  ;({ base, runtime } = await Cli.serve())
})

const tessera = (...args: Array<string>) => Cli.run(base, args)
const tesseraJson = (...args: Array<string>) => Cli.json(base, args)

let counter = 0
const realmName = () => `cli-${process.pid}-${(counter++).toString(36)}-${crypto.randomUUID().slice(0, 6)}`

/** A realm made through the API (the scene of a noun's test). */
const newRealm = async () => {
  const name = realmName()
  expect((await Cli.api(base, "POST", "/admin/realms", { name })).status).toBe(201)
  return name
}

/** What a refusal prints: the server's error and description, as the API answered them. */
const refusalOf = (body: { error: string; error_description: string }) => `tessera: ${body.error}: ${body.error_description}\n`

/** `key  value` rows, as the CLI prints a single item. */
const keyValues = (rows: ReadonlyArray<readonly [string, string]>) => {
  const width = Math.max(...rows.map(([key]) => key.length))
  return rows.map(([key, value]) => `${key.padEnd(width)}  ${value}`.trimEnd()).join("\n") + "\n"
}

describe("CONTRACT §8: every admin API operation is a command", { timeout: slow }, () => {
  it("each endpoint of AdminApi.Api has a noun and verb (a new endpoint without one fails here)", () => {
    const declared: Array<string> = []
    HttpApi.reflect(AdminApi.Api, { onGroup: () => undefined, onEndpoint: ({ endpoint }) => void declared.push(endpoint.name) })
    const commanded = Commands.plans().flatMap((plan) => [plan.endpoint.name, ...(plan.ownerTwin ? [plan.ownerTwin.name] : [])])
    expect(commanded.sort()).toEqual(declared.sort())
    expect(declared).toHaveLength(42)
  })

  it("`tessera --completions bash` completes every noun and verb; `tessera --help` lists every noun with one line", async () => {
    const [completions, help] = await Promise.all([tessera("--completions", "bash"), tessera("--help")])
    expect(completions.code).toBe(0)
    expect(completions.stderr).toBe("")
    const pairs = [...Commands.plans().map((plan) => [plan.noun, plan.verb]), ["audit", "tail"]]
    for (const [noun, verb] of pairs) {
      expect(completions.stdout).toContain(`tessera__${noun!.replaceAll("-", "__")}__${verb!.replaceAll("-", "__")})`)
    }
    expect(help.code).toBe(0)
    for (const noun of ["realms", "users", "clients", "resources", "trusted-issuers", "agents", "invitations", "keys", "audit", "sessions", "grants"]) {
      expect(help.stdout).toMatch(new RegExp(`^  - ${noun} +\\S.*$`, "m"))
    }
  })
})

describe.concurrent("CONTRACT §8 nouns, end to end", { timeout: slow }, () => {
  it("realms: create, update, get (with its ETag), delete only with --confirm, list", async () => {
    const name = realmName()
    const created = await tessera("realms", "create", "--name", name)
    expect(created).toEqual({ code: 0, stdout: keyValues([["name", name], ["issuer", `https://tessera.test/realms/${name}`]]), stderr: "" })

    const again = await tessera("realms", "create", "--name", name)
    const conflict = await Cli.api(base, "POST", "/admin/realms", { name })
    expect(conflict.status).toBe(409)
    expect(again).toEqual({ code: 1, stdout: "", stderr: refusalOf(conflict.json) })

    const updated = await tesseraJson("realms", "update", name, "--display-name", "Acme Corp", "--dynamic-registration", "true")
    const read = await Cli.api(base, "GET", `/admin/realms/${name}`)
    expect(updated).toEqual(read.json)
    expect(read.json).toEqual({ name, issuer: `https://tessera.test/realms/${name}`, display_name: "Acme Corp", dynamic_registration: true })

    const shown = await tessera("realms", "get", name)
    expect(shown.stdout).toBe(keyValues([
      ["name", name], ["issuer", read.json.issuer], ["display_name", "Acme Corp"], ["dynamic_registration", "true"], ["ETag", read.etag!]
    ]))

    // the tests of this block run at once, creating realms: the list holds this one as GET shows it
    const listed = await tesseraJson("realms", "list", "--limit", "200")
    expect(listed.realms).toContainEqual(read.json)

    const unconfirmed = await tessera("realms", "delete", name)
    expect(unconfirmed.code).toBe(1)
    expect(unconfirmed.stderr).toBe(refusalOf((await Cli.api(base, "DELETE", `/admin/realms/${name}`)).json))
    expect(await tessera("realms", "delete", name, "--confirm", name)).toEqual({ code: 0, stdout: "", stderr: "" })
    expect((await Cli.api(base, "GET", `/admin/realms/${name}`)).status).toBe(404)

  })

  it("users: create, list (--q) as a table, get, update under --if-match (a stale one is 412), set-password, delete", async () => {
    const realm = await newRealm()
    const created = await tesseraJson(
      "users", "create", "--realm", realm, "--username", "alice", "--password", "correct horse battery",
      "--email", "alice@example.com", "--name", "Alice Liddell", "--roles", "admin", "--roles", "member"
    )
    expect(created).toEqual({ sub: expect.any(String), username: "alice" })
    const { sub } = created

    // a one-letter field is a one-letter option: `q` is -q
    const listed = await tessera("users", "list", "--realm", realm, "-q", "ali")
    const user = await Cli.api(base, "GET", `/admin/realms/${realm}/users/${sub}`)
    // a column per field, in the order the server sends them
    const columns = Object.keys(user.json)
    const cells = columns.map((key) => (Array.isArray(user.json[key]) ? user.json[key].join(",") : String(user.json[key])))
    const widths = columns.map((key, i) => Math.max(key.length, cells[i]!.length))
    const row = (texts: ReadonlyArray<string>) => texts.map((text, i) => (i === texts.length - 1 ? text : text.padEnd(widths[i]!))).join("  ")
    expect(listed).toEqual({ code: 0, stdout: `${row(columns.map((key) => key.toUpperCase()))}\n${row(cells)}\n`, stderr: "" })
    expect(cells).toEqual([sub, "alice", "alice@example.com", "Alice Liddell", "admin,member", "false", user.json.created_at])
    expect(await tesseraJson("users", "get", "--realm", realm, sub)).toEqual(user.json)

    const changed = await tessera("users", "update", "--realm", realm, sub, "--disabled", "true", "--roles", "member", "--if-match", user.etag!)
    expect(changed.code).toBe(0)
    expect(changed.stdout).toBe(keyValues(Object.entries({ ...user.json, roles: "member", disabled: "true" })))
    const stale = await tessera("users", "update", "--realm", realm, sub, "--name", "Late", "--if-match", user.etag!)
    expect(stale).toEqual({ code: 1, stdout: "", stderr: expect.stringMatching(/^tessera: precondition_failed: .+\n$/) })

    expect(await tessera("users", "set-password", "--realm", realm, sub, "--password", "a new long password")).toEqual({ code: 0, stdout: "", stderr: "" })
    expect(await tessera("users", "delete", "--realm", realm, sub)).toEqual({ code: 0, stdout: "", stderr: "" })
    expect((await Cli.api(base, "GET", `/admin/realms/${realm}/users/${sub}`)).status).toBe(404)
  })

  it("sessions, grants and agents: list a person's sessions and grants, an agent's delegations; end, revoke", async () => {
    // the scene, through the ports: a person, an agent client they authorized (a grant), a session of theirs
    const scene = await runtime.runPromise(Effect.gen(function*() {
      const w = yield* world
      const agent = yield* registerClient(w, { principal_type: "agent", client_name: "Planner", grant_types: ["authorization_code", "refresh_token", tokenExchangeGrant] })
      const { grantId } = yield* issueCode(w, { clientId: agent.client_id, scopes: ["read"], resources: [w.resource] })
      const realm = yield* Provisioning.findRealm(w.name)
      const now = yield* DateTime.now
      const sid = crypto.randomUUID()
      const event = yield* Audit.make(realm, { type: "login.succeeded", actor: { type: "user", id: w.sub }, subject: w.sub, result: "success" })
      yield* Effect.flatMap(Sessions.Sessions, (sessions) =>
        Effect.flatMap(Hash.sha256(crypto.randomUUID()), (cookieHash) =>
          sessions.create(Session.Session.Active({
            realmId: realm.id, sid, cookieHash, sub: w.sub, createdAt: now, authTime: now, acr: Session.passwordAcr,
            amr: Session.passwordAmr, expiresAt: DateTime.addDuration(now, Session.lifetime), clientIds: []
          }), event)))
      return { realm: w.name, sub: w.sub, agent: agent.client_id, grantId, sid }
    }))
    const { realm, sub } = scene
    const userPath = `/admin/realms/${realm}/users/${sub}`

    expect(await tesseraJson("sessions", "list", "--realm", realm, sub)).toEqual((await Cli.api(base, "GET", `${userPath}/sessions`)).json)
    expect(await tessera("sessions", "end", "--realm", realm, sub, scene.sid)).toEqual({ code: 0, stdout: "", stderr: "" })
    expect((await Cli.api(base, "GET", `${userPath}/sessions`)).json).toEqual({ sessions: [] })

    const agents = await tesseraJson("agents", "list", "--realm", realm)
    expect(agents).toEqual((await Cli.api(base, "GET", `/admin/realms/${realm}/agents`)).json)
    expect(agents.agents).toEqual([{ client_id: scene.agent, client_name: "Planner", delegations: [expect.objectContaining({ sub })] }])

    const grants = await tessera("grants", "list", "--realm", realm, sub)
    expect(grants.code).toBe(0)
    expect(grants.stdout).toMatch(new RegExp(`^GRANT_ID +CLIENT_ID +SCOPES +RESOURCES +CREATED_AT\n${scene.grantId} +${scene.agent} +read +https://api\\.example/${realm} +\\S+\n$`))

    expect(await tessera("agents", "revoke", "--realm", realm, scene.agent, sub)).toEqual({ code: 0, stdout: "", stderr: "" })
    expect(await tessera("grants", "list", "--realm", realm, sub)).toEqual({ code: 0, stdout: "(no grants)\n", stderr: "" })
    const gone = await tessera("grants", "revoke", "--realm", realm, sub, scene.grantId)
    expect(gone).toEqual({ code: 1, stdout: "", stderr: refusalOf((await Cli.api(base, "DELETE", `${userPath}/grants/${scene.grantId}`)).json) })
  })

  it("clients: create (the secret shown once), list, get, update, rotate-secret, delete; bad metadata is the server's refusal", async () => {
    const realm = await newRealm()
    const created = await tesseraJson(
      "clients", "create", "--realm", realm, "--redirect-uris", "https://app.example/cb", "--client-name", "App",
      "--grant-types", "authorization_code", "--grant-types", "refresh_token"
    )
    expect(created).toMatchObject({ client_id: expect.any(String), client_secret: expect.any(String), client_name: "App", redirect_uris: ["https://app.example/cb"] })
    const path = `/admin/realms/${realm}/clients/${created.client_id}`

    expect(await tesseraJson("clients", "list", "--realm", realm)).toEqual((await Cli.api(base, "GET", `/admin/realms/${realm}/clients`)).json)
    const read = await Cli.api(base, "GET", path)
    const shown = await tessera("clients", "get", "--realm", realm, created.client_id)
    expect(shown.stdout).toMatch(new RegExp(`^client_id +${created.client_id}$`, "m"))
    expect(shown.stdout).toMatch(new RegExp(`^client_name +App$`, "m"))
    expect(shown.stdout).toMatch(new RegExp(`^ETag +${read.etag!.replace(/[\\"]/g, "\\$&")}\n$`, "m"))
    expect(shown.stdout).not.toContain(created.client_secret)

    expect(await tesseraJson("clients", "update", "--realm", realm, created.client_id, "--client-name", "App 2")).toEqual({ ...read.json, client_name: "App 2" })
    const rotated = await tesseraJson("clients", "rotate-secret", "--realm", realm, created.client_id, "--previous-valid-for", "60")
    expect(rotated).toEqual({ client_secret: expect.any(String), previous_secret_expires_at: expect.any(Number) })
    expect(await tessera("clients", "delete", "--realm", realm, created.client_id)).toEqual({ code: 0, stdout: "", stderr: "" })
    expect((await Cli.api(base, "GET", path)).status).toBe(404)

    const implicit = { redirect_uris: ["https://app.example/cb"], grant_types: ["implicit"] }
    const refused = await tessera("clients", "create", "--realm", realm, "--body", JSON.stringify(implicit))
    expect(refused).toEqual({ code: 1, stdout: "", stderr: refusalOf((await Cli.api(base, "POST", `/admin/realms/${realm}/clients`, implicit)).json) })
  })

  it("resources: create with repeated scopes and JSON descriptions, list, get, update under --if-match, delete", async () => {
    const realm = await newRealm()
    const uri = `https://api.example/${realm}`
    const created = await tesseraJson(
      "resources", "create", "--realm", realm, "--uri", uri, "--scopes", "read", "--scopes", "pay", "--step-up-scopes", "pay",
      "--scope-descriptions", JSON.stringify({ read: "Read your things", pay: "Send payments" }), "--display-name", "API"
    )
    expect(created).toEqual({
      id: expect.any(String), uri, scopes: ["read", "pay"], step_up_scopes: ["pay"], display_name: "API",
      scope_descriptions: { read: "Read your things", pay: "Send payments" }, created_at: expect.any(String)
    })
    const path = `/admin/realms/${realm}/resources/${created.id}`
    const list = await tessera("resources", "list", "--realm", realm)
    expect(list.stdout.split("\n")[0]).toMatch(/^ID +URI +SCOPES +STEP_UP_SCOPES +DISPLAY_NAME +SCOPE_DESCRIPTIONS +CREATED_AT$/)
    // lists of scopes comma-separated, an object as its JSON
    // beside the realm's built-in admin resource (ADR 0035)
    expect(list.stdout.split("\n").find((line) => line.startsWith(created.id))).toMatch(new RegExp(`^${created.id} +${uri} +read,pay +pay +API +\\{"read":"Read your things","pay":"Send payments"\\} +\\S+$`))

    const { etag } = await Cli.api(base, "GET", path)
    const renamed = await tesseraJson("resources", "update", "--realm", realm, created.id, "--display-name", "Payments", "--if-match", etag!)
    expect(renamed).toEqual({ ...created, display_name: "Payments" })
    const stale = await tessera("resources", "delete", "--realm", realm, created.id, "--if-match", etag!)
    expect(stale.code).toBe(1)
    expect(stale.stderr).toMatch(/^tessera: precondition_failed: /)
    expect(await tessera("resources", "delete", "--realm", realm, created.id)).toEqual({ code: 0, stdout: "", stderr: "" })
    expect((await Cli.api(base, "GET", path)).status).toBe(404)
  })

  it("trusted-issuers: create from --body @file with an option beside it, list, get, update, delete", async () => {
    const realm = await newRealm()
    const dir = await Cli.tempDir()
    const jwk = { kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0" }
    const file = Path.join(dir, "issuer.json")
    await Fs.writeFile(file, JSON.stringify({ issuer: "https://idp.example", jwks: { keys: [jwk] }, id_jag: false }))
    const created = await tesseraJson("trusted-issuers", "create", "--realm", realm, "--body", `@${file}`, "--id-jag", "true")
    expect(created).toEqual({
      id: expect.any(String), issuer: "https://idp.example", jwks: { keys: [jwk] }, id_jag: true, provision_users: false, created_at: expect.any(String)
    })
    const path = `/admin/realms/${realm}/trusted-issuers/${created.id}`
    expect(await tesseraJson("trusted-issuers", "list", "--realm", realm)).toEqual({ trusted_issuers: [created] })
    expect(await tesseraJson("trusted-issuers", "get", "--realm", realm, created.id)).toEqual(created)
    expect(await tesseraJson("trusted-issuers", "update", "--realm", realm, created.id, "--provision-users", "true")).toEqual({ ...created, provision_users: true })
    expect(await tessera("trusted-issuers", "delete", "--realm", realm, created.id)).toEqual({ code: 0, stdout: "", stderr: "" })
    expect((await Cli.api(base, "GET", path)).status).toBe(404)
  })

  it("invitations: create prints the URL, list (never the URL), revoke", async () => {
    const realm = await newRealm()
    const created = await tessera("invitations", "create", "--realm", realm, "--email", "bob@example.com", "--role", "admin")
    expect(created.code).toBe(0)
    const [listed] = (await Cli.api(base, "GET", `/admin/realms/${realm}/invitations`)).json.invitations
    expect(created.stdout).toMatch(new RegExp(
      `^id +${listed.id}\nurl +https://tessera\\.test/realms/${realm}/invitations/[A-Za-z0-9_-]{43}\nrole +admin\nemail +bob@example\\.com\nexpires_at +${listed.expires_at}\n$`
    ))
    expect(await tesseraJson("invitations", "list", "--realm", realm)).toEqual({ invitations: [listed] })
    expect(await tessera("invitations", "revoke", "--realm", realm, listed.id)).toEqual({ code: 0, stdout: "", stderr: "" })
    expect((await Cli.api(base, "GET", `/admin/realms/${realm}/invitations`)).json.invitations).toEqual([{ ...listed, status: "revoked" }])
  })

  it("keys: list, rotate (next becomes active)", async () => {
    const realm = await newRealm()
    const before = await tesseraJson("keys", "list", "--realm", realm)
    expect(before).toEqual((await Cli.api(base, "GET", `/admin/realms/${realm}/keys`)).json)
    const rotated = await tessera("keys", "rotate", "--realm", realm)
    expect(rotated.code).toBe(0)
    const after = (await Cli.api(base, "GET", `/admin/realms/${realm}/keys`)).json.keys as Array<{ kid: string; status: string }>
    const wasNext = before.keys.filter((key: { status: string }) => key.status === "next").map((key: { kid: string }) => key.kid)
    expect(after.filter((key) => key.status === "active").map((key) => key.kid).sort()).toEqual(wasNext.sort())
    expect(rotated.stdout.split("\n")[0]).toMatch(/^KID +ALG +STATUS +CREATED_AT +(EXPIRES_AT|ACTIVATES_AT) +(EXPIRES_AT|ACTIVATES_AT)$/)
  })

  it("audit: list and verify a realm's trail; without a realm, the owner's", async () => {
    const realm = await newRealm()
    expect(await tesseraJson("audit", "list", "--realm", realm)).toEqual((await Cli.api(base, "GET", `/admin/realms/${realm}/audit`)).json)
    expect(await tessera("audit", "verify", "--realm", realm)).toEqual({ code: 0, stdout: keyValues([["ok", "true"], ["events", "3"]]), stderr: "" })
    // the owner trail grows as the other tests make realms: this realm's creation, as the API lists it
    const ours = (events: ReadonlyArray<{ realm: string }>) => events.filter((event) => event.realm === realm)
    const owner = await tesseraJson("audit", "list", "--type", "realm.created", "--limit", "200")
    const api = await Cli.api(base, "GET", "/admin/audit?type=realm.created&limit=200")
    expect(ours(owner.events)).toEqual(ours(api.json.events))
    expect(ours(owner.events)).toEqual([expect.objectContaining({ type: "realm.created", realm })])
    expect(await tesseraJson("audit", "verify")).toEqual({ ok: true, events: expect.any(Number) })
  })
})
