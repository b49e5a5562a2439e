/**
 * RFC 5322 §3.4 mailboxes, the strict subset Tessera sends from and to (ADR 0038): an ASCII dot-atom address
 * (RFC 5322 §3.4.1, RFC 5321 §4.5.3.1 lengths), optionally after a display name. Nothing a header could be split on
 * (CR, LF, a comma between two addresses) gets through, so one value is always one mailbox.
 */
import { Either } from "effect"
import { EmailAddress } from "@tessera/protocol"

export interface Mailbox {
  /** The display name, unquoted (may be empty, may be any Unicode: the mail library encodes it, RFC 2047). */
  readonly name: string
  readonly address: string
}

// eslint-disable-next-line no-control-regex
const controls = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/

/** One address, nothing around it: what a recipient must be (the rule the admin API checks invitations with). */
export const isAddress = EmailAddress.isMailable

/** A display name longer than this is not a name (and keeps the From header within RFC 5322 §2.1.1's 998). */
const maxName = 200

/** A display name, quoted (RFC 5322 §3.2.4, `\` escapes) or not (then no specials that would end it). */
const parseName = (raw: string): string | undefined => {
  const trimmed = raw.trim()
  if (trimmed.startsWith("\"")) {
    const quoted = /^"((?:[^"\\]|\\.)*)"$/.exec(trimmed)
    return quoted === null ? undefined : quoted[1]!.replace(/\\(.)/g, "$1")
  }
  // RFC 5322 §3.2.3 specials: an unquoted phrase cannot hold them (but a "." as §4.1 obs-phrase allows: "J. Doe")
  return /[()<>[\]:;@\\,"]/.test(trimmed) ? undefined : trimmed
}

/**
 * CONTRACT §1 `TESSERA_MAIL_FROM`: `address@example.com` or `Display Name <address@example.com>` (the name may be
 * quoted). The refusal says why, in words fit for a start-up line.
 */
export const parseMailbox = (raw: string): Either.Either<Mailbox, string> => {
  if (controls.test(raw)) return Either.left("must not contain control characters or line breaks")
  const angle = /^(.*)<([^<>]*)>\s*$/s.exec(raw)
  const address = (angle === null ? raw : angle[2]!).trim()
  if (!isAddress(address)) {
    return Either.left("must be one address (local@domain, ASCII), optionally as 'Name <local@domain>'")
  }
  if (angle === null) return Either.right({ name: "", address })
  const name = parseName(angle[1]!)
  if (name === undefined) return Either.left("must have a display name without unquoted specials such as , ; < > @ (quote it)")
  if (name.length > maxName) return Either.left(`must have a display name of at most ${maxName} characters`)
  return Either.right({ name, address })
}
