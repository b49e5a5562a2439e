/** Field schemas the entities share (issue 18, ADR 0053). */
import { Schema } from "effect"

/** An optional field: absent, never `undefined` (exactOptionalPropertyTypes), as the entities' interfaces always said. */
export const optional = <S extends Schema.Schema.All>(schema: S) => Schema.optionalWith(schema, { exact: true })

/** A JWK as registered or configured: its members are the key's own (RFC 7517 §4), kept as given. */
export const Jwk = Schema.Record({ key: Schema.String, value: Schema.Unknown })
