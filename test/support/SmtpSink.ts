/**
 * A real SMTP server in the test process (the npm `smtp-server`, RFC 5321) on a free loopback port, requiring AUTH
 * with the given credentials; every message it accepts is parsed with `mailparser` and kept with its envelope.
 * Recipients named in `rejectRecipients` are refused with 550 (RFC 5321 §4.2.2), as a real relay refuses a mailbox.
 */
import type * as Net from "node:net"
import { type ParsedMail, simpleParser } from "mailparser"
import { SMTPServer, type SMTPServerOptions } from "smtp-server"

export interface Received {
  readonly envelope: { readonly from: string | false; readonly to: ReadonlyArray<string> }
  /** The login the client authenticated with. */
  readonly user: string | undefined
  /** The message as it came over the wire (headers and body). */
  readonly raw: string
  readonly parsed: ParsedMail
}

export interface SinkOptions {
  readonly user: string
  readonly pass: string
  readonly rejectRecipients?: ReadonlyArray<string>
  /** Extra smtp-server options (e.g. `secure: true` for implicit TLS with the library's self-signed certificate). */
  readonly server?: Partial<SMTPServerOptions>
}

export const startSmtpSink = async (options: SinkOptions) => {
  const received: Array<Received> = []
  const waiting: Array<() => void> = []
  let connections = 0
  const authFailures: Array<string> = []
  const server = new SMTPServer({
    // loopback only: AUTH without TLS is what a relay on the same machine accepts (ADR 0038)
    allowInsecureAuth: true,
    authOptional: false,
    authMethods: ["PLAIN", "LOGIN"],
    // no STARTTLS offered: the library's certificate is self-signed, and a client would rightly refuse it
    disabledCommands: ["STARTTLS"],
    logger: false,
    size: 1024 * 1024,
    onConnect: (_session, callback) => {
      connections++
      callback()
    },
    onAuth: (auth, _session, callback) => {
      if (auth.username === options.user && auth.password === options.pass) return callback(null, { user: auth.username })
      authFailures.push(auth.username ?? "")
      const error = Object.assign(new Error("Authentication credentials invalid"), { responseCode: 535 })
      callback(error)
    },
    onRcptTo: (address, _session, callback) => {
      if (options.rejectRecipients?.includes(address.address)) {
        return callback(Object.assign(new Error(`<${address.address}>: mailbox unavailable`), { responseCode: 550 }))
      }
      callback()
    },
    onData: (stream, session, callback) => {
      const chunks: Array<Buffer> = []
      stream.on("data", (chunk: Buffer) => chunks.push(chunk))
      stream.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8")
        simpleParser(raw).then(
          (parsed) => {
            received.push({
              envelope: {
                from: session.envelope.mailFrom === false ? false : session.envelope.mailFrom.address,
                to: session.envelope.rcptTo.map((r) => r.address)
              },
              user: typeof session.user === "string" ? session.user : undefined,
              raw,
              parsed
            })
            for (const wake of waiting.splice(0)) wake()
            callback()
          },
          (error: unknown) => callback(error as Error)
        )
      })
    },
    ...options.server
  })
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => resolve())
  })
  // a client that drops its connection is not the test's failure
  server.on("error", () => undefined)
  const port = ((server as unknown as { server: Net.Server }).server.address() as Net.AddressInfo).port
  const scheme = options.server?.secure === true ? "smtps" : "smtp"
  return {
    port,
    /** `TESSERA_SMTP_URL` for this server: the credentials percent-encoded. */
    url: `${scheme}://${encodeURIComponent(options.user)}:${encodeURIComponent(options.pass)}@127.0.0.1:${port}`,
    received,
    authFailures,
    connections: () => connections,
    /** Resolves with the `count`-th message (1-based) once it has arrived; rejects after `timeoutMs`. */
    message: (count = 1, timeoutMs = 15_000) =>
      new Promise<Received>((resolve, reject) => {
        const check = () => {
          if (received.length >= count) {
            clearTimeout(timer)
            resolve(received[count - 1]!)
            return true
          }
          return false
        }
        const timer = setTimeout(() => reject(new Error(`no message ${count} within ${timeoutMs} ms (${received.length} arrived)`)), timeoutMs)
        const wait = () => {
          if (!check()) waiting.push(wait)
        }
        wait()
      }),
    /** Resolves with the first message whose envelope is to `address`, once it has arrived; rejects after `timeoutMs`. */
    messageTo: (address: string, timeoutMs = 15_000) =>
      new Promise<Received>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no message to ${address} within ${timeoutMs} ms`)), timeoutMs)
        const wait = () => {
          const found = received.find((r) => r.envelope.to.includes(address))
          if (found === undefined) return void waiting.push(wait)
          clearTimeout(timer)
          resolve(found)
        }
        wait()
      }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

export type SmtpSink = Awaited<ReturnType<typeof startSmtpSink>>
