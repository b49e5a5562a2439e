/**
 * `tessera audit tail [--follow]` (CONTRACT §8): the latest events of a trail, oldest first, and with `--follow` every
 * new one as it is written, until interrupted (Ctrl-C ends it with status 0). The trail is read through its query
 * (CONTRACT §3, newest first, paged by `next_cursor`): each poll reads back from the newest page to the newest event
 * already printed, so no event is printed twice and none is skipped, however many arrived between two polls.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { Config, Console, Duration, Effect, Option } from "effect"
import * as AdminHttp from "./AdminHttp.js"
import * as Commands from "./Commands.js"
import * as Credentials from "./Credentials.js"
import { Usage } from "./Failure.js"
import * as Fields from "./Fields.js"
import * as Output from "./Output.js"

interface Event {
  readonly id: string
  readonly at?: string
  readonly type?: string
  readonly result?: string
  readonly actor?: { readonly type?: string; readonly id?: string }
  readonly [field: string]: unknown
}

interface Page {
  readonly events: ReadonlyArray<Event>
  readonly next_cursor?: string
}

/** CONTRACT §3 lists: at most 200 a page. */
const pageSize = 200

/** One line per event: when, what, how it ended, who, then its other fields. */
export const line = (event: Event) => {
  const { at, type, result, actor, id, realm, ...rest } = event
  const who = actor === undefined ? "" : `${actor.type ?? ""}:${actor.id ?? ""}`
  const others = Object.entries(rest).map(([key, value]) => `${key}=${Output.cell(value)}`)
  return [Output.cell(at), Output.cell(type), Output.cell(result), Output.safe(who), ...others, `id=${Output.cell(id)}`].join("  ")
}

/** The tail of the trail `audit list` reads, with its filters (`--type`, `--subject`, ...); paging is the tail's own. */
export const command = () => {
  const audit = Commands.plans().find((plan) => plan.noun === "audit" && plan.verb === "list")!
  const filterFields = Option.match(audit.endpoint.urlParamsSchema, { onNone: () => [], onSome: Fields.fieldsOf })
    .filter((field) => !["limit", "cursor", "since", "until"].includes(field.name))
  const options = {
    realm: Options.text("realm").pipe(
      Options.optional,
      Options.withFallbackConfig(Config.option(Config.string("TESSERA_REALM"))),
      Options.withDescription("The realm (default: TESSERA_REALM); without one, the owner's own trail (owner only).")
    ),
    follow: Options.boolean("follow").pipe(Options.withAlias("f"), Options.withDescription("Keep printing new events until interrupted.")),
    lines: Options.integer("lines").pipe(
      Options.withAlias("n"),
      Options.withDefault(20),
      Options.withDescription("How many of the latest events to print first (0 to 200).")
    ),
    interval: Options.integer("interval").pipe(
      Options.withDefault(2),
      Options.withDescription("Seconds between polls with --follow (1 to 3600).")
    ),
    filters: Fields.options(filterFields, "The query"),
    json: Commands.json
  }

  return Command.make("tail", options, (parsed) =>
    Effect.gen(function*() {
      if (parsed.lines < 0 || parsed.lines > pageSize) return yield* new Usage({ description: "--lines: must be from 0 to 200" })
      if (parsed.interval < 1 || parsed.interval > 3600) return yield* new Usage({ description: "--interval: must be from 1 to 3600 seconds" })
      const base = yield* AdminHttp.baseUrl
      const credential = yield* Credentials.choose(parsed.realm)
      const path = Option.match(parsed.realm, {
        onNone: () => Effect.succeed(audit.ownerTwin!.path),
        onSome: (realm) => Effect.map(Commands.segment("realm", realm), (segment) => audit.endpoint.path.replace(":realm", segment))
      })
      const filters = Object.entries(yield* Fields.given(filterFields, parsed.filters)).map(([k, v]) => [k, String(v)] as const)
      const get = (limit: number, cursor?: string) =>
        Effect.flatMap(path, (p) =>
          Effect.map(
            AdminHttp.send(base, credential.token, {
              method: "GET",
              path: p,
              query: [...filters, ["limit", String(limit)], ...(cursor !== undefined ? [["cursor", cursor] as const] : [])]
            }),
            (answer) => answer.json as Page
          ))
      const print = (events: ReadonlyArray<Event>) =>
        Effect.forEach(events, (event) => Console.log(parsed.json ? JSON.stringify(event) : line(event)), { discard: true })

      // the latest events, oldest first
      const first = parsed.lines === 0 ? { events: [] } : yield* get(parsed.lines)
      yield* print([...first.events].reverse())
      if (!parsed.follow) return
      // interrupting a follow is how it ends: status 0 (main.ts reads it)
      process.exitCode = 0

      let newest: string | undefined = first.events[0]?.id
      if (newest === undefined && parsed.lines === 0) newest = (yield* get(1)).events[0]?.id
      for (;;) {
        yield* Effect.sleep(Duration.seconds(parsed.interval))
        // newest first, back to the newest event printed (or the trail's start)
        const fresh: Array<Event> = []
        let cursor: string | undefined
        let reached = false
        while (!reached) {
          const page: Page = yield* get(pageSize, cursor)
          for (const event of page.events) {
            if (event.id === newest) {
              reached = true
              break
            }
            fresh.push(event)
          }
          if (page.next_cursor === undefined) break
          cursor = page.next_cursor
        }
        if (fresh.length === 0) continue
        yield* print(fresh.reverse())
        newest = fresh[fresh.length - 1]!.id
      }
    })).pipe(Command.withDescription("Print the latest events oldest first; with --follow, every new one until interrupted"))
}
