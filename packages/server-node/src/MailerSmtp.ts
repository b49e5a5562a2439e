/**
 * CONTRACT §1 `TESSERA_SMTP_URL` / `TESSERA_MAIL_FROM`: the domain `Mailer` port over SMTP (RFC 5321), on nodemailer
 * (ADR 0038). One plain-text UTF-8 message per call, on its own connection, bounded in time; a failure is
 * `MailFailed` with the transport's reason, never a credential, and nothing is logged here.
 */
import { Clock, Duration, Effect, Layer, Option, Redacted } from "effect"
import * as Nodemailer from "nodemailer"
import { Mailer } from "@tessera/domain"
import type { MailSettings } from "./AppConfig.js"
import * as MailAddress from "./MailAddress.js"

/**
 * ADR 0038: how long each step may take. nodemailer's defaults (2 min to connect, 30 s for the greeting, 10 min of
 * silence) would hold an admin's invitation request for minutes when the relay is gone; a relay answers in
 * milliseconds (measured on loopback: ADR 0038), a distant one within a second or two.
 */
export const timeouts = {
  /** TCP connect (and the DNS lookup, and TLS for `smtps://`). */
  connection: Duration.seconds(5),
  /** From connected to the server's 220 greeting (RFC 5321 §4.5.3.2.1 allows 5 min; no relay worth using needs it). */
  greeting: Duration.seconds(5),
  /** Silence on the socket at any later step (EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA). */
  socket: Duration.seconds(10),
  /** The whole send, whatever the steps: a server that trickles replies cannot hold a request longer than this. */
  send: Duration.seconds(20)
} as const

/** RFC 1122 §3.2.1.3 loopback, where a relay on the same machine may take credentials without TLS. */
const isLoopback = (host: string) => host === "localhost" || /^127\.\d+\.\d+\.\d+$/.test(host) || host === "::1"

/** The longest reason kept: enough for the server's reply line (RFC 5321 §4.5.3.1.5: 512 octets). */
const maxReason = 300

/** The forms a credential could take in a transport's message: raw, and the base64 of AUTH PLAIN and AUTH LOGIN. */
const secretForms = (auth: MailSettings["auth"]): ReadonlyArray<string> =>
  Option.match(auth, {
    onNone: () => [],
    onSome: ({ pass, user }) => {
      const password = Redacted.value(pass)
      return [
        Buffer.from(`\u0000${user}\u0000${password}`).toString("base64"),
        Buffer.from(password).toString("base64"),
        password
      ]
    }
  })

/** `reason` with every mention of `address` reduced to its domain (relays quote the mailbox they refuse). */
const withoutLocalPart = (reason: string, address: string): string => {
  const at = address.lastIndexOf("@")
  if (at < 1) return reason
  const escaped = address.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
  return reason.replace(new RegExp(escaped, "gi"), `[recipient]${address.slice(at)}`)
}

/**
 * The transport's reason: its code and message on one line, without a credential in any form, and without the
 * recipient's mailbox: the reason goes to the audit trail, whose invitation events name the email's domain at most
 * (ADR 0037).
 */
export const reasonOf = (error: unknown, secrets: ReadonlyArray<string>, recipient = ""): string => {
  const e = (typeof error === "object" && error !== null ? error : {}) as { readonly code?: unknown; readonly message?: unknown }
  const code = typeof e.code === "string" ? e.code : "ERROR"
  const message = typeof e.message === "string" ? e.message : String(error)
  let reason = `${code}: ${message}`.replace(/\s+/g, " ").trim()
  for (const secret of secrets) if (secret !== "") reason = reason.replaceAll(secret, "[redacted]")
  reason = withoutLocalPart(reason, recipient)
  return reason.length > maxReason ? `${reason.slice(0, maxReason - 1)}…` : reason
}

/** The nodemailer options for `settings`: one connection per message, no logging, the timeouts above. */
export const transportOptions = (settings: MailSettings) => {
  const host = settings.host.startsWith("[") ? settings.host.slice(1, -1) : settings.host
  return {
    host,
    port: settings.port,
    // RFC 8314 §3.3: smtps is TLS from the first byte, the certificate verified (nodemailer's default)
    secure: settings.secure,
    // ADR 0038: credentials never cross the network in clear: STARTTLS (RFC 3207) is required before AUTH, except
    // to a relay on this machine
    requireTLS: !settings.secure && Option.isSome(settings.auth) && !isLoopback(host),
    ...Option.match(settings.auth, {
      onNone: () => ({}),
      onSome: ({ pass, user }) => ({ auth: { user, pass: Redacted.value(pass) } })
    }),
    connectionTimeout: Duration.toMillis(timeouts.connection),
    dnsTimeout: Duration.toMillis(timeouts.connection),
    greetingTimeout: Duration.toMillis(timeouts.greeting),
    socketTimeout: Duration.toMillis(timeouts.socket),
    // never a log line from the transport: its debug output would hold the AUTH exchange
    logger: false,
    debug: false,
    // the message is ours, but a library feature that reads files or URLs has no business here
    disableFileAccess: true,
    disableUrlAccess: true
  } as const
}

/** The Mailer over SMTP with `settings`. */
export const layer = (settings: MailSettings) =>
  Layer.scoped(
    Mailer.Mailer,
    Effect.gen(function*() {
      const secrets = secretForms(settings.auth)
      const transport = yield* Effect.acquireRelease(
        Effect.sync(() => Nodemailer.createTransport(transportOptions(settings))),
        (t) => Effect.sync(() => t.close())
      )
      const send = (message: Mailer.Message) =>
        Effect.gen(function*() {
          // one recipient, exactly: a value holding two addresses (or a header) is refused, not sent
          if (!MailAddress.isAddress(message.to)) return yield* new Mailer.MailFailed({ reason: "the recipient is not one address" })
          const now = yield* Clock.currentTimeMillis
          yield* Effect.tryPromise({
            try: (signal) =>
              transport.sendMail({
                from: { name: settings.from.name, address: settings.from.address },
                to: { name: "", address: message.to },
                // RFC 5321 §4.1.1.2, §4.1.1.3: the envelope is exactly the sender and the one recipient
                envelope: { from: settings.from.address, to: [message.to] },
                // RFC 5322 §2.2: a header is one line; the library folds and encodes (RFC 2047) what is left
                subject: message.subject.replace(/[\r\n]+/g, " "),
                text: message.text,
                // RFC 5322 §3.6.1: the origination date, from Effect's clock
                date: new Date(now),
                disableFileAccess: true,
                disableUrlAccess: true,
                signal
              }),
            catch: (error) => new Mailer.MailFailed({ reason: reasonOf(error, secrets, message.to) })
          }).pipe(
            Effect.timeoutFail({
              duration: timeouts.send,
              onTimeout: () => new Mailer.MailFailed({ reason: `ETIMEDOUT: no answer within ${Duration.format(timeouts.send)}` })
            })
          )
        })
      return Mailer.Mailer.of({ configured: true, send })
    })
  )
