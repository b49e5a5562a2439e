/** Decoding request bodies into schemas, with RFC 6749-style fixed error text that names the field. */
import { Either, ParseResult, Schema } from "effect"
import * as ErrorResponse from "./ErrorResponse.js"
import * as Syntax from "./Syntax.js"

/** Parses a JSON body; anything but a JSON object is `invalid_request`. */
export const parseJsonObject = (text: string): Either.Either<Record<string, unknown>, ErrorResponse.ErrorResponse> => {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return Either.left(ErrorResponse.invalidRequest("the body is not valid JSON"))
  }
  // CONTRACT §2: nesting no field has, refused before it is walked (`Syntax.maxJsonDepth` says why)
  if (!Syntax.isShallowJson(value)) return Either.left(ErrorResponse.invalidRequest(`the body nests deeper than ${Syntax.maxJsonDepth} levels`))
  // CONTRACT §2: a NUL or a lone surrogate (a `\ud800` escape) in any string or key fits no field and no store
  // (PostgreSQL text and jsonb refuse them)
  if (!Syntax.isStorableJson(value)) return Either.left(ErrorResponse.invalidRequest("the body must not contain NUL characters or unpaired surrogates"))
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? Either.right(value as Record<string, unknown>)
    : Either.left(ErrorResponse.invalidRequest("the body must be a JSON object"))
}

/** A schema whose failures read `'<field>' <message>`; the message never echoes the input. */
export const field = <A, I>(schema: Schema.Schema<A, I>, message: string) =>
  schema.annotations({ message: () => ({ message, override: true }) })

/** Decodes with `schema`; the first issue becomes the error description. */
export const decode = <A, I>(schema: Schema.Schema<A, I>) => {
  const run = Schema.decodeUnknownEither(schema, { errors: "first", onExcessProperty: "ignore" })
  return (input: unknown): Either.Either<A, ErrorResponse.ErrorResponse> =>
    Either.mapLeft(run(input), (error) => {
      const [issue] = ParseResult.ArrayFormatter.formatErrorSync(error)
      const path = issue?.path.join(".") ?? ""
      if (issue === undefined || path === "") return ErrorResponse.invalidRequest("the body does not have the expected shape")
      return ErrorResponse.invalidRequest(issue._tag === "Missing" ? `'${path}' is required` : `'${path}' ${issue.message}`)
    })
}
