/**
 * CONTRACT §1 `TESSERA_SMTP_URL` / `TESSERA_MAIL_FROM` and §3 "mailed to `email` when SMTP is configured" (issue 14,
 * ADR 0038): the configuration, the SMTP transport against a real SMTP server in this process (`smtp-server`, AUTH
 * with the URL's credentials; messages parsed with `mailparser`), and invitations mailed through the admin API.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { ConfigProvider, DateTime, Duration, Effect, Either, Exit, Logger, Option, Redacted, TestClock } from "effect"
import * as Net from "node:net"
import { Mailer } from "@tessera/domain"
import * as AppConfig from "@tessera/server-node/AppConfig"
import * as MailAddress from "@tessera/server-node/MailAddress"
import * as MailerSmtp from "@tessera/server-node/MailerSmtp"
import { fieldsOf, onlyForm, pathOf } from "./support/Browser.js"
import { admin, createRealm, get, uniqueName } from "./support/Http.js"
import { startSmtpSink, type SmtpSink } from "./support/SmtpSink.js"
import * as TestLive from "./support/TestLive.js"

/** A user name and password with every character a URL must percent-encode: the URL decodes them (CONTRACT §1). */
const smtpUser = "tessera@relay.example"
const smtpPass = "p@ss:w/rd%20?#ü"
const from = { name: "Tessera Invitations", address: "invitations@tessera.example" }

/** `AppConfig.config` on exactly these variables. */
const configFrom = (env: Record<string, string>) =>
  AppConfig.config.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))

/** The start-up line of a refused configuration (CONTRACT §1), or the mail settings of an accepted one. */
const mailConfig = (env: Record<string, string>) =>
  Effect.map(Effect.either(configFrom(env)), Either.match({
    onLeft: (error) => ({ refused: AppConfig.describe(error) }),
    onRight: (config) => ({ mail: config.mail })
  }))

/** Mail settings for `sink`, as the server reads them from its environment. */
const settingsFor = (url: string, mailFrom = `${from.name} <${from.address}>`) =>
  Effect.flatMap(configFrom({ TESSERA_SMTP_URL: url, TESSERA_MAIL_FROM: mailFrom }), (config) =>
    Option.match(config.mail, { onNone: () => Effect.dieMessage("mail not configured"), onSome: Effect.succeed }))

/** Sends one message through the SMTP Mailer layer built from `settings`. */
const sendWith = (settings: AppConfig.MailSettings, message: Mailer.Message) =>
  Effect.flatMap(Mailer.Mailer, (mailer) => mailer.send(message)).pipe(Effect.provide(MailerSmtp.layer(settings)))

describe("CONTRACT §1: TESSERA_SMTP_URL and TESSERA_MAIL_FROM", () => {
  it.effect("neither set: no mail (invitations are only returned by the API)", () =>
    Effect.gen(function*() {
      expect(yield* mailConfig({})).toEqual({ mail: Option.none() })
      expect(yield* mailConfig({ TESSERA_SMTP_URL: "", TESSERA_MAIL_FROM: "" })).toEqual({ mail: Option.none() })
    }))

  it.effect("the URL's parts: scheme, host, port (default 587 / 465), credentials percent-decoded", () =>
    Effect.gen(function*() {
      const encoded = `smtp://${encodeURIComponent(smtpUser)}:${encodeURIComponent(smtpPass)}@relay.example:2525`
      const settings = yield* settingsFor(encoded)
      expect({ ...settings, auth: Option.map(settings.auth, ({ pass, user }) => ({ user, pass: Redacted.value(pass) })) }).toEqual({
        secure: false,
        host: "relay.example",
        port: 2525,
        auth: Option.some({ user: smtpUser, pass: smtpPass }),
        from
      })
      // the password never shows in the settings' printed form
      expect(JSON.stringify(settings)).not.toContain(smtpPass)
      expect(String(Option.getOrThrow(settings.auth).pass)).not.toContain(smtpPass)
      const plain = yield* settingsFor("smtp://relay.example", "tessera@example.com")
      expect(plain).toEqual({ secure: false, host: "relay.example", port: 587, auth: Option.none(), from: { name: "", address: "tessera@example.com" } })
      expect(yield* settingsFor("smtps://u:p@[::1]")).toMatchObject({ secure: true, host: "[::1]", port: 465 })
    }))

  const withUrl = (url: string) => ({ TESSERA_SMTP_URL: url, TESSERA_MAIL_FROM: "tessera@example.com" })
  const withFrom = (mailFrom: string) => ({ TESSERA_SMTP_URL: "smtp://relay.example", TESSERA_MAIL_FROM: mailFrom })
  const notOneAddress = "TESSERA_MAIL_FROM: must be one address (local@domain, ASCII), optionally as 'Name <local@domain>'"
  const refused: ReadonlyArray<readonly [string, Record<string, string>, string]> = [
    ["the URL without the sender", { TESSERA_SMTP_URL: "smtp://relay.example" }, "TESSERA_MAIL_FROM: must be set when TESSERA_SMTP_URL is"],
    ["the sender without the URL", { TESSERA_MAIL_FROM: "a@example.com" }, "TESSERA_SMTP_URL: must be set when TESSERA_MAIL_FROM is"],
    ["another scheme", withUrl("https://relay.example"), "TESSERA_SMTP_URL: must be an smtp:// or smtps:// URL"],
    ["not a URL", withUrl("relay.example:25"), "TESSERA_SMTP_URL: must be an smtp:// or smtps:// URL"],
    ["not a URL at all", withUrl("relay example"), "TESSERA_SMTP_URL: must be an absolute smtp:// or smtps:// URL"],
    ["no host", withUrl("smtp:///"), "TESSERA_SMTP_URL: must name a host (a DNS name or an IP address)"],
    ["a path", withUrl("smtp://relay.example/x"), "TESSERA_SMTP_URL: must not have a path, query or fragment"],
    ["a query", withUrl("smtp://relay.example?tls=1"), "TESSERA_SMTP_URL: must not have a path, query or fragment"],
    ["an unencoded # in the password", withUrl("smtp://u:se#cret@relay.example"), "TESSERA_SMTP_URL: must be an absolute smtp:// or smtps:// URL"],
    ["port 0", withUrl("smtp://relay.example:0"), "TESSERA_SMTP_URL: must have a port from 1 to 65535"],
    ["a password without a user", withUrl("smtp://:secret@relay.example"), "TESSERA_SMTP_URL: must carry both a user name and a password, or neither"],
    ["a user without a password", withUrl("smtp://user@relay.example"), "TESSERA_SMTP_URL: must carry both a user name and a password, or neither"],
    ["broken percent-encoding", withUrl("smtp://user:se%zzcret@relay.example"), "TESSERA_SMTP_URL: has credentials that are not valid percent-encoding"],
    ["a NUL in the password", withUrl("smtp://user:se%00cret@relay.example"), "TESSERA_SMTP_URL: has credentials with control characters"],
    ["two senders", withFrom("a@example.com, b@example.com"), notOneAddress],
    ["no domain", withFrom("tessera"), notOneAddress],
    ["a header after it", withFrom("a@example.com\r\nBcc: victim@example.com"), "TESSERA_MAIL_FROM: must not contain control characters or line breaks"],
    ["an unquoted comma in the name", withFrom("Acme, Inc. <a@example.com>"), "TESSERA_MAIL_FROM: must have a display name without unquoted specials such as , ; < > @ (quote it)"],
    ["a non-ASCII address", withFrom("tëssera@example.com"), notOneAddress]
  ]
  for (const [what, env, line] of refused) {
    it.effect(`refused at start, one line naming the variable: ${what}`, () =>
      Effect.gen(function*() {
        const result = yield* mailConfig(env)
        expect(result).toEqual({ refused: `tessera: bad configuration: ${line}` })
        // never the value: it may hold a password
        expect(JSON.stringify(result)).not.toContain("secret")
      }))
  }

  it("display names: quoted (escapes undone), unquoted with a dot, Unicode; addresses within RFC 5321 lengths", () => {
    expect(MailAddress.parseMailbox("\"Acme, Inc. \\\"IT\\\"\" <it@acme.example>")).toEqual(Either.right({ name: "Acme, Inc. \"IT\"", address: "it@acme.example" }))
    expect(MailAddress.parseMailbox("J. Doe <j@example.com>")).toEqual(Either.right({ name: "J. Doe", address: "j@example.com" }))
    expect(MailAddress.parseMailbox("Zoë Ærø <z@example.com>")).toEqual(Either.right({ name: "Zoë Ærø", address: "z@example.com" }))
    expect(MailAddress.isAddress(`${"a".repeat(64)}@example.com`)).toBe(true)
    expect(MailAddress.isAddress(`${"a".repeat(65)}@example.com`)).toBe(false)
    expect(MailAddress.isAddress(`a@${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(63)}.${"e".repeat(60)}`)).toBe(true)
    expect(MailAddress.isAddress(`a@${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(63)}.${"e".repeat(61)}`)).toBe(false)
    expect(MailAddress.isAddress("a@example.com>")).toBe(false)
    expect(MailAddress.isAddress("a@example.com\r\nbcc:b@example.com")).toBe(false)
  })
})

describe("the SMTP transport (RFC 5321, RFC 5322), against a real SMTP server", () => {
  let sink: SmtpSink
  beforeAll(async () => {
    sink = await startSmtpSink({ user: smtpUser, pass: smtpPass, rejectRecipients: ["nobody@members.example"] })
  })
  afterAll(() => sink.close())

  it.effect("a plain UTF-8 message arrives: envelope, headers and text exact", () =>
    Effect.gen(function*() {
      const at = DateTime.unsafeMake("2026-12-07T03:04:05Z")
      yield* TestClock.setTime(DateTime.toEpochMillis(at))
      const before = sink.received.length
      const text = "Zoë, you are invited to administer realm acme.\n\nOpen https://tessera.example/realms/acme/invitations/abc_DEF-123 to accept.\n\nThis invitation expires on 2026-12-14T03:04:05Z.\n"
      yield* sendWith(yield* settingsFor(sink.url), { to: "zoe@admins.example", subject: "Invitation to acme – Tessera", text })
      const mail = yield* Effect.promise(() => sink.message(before + 1))
      // RFC 5321 §4.1.1.2, §4.1.1.3: the envelope is the sender's address and the one recipient; AUTH with the URL's login
      expect(mail.envelope).toEqual({ from: from.address, to: ["zoe@admins.example"] })
      expect(mail.user).toBe(smtpUser)
      const p = mail.parsed
      expect(p.from?.value).toEqual([from])
      expect(p.to).toEqual({ value: [{ name: "", address: "zoe@admins.example" }], html: expect.any(String), text: "zoe@admins.example" })
      expect(p.subject).toBe("Invitation to acme – Tessera")
      // RFC 5322 §3.6.1: the origination date, from the clock
      expect(p.date?.toISOString()).toBe("2026-12-07T03:04:05.000Z")
      // RFC 5322 §3.6.4: a unique id on the sender's domain
      expect(p.messageId).toMatch(/^<[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}@tessera\.example>$/)
      expect(p.text).toBe(text)
      expect(p.html).toBe(false)
      expect(p.attachments).toEqual([])
      // RFC 2045 §5.1: one plain-text UTF-8 part; nothing else in the header than these
      expect(p.headers.get("content-type")).toEqual({ value: "text/plain", params: { charset: "utf-8" } })
      expect(p.headers.get("mime-version")).toBe("1.0")
      expect([...p.headers.keys()].sort()).toEqual(["content-transfer-encoding", "content-type", "date", "from", "message-id", "mime-version", "subject", "to"])
      // RFC 5322 §2.1.1, §2.2: CRLF lines of at most 78 characters, ASCII on the wire (RFC 2047 and quoted-printable
      // for the rest)
      for (const line of mail.raw.split("\r\n")) expect(line.length).toBeLessThanOrEqual(78)
      expect(/^[\x20-\x7e\r\n]*$/.test(mail.raw)).toBe(true)
      expect(/[^\r]\n/.test(mail.raw)).toBe(false)
    }))

  it.effect("a recipient the server refuses (550): MailFailed with the server's reason, nothing else sent", () =>
    Effect.gen(function*() {
      const before = sink.received.length
      const exit = yield* Effect.exit(sendWith(yield* settingsFor(sink.url), { to: "nobody@members.example", subject: "s", text: "t" }))
      expect(exit).toEqual(Exit.fail(new Mailer.MailFailed({
        // the relay's words, the mailbox reduced to its domain (the reason is audited: ADR 0037, 0038)
        reason: "EENVELOPE: Can't send mail - all recipients were rejected: 550 <[recipient]@members.example>: mailbox unavailable"
      })))
      expect(sink.received.length).toBe(before)
    }))

  it.effect("a wrong password: MailFailed (EAUTH), the reason without the password in any form", () =>
    Effect.gen(function*() {
      const wrong = "wr0ng-Passw0rd-that-is-long"
      const settings = yield* settingsFor(`smtp://${encodeURIComponent(smtpUser)}:${wrong}@127.0.0.1:${sink.port}`)
      const exit = yield* Effect.exit(sendWith(settings, { to: "zoe@admins.example", subject: "s", text: "t" }))
      expect(exit).toEqual(Exit.fail(new Mailer.MailFailed({ reason: "EAUTH: Invalid login: 535 Authentication credentials invalid" })))
      expect(sink.authFailures).toContain(smtpUser)
    }))

  it("reasons never carry the password, raw or as AUTH PLAIN / LOGIN base64", () => {
    const plain = Buffer.from(`\u0000${smtpUser}\u0000${smtpPass}`).toString("base64")
    const login = Buffer.from(smtpPass).toString("base64")
    const secrets = [plain, login, smtpPass]
    const error = Object.assign(new Error(`Invalid login: 535 bad ${smtpPass} / ${plain} / ${login}\r\n next`), { code: "EAUTH" })
    expect(MailerSmtp.reasonOf(error, secrets)).toBe("EAUTH: Invalid login: 535 bad [redacted] / [redacted] / [redacted] next")
    expect(MailerSmtp.reasonOf("x".repeat(400), [])).toHaveLength(300)
    expect(MailerSmtp.reasonOf(new Error("550 <Zoe.X+1@Members.example> unknown; zoe.x+1@members.example"), [], "zoe.x+1@members.example"))
      .toBe("ERROR: 550 <[recipient]@members.example> unknown; [recipient]@members.example")
  })

  it.effect("a recipient that is not one address is refused before any connection", () =>
    Effect.gen(function*() {
      const connections = sink.connections()
      const settings = yield* settingsFor(sink.url)
      for (const to of ["a@example.com, b@example.com", "a@example.com\r\nBcc: b@example.com", "", "Name <a@example.com>"]) {
        const exit = yield* Effect.exit(sendWith(settings, { to, subject: "s", text: "t" }))
        expect(exit).toEqual(Exit.fail(new Mailer.MailFailed({ reason: "the recipient is not one address" })))
      }
      expect(sink.connections()).toBe(connections)
    }))

  it.effect("a server that is down: MailFailed (ESOCKET, connection refused) at once", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(closedPort)
      const exit = yield* Effect.exit(sendWith(yield* settingsFor(`smtp://u:p@127.0.0.1:${port}`), { to: "a@example.com", subject: "s", text: "t" }))
      expect(exit).toEqual(Exit.fail(new Mailer.MailFailed({ reason: `ESOCKET: connect ECONNREFUSED 127.0.0.1:${port}` })))
    }))

  it.live("a server that accepts the connection and never greets: MailFailed within the greeting timeout (5 s)", () =>
    Effect.gen(function*() {
      const silent = Net.createServer(() => undefined)
      yield* Effect.promise(() => new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", () => resolve())))
      const port = (silent.address() as Net.AddressInfo).port
      const started = Date.now()
      const exit = yield* Effect.exit(sendWith(yield* settingsFor(`smtp://u:p@127.0.0.1:${port}`), { to: "a@example.com", subject: "s", text: "t" }))
      const elapsed = Date.now() - started
      silent.close()
      expect(exit).toEqual(Exit.fail(new Mailer.MailFailed({ reason: "ETIMEDOUT: Greeting never received" })))
      expect(elapsed).toBeGreaterThanOrEqual(Duration.toMillis(MailerSmtp.timeouts.greeting) - 100)
      expect(elapsed).toBeLessThan(Duration.toMillis(MailerSmtp.timeouts.greeting) + 3_000)
    }), 20_000)

  it.effect("smtps:// verifies the server's certificate: a self-signed one is refused (no credentials sent)", () =>
    Effect.gen(function*() {
      const tls = yield* Effect.promise(() => startSmtpSink({ user: smtpUser, pass: smtpPass, server: { secure: true } }))
      const exit = yield* Effect.exit(sendWith(yield* settingsFor(tls.url), { to: "a@example.com", subject: "s", text: "t" }))
      yield* Effect.promise(() => tls.close())
      expect(Exit.isFailure(exit)).toBe(true)
      expect(exit).toEqual(Exit.fail(new Mailer.MailFailed({ reason: expect.stringMatching(/^(ESOCKET|ETLS): .*(self[- ]signed|certificate)/) })))
      expect(tls.received).toEqual([])
      expect(tls.authFailures).toEqual([])
    }))

  it("smtp:// with credentials to a remote host requires STARTTLS before AUTH; to loopback it does not", () => {
    const remote = AppConfig.parseSmtpUrl("smtp://u:p@relay.example")
    const local = AppConfig.parseSmtpUrl("smtp://u:p@127.0.0.1:2525")
    const anonymous = AppConfig.parseSmtpUrl("smtp://relay.example")
    const options = (e: typeof remote) => MailerSmtp.transportOptions({ ...Either.getOrThrow(e), from })
    expect(options(remote)).toMatchObject({ host: "relay.example", port: 587, secure: false, requireTLS: true, auth: { user: "u", pass: "p" } })
    expect(options(local)).toMatchObject({ host: "127.0.0.1", port: 2525, secure: false, requireTLS: false })
    expect(options(anonymous)).toMatchObject({ requireTLS: false })
    expect(options(anonymous)).not.toHaveProperty("auth")
    expect(options(remote)).toMatchObject({ connectionTimeout: 5_000, greetingTimeout: 5_000, socketTimeout: 10_000, logger: false, debug: false })
  })
})

describe("the server's Mailer comes from its configuration", () => {
  let sink: SmtpSink
  beforeAll(async () => {
    sink = await startSmtpSink({ user: smtpUser, pass: smtpPass })
  })
  afterAll(() => sink.close())

  it.effect("SMTP configured: the server's Mailer sends over it", () =>
    Effect.gen(function*() {
      const settings = yield* settingsFor(sink.url)
      const before = sink.received.length
      const sent = yield* Effect.gen(function*() {
        const mailer = yield* Mailer.Mailer
        yield* mailer.send({ to: "wired@admins.example", subject: "wired", text: "through Live.app\n" })
        return mailer.configured
      }).pipe(Effect.provide(TestLive.make({ mail: Option.some(settings) })))
      expect(sent).toBe(true)
      const mail = yield* Effect.promise(() => sink.message(before + 1))
      expect({ envelope: mail.envelope, subject: mail.parsed.subject, text: mail.parsed.text }).toEqual({
        envelope: { from: from.address, to: ["wired@admins.example"] },
        subject: "wired",
        text: "through Live.app\n"
      })
    }))

  it.effect("not configured: Mailer.layerNone (nothing sent, nothing connects)", () =>
    Effect.gen(function*() {
      const connections = sink.connections()
      const configured = yield* Effect.gen(function*() {
        const mailer = yield* Mailer.Mailer
        yield* mailer.send({ to: "wired@admins.example", subject: "s", text: "t" })
        return mailer.configured
      }).pipe(Effect.provide(TestLive.make()))
      expect(configured).toBe(false)
      expect(sink.connections()).toBe(connections)
    }))
})

/** The one http(s) link in a mail's text. */
const linkOf = (text: string | undefined) => {
  const links = (text ?? "").match(/https?:\/\/\S+/g) ?? []
  expect(links, text).toHaveLength(1)
  return links[0]!
}

/** Every log line the server writes while `effect` runs (message and annotations), for "nothing secret is logged". */
const capturingLogs = <A, E, R>(effect: (lines: ReadonlyArray<string>) => Effect.Effect<A, E, R>) => {
  const lines: Array<string> = []
  const capture = Logger.make(({ annotations, cause, logLevel, message }) => {
    lines.push(`${logLevel.label} ${JSON.stringify(message)} ${JSON.stringify(Object.fromEntries(annotations))} ${String(cause)}`)
  })
  return effect(lines).pipe(Effect.provide(Logger.add(capture)))
}

describe("CONTRACT §3: an invitation with an email is mailed when SMTP is configured", () => {
  let sink: SmtpSink
  let settings: AppConfig.MailSettings
  beforeAll(async () => {
    sink = await startSmtpSink({ user: smtpUser, pass: smtpPass, rejectRecipients: ["refused@members.example"] })
    settings = await Effect.runPromise(settingsFor(sink.url))
  })
  afterAll(() => sink.close())

  /** The owner trail's events of `realm`, oldest first. */
  const ownerTrailOf = (realm: string) =>
    Effect.map(admin.get("/admin/audit?limit=200"), (res) => (res.json.events as Array<any>).filter((e) => e.realm === realm).reverse())

  it.effect("the mail arrives; its one link is the API's url, and following it opens the invitation page", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const email = `${uniqueName("zoe")}@admins.example`
      const res = yield* admin.post(`/admin/realms/${realm.name}/invitations`, { email, role: "admin" })
      expect(res.status, res.text).toBe(201)
      expect(res.json).toEqual({ id: expect.any(String), url: expect.any(String), role: "admin", email, expires_at: expect.any(String) })
      const mail = yield* Effect.promise(() => sink.messageTo(email))
      expect(mail.envelope).toEqual({ from: from.address, to: [email] })
      expect(mail.parsed.from?.value).toEqual([from])
      expect(mail.parsed.to).toMatchObject({ value: [{ name: "", address: email }] })
      expect(mail.parsed.subject).toContain(realm.name)
      expect(mail.parsed.headers.get("content-type")).toEqual({ value: "text/plain", params: { charset: "utf-8" } })
      const link = linkOf(mail.parsed.text)
      expect(link).toBe(res.json.url)
      // CONTRACT §4: the link opens the invitation page, a form posting username and password
      const page = yield* get(pathOf(link))
      expect(page.status, page.text).toBe(200)
      expect(page.headers["content-type"]).toBe("text/html; charset=utf-8")
      expect(page.headers["cache-control"]).toBe("no-store")
      const form = onlyForm(page.text)
      expect(form.method).toBe("post")
      expect(fieldsOf(form).map(([, , name]) => name)).toEqual(expect.arrayContaining(["username", "password"]))
      // nothing went wrong with the mail
      expect((yield* ownerTrailOf(realm.name)).map((e) => e.type)).not.toContain("invitation.mail_failed")
    }).pipe(Effect.provide(TestLive.make({ mail: Option.some(settings) }))))

  it.effect("no email: nothing is mailed (no connection to the relay)", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const connections = sink.connections()
      const res = yield* admin.post(`/admin/realms/${realm.name}/invitations`, { role: "member" })
      expect(res.status, res.text).toBe(201)
      expect(res.json).toEqual({ id: expect.any(String), url: expect.any(String), role: "member", expires_at: expect.any(String) })
      expect(sink.connections()).toBe(connections)
    }).pipe(Effect.provide(TestLive.make({ mail: Option.some(settings) }))))

  /**
   * The invitation survives a mail that fails: 201 with its URL, the invitation pending and its page open, the failure
   * audited with the relay's reason (the owner's invitation: the owner trail), one log line, and no log line with the
   * invitation's secret or the relay's password.
   */
  const survives = (to: string, mailSettings: () => AppConfig.MailSettings, reason: (s: AppConfig.MailSettings) => string) =>
    capturingLogs((lines) =>
      Effect.gen(function*() {
        const realm = yield* createRealm()
        const res = yield* admin.post(`/admin/realms/${realm.name}/invitations`, { email: to, role: "admin" })
        expect(res.status, res.text).toBe(201)
        expect(res.json).toEqual({ id: expect.any(String), url: expect.any(String), role: "admin", email: to, expires_at: expect.any(String) })
        const failed = (yield* ownerTrailOf(realm.name)).filter((e) => e.type === "invitation.mail_failed")
        expect(failed).toEqual([expect.objectContaining({
          type: "invitation.mail_failed",
          realm: realm.name,
          actor: { type: "owner", id: "owner" },
          result: "failure",
          reason: expect.stringContaining(reason(mailSettings()))
        })])
        const listed = yield* admin.get(`/admin/realms/${realm.name}/invitations`)
        expect(listed.json.invitations).toEqual([{ id: res.json.id, role: "admin", email: to, status: "pending", expires_at: res.json.expires_at }])
        expect((yield* get(pathOf(res.json.url))).status).toBe(200)
        const secret = new URL(res.json.url).pathname.split("/").pop()!
        expect(secret.length).toBeGreaterThanOrEqual(43)
        // the failure is logged (so the capture works) ...
        expect(lines.filter((line) => line.includes("invitation mail failed"))).toHaveLength(1)
        // ... and no line holds the secret, the URL or the relay's password
        for (const line of lines) {
          expect(line).not.toContain(secret)
          expect(line).not.toContain(smtpPass)
          expect(line).not.toContain(encodeURIComponent(smtpPass))
        }
        // nor does any event of the trail
        expect(JSON.stringify(failed)).not.toContain(secret)
      }).pipe(Effect.provide(TestLive.make({ mail: Option.some(mailSettings()) }))))

  it.effect("the relay refuses the recipient (550): 201 with the URL, invitation.mail_failed audited, nothing secret logged", () =>
    survives("refused@members.example", () => settings, () => "550 <[recipient]@members.example>: mailbox unavailable"))

  let down: AppConfig.MailSettings
  beforeAll(async () => {
    down = await Effect.runPromise(settingsFor(`smtp://${encodeURIComponent(smtpUser)}:${encodeURIComponent(smtpPass)}@127.0.0.1:${await closedPort()}`))
  })

  it.effect("the relay is down: 201 with the URL, invitation.mail_failed audited, nothing secret logged", () =>
    survives("zoe@admins.example", () => down, (s) => `ESOCKET: connect ECONNREFUSED 127.0.0.1:${s.port}`))
})

/** A loopback port nothing listens on. */
const closedPort = () =>
  new Promise<number>((resolve) => {
    const server = Net.createServer()
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as Net.AddressInfo
      server.close(() => resolve(port))
    })
  })
