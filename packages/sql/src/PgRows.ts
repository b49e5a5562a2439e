/**
 * Rows read through schemas on Postgres (issue 18, ADR 0053): every query is an `SqlSchema` function built once, whose
 * row schema maps the table's columns onto the domain entity's schema; a row that does not decode is `RowRejected`,
 * naming its table. `RealmTable` runs them in their realm.
 */
import { SqlSchema } from "@effect/sql"
import { Cause, Data, DateTime, Effect, Option, ParseResult, Schema, SchemaAST } from "effect"

/**
 * A row of `table` that does not decode through its schema (an edit behind the application's back, a migration that
 * went wrong): the cause of the port's `StoreError`, never a defect and never a value cast into shape.
 */
export class RowRejected extends Data.TaggedError("RowRejected")<{
  readonly table: string
  readonly cause: ParseResult.ParseError | Cause.NoSuchElementException
}> {
  override get message() {
    return `a row of ${this.table} does not decode: ${this.cause.message}`
  }
}

const naming = (table: string) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.mapError(effect, (e) =>
    ParseResult.isParseError(e) || Cause.isNoSuchElementException(e) ? new RowRejected({ table, cause: e }) : e as Exclude<E, ParseResult.ParseError | Cause.NoSuchElementException>)

interface Query<IA, II, IR, A, AI, AR, E, R> {
  readonly Request: Schema.Schema<IA, II, IR>
  readonly Result: Schema.Schema<A, AI, AR>
  readonly execute: (request: II) => Effect.Effect<ReadonlyArray<unknown>, E, R>
}

/** `SqlSchema.findAll` over `table`: every row decoded by `Result`, or `RowRejected`. */
export const findAll = <IA, II, IR, A, AI, AR, E, R>(table: string, query: Query<IA, II, IR, A, AI, AR, E, R>) => {
  const run = SqlSchema.findAll(query)
  return (request: IA): Effect.Effect<ReadonlyArray<A>, E | RowRejected, R | IR | AR> => naming(table)(run(request))
}

/** `SqlSchema.findOne` over `table`: the first row decoded by `Result`, if any, or `RowRejected`. */
export const findOne = <IA, II, IR, A, AI, AR, E, R>(table: string, query: Query<IA, II, IR, A, AI, AR, E, R>) => {
  const run = SqlSchema.findOne(query)
  return (request: IA): Effect.Effect<Option.Option<A>, E | RowRejected, R | IR | AR> => naming(table)(run(request))
}

/** `SqlSchema.single` over `table`: the one row a statement always answers, decoded by `Result`, or `RowRejected`. */
export const single = <IA, II, IR, A, AI, AR, E, R>(table: string, query: Query<IA, II, IR, A, AI, AR, E, R>) => {
  const run = SqlSchema.single(query)
  return (request: IA): Effect.Effect<A, E | RowRejected, R | IR | AR> => naming(table)(run(request))
}

/**
 * A `timestamptz` column (a JS Date from the driver) as the domain's `DateTime.Utc`. Not `Schema.DateTimeUtcFromDate`,
 * whose decoding cost 13 times this one's per column in bench/rows.ts (ADR 0053).
 */
export const Timestamp = Schema.transform(Schema.DateFromSelf, Schema.DateTimeUtcFromSelf, {
  strict: true,
  decode: (date) => DateTime.unsafeMake(date),
  encode: (utc) => DateTime.toDate(utc)
})

/** A `text[]` column. */
export const Strings = Schema.Array(Schema.String)

/** A nullable column of `schema`: null is absent. */
export const nullable = <S extends Schema.Schema.All>(schema: S) => Schema.NullOr(schema)

/** A realm's rows: the request of a list. */
export const InRealm = Schema.Struct({ realmId: Schema.String })

/** A realm's rows after a sort key (`Page.Window`): the request of a page. */
export const PageOf = Schema.Struct({ realmId: Schema.String, limit: Schema.Number, after: Schema.optionalWith(Schema.String, { exact: true }) })

/** Columns that are absent from an entity when null. */
export const present = <K extends string, V>(key: K, value: V | null): { readonly [k in K]?: V } =>
  (value === null ? {} : { [key]: value }) as { readonly [k in K]?: V }

/** A column's name as the entity's field (`created_at` is `createdAt`). */
const fieldOf = (column: string) => column.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase())

/**
 * The row schema of a table whose columns are its entity's fields under their snake_case names, as most tables are
 * (ADR 0053): a null column is an absent field, and an absent field a null column, except where the column's own
 * schema makes the field optional (`absentAs`). A column that names no field of the entity is a programming error,
 * thrown when the module loads.
 */
export const entityRow = <Columns extends Schema.Struct.Fields, A, I, R>(columns: Columns, entity: Schema.Schema<A, I, R>) => {
  const Row = Schema.Struct(columns)
  const optional = new Set(
    SchemaAST.getPropertySignatures(Schema.typeSchema(Row).ast).filter((p) => p.isOptional).map((p) => String(p.name))
  )
  const fields = new Set(SchemaAST.getPropertySignatures(Schema.encodedSchema(entity).ast).map((p) => String(p.name)))
  const names = Object.keys(columns).map((column) => [column, fieldOf(column)] as const)
  for (const [column, field] of names) {
    if (!fields.has(field)) throw new Error(`column ${column} names no field of its entity`)
  }
  return Schema.transform(Row, entity, {
    strict: false,
    decode: (row) => {
      const out: Record<string, unknown> = {}
      for (const [column, field] of names) {
        const value = (row as Record<string, unknown>)[column]
        if (value !== null && value !== undefined) out[field] = value
      }
      return out
    },
    encode: (value) => {
      const out: Record<string, unknown> = {}
      for (const [column, field] of names) {
        const v = (value as Record<string, unknown>)[field]
        if (v !== undefined) out[column] = v
        else if (!optional.has(column)) out[column] = null
      }
      return out
    }
  })
}

/**
 * A column whose value `absent` stands for an absent field (where null cannot: `clients.dynamic` false, an empty
 * `resources.scope_descriptions`); `isAbsent` says which stored values read as absent (none, when absence is only
 * written: `clients.version` 1).
 */
export const absentAs = <A, I, R>(schema: Schema.Schema<A, I, R>, absent: A, isAbsent: (value: A) => boolean = () => false) =>
  Schema.requiredToOptional(schema, Schema.typeSchema(schema), {
    decode: (value) => (isAbsent(value) ? Option.none() : Option.some(value)),
    encode: Option.getOrElse(() => absent)
  })
