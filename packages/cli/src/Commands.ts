/**
 * CONTRACT §8: `tessera <noun> <verb>` for every endpoint of the admin API (CONTRACT §3), built from `AdminApi.Api`
 * and the table in Operations.ts: path ids are arguments, body and query fields are options derived from the
 * endpoint's schemas, `--realm` (or `TESSERA_REALM`) names the realm, `--body` takes a whole JSON body, `--if-match`
 * a precondition, `--all` follows `next_cursor`, `--json` prints the server's JSON.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import type * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import { Api } from "@tessera/protocol/AdminApi"
import { Config, Console, Effect, Option } from "effect"
import * as AdminHttp from "./AdminHttp.js"
import * as Credentials from "./Credentials.js"
import { Usage } from "./Failure.js"
import * as Fields from "./Fields.js"
import { type EndpointName, nouns, nounSummaries, type Operation, operations } from "./Operations.js"
import * as Output from "./Output.js"

type Endpoint = HttpApiEndpoint.HttpApiEndpoint.AnyWithProps

/** Every endpoint of the admin API, in the order the API declares them. */
export const endpoints: ReadonlyArray<Endpoint> = Object.values(Api.groups).flatMap((group) =>
  Object.values((group as unknown as { endpoints: Record<string, Endpoint> }).endpoints)
)

/** The endpoint names of a path, in order: `/admin/realms/:realm/users/:sub` has `realm`, `sub`. */
export const pathParams = (path: string) => [...path.matchAll(/:([A-Za-z_]+)/g)].map((match) => match[1]!)

/** A command: one endpoint, or a realm's and the owner's twin of the same call (the audit trail). */
export interface Plan extends Operation {
  readonly endpoint: Endpoint
  /** Called instead when no realm is given. */
  readonly ownerTwin: Endpoint | undefined
}

/** The commands, by noun, in the table's order. */
export const plans = (): ReadonlyArray<Plan> => {
  const out: Array<Plan> = []
  for (const endpoint of endpoints) {
    const operation = operations[endpoint.name as EndpointName]
    if (operation === undefined) throw new Error(`admin API endpoint ${endpoint.name} has no command (Operations.ts)`)
    const twin = out.findIndex((plan) => plan.noun === operation.noun && plan.verb === operation.verb)
    if (twin === -1) {
      out.push({ ...operation, endpoint, ownerTwin: undefined })
      continue
    }
    const other = out[twin]!
    const [realmOne, ownerOne] = pathParams(endpoint.path).includes("realm") ? [endpoint, other.endpoint] : [other.endpoint, endpoint]
    if (!pathParams(realmOne.path).includes("realm") || pathParams(ownerOne.path).length !== 0) {
      throw new Error(`${operation.noun} ${operation.verb}: two endpoints share it, and they are not a realm's and the owner's`)
    }
    out[twin] = { ...operation, endpoint: realmOne, ownerTwin: ownerOne }
  }
  return out
}

const realmFallback = Config.string("TESSERA_REALM")

const realmRequired = Options.text("realm").pipe(
  Options.withFallbackConfig(realmFallback),
  Options.withDescription("The realm (default: TESSERA_REALM)."),
  Options.map(Option.some)
)

const realmOptional = Options.text("realm").pipe(
  Options.optional,
  Options.withFallbackConfig(Config.option(realmFallback)),
  Options.withDescription("The realm (default: TESSERA_REALM); without one, the owner's own trail (owner only).")
)

export const json = Options.boolean("json").pipe(Options.withDescription("Print the server's JSON as it is, for scripts."))

const body = Options.text("body").pipe(
  Options.optional,
  Options.withDescription("The whole JSON body, or @file (@- for standard input); options given beside it win.")
)

const ifMatch = Options.text("if-match").pipe(
  Options.optional,
  Options.withDescription("Change only while the item's ETag is this one (RFC 9110 §13.1.1); 412 otherwise.")
)

const all = Options.boolean("all").pipe(Options.withDescription("Follow next_cursor and print every page."))

/** A path segment an id can be: the URL parser would resolve `.` and `..` (RFC 3986 §5.2.4), an empty one names another route. */
export const segment = (name: string, value: string) =>
  value === "" || value === "." || value === ".."
    ? Effect.fail(new Usage({ description: `<${name}> must be an id, not '${Output.safe(value)}'` }))
    : Effect.succeed(encodeURIComponent(value))

/** CONTRACT §2: request bodies are at most 64 KiB. */
export const maxBody = 64 * 1024

// RFC 9110 §5.5: a field value is visible ASCII, spaces and tabs
const fieldValue = /^[\x20-\x7e\t]*$/

/** CONTRACT §3: a list answers `next_cursor` (the success schema says so). */
const isList = (endpoint: Endpoint) => Fields.fieldsOf(endpoint.successSchema).some((field) => field.name === "next_cursor")

interface Parsed {
  readonly realm: Option.Option<string>
  readonly ids: ReadonlyArray<string>
  readonly fields: Record<string, Option.Option<unknown>>
  readonly query: Record<string, Option.Option<unknown>>
  readonly body: Option.Option<string>
  readonly ifMatch: Option.Option<string>
  readonly all: boolean
  readonly json: boolean
}

/** The command of one plan. */
export const command = (plan: Plan) => {
  const { endpoint } = plan
  const params = pathParams(endpoint.path)
  // a realm is the item of `realms <verb>`; elsewhere it is --realm
  const realmIsItem = plan.noun === "realms"
  const ids = realmIsItem ? params : params.filter((param) => param !== "realm")
  const payloadFields = Option.match(endpoint.payloadSchema, { onNone: () => [], onSome: Fields.fieldsOf })
  const queryFields = Option.match(endpoint.urlParamsSchema, { onNone: () => [], onSome: Fields.fieldsOf })
  const hasBody = Option.isSome(endpoint.payloadSchema)
  const preconditioned = endpoint.method === "PATCH" || endpoint.method === "PUT" || endpoint.method === "DELETE"
  const list = isList(endpoint)

  const config = {
    realm: realmIsItem || !params.includes("realm") ? Options.map(Options.none, () => Option.none<string>())
      : plan.ownerTwin !== undefined ? realmOptional : realmRequired,
    ids: ids.length === 0 ? Args.map(Args.none, () => [] as Array<string>)
      : Args.map(Args.all(ids.map((name) => Args.text({ name }).pipe(Args.withDescription(`The ${name}.`)))), (values) => [...values] as Array<string>),
    fields: Fields.options(payloadFields, "The body"),
    query: Fields.options(queryFields, "The query"),
    body: hasBody ? body : Options.map(Options.none, () => Option.none<string>()),
    ifMatch: preconditioned ? ifMatch : Options.map(Options.none, () => Option.none<string>()),
    all: list ? all : Options.map(Options.none, () => false),
    json
  }

  return Command.make(plan.verb, config, (parsed: Parsed) => run(plan, { ids, payloadFields, queryFields, hasBody, list }, parsed)).pipe(
    Command.withDescription(plan.summary)
  )
}

const run = (
  plan: Plan,
  shape: {
    readonly ids: ReadonlyArray<string>
    readonly payloadFields: ReadonlyArray<Fields.Field>
    readonly queryFields: ReadonlyArray<Fields.Field>
    readonly hasBody: boolean
    readonly list: boolean
  },
  parsed: Parsed
) =>
  Effect.gen(function*() {
    const base = yield* AdminHttp.baseUrl
    const endpoint = Option.isNone(parsed.realm) && plan.ownerTwin !== undefined ? plan.ownerTwin : plan.endpoint
    const values: Record<string, string> = Object.fromEntries(shape.ids.map((name, i) => [name, parsed.ids[i]!]))
    if (Option.isSome(parsed.realm)) values["realm"] = parsed.realm.value
    let path: string = endpoint.path
    for (const name of pathParams(endpoint.path)) path = path.replace(`:${name}`, yield* segment(name, values[name] ?? ""))

    let request: AdminHttp.Request = {
      method: endpoint.method as AdminHttp.Request["method"],
      path,
      query: Object.entries(yield* Fields.given(shape.queryFields, parsed.query)).map(([k, v]) => [k, String(v)] as const)
    }
    if (shape.hasBody) {
      const whole = Option.isSome(parsed.body) ? yield* Fields.parseJson(parsed.body.value, "--body") : {}
      if (typeof whole !== "object" || whole === null || Array.isArray(whole)) return yield* new Usage({ description: "--body: must be a JSON object" })
      const text = JSON.stringify({ ...whole, ...(yield* Fields.given(shape.payloadFields, parsed.fields)) })
      // CONTRACT §2: the server refuses a larger body (413) and may close the connection before it is all sent
      const size = Buffer.byteLength(text)
      if (size > maxBody) return yield* new Usage({ description: `the body is ${size} bytes; Tessera accepts at most ${maxBody} (64 KiB)` })
      request = { ...request, body: text }
    }
    if (Option.isSome(parsed.ifMatch)) {
      if (!fieldValue.test(parsed.ifMatch.value)) return yield* new Usage({ description: "--if-match: must be an ETag (visible ASCII)" })
      request = { ...request, ifMatch: parsed.ifMatch.value }
    }

    const realm = Option.orElse(parsed.realm, () => (plan.noun === "realms" ? Option.fromNullable(values["realm"]) : Option.none()))
    const credential = yield* Credentials.choose(realm)
    const answer = yield* AdminHttp.send(base, credential.token, request)
    if (parsed.all && shape.list) return yield* printAll(base, credential, request, answer, parsed.json)
    if (answer.status === 204) return
    if (parsed.json) return yield* Console.log(answer.text)
    const etag = endpoint.method === "GET" && !shape.list ? answer.etag : undefined
    return yield* Console.log(Output.human(answer.json, etag))
  })

/** `--all`: every page, one after the other; with --json, one object holding every item. */
const printAll = (base: string, credential: Credentials.Credential, request: AdminHttp.Request, first: AdminHttp.Answer, asJson: boolean) =>
  Effect.gen(function*() {
    const key = Output.listKey(first.json)
    if (key === undefined) return yield* Console.log(asJson ? first.text : Output.human(first.json))
    const items: Array<unknown> = []
    let page = first.json as Record<string, unknown>
    for (;;) {
      items.push(...(page[key] as ReadonlyArray<unknown>))
      const cursor = page["next_cursor"]
      if (typeof cursor !== "string") break
      const query: AdminHttp.Request["query"] = [...request.query.filter(([k]) => k !== "cursor"), ["cursor", cursor]]
      const next = yield* AdminHttp.send(base, credential.token, { ...request, query })
      page = next.json as Record<string, unknown>
    }
    return yield* Console.log(asJson ? JSON.stringify({ [key]: items }) : Output.human({ [key]: items }))
  })

/**
 * Every noun, each with its verbs (and what it adds by hand: `audit tail`), or, for the nouns not in `expand`, only
 * its name and summary: building a noun's commands from the schemas costs start-up time, so a run builds only the
 * noun it was asked for (its help lists the nouns; `--completions` needs them all).
 */
export const nounCommands = (
  extra: Partial<Record<string, () => ReadonlyArray<Command.Command<any, any, any, any>>>>,
  expand: (noun: string) => boolean
) => {
  const all = plans()
  return nouns.map((noun) => {
    const named = Command.make(noun).pipe(Command.withDescription(nounSummaries[noun]))
    if (!expand(noun)) return named
    const verbs = [...all.filter((plan) => plan.noun === noun).map(command), ...(extra[noun]?.() ?? [])]
    const [first, ...rest] = verbs
    if (first === undefined) throw new Error(`noun ${noun} has no command`)
    return named.pipe(Command.withSubcommands([first, ...rest]))
  })
}
