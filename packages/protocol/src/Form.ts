/** `application/x-www-form-urlencoded` parameters (RFC 6749 §3.1 and Appendix B, WHATWG URL §5), decoded strictly. */
import { Either } from "effect"
import * as ErrorResponse from "./ErrorResponse.js"
import * as Syntax from "./Syntax.js"

/** How much one request may carry. */
export interface Limits {
  /** The longest value, in UTF-16 code units after decoding. */
  readonly maxValueLength: number
  /** The most `name=value` pairs, counting unknown ones. */
  readonly maxParams: number
}

/** 4096 characters per value, 100 parameters: far beyond any honest OAuth request. */
export const defaultLimits: Limits = { maxValueLength: 4096, maxParams: 100 }

/**
 * Decoded parameters in request order. A value longer than the cap is left out of `pairs` and its name kept in
 * `tooLong`; a value no store can hold (CONTRACT §2: a NUL, `Syntax.isStorable`) likewise in `unstorable`: reading
 * that name fails, while an unrecognized parameter stays ignored (RFC 6749 §3.1).
 */
export interface Params {
  readonly pairs: ReadonlyArray<readonly [name: string, value: string]>
  readonly tooLong: ReadonlySet<string>
  readonly unstorable: ReadonlySet<string>
}

/** An empty parameter set. */
export const empty: Params = { pairs: [], tooLong: new Set(), unstorable: new Set() }

const notForm = () => ErrorResponse.invalidRequest("the request is not valid form encoding")

// Only a JavaScript string can hold a lone surrogate; no UTF-8 byte sequence decodes to one
const loneSurrogate = /\p{Cs}/u

/** WHATWG URL §5.1 with strict percent-decoding: `+` is a space; `%zz`, a cut sequence or bad UTF-8 fail. */
const decodeComponent = (s: string): string | undefined => {
  try {
    return decodeURIComponent(s.replaceAll("+", " "))
  } catch {
    return undefined
  }
}

/**
 * Parses a form body or a query string (without its `?`, see `parseQuery`) into ordered pairs.
 *
 * Broken percent-encoding or invalid UTF-8 is `invalid_request` ("the request is not valid form encoding"); more
 * than `maxParams` pairs is `invalid_request` ("the request has too many parameters").
 */
export const parse = (input: string, limits: Partial<Limits> = {}): Either.Either<Params, ErrorResponse.ErrorResponse> => {
  const { maxParams, maxValueLength } = { ...defaultLimits, ...limits }
  if (loneSurrogate.test(input)) return Either.left(notForm())
  const pairs: Array<readonly [string, string]> = []
  const tooLong = new Set<string>()
  const unstorable = new Set<string>()
  let count = 0
  for (let start = 0; start <= input.length;) {
    // WHATWG URL §5.1: split on "&", skipping empty sequences
    const amp = input.indexOf("&", start)
    const end = amp === -1 ? input.length : amp
    const sequence = input.slice(start, end)
    start = end + 1
    if (sequence === "") continue
    if (++count > maxParams) return Either.left(ErrorResponse.invalidRequest("the request has too many parameters"))
    // WHATWG URL §5.1: the name ends at the first "="; without one the value is empty
    const eq = sequence.indexOf("=")
    const name = decodeComponent(eq === -1 ? sequence : sequence.slice(0, eq))
    const value = decodeComponent(eq === -1 ? "" : sequence.slice(eq + 1))
    if (name === undefined || value === undefined) return Either.left(notForm())
    if (value.length > maxValueLength) tooLong.add(name)
    else if (!Syntax.isStorable(value)) unstorable.add(name)
    else pairs.push([name, value])
  }
  return Either.right({ pairs, tooLong, unstorable })
}

/** Parses a URL's query (`url.search`, with or without its leading `?`) like a form body. */
export const parseQuery = (search: string, limits: Partial<Limits> = {}) =>
  parse(search.startsWith("?") ? search.slice(1) : search, limits)

const utf8 = new TextDecoder("utf-8", { fatal: true })

/** Parses a raw body; bytes that are not UTF-8 are `invalid_request` like broken percent-encoding. */
export const parseBytes = (body: Uint8Array, limits: Partial<Limits> = {}): Either.Either<Params, ErrorResponse.ErrorResponse> => {
  let text: string
  try {
    text = utf8.decode(body)
  } catch {
    return Either.left(notForm())
  }
  return parse(text, limits)
}

const tooLong = (name: string) => ErrorResponse.invalidRequest(`'${name}' is too long`)

/** CONTRACT §2: text that cannot be stored is bad input, never the store's failure. */
const notStorable = (name: string) => ErrorResponse.invalidRequest(`'${name}' must not contain NUL characters`)

/** Why reading `name` fails before its value is looked at: over-long, or not storable. */
const refused = (params: Params, name: string) =>
  params.tooLong.has(name) ? tooLong(name) : params.unstorable.has(name) ? notStorable(name) : undefined

/** Whether `name` was sent with a value no store can hold (a form that must treat it as a wrong answer asks). */
export const isUnstorable = (params: Params, name: string) => params.unstorable.has(name)

/**
 * The one value of `name`, or undefined when absent. A repeated parameter is `invalid_request`
 * ("'<name>' must not be provided twice"); an over-long one "'<name>' is too long".
 */
export const single = (params: Params, name: string): Either.Either<string | undefined, ErrorResponse.ErrorResponse> => {
  const refusal = refused(params, name)
  if (refusal !== undefined) return Either.left(refusal)
  let found: string | undefined
  for (const [n, value] of params.pairs) {
    // RFC 6749 §3.1: parameters sent without a value MUST be treated as if they were omitted
    if (n !== name || value === "") continue
    // RFC 6749 §3.1: request and response parameters MUST NOT be included more than once
    if (found !== undefined) return Either.left(ErrorResponse.invalidRequest(`'${name}' must not be provided twice`))
    found = value
  }
  return Either.right(found)
}

/** Like `single`, but absence is `invalid_request` ("'<name>' is required"). */
export const required = (params: Params, name: string): Either.Either<string, ErrorResponse.ErrorResponse> =>
  Either.flatMap(single(params, name), (value) =>
    value === undefined ? Either.left(ErrorResponse.invalidRequest(`'${name}' is required`)) : Either.right(value))

/** Every non-empty value of a parameter that may repeat (RFC 8707 §2: `resource`), in request order. */
export const all = (params: Params, name: string): Either.Either<ReadonlyArray<string>, ErrorResponse.ErrorResponse> => {
  const refusal = refused(params, name)
  // RFC 6749 §3.1: parameters sent without a value MUST be treated as if they were omitted
  return refusal !== undefined
    ? Either.left(refusal)
    : Either.right(params.pairs.filter(([n, value]) => n === name && value !== "").map(([, value]) => value))
}
