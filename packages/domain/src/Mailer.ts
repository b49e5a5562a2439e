/**
 * Outgoing mail (CONTRACT §1 `TESSERA_SMTP_URL`, `TESSERA_MAIL_FROM`): today only invitations. A port, so that the
 * domain never speaks SMTP; the server provides a real transport when SMTP is configured, else `layerNone`.
 */
import { Context, Data, Effect, Layer } from "effect"

/** A plain-text message to one recipient. */
export interface Message {
  readonly to: string
  readonly subject: string
  readonly text: string
}

/** Sending failed (the transport's reason, never a credential). The caller keeps what it made: mail is best effort. */
export class MailFailed extends Data.TaggedError("MailFailed")<{ readonly reason: string }> {}

export class Mailer extends Context.Tag("@tessera/domain/Mailer")<Mailer, {
  /** Whether mail goes anywhere (SMTP configured). */
  readonly configured: boolean
  readonly send: (message: Message) => Effect.Effect<void, MailFailed>
}>() {}

/** No SMTP configured: nothing is sent (CONTRACT §1: invitations are only returned by the API). */
export const layerNone = Layer.succeed(Mailer, Mailer.of({ configured: false, send: () => Effect.void }))
