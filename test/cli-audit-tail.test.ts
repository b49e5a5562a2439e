/**
 * CONTRACT §8 `tessera audit tail [--follow]`: the latest events of a realm's trail oldest first; with `--follow`,
 * every event written after it started, each once and none left out, until SIGINT, which ends it with status 0.
 */
import { beforeAll, describe, expect, it } from "vitest"
import * as Cli from "./support/Cli.js"

/** Each test runs the CLI several times, each a Node start (about 0.35 s of CPU): room for a loaded machine. */
const slow = 120_000

let base: string

beforeAll(async () => {
  await Cli.build()
  ;({ base } = await Cli.serve())
})

interface Event {
  readonly id: string
  readonly type: string
  readonly [field: string]: unknown
}

/** The realm's whole trail, oldest first, as the API lists it (newest first, one page of 200). */
const trail = async (realm: string) => ((await Cli.api(base, "GET", `/admin/realms/${realm}/audit?limit=200`)).json.events as Array<Event>).reverse()

const newRealm = async () => {
  const name = `cli-tail-${process.pid}-${crypto.randomUUID().slice(0, 8)}`
  expect((await Cli.api(base, "POST", "/admin/realms", { name })).status).toBe(201)
  return name
}

const addUser = async (realm: string, username: string) =>
  expect((await Cli.api(base, "POST", `/admin/realms/${realm}/users`, { username, password: "correct horse battery" })).status).toBe(201)

describe("CONTRACT §8 audit tail", { timeout: slow }, () => {
  it("prints the latest events oldest first, one line each (--json: one event object a line)", async () => {
    const realm = await newRealm()
    await addUser(realm, "ada")
    const events = await trail(realm)
    const [lines, json] = await Promise.all([
      Cli.run(base, ["audit", "tail", "--realm", realm, "-n", "3"]),
      Cli.run(base, ["audit", "tail", "--realm", realm, "-n", "3", "--json"])
    ])
    expect(json).toEqual({ code: 0, stdout: events.slice(-3).map((event) => `${JSON.stringify(event)}\n`).join(""), stderr: "" })
    const printed = lines.stdout.trimEnd().split("\n")
    expect(printed).toHaveLength(3)
    printed.forEach((line, i) => {
      const event = events[events.length - 3 + i]!
      expect(line.startsWith(`${event.at}  ${event.type}  ${event.result}  owner:owner  `)).toBe(true)
      expect(line.endsWith(`id=${event.id}`)).toBe(true)
    })
  })

  it("--follow prints each event written after it started once, in order, and SIGINT ends it with status 0", async () => {
    const realm = await newRealm()
    const before = await trail(realm)
    const child = await Cli.spawnCli(base, ["audit", "tail", "--realm", realm, "--follow", "--interval", "1", "--json", "-n", "1"])
    let stdout = ""
    let stderr = ""
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)))
    const printed = () => stdout.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line) as Event)
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
    /** Resolves once `count` events are printed. */
    const lines = (count: number) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`waited for ${count} lines, got:\n${stdout}\n${stderr}`)), 60_000)
        const check = () => {
          if (printed().length < count) return
          clearTimeout(timer)
          child.stdout!.off("data", check)
          resolve()
        }
        child.stdout!.on("data", check)
        exited.then(() => reject(new Error(`exited early:\n${stdout}\n${stderr}`)))
        check()
      })

    // the latest event first, then whatever comes: one user, then four at once (several between two polls)
    await lines(1)
    await addUser(realm, "first")
    await lines(2)
    await Promise.all(["b", "c", "d", "e"].map((name) => addUser(realm, name)))
    await lines(6)

    child.kill("SIGINT")
    expect(await exited).toBe(0)
    const after = await trail(realm)
    expect(printed()).toEqual(after.slice(before.length - 1))
    expect(printed().map((event) => event.type)).toEqual([before[before.length - 1]!.type, ...Array(5).fill("user.created")])
    expect(stderr).toBe("")
  })
})
