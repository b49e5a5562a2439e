/** `WWW-Authenticate` challenges (RFC 9110 §11.6.1): a scheme and its `name="value"` parameters. */

// RFC 9110 §5.5: a field value is VCHAR, obs-text (%x80-FF), SP and HTAB; control characters (HTAB included) and
// code points above U+00FF (Node refuses them in a header) are refused
const unsafe = /[^\x20-\x7E\x80-\xFF]|[\x7F-\x9F]/

/**
 * RFC 9110 §11.2 / §5.6.4: `name="value"` with `"` and `\` backslash-escaped. The values are the server's own, so an
 * unsafe character is a programming error: throws a `TypeError`.
 */
export const param = (name: string, value: string): string => {
  if (unsafe.test(value)) throw new TypeError(`WWW-Authenticate: ${name} holds a character not allowed in a header`)
  return `${name}="${value.replace(/["\\]/g, "\\$&")}"`
}

/** RFC 9110 §11.6.1: `scheme name="value", ...`, or the scheme alone when there are no parameters. */
export const challenge = (scheme: string, params: ReadonlyArray<readonly [name: string, value: string]>): string =>
  params.length === 0 ? scheme : `${scheme} ${params.map(([name, value]) => param(name, value)).join(", ")}`
