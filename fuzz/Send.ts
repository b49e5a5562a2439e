/**
 * A fuzz request on the wire: slots filled from the fixture, pairs encoded (properly, raw, or with broken escapes),
 * sent with node:http on loopback (keep-alive), the answer read whole (up to a cap). node:http refuses a few things
 * outright (a path with spaces or characters above U+00FF, a header value with control characters): those are sent
 * percent-encoded (path) or as their UTF-8 bytes (headers), and a header Node will not send at all is dropped and
 * named in the printed request.
 */
import * as Http from "node:http"
import type { Body, FuzzRequest, Pairs, SlotRef, Text } from "./Arbitraries.js"
import { applyCorruption } from "./Arbitraries.js"
import type { Fixture } from "./Fixture.js"

/** The request as it went out, to print and to reproduce by hand. */
export interface Rendered {
  readonly method: string
  readonly path: string
  readonly headers: ReadonlyArray<readonly [string, string]>
  readonly body?: Buffer
  readonly chunked: boolean
  /** Headers node:http would not send (invalid name or value), left out. */
  readonly dropped: ReadonlyArray<string>
}

export interface Answer {
  readonly status: number
  /** The size of the status line and header lines, in bytes (as names and values, plus their separators). */
  readonly headerBytes: number
  readonly headers: Http.IncomingHttpHeaders
  readonly body: string
  readonly ms: number
}

export type Outcome =
  | { readonly _tag: "Answer"; readonly answer: Answer }
  /**
   * No answer: the connection failed or was closed (or the per-request timeout passed). `previous` is what the
   * connection carried before, when it was a kept-alive one (the server may have closed it after that answer).
   */
  | { readonly _tag: "NoAnswer"; readonly error: string; readonly ms: number; readonly previous?: string }

/** What each kept-alive connection last carried: request line and answer status, with the answer's Connection header. */
const carried = new WeakMap<object, string>()

const resolveSlot = (ref: SlotRef, fixture: Fixture): string => {
  const value = (ref.prefix ?? "") + fixture.value(ref.slot as Exclude<SlotRef["slot"], "dpop">)
  return ref.corrupt !== undefined ? applyCorruption(value, ref.corrupt) : value
}

const text = (t: Text, fixture: Fixture) => (typeof t === "string" ? t : resolveSlot(t, fixture))

/** RFC 3986 §2.1: a broken escape: `%` followed by what is not two hex digits, or the half of a UTF-8 sequence. */
const breakEscapes = (s: string) => s.replace(/%([0-9A-F]{2})/, "%$1%").replace(/^/, "%G") + "%E2%82"

const encodePairs = (pairs: Pairs, encoding: "proper" | "raw" | "broken", fixture: Fixture) => {
  const resolved = pairs.map(([k, v]) => [text(k, fixture), text(v, fixture)] as const)
  if (encoding === "raw") return resolved.map(([k, v]) => `${k}=${v}`).join("&")
  const proper = resolved.map(([k, v]) => `${encodeURIComponent(safe(k))}=${encodeURIComponent(safe(v))}`).join("&")
  return encoding === "proper" ? proper : breakEscapes(proper)
}

/** encodeURIComponent throws on a lone surrogate: send U+FFFD there, as a browser would. */
const safe = (s: string) => s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD")

/** What node:http accepts in a request path (0x21-0xFF): everything else percent-encoded, broken escapes kept as they are. */
const pathSafe = (s: string) =>
  Array.from(s, (c) => (/[\u0021-\u007e]/.test(c) ? c : Array.from(Buffer.from(safe(c)), (b) => `%${b.toString(16).toUpperCase().padStart(2, "0")}`).join(""))).join("")

/** A header value as node:http will send it: its UTF-8 bytes as latin1; undefined when Node refuses it (CR, LF, NUL). */
const headerSafe = (value: string): string | undefined => {
  const bytes = Buffer.from(safe(value)).toString("latin1")
  return /[^\t\x20-\x7e\x80-\xff]/.test(bytes) ? undefined : bytes
}
const headerNameOk = (name: string) => /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)

const bodyBytes = (body: Body, fixture: Fixture): Buffer => {
  switch (body.kind) {
    case "form":
      return Buffer.from(encodePairs(body.pairs, body.encoding, fixture))
    case "json":
      return Buffer.from(JSON.stringify(body.value) ?? "")
    case "text":
      return Buffer.from(body.text)
    case "bytes":
      return Buffer.from(body.bytes)
    case "repeat":
      return Buffer.from(body.unit.repeat(body.count))
  }
}

/** Fills the slots (a DPoP slot becomes a fresh proof for this method and URL, bound to the Authorization's token). */
export const render = async (request: FuzzRequest, fixture: Fixture, base: string): Promise<Rendered> => {
  let path = pathSafe(request.path.map((t) => text(t, fixture)).join(""))
  if (request.query !== undefined && request.query.pairs.length > 0) {
    path += (path.includes("?") ? "&" : "?") + pathSafe(encodePairs(request.query.pairs, request.query.encoding, fixture))
  }
  if (!path.startsWith("/")) path = "/" + path
  const headers: Array<readonly [string, string]> = []
  const dropped: Array<string> = []
  const authorization = request.headers.find(([n]) => n === "authorization")?.[1]
  const accessToken = authorization === undefined ? undefined : text(authorization, fixture).replace(/^(DPoP|Bearer) /i, "")
  for (const [name, value] of request.headers) {
    let v: string
    if (typeof value !== "string" && value.slot === "dpop") {
      const htu = base + path.split("?")[0]
      const proof = await fixture.dpop(request.method, htu, accessToken !== undefined && accessToken.startsWith("ey") ? accessToken : undefined)
      v = value.corrupt !== undefined ? applyCorruption(proof, value.corrupt) : proof
    } else {
      v = text(value, fixture)
    }
    const sendable = headerSafe(v)
    if (!headerNameOk(name) || sendable === undefined || name.toLowerCase() === "content-length" || name.toLowerCase() === "host"
      || name.toLowerCase() === "transfer-encoding") {
      dropped.push(`${JSON.stringify(name)}: ${JSON.stringify(v.length > 200 ? v.slice(0, 200) + "…" : v)}`)
      continue
    }
    headers.push([name, sendable])
  }
  return {
    method: request.method,
    path,
    headers,
    ...(request.body !== undefined ? { body: bodyBytes(request.body, fixture) } : {}),
    chunked: request.chunked,
    dropped
  }
}

const maxBody = 1 << 20

/** Sends one rendered request and reads the answer (at most 1 MiB of it); never rejects. */
export const send = (agent: Http.Agent | undefined, base: URL, r: Rendered, timeoutMs: number): Promise<Outcome> =>
  new Promise((resolve) => {
    const started = performance.now()
    const headers: Record<string, string | Array<string>> = {}
    for (const [name, value] of r.headers) {
      const key = name.toLowerCase()
      const had = headers[key]
      headers[key] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value]
    }
    if (r.body !== undefined && !r.chunked) headers["content-length"] = String(r.body.length)
    let done = false
    const finish = (outcome: Outcome) => {
      if (!done) {
        done = true
        resolve(outcome)
      }
    }
    let req: Http.ClientRequest
    try {
      // headers of an answer are read up to 1 MiB (Node's default is 16 KiB) so that an answer with oversized headers
      // is still seen, and reported (Fuzz.ts `bigHeaders`) rather than lost as a parse error
      req = Http.request({ maxHeaderSize: 1 << 20, agent: agent ?? false, host: base.hostname, port: base.port, method: r.method, path: r.path, headers, timeout: timeoutMs })
    } catch (error) {
      return finish({ _tag: "NoAnswer", error: `not sent: ${String(error)}`, ms: 0 })
    }
    req.on("response", (res) => {
      carried.set(res.socket, `${r.method} ${r.path.slice(0, 120)} -> ${res.statusCode} (connection: ${res.headers["connection"] ?? "-"}, body ${r.body?.length ?? 0} bytes${r.chunked ? " chunked" : ""})`)
      const chunks: Array<Buffer> = []
      let size = 0
      res.on("data", (chunk: Buffer) => {
        if (size < maxBody) chunks.push(chunk)
        size += chunk.length
      })
      res.on("end", () =>
        finish({
          _tag: "Answer",
          answer: {
            status: res.statusCode ?? 0,
            headerBytes: res.rawHeaders.reduce((n, part) => n + Buffer.byteLength(part, "latin1") + 2, 0),
            headers: res.headers, body: Buffer.concat(chunks).toString("utf8"), ms: performance.now() - started }
        }))
      res.on("error", (error) => finish({ _tag: "NoAnswer", error: `response: ${error.message}`, ms: performance.now() - started }))
    })
    req.on("timeout", () => {
      req.destroy(new Error(`no answer within ${timeoutMs} ms`))
    })
    let socket: object | undefined
    req.on("socket", (s) => (socket = s))
    req.on("error", (error) => {
      const previous = req.reusedSocket ? (socket !== undefined ? carried.get(socket) : undefined) ?? "(not recorded)" : undefined
      finish({ _tag: "NoAnswer", error: error.message, ms: performance.now() - started, ...(previous !== undefined ? { previous } : {}) })
    })
    if (r.body !== undefined) {
      if (r.chunked) {
        // several writes, so that the body really arrives in chunks
        for (let at = 0; at < r.body.length; at += 16_384) req.write(r.body.subarray(at, at + 16_384))
      } else {
        req.write(r.body)
      }
    }
    req.end()
  })
