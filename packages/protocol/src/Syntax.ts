/** Character-level syntax of OAuth parameters: RFC 6749 Appendix A, RFC 7636 §4.1, RFC 7515 §7.1, RFC 7638 §3. */

// RFC 6749 Appendix A: VSCHAR = %x20-7E
const vsChars = /^[\x20-\x7E]+$/

/** RFC 6749 Appendix A: one or more VSCHAR (printable ASCII and space), as `client_id`, `state`, `code` are. */
export const isVsChars = (s: string) => vsChars.test(s)

// Unicode general category Cc: C0 controls (NUL included), DEL and C1 controls
const control = /\p{Cc}/u

/** Whether the string holds a control character (NUL, CR, LF, DEL, ...); free-text parameters refuse them. */
export const hasControl = (s: string) => control.test(s)

// RFC 7636 §4.1: code-verifier = 43*128unreserved; unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"
const pkceVerifier = /^[A-Za-z0-9\-._~]{43,128}$/

/** RFC 7636 §4.1: a code verifier is 43 to 128 characters of `[A-Z] [a-z] [0-9] - . _ ~`. */
export const isCodeVerifier = (s: string) => pkceVerifier.test(s)

// RFC 4648 §5 without padding: 32 bytes are 43 characters
const sha256 = /^[A-Za-z0-9_-]{43}$/

/**
 * A base64url SHA-256 digest without padding (43 characters): an S256 code challenge (RFC 7636 §4.2) or a JWK
 * thumbprint (RFC 7638 §3, RFC 9449 §10).
 */
export const isBase64UrlSha256 = (s: string) => sha256.test(s)

// RFC 7515 §7.1: BASE64URL(header) "." BASE64URL(payload) "." BASE64URL(signature)
const compactJws = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/

/** RFC 7515 §7.1: a signed JWT in compact serialization, three non-empty base64url parts (signature unchecked). */
export const isCompactJws = (s: string) => compactJws.test(s)

// U+0000, which PostgreSQL's text and jsonb refuse, or a lone surrogate, which no UTF-8 can encode (a JS string alone
// can hold one: from a JSON `\ud800` escape; jsonb refuses it, text would silently hold U+FFFD instead)
const unstorable = /\u0000|\p{Cs}/u

/** CONTRACT §2: whether a store can hold the text as it is (no U+0000, no lone surrogate). */
export const isStorable = (s: string) => !unstorable.test(s)

/**
 * CONTRACT §2: how deep arrays and objects may nest in any JSON a caller sends (a body, a client ID metadata document,
 * a DPoP proof's payload); `{}` is one level. Honest input nests a few levels (client metadata: the body, `jwks`,
 * `keys`, a key, its `x5c`: five). Deeper input is refused before anything walks it: the walkers that follow recurse
 * (`isStorableJson` here, the audit chain's canonical JSON), a 10 000-level body overflowed the stack (a 500), and
 * PGlite's jsonb fails past about 8 000 levels ("cannot drop portal"), PostgreSQL's past its `max_stack_depth`.
 */
export const maxJsonDepth = 32

/**
 * Whether `value` nests arrays and objects at most `max` levels deep. Level by level, without recursion, and it stops
 * at the first level past `max`, so a hostile value costs no more than its first `max` levels.
 */
export const isShallowJson = (value: unknown, max: number = maxJsonDepth): boolean => {
  let level: Array<unknown> = [value]
  for (let depth = 0; level.length > 0; depth++) {
    const next: Array<unknown> = []
    for (const item of level) {
      if (typeof item !== "object" || item === null) continue
      if (depth === max) return false
      for (const child of Array.isArray(item) ? item : Object.values(item)) next.push(child)
    }
    level = next
  }
  return true
}

/** CONTRACT §2: whether every string in a JSON value, object keys included, is `isStorable` (`isShallowJson` first). */
export const isStorableJson = (value: unknown): boolean => {
  if (typeof value === "string") return isStorable(value)
  if (Array.isArray(value)) return value.every(isStorableJson)
  if (typeof value === "object" && value !== null) {
    return Object.entries(value).every(([key, v]) => isStorable(key) && isStorableJson(v))
  }
  return true
}
