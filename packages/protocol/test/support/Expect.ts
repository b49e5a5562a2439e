/** Assertions shared by the protocol tests: Either sides and the exact RFC 6749 §5.2 error body. */
import { expect } from "@effect/vitest"
import { Either } from "effect"
import type { ErrorResponse } from "@tessera/protocol"

/** The Right side, or a failed test showing the Left. */
export const right = <A, E>(result: Either.Either<A, E>): A => {
  if (Either.isLeft(result)) throw new Error(`expected Right, got Left ${JSON.stringify(result.left)}`)
  return result.right
}

/** The Left side, or a failed test showing the Right. */
export const left = <A, E>(result: Either.Either<A, E>): E => {
  if (Either.isRight(result)) throw new Error(`expected Left, got Right ${JSON.stringify(result.right)}`)
  return result.left
}

// RFC 6749 §5.2: error_description MUST NOT include characters outside %x20-21 / %x23-5B / %x5D-7E
const descriptionChars = /^[\x20\x21\x23-\x5B\x5D-\x7E]*$/

/** The whole wire body and the status; the description is in RFC 6749 §5.2's character set. */
export const expectError = (
  error: ErrorResponse.ErrorResponse,
  status: number,
  body: { readonly error: string; readonly error_description?: string }
) => {
  expect(error.body).toStrictEqual(body)
  expect(error.httpStatus).toBe(status)
  expect(error.error_description ?? "").toMatch(descriptionChars)
}

/** Hostile values: markup, a NUL byte, CR LF, a quote and backslash, non-ASCII, and something huge. */
export const hostile = [
  "<script>alert(1)</script>",
  "\"><img src=x onerror=alert(1)>",
  "a\u0000b",
  "a\r\nSet-Cookie: x=1",
  "a\"b\\c",
  "\u202Eevil\u00e9\u{1F600}",
  "x".repeat(100_000)
] as const

/** The error description echoes none of the input: it is one of the module's fixed texts. */
export const expectNoEcho = (error: ErrorResponse.ErrorResponse, input: string) => {
  const description = error.error_description ?? ""
  expect(description).toMatch(descriptionChars)
  expect(description.length).toBeLessThan(120)
  for (const piece of ["<", ">", "script", "img", "onerror", "Set-Cookie", "evil", "xxxxx"]) {
    if (input.includes(piece)) expect(description).not.toContain(piece)
  }
}
