/**
 * The admin API over HTTP (CONTRACT §3): the server is `TESSERA_URL` (CONTRACT §8, default http://localhost:8080), the
 * credential a bearer token that never leaves the Authorization header. node:http, not fetch: fetch loads undici and
 * compiles its WebAssembly parser on every start, about 40 ms of a command's CPU here (ADR 0043).
 */
import * as Http from "node:http"
import * as Https from "node:https"
import { Config, Effect, Redacted } from "effect"
import { Refused, Usage } from "./Failure.js"

export const defaultUrl = "http://localhost:8080"

/** `TESSERA_URL`: an http or https URL without query or fragment; a trailing slash is dropped. */
export const baseUrl = Effect.gen(function*() {
  const raw = yield* Config.string("TESSERA_URL").pipe(Config.withDefault(defaultUrl), Effect.orDie)
  const value = raw === "" ? defaultUrl : raw
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return yield* new Usage({ description: "TESSERA_URL: must be an http or https URL" })
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.search !== "" || url.hash !== "" || value.includes("#")) {
    return yield* new Usage({ description: "TESSERA_URL: must be an http or https URL without query or fragment" })
  }
  if (url.username !== "" || url.password !== "") return yield* new Usage({ description: "TESSERA_URL: must not hold credentials" })
  return url.href.replace(/\/+$/, "")
})

export interface Request {
  readonly method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE"
  /** The path with its segments already percent-encoded. */
  readonly path: string
  readonly query: ReadonlyArray<readonly [string, string]>
  /** A JSON body, serialized. */
  readonly body?: string
  /** RFC 9110 §13.1.1 */
  readonly ifMatch?: string
}

export interface Answer {
  readonly status: number
  /** The body exactly as the server sent it. */
  readonly text: string
  /** The parsed body; undefined when empty or not JSON. */
  readonly json: unknown
  readonly etag: string | undefined
}

const parse = (text: string): unknown => {
  if (text === "") return undefined
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** CONTRACT §3 errors: `{"error", "error_description"}`; anything else is named by its status. */
const refusal = (answer: Answer) => {
  const body = answer.json as { error?: unknown; error_description?: unknown } | undefined
  if (typeof body === "object" && body !== null && typeof body.error === "string") {
    return new Refused({
      error: body.error,
      description: typeof body.error_description === "string" ? body.error_description : `HTTP ${answer.status}`
    })
  }
  return new Refused({ description: `HTTP ${answer.status}` })
}

const describe = (cause: unknown): string => {
  const code = (cause as { code?: unknown } | undefined)?.code
  if (typeof code === "string") return code
  return cause instanceof Error ? cause.message : String(cause)
}

/** One exchange, the connection closed after it (a command makes one or a few). */
const exchange = (url: URL, method: string, headers: Record<string, string>, body: string | undefined, signal: AbortSignal) =>
  new Promise<{ status: number; etag: string | undefined; text: string }>((resolve, reject) => {
    const request = (url.protocol === "https:" ? Https : Http).request(url, { method, headers, agent: false, signal }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (chunk: Buffer) => chunks.push(chunk))
      res.on("error", reject)
      res.on("end", () => {
        const etag = res.headers.etag
        resolve({ status: res.statusCode ?? 0, etag: typeof etag === "string" ? etag : undefined, text: Buffer.concat(chunks).toString("utf8") })
      })
    })
    request.on("error", reject)
    request.end(body)
  })

/** Sends one request; a 2xx is the answer, anything else (or no answer) a `Refused`. */
export const send = (base: string, token: Redacted.Redacted<string>, request: Request) =>
  Effect.gen(function*() {
    const url = new URL(base + request.path)
    for (const [key, value] of request.query) url.searchParams.append(key, value)
    const headers: Record<string, string> = { authorization: `Bearer ${Redacted.value(token)}`, accept: "application/json" }
    if (request.body !== undefined) {
      headers["content-type"] = "application/json"
      headers["content-length"] = String(Buffer.byteLength(request.body))
    }
    if (request.ifMatch !== undefined) headers["if-match"] = request.ifMatch
    const response = yield* Effect.tryPromise({
      try: (signal) => exchange(url, request.method, headers, request.body, signal),
      catch: (cause) => new Refused({ description: `cannot reach ${base}: ${describe(cause)}` })
    })
    const answer: Answer = { ...response, json: parse(response.text) }
    if (answer.status < 200 || answer.status > 299) return yield* refusal(answer)
    return answer
  })
