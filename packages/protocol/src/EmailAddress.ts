/**
 * The one rule for an address Tessera can mail (ADR 0038): an ASCII dot-atom addr-spec (RFC 5322 §3.4.1) within
 * RFC 5321 §4.5.3.1's lengths. Nothing a header or an envelope could be split on (CR, LF, a comma, angle brackets)
 * gets through, so one value is always one mailbox. The admin API refuses an invitation address the mailer could not
 * send to (CONTRACT §3: "mailed to `email`"), and the mailer checks every recipient with the same rule.
 */
import { Schema } from "effect"

/** RFC 5322 §3.2.3 atext. */
const atom = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
/** An RFC 1035 §2.3.1 label (letters, digits, inner hyphens). */
const label = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
const addrSpec = new RegExp(`^${atom}(?:\\.${atom})*@${label}(?:\\.${label})*$`)

/** RFC 5321 §4.5.3.1.1 and §4.5.3.1.3: a local part of at most 64 octets, a path of at most 256 (254 without `<>`). */
const maxLocalPart = 64
const maxAddress = 254

/** One address, nothing around it: what a recipient must be. */
export const isMailable = (value: string): boolean => {
  if (value.length > maxAddress || !addrSpec.test(value)) return false
  return value.lastIndexOf("@") <= maxLocalPart
}

/** An address Tessera can mail. */
export const Mailable = Schema.String.pipe(Schema.filter(isMailable))
