/**
 * `ProtectedResource` for servers not written with Effect: a fetch handler (`Request` → `Response`, for the MCP
 * SDK's `WebStandardStreamableHTTPServerTransport`, Deno, Bun, Workers) and a Node handler (`(req, res)`, for its
 * `StreamableHTTPServerTransport`). Each serves the RFC 9728 metadata, answers CORS preflights, authenticates every
 * request to the MCP endpoint and hands the verified claims, never the token, to the server's own handler.
 */
import { Effect, Either } from "effect"
import type { AccessToken, ErrorResponse } from "@tessera/protocol"
import * as ProtectedResource from "./ProtectedResource.js"

/** What the server's handler gets with an authorized request. */
export interface Context {
  readonly claims: AccessToken.Claims
  /** The MCP SDK's `AuthInfo` (pass it as `req.auth` or `{ authInfo }`): `token` is empty, claims in `extra.claims`. */
  readonly authInfo: ReturnType<typeof ProtectedResource.authInfo>
  /** The JSON body, already read (pass it to the transport's `handleRequest`); undefined when there is none. */
  readonly parsedBody: unknown
}

export interface HandlerOptions extends ProtectedResource.Options {
  /** The largest request body read (default 4 MiB); larger is 413. */
  readonly maxBodyBytes?: number | undefined
}

/** An answer the handler writes itself: status, headers and a JSON body. */
interface Answer {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body?: string
}

const json = (status: number, value: unknown, headers: Readonly<Record<string, string>> = {}): Answer => ({
  status,
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(value)
})

const fromError = (e: ErrorResponse.ErrorResponse): Answer =>
  json(e.httpStatus, e.body, {
    "cache-control": "no-store",
    ...(e.wwwAuthenticate !== undefined ? { "www-authenticate": e.wwwAuthenticate } : {}),
    ...(e.httpStatus === 503 ? { "retry-after": "5" } : {}),
    ...ProtectedResource.corsHeaders
  })

const notFound = json(404, { error: "not_found", error_description: "nothing is served at this path" }, ProtectedResource.corsHeaders)
const tooLarge = (max: number) => json(413, { error: "invalid_request", error_description: `the body is larger than ${max} bytes` }, ProtectedResource.corsHeaders)
/** JSON-RPC 2.0 §5.1: -32700 for a body that is not JSON. */
const parseError = json(400, { jsonrpc: "2.0", error: { code: -32700, message: "Parse error: the body is not JSON" }, id: null }, ProtectedResource.corsHeaders)

type Step =
  | { readonly _tag: "Answer"; readonly answer: Answer }
  | { readonly _tag: "Endpoint" }

/** What a request is, before anything is read: the metadata, a preflight, the MCP endpoint, or nothing of ours. */
const route = (resource: ProtectedResource.ProtectedResource, method: string, pathname: string): Step => {
  const isMetadata = resource.metadataPaths.includes(pathname)
  if (isMetadata || pathname === resource.endpointPath) {
    if (method === "OPTIONS") return { _tag: "Answer", answer: { status: 204, headers: ProtectedResource.preflightHeaders } }
  }
  if (isMetadata) {
    // RFC 9728 §3.2: 200, application/json; public and cacheable
    if (method === "GET" || method === "HEAD") {
      return { _tag: "Answer", answer: json(200, resource.metadata, { "cache-control": "public, max-age=3600", ...ProtectedResource.corsHeaders }) }
    }
    return { _tag: "Answer", answer: json(405, { error: "invalid_request", error_description: "only GET is served here" }, { allow: "GET, HEAD, OPTIONS", ...ProtectedResource.corsHeaders }) }
  }
  return pathname === resource.endpointPath ? { _tag: "Endpoint" } : { _tag: "Answer", answer: notFound }
}

const prepare = (options: ProtectedResource.Options) =>
  Effect.runSync(Effect.either(ProtectedResource.make(options))).pipe(
    Either.getOrThrowWith((e) => new TypeError(e.message))
  )

const run = <A>(effect: Effect.Effect<A, ErrorResponse.ErrorResponse>) => Effect.runPromise(Effect.either(effect))

/** The body as JSON: undefined when empty; `parseError` when not JSON. */
const parseBody = (text: string): Either.Either<unknown, Answer> => {
  if (text.trim() === "") return Either.right(undefined)
  try {
    return Either.right(JSON.parse(text) as unknown)
  } catch {
    return Either.left(parseError)
  }
}

/**
 * Authenticates, then reads the body (only then: an anonymous caller cannot make us read it) and checks what the
 * called tools need: scopes, then the authentication's age.
 */
const authorizeRequest = async (
  resource: ProtectedResource.ProtectedResource,
  credentials: ProtectedResource.Credentials,
  readBody: () => Promise<Either.Either<string, Answer>>
): Promise<Either.Either<Context, Answer>> => {
  const authenticated = await run(ProtectedResource.authenticate(resource, credentials))
  if (Either.isLeft(authenticated)) return Either.left(fromError(authenticated.left))
  const text = await readBody()
  if (Either.isLeft(text)) return Either.left(text.left)
  const parsed = parseBody(text.right)
  if (Either.isLeft(parsed)) return Either.left(parsed.left)
  const scoped = await run(ProtectedResource.checkRequirements(resource, authenticated.right, parsed.right))
  if (Either.isLeft(scoped)) return Either.left(fromError(scoped.left))
  return Either.right({
    claims: authenticated.right.claims,
    authInfo: ProtectedResource.authInfo(resource, authenticated.right),
    parsedBody: parsed.right
  })
}

const defaultMaxBody = 4 * 1024 * 1024

/** Reads a stream of bytes up to `max`; past it, stops and answers 413. */
const readLimited = async (chunks: AsyncIterable<Uint8Array>, max: number): Promise<Either.Either<string, Answer>> => {
  const parts: Array<Uint8Array> = []
  let size = 0
  for await (const chunk of chunks) {
    size += chunk.byteLength
    if (size > max) return Either.left(tooLarge(max))
    parts.push(chunk)
  }
  const all = new Uint8Array(size)
  let at = 0
  for (const part of parts) {
    all.set(part, at)
    at += part.byteLength
  }
  return Either.right(new TextDecoder().decode(all))
}

const toResponse = (answer: Answer) => new Response(answer.body ?? null, { status: answer.status, headers: answer.headers })

/**
 * A fetch handler: metadata, preflights, and the MCP endpoint guarded; `handler` gets the request (its body already
 * read: use `context.parsedBody`) and answers. Throws a `TypeError` at once when the options are invalid.
 */
export const fetchHandler = (
  options: HandlerOptions,
  handler: (request: Request, context: Context) => Promise<Response>
): (request: Request) => Promise<Response> => {
  const resource = prepare(options)
  const max = options.maxBodyBytes ?? defaultMaxBody
  return async (request) => {
    const step = route(resource, request.method, new URL(request.url).pathname)
    if (step._tag === "Answer") return toResponse(step.answer)
    const credentials = {
      authorization: request.headers.get("authorization") ?? undefined,
      dpop: request.headers.get("dpop") ?? undefined,
      method: request.method
    }
    const context = await authorizeRequest(resource, credentials, async () => {
      if (Number(request.headers.get("content-length") ?? "0") > max) return Either.left(tooLarge(max))
      if (request.body === null) return Either.right("")
      return readLimited(request.body as unknown as AsyncIterable<Uint8Array>, max)
    })
    if (Either.isLeft(context)) return toResponse(context.left)
    const response = await handler(request, context.right)
    const headers = new Headers(response.headers)
    for (const [name, value] of Object.entries(ProtectedResource.corsHeaders)) if (!headers.has(name)) headers.set(name, value)
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers })
  }
}

/** The parts of Node's `IncomingMessage` used here. */
export interface NodeRequest extends AsyncIterable<Uint8Array | string> {
  readonly method?: string | undefined
  readonly url?: string | undefined
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
}

/** The parts of Node's `ServerResponse` used here. */
export interface NodeResponse {
  readonly headersSent: boolean
  setHeader(name: string, value: string): unknown
  writeHead(status: number, headers?: Record<string, string>): unknown
  end(body?: string): unknown
}

const write = (res: NodeResponse, answer: Answer) => {
  res.writeHead(answer.status, { ...answer.headers })
  res.end(answer.body)
}

const bytes = async function*(req: NodeRequest) {
  for await (const chunk of req) yield typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk
}

/**
 * A Node request listener (`http.createServer(nodeHandler(options, handler))`): metadata, preflights, and the MCP
 * endpoint guarded; `handler` gets the request (its body already read: `context.parsedBody`), the response, and
 * the claims. Throws a `TypeError` at once when the options are invalid.
 */
export const nodeHandler = <Req extends NodeRequest, Res extends NodeResponse>(
  options: HandlerOptions,
  handler: (req: Req, res: Res, context: Context) => void | Promise<void>
): (req: Req, res: Res) => Promise<void> => {
  const resource = prepare(options)
  const max = options.maxBodyBytes ?? defaultMaxBody
  return async (req, res) => {
    try {
      const pathname = new URL(req.url ?? "/", "http://localhost").pathname
      const step = route(resource, req.method ?? "GET", pathname)
      if (step._tag === "Answer") return write(res, step.answer)
      const authorization = req.headers["authorization"]
      const dpop = req.headers["dpop"]
      const credentials = {
        authorization: typeof authorization === "string" ? authorization : undefined,
        dpop: typeof dpop === "string" || Array.isArray(dpop) ? dpop as string | ReadonlyArray<string> : undefined,
        method: req.method ?? "GET"
      }
      const context = await authorizeRequest(resource, credentials, async () => {
        if (Number(req.headers["content-length"] ?? "0") > max) return Either.left(tooLarge(max))
        return readLimited(bytes(req), max)
      })
      if (Either.isLeft(context)) return write(res, context.left)
      for (const [name, value] of Object.entries(ProtectedResource.corsHeaders)) res.setHeader(name, value)
      await handler(req, res, context.right)
    } catch (e) {
      // a defect of the handler: logged, answered without detail, never a crashed process
      console.error("@tessera/mcp: request failed", e)
      if (!res.headersSent) write(res, json(500, { error: "server_error" }, ProtectedResource.corsHeaders))
      else res.end()
    }
  }
}
