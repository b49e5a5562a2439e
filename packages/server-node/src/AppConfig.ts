/** Tessera's configuration (CONTRACT §1), read from the environment once, at start. */
import { Config, ConfigError, Context, Duration, Effect, Either, Layer, Option, Redacted } from "effect"
import { AuditVerification, RefreshFamily, SigningKey } from "@tessera/domain"
import * as IpAddress from "./IpAddress.js"
import * as MailAddress from "./MailAddress.js"

/** CONTRACT §1 `TESSERA_SMTP_URL` and `TESSERA_MAIL_FROM`, parsed and checked at start (ADR 0038). */
export interface MailSettings {
  /** `smtps://`: TLS from the first byte (RFC 8314 §3.3); `smtp://`: plain, upgraded by STARTTLS when offered. */
  readonly secure: boolean
  readonly host: string
  readonly port: number
  /** The URL's user name and password, percent-decoded; none when the URL carries no credentials. */
  readonly auth: Option.Option<{ readonly user: string; readonly pass: Redacted.Redacted }>
  /** The sender (RFC 5322 §3.6.2 `From`, one mailbox), and the envelope sender (its address). */
  readonly from: MailAddress.Mailbox
}

export interface AppConfigShape {
  readonly port: number
  readonly host: string
  /** The single issuer origin: scheme, host and port, no path and no trailing slash. */
  readonly publicUrl: string
  readonly dataDir: string
  readonly databaseUrl: Option.Option<Redacted.Redacted>
  readonly devInsecureCimd: boolean
  readonly adminToken: Option.Option<Redacted.Redacted>
  /** 32 bytes, base64url (`TESSERA_KEK`); generated into the data directory when unset. */
  readonly kek: Option.Option<Redacted.Redacted>
  readonly keyPolicy: SigningKey.Policy
  /** Refresh-token family lifetimes (sliding and absolute). */
  readonly refreshPolicy: RefreshFamily.Policy
  /** RFC 9449 §8, §9: DPoP proofs must carry a server nonce (`TESSERA_DPOP_NONCE_REQUIRED`, ADR 0017). */
  readonly dpopNonceRequired: boolean
  /**
   * CONTRACT §1 `TESSERA_TRUSTED_PROXIES`: the proxies whose `Forwarded` / `X-Forwarded-For` name the client
   * (`http/ClientAddress`); empty (the default): the socket peer is the client.
   */
  readonly trustedProxies: ReadonlyArray<IpAddress.Cidr>
  /** CONTRACT §1: invitation mail over SMTP; none (the default): invitations are only returned by the API. */
  readonly mail: Option.Option<MailSettings>
  /** ADR 0042: how often every audit trail is verified from its checkpoint (`TESSERA_AUDIT_VERIFY_INTERVAL`). */
  readonly auditVerifyInterval: Duration.Duration
  /** CONTRACT §1 `TESSERA_METRICS_PORT`: Prometheus metrics on a listener of their own; none (the default): no listener. */
  readonly metricsPort: Option.Option<number>
}

export class AppConfig extends Context.Tag("@tessera/server-node/AppConfig")<AppConfig, AppConfigShape>() {}

const invalid = (name: string, why: string) => ConfigError.InvalidData([name], why)

/**
 * Like `Config.validate`, but the refusal names the variable: `Config.validate` fails with an empty path, so the
 * start-up line would not say which variable is wrong.
 */
const check = <A>(name: string, message: string, validation: (a: A) => boolean) =>
  Config.mapOrFail((a: A) => validation(a) ? Either.right(a) : Either.left(invalid(name, message)))

const port = Config.integer("TESSERA_PORT").pipe(
  Config.withDefault(8080),
  check("TESSERA_PORT", "must be a port number from 1 to 65535", (p: number) => p >= 1 && p <= 65535)
)

const host = Config.string("TESSERA_HOST").pipe(
  Config.withDefault("127.0.0.1"),
  check("TESSERA_HOST", "must be a host name or IP address", (h: string) => /^[A-Za-z0-9.:[\]-]+$/.test(h))
)

/** CONTRACT §1: the issuer origin has a scheme, host and port, and no path, query or fragment. */
const publicUrl = (portNumber: number) =>
  Config.string("TESSERA_PUBLIC_URL").pipe(
    Config.withDefault(`http://localhost:${portNumber}`),
    Config.mapOrFail((raw) => {
      try {
        const url = new URL(raw)
        if (url.protocol !== "https:" && url.protocol !== "http:") return Either.left(invalid("TESSERA_PUBLIC_URL", "must be an http or https URL"))
        if ((url.pathname !== "/" && url.pathname !== "") || url.search !== "" || url.hash !== "" || raw.includes("#")) {
          return Either.left(invalid("TESSERA_PUBLIC_URL", "must be an origin (scheme, host, port) with no path, query or fragment"))
        }
        if (url.username !== "" || url.password !== "") return Either.left(invalid("TESSERA_PUBLIC_URL", "must not contain credentials"))
        return Either.right(url.origin)
      } catch {
        return Either.left(invalid("TESSERA_PUBLIC_URL", "must be an absolute URL"))
      }
    })
  )

const flag = (name: string) =>
  Config.string(name).pipe(
    Config.withDefault(""),
    check(name, "must be 1, 0 or unset", (v: string) => v === "" || v === "1" || v === "0"),
    Config.map((v) => v === "1")
  )

const kek = Config.redacted("TESSERA_KEK").pipe(
  check(
    "TESSERA_KEK",
    "must be 32 random bytes, base64url-encoded (43 characters)",
    (v: Redacted.Redacted) => /^[A-Za-z0-9_-]{43}$/.test(Redacted.value(v))
  ),
  Config.option
)

const adminToken = Config.redacted("TESSERA_ADMIN_TOKEN").pipe(
  check("TESSERA_ADMIN_TOKEN", "must be at least 32 characters", (v: Redacted.Redacted) => Redacted.value(v).length >= 32),
  Config.option
)

/** How long a signing key signs before the scheduler rotates it (an Effect duration, e.g. "30 days"). */
const keyRotation = Config.duration("TESSERA_KEY_ROTATION").pipe(Config.withDefault(SigningKey.defaultPolicy.rotateEvery))

/** How long an unused refresh token stays valid (sliding), and how long a family may live at all (absolute). */
const refreshIdle = Config.duration("TESSERA_REFRESH_IDLE_LIFETIME").pipe(Config.withDefault(RefreshFamily.defaultPolicy.idleLifetime))
const refreshAbsolute = Config.duration("TESSERA_REFRESH_ABSOLUTE_LIFETIME").pipe(
  Config.withDefault(RefreshFamily.defaultPolicy.absoluteLifetime)
)

/** ADR 0042: an Effect duration ("1 hour", "15 minutes"), at least a minute: a pass over large trails takes a while. */
const auditVerifyInterval = Config.duration("TESSERA_AUDIT_VERIFY_INTERVAL").pipe(
  Config.withDefault(AuditVerification.defaultInterval),
  check("TESSERA_AUDIT_VERIFY_INTERVAL", "must be a duration of at least 1 minute (e.g. \"1 hour\")", (d: Duration.Duration) =>
    Duration.greaterThanOrEqualTo(d, Duration.minutes(1)))
)

/** CONTRACT §1: comma-separated IPv4/IPv6 addresses and CIDRs; unset or empty trusts no proxy. */
const trustedProxies = Config.string("TESSERA_TRUSTED_PROXIES").pipe(
  Config.withDefault(""),
  Config.mapOrFail((raw) => {
    const parsed = IpAddress.parseCidrList(raw)
    return "bad" in parsed
      ? Either.left(invalid("TESSERA_TRUSTED_PROXIES", `must be comma-separated IP addresses or CIDRs (not '${parsed.bad.slice(0, 64)}')`))
      : Either.right(parsed.cidrs)
  })
)

/** CONTRACT §1, §8: a port like `TESSERA_PORT`, never the same one (the metrics are not for the public port); unset or empty: none. */
const metricsPort = (publicPort: number) =>
  Config.string("TESSERA_METRICS_PORT").pipe(
    Config.withDefault(""),
    Config.mapOrFail((raw) => {
      if (raw === "") return Either.right(Option.none<number>())
      const value = Number(raw)
      if (!/^[0-9]+$/.test(raw) || value < 1 || value > 65535) return Either.left(invalid("TESSERA_METRICS_PORT", "must be a port number from 1 to 65535"))
      if (value === publicPort) return Either.left(invalid("TESSERA_METRICS_PORT", "must differ from TESSERA_PORT"))
      return Either.right(Option.some(value))
    })
  )

/** The default ports: submission (RFC 6409 §3.1) for `smtp://`, implicit TLS submission (RFC 8314 §7.3) for `smtps://`. */
const defaultSmtpPort = { "smtp:": 587, "smtps:": 465 } as const

/** A host name or an IP address (IPv6 in brackets): nothing a URL parser of a non-special scheme lets through besides. */
const smtpHost = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])$/

const decodeCredential = (raw: string): string | undefined => {
  try {
    return decodeURIComponent(raw)
  } catch {
    return undefined
  }
}

/**
 * CONTRACT §1 `TESSERA_SMTP_URL`: `smtp://` or `smtps://`, credentials in the URL (percent-decoded), nothing after the
 * port. The refusals never repeat the value: it may hold a password.
 */
export const parseSmtpUrl = (raw: string): Either.Either<Omit<MailSettings, "from">, string> => {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return Either.left("must be an absolute smtp:// or smtps:// URL")
  }
  if (url.protocol !== "smtp:" && url.protocol !== "smtps:") return Either.left("must be an smtp:// or smtps:// URL")
  if (url.hostname === "" || !smtpHost.test(url.hostname)) return Either.left("must name a host (a DNS name or an IP address)")
  if ((url.pathname !== "" && url.pathname !== "/") || url.search !== "" || url.hash !== "" || raw.includes("#") || raw.includes("?")) {
    return Either.left("must not have a path, query or fragment")
  }
  const port = url.port === "" ? defaultSmtpPort[url.protocol] : Number(url.port)
  if (!Number.isInteger(port) || port < 1 || port > 65535) return Either.left("must have a port from 1 to 65535")
  if (url.username === "" && url.password === "") {
    return Either.right({ secure: url.protocol === "smtps:", host: url.hostname, port, auth: Option.none() })
  }
  const user = decodeCredential(url.username)
  const pass = decodeCredential(url.password)
  if (user === undefined || pass === undefined) return Either.left("has credentials that are not valid percent-encoding")
  if (user === "" || pass === "") return Either.left("must carry both a user name and a password, or neither")
  // RFC 4616 §2: PLAIN carries them NUL-separated; a control character is never part of a real credential
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(user + pass)) return Either.left("has credentials with control characters")
  return Either.right({
    secure: url.protocol === "smtps:",
    host: url.hostname,
    port,
    auth: Option.some({ user, pass: Redacted.make(pass) })
  })
}

/** Unset and empty are the same: mail off. */
const optionalString = (name: string) =>
  Config.string(name).pipe(Config.withDefault(""), Config.map((v) => (v === "" ? Option.none<string>() : Option.some(v))))

/** CONTRACT §1: `TESSERA_SMTP_URL` and `TESSERA_MAIL_FROM`, both or neither. */
const mail = Effect.gen(function*() {
  const smtpUrl = yield* optionalString("TESSERA_SMTP_URL")
  const mailFrom = yield* optionalString("TESSERA_MAIL_FROM")
  if (Option.isNone(smtpUrl) && Option.isNone(mailFrom)) return Option.none<MailSettings>()
  if (Option.isNone(smtpUrl)) return yield* Effect.fail(invalid("TESSERA_SMTP_URL", "must be set when TESSERA_MAIL_FROM is"))
  if (Option.isNone(mailFrom)) return yield* Effect.fail(invalid("TESSERA_MAIL_FROM", "must be set when TESSERA_SMTP_URL is"))
  const server = parseSmtpUrl(smtpUrl.value)
  if (Either.isLeft(server)) return yield* Effect.fail(invalid("TESSERA_SMTP_URL", server.left))
  const from = MailAddress.parseMailbox(mailFrom.value)
  if (Either.isLeft(from)) return yield* Effect.fail(invalid("TESSERA_MAIL_FROM", from.left))
  return Option.some<MailSettings>({ ...server.right, from: from.right })
})

export const config = Effect.gen(function*() {
  const portNumber = yield* port
  const rotateEvery = yield* keyRotation
  const keyPolicy = { ...SigningKey.defaultPolicy, rotateEvery }
  if (Either.isLeft(SigningKey.checkPolicy(keyPolicy))) {
    return yield* Effect.fail(invalid("TESSERA_KEY_ROTATION", `must be at least ${Duration.format(Duration.times(keyPolicy.jwksMaxAge, 2))} (twice the JWKS cache lifetime)`))
  }
  const refreshPolicy = { idleLifetime: yield* refreshIdle, absoluteLifetime: yield* refreshAbsolute }
  if (Duration.greaterThan(refreshPolicy.idleLifetime, refreshPolicy.absoluteLifetime)) {
    return yield* Effect.fail(invalid("TESSERA_REFRESH_IDLE_LIFETIME", "must not be longer than TESSERA_REFRESH_ABSOLUTE_LIFETIME"))
  }
  return {
    port: portNumber,
    host: yield* host,
    publicUrl: yield* publicUrl(portNumber),
    dataDir: yield* Config.string("TESSERA_DATA_DIR").pipe(Config.withDefault("./.tessera")),
    databaseUrl: yield* Config.redacted("DATABASE_URL").pipe(Config.option),
    devInsecureCimd: yield* flag("TESSERA_DEV_INSECURE_CIMD"),
    adminToken: yield* adminToken,
    kek: yield* kek,
    keyPolicy,
    refreshPolicy,
    dpopNonceRequired: yield* flag("TESSERA_DPOP_NONCE_REQUIRED"),
    trustedProxies: yield* trustedProxies,
    mail: yield* mail,
    auditVerifyInterval: yield* auditVerifyInterval,
    metricsPort: yield* metricsPort(portNumber)
  } satisfies AppConfigShape
})

export const layerConfig = Layer.effect(AppConfig, config)

export const layer = (shape: AppConfigShape) => Layer.succeed(AppConfig, shape)

/** One line naming the variable and why, for a refused start (CONTRACT §1). */
export const describe = (error: ConfigError.ConfigError): string => {
  const lines: Array<string> = []
  const walk = (e: ConfigError.ConfigError): void => {
    switch (e._op) {
      case "And":
      case "Or":
        walk(e.left)
        walk(e.right)
        return
      case "InvalidData":
      case "MissingData":
      case "SourceUnavailable":
      case "Unsupported":
        lines.push(`${e.path.join(".")}: ${e.message}`)
    }
  }
  walk(error)
  return `tessera: bad configuration: ${lines[0] ?? String(error)}`
}
