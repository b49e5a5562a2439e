/**
 * Command-line options derived from an admin API schema (CONTRACT §3 bodies and queries): one option per field of
 * the struct, typed by the field's wire (encoded) type, so that a field added to a protocol schema is an option of
 * its command without a line here.
 */
import * as Options from "@effect/cli/Options"
import { Effect, Option } from "effect"
import * as AST from "effect/SchemaAST"
import * as Fs from "node:fs/promises"
import { Usage } from "./Failure.js"

/** How a field is written on the command line. */
export type Kind =
  | { readonly _tag: "text" }
  | { readonly _tag: "integer" }
  | { readonly _tag: "boolean" }
  | { readonly _tag: "choice"; readonly values: ReadonlyArray<string> }
  | { readonly _tag: "list"; readonly item: Kind }
  /** Any other shape (objects, records, JWK sets): a JSON value, inline or `@file`. */
  | { readonly _tag: "json" }

export interface Field {
  readonly name: string
  readonly kind: Kind
  readonly optional: boolean
}

const isNullish = (ast: AST.AST) => (AST.isLiteral(ast) && ast.literal === null) || ast._tag === "UndefinedKeyword"

/** The command-line kind of a wire type. */
export const kindOf = (ast: AST.AST): Kind => {
  switch (ast._tag) {
    case "StringKeyword":
    case "TemplateLiteral":
      return { _tag: "text" }
    case "NumberKeyword":
      return { _tag: "integer" }
    case "BooleanKeyword":
      return { _tag: "boolean" }
    case "Literal":
      return typeof ast.literal === "string" ? { _tag: "choice", values: [ast.literal] } : { _tag: "json" }
    case "Refinement":
      return kindOf(ast.from)
    case "Transformation":
      return kindOf(ast.from)
    case "Union": {
      // PATCH's `null` (clear the field) is written in --body; the option sets a value
      const members = ast.types.filter((member) => !isNullish(member))
      if (members.length === 1) return kindOf(members[0]!)
      if (members.every((member) => AST.isLiteral(member) && typeof member.literal === "string")) {
        return { _tag: "choice", values: members.map((member) => String((member as AST.Literal).literal)) }
      }
      return { _tag: "json" }
    }
    case "TupleType": {
      if (ast.elements.length === 0 && ast.rest.length === 1) {
        const item = kindOf(ast.rest[0]!.type)
        if (item._tag === "text" || item._tag === "choice" || item._tag === "integer") return { _tag: "list", item }
      }
      return { _tag: "json" }
    }
    default:
      return { _tag: "json" }
  }
}

const structOf = (ast: AST.AST): AST.TypeLiteral | undefined => {
  if (AST.isTypeLiteral(ast)) return ast
  if (AST.isRefinement(ast)) return structOf(ast.from)
  if (AST.isTransformation(ast)) return structOf(ast.from)
  return undefined
}

/** The fields of a schema, as sent on the wire; none when it is no struct (a success that is a union, a 204). */
export const fieldsOf = (schema: { readonly ast: AST.AST }): ReadonlyArray<Field> => {
  const struct = structOf(AST.encodedAST(schema.ast))
  if (struct === undefined) return []
  return struct.propertySignatures.map((signature) => ({
    name: String(signature.name),
    kind: kindOf(signature.type),
    optional: signature.isOptional
  }))
}

/** `display_name` is `--display-name`. */
export const flagOf = (field: string) => field.replace(/_/g, "-")

const describe = (kind: Kind): string => {
  switch (kind._tag) {
    case "list":
      return "Repeat the option for each value."
    case "json":
      return "A JSON value, or @file to read it from a file."
    case "boolean":
      return "true or false."
    default:
      return ""
  }
}

const optionOf = (name: string, kind: Kind): Options.Options<Option.Option<unknown>> => {
  const flag = flagOf(name)
  switch (kind._tag) {
    case "integer":
      return Options.optional(Options.integer(flag))
    case "boolean":
      // a flag's absence must mean "not given" (a PATCH leaves the field alone), not false
      return Options.optional(Options.map(Options.choice(flag, ["true", "false"]), (value) => value === "true"))
    case "choice":
      return Options.optional(Options.choice(flag, kind.values))
    case "list":
      return Options.map(
        Options.repeated<unknown>(
          kind.item._tag === "choice" ? Options.choice(flag, kind.item.values) : kind.item._tag === "integer" ? Options.integer(flag) : Options.text(flag)
        ),
        (values) => (values.length === 0 ? Option.none() : Option.some(values))
      )
    case "text":
    case "json":
      return Options.optional(Options.text(flag))
  }
}

/** One option per field; the parsed record holds only the fields given. */
export const options = (fields: ReadonlyArray<Field>, what: string): Options.Options<Record<string, Option.Option<unknown>>> =>
  fields.length === 0 ? Options.map(Options.none, () => ({})) : Options.all(Object.fromEntries(fields.map((field) => [
    field.name,
    Options.withDescription(optionOf(field.name, field.kind), `${what} field '${field.name}'. ${describe(field.kind)}`.trim())
  ]))) as Options.Options<Record<string, Option.Option<unknown>>>

/** Text given inline, or `@file` read from a file (`@-`: standard input). */
export const readValue = (text: string, what: string) => {
  if (!text.startsWith("@")) return Effect.succeed(text)
  const file = text.slice(1)
  return Effect.tryPromise({
    try: () => (file === "-" ? readStdin() : Fs.readFile(file, "utf8")),
    catch: (cause) => new Usage({ description: `${what}: cannot read ${file}: ${(cause as NodeJS.ErrnoException).code ?? "unreadable"}` })
  })
}

const readStdin = async () => {
  const chunks: Array<Buffer> = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString("utf8")
}

/** A JSON value from the command line. */
export const parseJson = (text: string, what: string) =>
  Effect.flatMap(readValue(text, what), (source) =>
    Effect.try({ try: () => JSON.parse(source) as unknown, catch: () => new Usage({ description: `${what}: not valid JSON` }) }))

/** The given fields as wire values: JSON fields parsed, the others as typed. */
export const given = (fields: ReadonlyArray<Field>, values: Record<string, Option.Option<unknown>>) =>
  Effect.gen(function*() {
    const out: Record<string, unknown> = {}
    for (const field of fields) {
      const value = values[field.name]
      if (value === undefined || Option.isNone(value)) continue
      out[field.name] = field.kind._tag === "json" ? yield* parseJson(String(value.value), `--${flagOf(field.name)}`) : value.value
    }
    return out
  })
