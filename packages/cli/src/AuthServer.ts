/**
 * A realm's authorization server as `tessera login` sees it: its metadata (CONTRACT §2: endpoints are whatever it
 * says), form posts to its endpoints as the public client `tessera-cli`, and their answers decoded through schemas.
 * Node's global fetch, no HTTP library: the CLI must start fast.
 */
import { Data, Duration, Effect, Either, Schema } from "effect"
import * as Output from "./Output.js"

/** CONTRACT §3: the realm's built-in public client for the CLI (ADR 0035). */
export const clientId = "tessera-cli"

/** CONTRACT §3: the scope of the realm's admin resource. */
export const adminScope = "tessera:admin"

/** CONTRACT §2: a realm's name. */
export const realmPattern = /^[a-z0-9][a-z0-9-]{0,62}$/

/**
 * A refusal, printed as CONTRACT §8 says (the code and the description on stderr, exit 1): the server's own
 * `error`/`error_description` when it answered one, else a code of ours (`unreachable`, `server_error`, ...).
 */
export class SessionRefused extends Data.TaggedError("SessionRefused")<{ readonly error: string; readonly description: string }> {
  override get message() {
    return Output.safe(`${this.error}: ${this.description}`)
  }
}

/** RFC 8414 §2 / OIDC Discovery: the fields the CLI uses. */
export const Metadata = Schema.Struct({
  issuer: Schema.String,
  token_endpoint: Schema.String,
  device_authorization_endpoint: Schema.String,
  revocation_endpoint: Schema.optional(Schema.String)
})
export type Metadata = typeof Metadata.Type

/** RFC 6749 §5.1: a successful token response (RFC 8628 §3.5 and §6 both end in one). */
export const TokenResponse = Schema.Struct({
  access_token: Schema.String,
  token_type: Schema.String,
  expires_in: Schema.Number,
  refresh_token: Schema.optional(Schema.String),
  scope: Schema.optional(Schema.String)
})
export type TokenResponse = typeof TokenResponse.Type

/** RFC 6749 §5.2: an error response. */
const ErrorBody = Schema.Struct({ error: Schema.String, error_description: Schema.optional(Schema.String) })

/** An answer: its status and its JSON body (undefined when it had none or it was not JSON). */
export interface Answer {
  readonly status: number
  readonly body: unknown
}

/** The origin of `url` for a message, or the text itself when it is no URL (a bad TESSERA_URL). */
const originOf = (url: string) => URL.canParse(url) ? new URL(url).origin : JSON.stringify(url)

/** An answer larger than this is no answer of an authorization server (Tessera's are a few hundred bytes). */
const maxAnswer = 1024 * 1024

/** How long the CLI waits for an answer before it gives up on the server. */
const answerTimeout = Duration.seconds(30)

class AnswerTooLarge extends Error {}

/** The body, read up to `maxAnswer` bytes: a hostile or broken server cannot fill the CLI's memory. */
const bodyOf = async (res: Response) => {
  if (res.body === null) return ""
  const reader = res.body.getReader()
  const chunks: Array<Uint8Array> = []
  let size = 0
  while (true) {
    const { done, value } = await reader.read()
    if (done) return Buffer.concat(chunks).toString("utf8")
    size += value.byteLength
    if (size > maxAnswer) {
      await reader.cancel()
      throw new AnswerTooLarge()
    }
    chunks.push(value)
  }
}

const send = (url: string, init: RequestInit) =>
  Effect.tryPromise({
    try: async (signal) => {
      // redirects are not followed: a token or code is never sent on to another URL
      const res = await fetch(url, { ...init, signal, redirect: "manual" })
      const text = await bodyOf(res)
      let body: unknown = undefined
      try {
        body = text === "" ? undefined : JSON.parse(text)
      } catch {
        body = undefined
      }
      return { status: res.status, body } satisfies Answer
    },
    catch: (cause) =>
      cause instanceof AnswerTooLarge
        ? new SessionRefused({ error: "server_error", description: `${originOf(url)} answered more than ${maxAnswer} bytes` })
        : new SessionRefused({
          error: "unreachable",
          description: `${originOf(url)} did not answer: ${(cause as Error & { cause?: Error }).cause?.message ?? (cause as Error).message}`
        })
  }).pipe(Effect.timeoutFail({
    duration: answerTimeout,
    onTimeout: () => new SessionRefused({ error: "unreachable", description: `${originOf(url)} did not answer within ${Duration.format(answerTimeout)}` })
  }))

/** A form POST (`application/x-www-form-urlencoded`, RFC 6749 §3.2) as `tessera-cli` (`none`: its `client_id` in the body). */
export const postForm = (url: string, params: Readonly<Record<string, string>>) =>
  send(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
    body: new URLSearchParams({ client_id: clientId, ...params }).toString()
  })

/** The refusal an answer that is not `expected` carries: the server's error and description when it sent them. */
export const refusalOf = (answer: Answer, what: string) => {
  const error = Schema.decodeUnknownEither(ErrorBody)(answer.body)
  return Either.isRight(error)
    ? new SessionRefused({
      error: Output.safe(error.right.error),
      description: Output.safe(error.right.error_description ?? `${what} was refused (HTTP ${answer.status})`)
    })
    : new SessionRefused({ error: "server_error", description: `${what}: unexpected answer (HTTP ${answer.status})` })
}

/** Decodes a 2xx answer's body with `schema`, or fails with the refusal it carries. */
export const expect = <A, I>(answer: Answer, schema: Schema.Schema<A, I>, what: string) =>
  answer.status >= 200 && answer.status < 300
    ? Effect.mapError(
      Schema.decodeUnknown(schema)(answer.body),
      () => new SessionRefused({ error: "server_error", description: `${what}: the answer is not what RFC 6749 / RFC 8628 describe` })
    )
    : Effect.fail(refusalOf(answer, what))

/**
 * CONTRACT §2: the realm's metadata at `{TESSERA_URL}/realms/R/.well-known/openid-configuration`. Its issuer must be
 * realm R's (`{origin}/realms/R`, RFC 8414 §3.3); the origin may differ from TESSERA_URL's (a server reached by an
 * internal address, whose public URL is another), and the endpoints are the ones it names.
 */
export const discover = (baseUrl: string, realm: string) =>
  send(`${baseUrl.replace(/\/+$/, "")}/realms/${realm}/.well-known/openid-configuration`, { headers: { accept: "application/json" } }).pipe(
    Effect.flatMap((answer) => expect(answer, Metadata, `the metadata of realm ${realm}`)),
    Effect.filterOrFail(
      (metadata) => URL.canParse(metadata.issuer) && new URL(metadata.issuer).href === `${new URL(metadata.issuer).origin}/realms/${realm}`,
      (metadata) =>
        new SessionRefused({ error: "server_error", description: `the metadata names the issuer ${Output.safe(JSON.stringify(metadata.issuer))}, not realm ${realm}'s` })
    ),
    // CONTRACT §2: one issuer origin; the refresh token is only ever sent to the issuer's own endpoints
    Effect.filterOrFail(
      (metadata) => endpointsOf(metadata).every((url) => URL.canParse(url) && new URL(url).origin === new URL(metadata.issuer).origin),
      (metadata) => new SessionRefused({ error: "server_error", description: `the metadata names endpoints outside the issuer's origin ${new URL(metadata.issuer).origin}` })
    )
  )

const endpointsOf = (metadata: Metadata) =>
  [metadata.token_endpoint, metadata.device_authorization_endpoint, ...(metadata.revocation_endpoint !== undefined ? [metadata.revocation_endpoint] : [])]

/** CONTRACT §3, RFC 8707: the realm's admin resource, `{issuer origin}/admin/realms/R`. */
export const adminResource = (metadata: Metadata, realm: string) => `${new URL(metadata.issuer).origin}/admin/realms/${realm}`
