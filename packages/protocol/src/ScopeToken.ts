/** Scope syntax, RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), separated by single spaces. */

const token = /^[\x21\x23-\x5B\x5D-\x7E]+$/

export const isToken = (s: string) => token.test(s)

export const isScope = (s: string) => s.split(" ").every(isToken)
