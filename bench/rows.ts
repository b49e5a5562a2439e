/**
 * Row decoding micro-benchmark (issue 18, ADR 0053): what decoding one `clients` row and one `users` row costs, as the
 * driver hands them over (Dates, parsed jsonb), through the row schemas of PgClients and PgUsers (the table's columns
 * mapped onto the domain entity's schema) against the decoding they replaced (columns checked, jsonb as
 * `Schema.Unknown`, then mapped by hand and cast), measured in one process, alternating rounds.
 *
 *   npm run bench:rows                 BENCH_ROWS=200000 rows per round (default), 5 rounds each
 */
import { DateTime, Schema } from "effect"
import { performance } from "node:perf_hooks"
import * as Os from "node:os"
import type { Client, User } from "@tessera/domain"
import { ClientRow } from "../packages/sql/src/PgClients.js"
import { UserRow } from "../packages/sql/src/PgUsers.js"

const rows = Number(process.env["BENCH_ROWS"] ?? 200_000)
const rounds = 5

const clientRow = {
  realm_id: "0f6c6a0e-8a43-4c5c-a7f4-7c0d7c1c2b11",
  client_id: "app-1",
  secret_hash: "n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg",
  previous_secret_hash: null,
  previous_secret_expires_at: null,
  metadata: {
    redirectUris: ["https://app.example/cb", "http://127.0.0.1/cb"],
    postLogoutRedirectUris: ["https://app.example/bye"],
    grantTypes: ["authorization_code", "refresh_token", "client_credentials"],
    responseTypes: ["code"],
    tokenEndpointAuthMethod: "client_secret_basic",
    scope: "openid profile read write",
    clientName: "App",
    frontchannelLogoutSessionRequired: false,
    dpopBoundAccessTokens: false,
    principalType: "app",
    resources: ["https://api.example"]
  },
  dynamic: false,
  created_at: new Date("2026-11-29T12:00:00Z"),
  version: 3
}

const userRow = {
  realm_id: "0f6c6a0e-8a43-4c5c-a7f4-7c0d7c1c2b11",
  sub: "b0f7e3c2-4a1d-4f3e-9f0a-1c2d3e4f5a6b",
  username: "alice",
  password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
  email: "alice@example.com",
  name: "Alice",
  roles: ["admin"],
  disabled: false,
  version: 2,
  tokens_not_before: null,
  created_at: new Date("2026-11-29T12:00:00Z")
}

// --- before issue 18 (PgClients.ts and PgUsers.ts at 667d1fb): columns checked, jsonb unknown, mapped and cast ---

const OldClientRow = Schema.Struct({
  realm_id: Schema.String,
  client_id: Schema.String,
  secret_hash: Schema.NullOr(Schema.String),
  previous_secret_hash: Schema.NullOr(Schema.String),
  previous_secret_expires_at: Schema.NullOr(Schema.DateFromSelf),
  metadata: Schema.Unknown,
  dynamic: Schema.Boolean,
  created_at: Schema.DateFromSelf,
  version: Schema.Number
})
const at = (date: Date) => DateTime.unsafeMake(date)
const toClient = (row: typeof OldClientRow.Type): Client.Client => ({
  realmId: row.realm_id,
  clientId: row.client_id,
  ...(row.secret_hash !== null ? { secretHash: row.secret_hash } : {}),
  ...(row.previous_secret_hash !== null ? { previousSecretHash: row.previous_secret_hash } : {}),
  ...(row.previous_secret_expires_at !== null ? { previousSecretExpiresAt: at(row.previous_secret_expires_at) } : {}),
  metadata: row.metadata as Client.Metadata,
  ...(row.dynamic ? { dynamic: true } : {}),
  createdAt: at(row.created_at),
  version: row.version
})
const OldUserRow = Schema.Struct({
  realm_id: Schema.String,
  sub: Schema.String,
  username: Schema.String,
  password_hash: Schema.String,
  email: Schema.NullOr(Schema.String),
  name: Schema.NullOr(Schema.String),
  roles: Schema.Array(Schema.Literal("admin", "member")),
  disabled: Schema.Boolean,
  version: Schema.Number,
  tokens_not_before: Schema.NullOr(Schema.DateFromSelf),
  created_at: Schema.DateFromSelf
})
const toUser = (row: typeof OldUserRow.Type): User.User => ({
  realmId: row.realm_id,
  sub: row.sub,
  username: row.username,
  passwordHash: row.password_hash,
  ...(row.email !== null ? { email: row.email } : {}),
  ...(row.name !== null ? { name: row.name } : {}),
  roles: row.roles,
  disabled: row.disabled,
  version: row.version,
  ...(row.tokens_not_before !== null ? { tokensNotBefore: at(row.tokens_not_before) } : {}),
  createdAt: at(row.created_at)
})

// SqlSchema.findOne decodes each row with Schema.decodeUnknown(Result); the synchronous decoder does the same work
const decoders = {
  "clients before": ((decode) => (row: unknown) => toClient(decode(row)))(Schema.decodeUnknownSync(OldClientRow)),
  "clients after": Schema.decodeUnknownSync(ClientRow),
  "users before": ((decode) => (row: unknown) => toUser(decode(row)))(Schema.decodeUnknownSync(OldUserRow)),
  "users after": Schema.decodeUnknownSync(UserRow)
} as const
const inputs: Record<keyof typeof decoders, unknown> = {
  "clients before": clientRow,
  "clients after": clientRow,
  "users before": userRow,
  "users after": userRow
}

const best: Record<string, number> = {}
let sink = 0
for (let round = 0; round <= rounds; round++) {
  for (const name of Object.keys(decoders) as Array<keyof typeof decoders>) {
    const decode = decoders[name]
    const input = inputs[name]
    const start = performance.now()
    for (let i = 0; i < rows; i++) sink += decode(input) === undefined ? 1 : 0
    const micros = ((performance.now() - start) * 1000) / rows
    // round 0 warms the JIT up and is not counted
    if (round > 0) best[name] = Math.min(best[name] ?? Infinity, micros)
  }
}
const load = Os.loadavg().map((l) => l.toFixed(2)).join(", ")
console.log(`row decoding, best of ${rounds} rounds of ${rows} rows, load average ${load} on ${Os.cpus().length} CPUs`)
for (const [name, micros] of Object.entries(best)) console.log(`  ${name.padEnd(16)} ${micros.toFixed(2)} µs/row`)
console.log(`  clients after/before ${(best["clients after"]! / best["clients before"]!).toFixed(2)}`)
console.log(`  users after/before   ${(best["users after"]! / best["users before"]!).toFixed(2)}`)
if (sink !== 0) throw new Error("a decoder answered nothing")
