/**
 * Requests whose body is streamed in chunks over a fresh connection (node:http, no agent), for the body-limit tests:
 * chunked (no Content-Length) unless the headers declare a length. The server may answer before the body is sent
 * (a 413 decided while reading); a well-behaved client then stops sending, an attacker (`keepSending`) goes on until
 * the server hangs up. Imports node:* only, so a test may use it outside an Effect.
 */
import * as Http from "node:http"

export interface Streamed {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly text: string
  /** The parsed JSON body, or undefined when the body is not JSON. */
  readonly json: any
  /** The body bytes written to the connection before the answer (or all of them, with `keepSending`). */
  readonly sent: number
  /** With `hold`: how long after the answer the server closed the connection. */
  readonly closedAfterMillis?: number
}

export interface Request {
  readonly port: number
  readonly method: string
  readonly path: string
  readonly headers?: Record<string, string>
  /** The body, chunk by chunk. */
  readonly chunks: Iterable<Uint8Array | string>
  /** Go on sending after the answer has arrived, as an attacker would (default: stop, as a client should). */
  readonly keepSending?: boolean
  /** Stop sending at the answer but keep the connection open, until the server closes it. */
  readonly hold?: boolean
}

/** `total` bytes of `fill` in chunks of `size`: the same buffer again and again, so the sender itself stays small. */
export function* filler(total: number, size = 64 * 1024, fill = "a"): Generator<Uint8Array> {
  const chunk = Buffer.alloc(size, fill)
  for (let left = total; left > 0; left -= size) yield left >= size ? chunk : chunk.subarray(0, left)
}

export const send = (request: Request) =>
  new Promise<Streamed>((resolve, reject) => {
    const req = Http.request({
      host: "127.0.0.1",
      port: request.port,
      method: request.method,
      path: request.path,
      // keep-alive, so that closing the connection is the server's own decision
      headers: { connection: "keep-alive", ...request.headers },
      agent: false
    })
    let sent = 0
    let answer: Omit<Streamed, "sent"> | undefined
    let answered = false
    let pumped = false
    let answeredAt = 0
    let socketClosed = false
    req.on("socket", (socket) =>
      socket.once("close", () => {
        socketClosed = true
        settle()
      }))
    const settle = () => {
      if (answer === undefined || (request.keepSending === true && !pumped)) return
      if (request.hold === true && !socketClosed) return
      req.destroy()
      resolve({ ...answer, sent, ...(request.hold === true ? { closedAfterMillis: Date.now() - answeredAt } : {}) })
    }
    req.on("response", (res) => {
      answered = true
      answeredAt = Date.now()
      const body: Array<Buffer> = []
      res.on("data", (chunk: Buffer) => void body.push(chunk))
      res.on("end", () => {
        const text = Buffer.concat(body).toString("utf8")
        let json: unknown
        try {
          json = JSON.parse(text)
        } catch {
          json = undefined
        }
        answer = { status: res.statusCode!, headers: res.headers as Record<string, string>, text, json }
        settle()
      })
    })
    // once answered, the server may close the connection while the body is still being written
    req.on("error", (error) => (answered ? undefined : reject(error)))
    req.on("close", () => {
      pumped = true
      if (!answered) reject(new Error(`${request.method} ${request.path}: the connection closed without an answer after ${sent} bytes`))
      else settle()
    })
    const pump = async () => {
      for (const chunk of request.chunks) {
        if (req.destroyed || (answered && request.keepSending !== true)) break
        sent += chunk.length
        if (!req.write(chunk)) {
          await new Promise<void>((drained) => {
            req.once("drain", drained)
            req.once("close", drained)
          })
        }
      }
      if (!req.destroyed && !answered) req.end()
      pumped = true
      settle()
    }
    void pump()
  })
