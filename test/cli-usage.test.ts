/**
 * CONTRACT §8: how the `tessera` CLI answers: exit status 0 on success, 1 on a refusal (the server's error and
 * description on stderr), 2 on bad usage; whose credential it sends (TESSERA_ADMIN_TOKEN, else the owner token file
 * in TESSERA_DATA_DIR); `--json` for scripts and `--all` across pages; and hostile input, which is the server's 4xx or
 * a usage error, never a crash.
 */
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import * as Cli from "./support/Cli.js"
import { freePort } from "./support/Children.js"
import * as TestLive from "./support/TestLive.js"

/** Each test runs the CLI several times, each a Node start (about 0.35 s of CPU): room for a loaded machine. */
const slow = 120_000

let base: string
let realm: string

beforeAll(async () => {
  await Cli.build()
  ;({ base } = await Cli.serve())
  realm = `cli-usage-${process.pid}`
  expect((await Cli.api(base, "POST", "/admin/realms", { name: realm })).status).toBe(201)
})

const tessera = (args: Array<string>, options: Cli.RunOptions = {}) => Cli.run(base, args, options)

/** What a refusal prints: the server's error and description. */
const refusalOf = (body: { error: string; error_description: string }) => `tessera: ${body.error}: ${body.error_description}\n`

/** No JavaScript stack trace, ever. */
const noTrace = (result: Cli.Result) => expect(`${result.stdout}${result.stderr}`).not.toMatch(/\n\s+at |Error:|file:\/\//)

describe("CONTRACT §8 exit status", { timeout: slow }, () => {
  it("2 on bad usage: an unknown command, an unknown option, a missing argument, a bad option value", async () => {
    const [command, option, argument, value] = await Promise.all([
      tessera(["frobnicate"]),
      tessera(["users", "list", "--realm", realm, "--colour", "blue"]),
      tessera(["users", "get", "--realm", realm]),
      tessera(["invitations", "create", "--realm", realm, "--role", "superuser"])
    ])
    // @effect/cli's own words, on stderr
    expect([command, option, argument, value].map((result) => [result.code, result.stdout, result.stderr.trim()])).toEqual([
      [2, "", "Invalid subcommand for tessera - use one of 'realms', 'users', 'clients', 'resources', 'trusted-issuers', 'agents', 'invitations', 'keys', 'audit', 'sessions', 'grants', 'login', 'logout'"],
      [2, "", "Received unknown argument: '--colour'"],
      [2, "", "Missing argument <sub>"],
      [2, "", "Expected one of the following cases: admin, member"]
    ])
  })

  it("1 on a refusal, with the server's error and description on stderr; 1 when no server answers", async () => {
    const closed = await freePort()
    const [unknown, down] = await Promise.all([
      tessera(["users", "get", "--realm", realm, "nobody"]),
      tessera(["realms", "list"], { env: { TESSERA_URL: `http://127.0.0.1:${closed}` } })
    ])
    const answer = await Cli.api(base, "GET", `/admin/realms/${realm}/users/nobody`)
    expect(answer.status).toBe(404)
    expect(unknown).toEqual({ code: 1, stdout: "", stderr: refusalOf(answer.json) })
    expect(down).toEqual({ code: 1, stdout: "", stderr: `tessera: cannot reach http://127.0.0.1:${closed}: ECONNREFUSED\n` })
  })

  it("0 with --help on every level, each command described in one line", async () => {
    const [root, noun, verb] = await Promise.all([tessera(["--help"]), tessera(["users", "--help"]), tessera(["users", "create", "--help"])])
    for (const result of [root, noun, verb]) expect(result.code).toBe(0)
    expect(noun.stdout).toMatch(/^  - create .*  Create a user$/m)
    expect(verb.stdout).toContain("Create a user")
    for (const option of ["--username", "--password", "--email", "--name", "--roles", "--body", "--realm", "--json"]) {
      expect(verb.stdout).toContain(option)
    }
  })
})

describe("CONTRACT §8 credentials", { timeout: slow }, () => {
  it("the owner token from TESSERA_ADMIN_TOKEN; a wrong one is the server's invalid_token", async () => {
    const wrong = await tessera(["realms", "get", realm], { env: { TESSERA_ADMIN_TOKEN: "not-the-owner-token-0123456789abcdefgh" } })
    const answer = await fetch(`${base}/admin/realms/${realm}`, { headers: { authorization: "Bearer not-the-owner-token-0123456789abcdefgh" } })
    expect(wrong).toEqual({ code: 1, stdout: "", stderr: refusalOf(await answer.json()) })
  })

  it("else the owner token file: ./.tessera/admin-token, or $TESSERA_DATA_DIR/admin-token; else a clear refusal", async () => {
    const cwd = await Cli.tempDir()
    await Fs.mkdir(Path.join(cwd, ".tessera"))
    await Fs.writeFile(Path.join(cwd, ".tessera", "admin-token"), `${TestLive.adminToken}\n`, { mode: 0o600 })
    const elsewhere = await Cli.tempDir()
    await Fs.writeFile(Path.join(elsewhere, "admin-token"), TestLive.adminToken, { mode: 0o600 })
    const expected = await Cli.api(base, "GET", `/admin/realms/${realm}`)

    const [fromCwd, fromDataDir, none] = await Promise.all([
      tessera(["realms", "get", realm, "--json"], { cwd, env: { TESSERA_ADMIN_TOKEN: undefined } }),
      tessera(["realms", "get", realm, "--json"], { env: { TESSERA_ADMIN_TOKEN: undefined, TESSERA_DATA_DIR: elsewhere } }),
      tessera(["realms", "get", realm], { env: { TESSERA_ADMIN_TOKEN: undefined } })
    ])
    expect(fromCwd).toEqual({ code: 0, stdout: `${expected.text}\n`, stderr: "" })
    expect(fromDataDir).toEqual({ code: 0, stdout: `${expected.text}\n`, stderr: "" })
    expect(none).toEqual({
      code: 1,
      stdout: "",
      stderr: "tessera: no credentials: set TESSERA_ADMIN_TOKEN, run from the directory holding .tessera/admin-token (or set " +
        "TESSERA_DATA_DIR), or log in as a tenant admin with `tessera login --realm <realm>`\n"
    })
    // never the token itself
    for (const result of [fromCwd, fromDataDir, none]) expect(`${result.stdout}${result.stderr}`).not.toContain(TestLive.adminToken)
  })
})

describe("CONTRACT §8 output", { timeout: slow }, () => {
  it("--json prints the server's body exactly; --all follows next_cursor across pages", async () => {
    for (const username of ["pat", "quinn", "robin"]) {
      expect((await Cli.api(base, "POST", `/admin/realms/${realm}/users`, { username, password: "correct horse battery" })).status).toBe(201)
    }
    const [page, all, allJson] = await Promise.all([
      tessera(["users", "list", "--realm", realm, "--limit", "2", "--json"]),
      tessera(["users", "list", "--realm", realm, "--limit", "2", "--all"]),
      tessera(["users", "list", "--realm", realm, "--limit", "2", "--all", "--json"])
    ])
    const first = await Cli.api(base, "GET", `/admin/realms/${realm}/users?limit=2`)
    expect(page).toEqual({ code: 0, stdout: `${first.text}\n`, stderr: "" })
    expect(first.json.next_cursor).toEqual(expect.any(String))
    const everyone = (await Cli.api(base, "GET", `/admin/realms/${realm}/users?limit=200`)).json
    expect(JSON.parse(allJson.stdout)).toEqual({ users: everyone.users })
    expect(all.stdout.split("\n").filter((line) => / (pat|quinn|robin) /.test(line))).toHaveLength(3)
    expect(all.stdout).not.toContain("--cursor")
  })

  it("a value that would drive the terminal is shown escaped in a table, and as the server sent it with --json", async () => {
    const created = await Cli.api(base, "POST", `/admin/realms/${realm}/clients`, {
      redirect_uris: ["https://app.example/cb"], client_name: "Evil\u001b[2J\u001b]0;pwned\u0007"
    })
    // RFC 7591 §2 client_name: human-readable text; the server keeps it as given (HTML-escaped on its pages)
    expect(created.status).toBe(201)
    const [table, json] = await Promise.all([
      tessera(["clients", "get", "--realm", realm, created.json.client_id]),
      tessera(["clients", "get", "--realm", realm, created.json.client_id, "--json"])
    ])
    expect(table.stdout).toMatch(/^client_name +Evil\\u001b\[2J\\u001b\]0;pwned\\u0007$/m)
    expect(table.stdout).not.toContain("\u001b")
    expect(JSON.parse(json.stdout).client_name).toBe("Evil\u001b[2J\u001b]0;pwned\u0007")
  })
})

describe("CONTRACT §2 hostile input through the CLI: the server's 4xx or a usage error, never a crash", { timeout: slow }, () => {
  it("newlines and NUL in values are the server's invalid_request", async () => {
    const newline = { username: "eve\nadmin", password: "correct horse battery" }
    const nul = { username: "eve\u0000", password: "correct horse battery" }
    const [withNewline, withNul] = await Promise.all([
      tessera(["users", "create", "--realm", realm, "--username", newline.username, "--password", newline.password]),
      tessera(["users", "create", "--realm", realm, "--body", JSON.stringify(nul)])
    ])
    expect(withNewline).toEqual({ code: 1, stdout: "", stderr: refusalOf((await Cli.api(base, "POST", `/admin/realms/${realm}/users`, newline)).json) })
    expect(withNul).toEqual({ code: 1, stdout: "", stderr: refusalOf((await Cli.api(base, "POST", `/admin/realms/${realm}/users`, nul)).json) })
  })

  it("a value too long for its field is the server's invalid_request; a body over 64 KiB is refused before it is sent", async () => {
    const dir = await Cli.tempDir()
    const file = Path.join(dir, "huge.json")
    const huge = JSON.stringify({ username: "x".repeat(2_000_000), password: "correct horse battery" })
    await Fs.writeFile(file, huge)
    const long = { username: "y".repeat(60_000), password: "correct horse battery" }
    const [option, body] = await Promise.all([
      tessera(["users", "create", "--realm", realm, "--username", long.username, "--password", long.password]),
      tessera(["users", "create", "--realm", realm, "--body", `@${file}`])
    ])
    expect(option).toEqual({ code: 1, stdout: "", stderr: refusalOf((await Cli.api(base, "POST", `/admin/realms/${realm}/users`, long)).json) })
    expect(body).toEqual({ code: 2, stdout: "", stderr: `tessera: the body is ${huge.length} bytes; Tessera accepts at most 65536 (64 KiB)\n` })
    for (const result of [option, body]) noTrace(result)
  })

  it("ids that are no path segment, a body that is no JSON object, a header value with a newline: usage errors", async () => {
    const results = await Promise.all([
      tessera(["users", "get", "--realm", realm, ".."]),
      tessera(["users", "delete", "--realm", realm, ""]),
      tessera(["realms", "get", "."]),
      tessera(["users", "create", "--realm", realm, "--body", "[1, 2]"]),
      tessera(["users", "create", "--realm", realm, "--body", "{not json"]),
      tessera(["users", "create", "--realm", realm, "--body", "@/nonexistent/body.json"]),
      tessera(["users", "delete", "--realm", realm, "someone", "--if-match", "\"a\"\r\nX-Evil: 1"]),
      tessera(["resources", "create", "--realm", realm, "--uri", "https://x.example", "--scopes", "a", "--scope-descriptions", "{"])
    ])
    expect(results.map((result) => [result.code, result.stdout, result.stderr])).toEqual([
      [2, "", "tessera: <sub> must be an id, not '..'\n"],
      [2, "", "tessera: <sub> must be an id, not ''\n"],
      [2, "", "tessera: <realm> must be an id, not '.'\n"],
      [2, "", "tessera: --body: must be a JSON object\n"],
      [2, "", "tessera: --body: not valid JSON\n"],
      [2, "", "tessera: --body: cannot read /nonexistent/body.json: ENOENT\n"],
      [2, "", "tessera: --if-match: must be an ETag (visible ASCII)\n"],
      [2, "", "tessera: --scope-descriptions: not valid JSON\n"]
    ])
  })

  it("a realm or id with path characters stays one segment: the server's not_found", async () => {
    const [slash, query] = await Promise.all([
      tessera(["users", "get", "--realm", realm, "a/../../x"]),
      tessera(["users", "list", "--realm", `${realm}?x=1`])
    ])
    const user = await fetch(`${base}/admin/realms/${realm}/users/${encodeURIComponent("a/../../x")}`, { headers: { authorization: `Bearer ${TestLive.adminToken}` } })
    expect(slash).toEqual({ code: 1, stdout: "", stderr: refusalOf(await user.json()) })
    expect(query).toEqual({ code: 1, stdout: "", stderr: "tessera: not_found: unknown realm\n" })
  })
})
