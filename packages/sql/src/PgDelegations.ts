/** Agents' delegations on Postgres (ADR 0034): exchange rows upserted with their event, revocation in one transaction. */
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Schema } from "effect"
import { Conflict, Delegation, Delegations } from "@tessera/domain"
import { appendEvent } from "./PgAudit.js"
import { revokeGrantsWhere } from "./PgSignIn.js"
import { entityRow, findAll, Strings, Timestamp } from "./PgRows.js"
import { on, toDate, withRealm } from "./Sql.js"


/** An agent client: its id and `metadata->>'clientName'`. */
const AgentRow = entityRow(
  { client_id: Schema.String, client_name: Schema.NullOr(Schema.String) },
  Schema.Struct({ clientId: Schema.String, clientName: Schema.optionalWith(Schema.String, { exact: true }) })
)

/** A live grant or exchange row of an agent, as the person's `Delegations.Entry`. */
const EntryRow = Schema.transform(
  Schema.Struct({ client_id: Schema.String, sub: Schema.String, resources: Strings, scopes: Strings, first_at: Timestamp, last_at: Timestamp }),
  Schema.Struct({ clientId: Schema.String, entry: Delegations.Entry }),
  {
    strict: true,
    decode: (row) => ({
      clientId: row.client_id,
      entry: { sub: row.sub, resources: row.resources, scopes: row.scopes, firstAt: row.first_at, lastAt: row.last_at }
    }),
    encode: ({ clientId, entry }) => ({
      client_id: clientId, sub: entry.sub, resources: entry.resources, scopes: entry.scopes, first_at: entry.firstAt, last_at: entry.lastAt
    })
  }
)

const Entries = Schema.Struct({
  realmId: Schema.String,
  clientIds: Strings,
  sub: Schema.optionalWith(Schema.String, { exact: true })
})
const Agents = Schema.Struct({ realmId: Schema.String, limit: Schema.Number, after: Schema.optionalWith(Schema.String, { exact: true }) })

const notFound = new Conflict.NotFound({ entity: "delegation" })

export const layer = Layer.effect(Delegations.Delegations, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const run = on(sql)

  /** The live delegations of `clientIds` (of `sub` only, when given): live grants and live exchange rows of existing people. */
  const liveEntries = findAll("delegations", {
    Request: Entries,
    Result: EntryRow,
    execute: ({ realmId, clientIds, sub }) =>
      sql`SELECT g.client_id, g.sub, g.resources, g.scopes, g.created_at AS first_at,
            GREATEST(g.created_at, (SELECT max(f.last_used_at) FROM refresh_families f
              WHERE f.realm_id = g.realm_id AND f.grant_id = g.grant_id AND f.revoked_reason IS NULL)) AS last_at
          FROM grants g
          WHERE g.realm_id = ${realmId} AND g.client_id IN ${sql.in(clientIds)} AND g.revoked_at IS NULL
            AND (${sub ?? null}::text IS NULL OR g.sub = ${sub ?? null})
            AND EXISTS (SELECT 1 FROM users u WHERE u.realm_id = g.realm_id AND u.sub = g.sub)
          UNION ALL
          SELECT d.client_id, d.sub, d.resources, d.scopes, d.first_at, d.last_at
          FROM delegations d
          WHERE d.realm_id = ${realmId} AND d.client_id IN ${sql.in(clientIds)} AND d.revoked_at IS NULL
            AND (${sub ?? null}::text IS NULL OR d.sub = ${sub ?? null})
            AND EXISTS (SELECT 1 FROM users u WHERE u.realm_id = d.realm_id AND u.sub = d.sub)`
  })
  const entries = (realmId: string, clientIds: ReadonlyArray<string>, sub?: string) =>
    liveEntries({ realmId, clientIds, ...(sub !== undefined ? { sub } : {}) })
  // client ids compare bytewise (COLLATE "C"), as the cursor and the memory store compare them
  const agentsOf = findAll("clients", {
    Request: Agents,
    Result: AgentRow,
    execute: ({ realmId, limit, after }) =>
      sql`SELECT client_id, metadata->>'clientName' AS client_name FROM clients
          WHERE realm_id = ${realmId} AND metadata->>'principalType' = 'agent'
            AND (${after ?? null}::text IS NULL OR client_id COLLATE "C" > ${after ?? null}::text)
          ORDER BY client_id COLLATE "C" LIMIT ${limit + 1}`
  })

  return Delegations.Delegations.of({
    exchanged: (use, event) =>
      Effect.gen(function*() {
        // one statement: a new row, a revoked one started again (its cutoff kept), or a live one widened (the arrays'
        // order is the list's to choose: Delegations.merge sorts); none of it when the subject token was issued at or
        // before the last revocation (whole seconds, as `iat` is)
        const issued = use.subjectIssuedAt === undefined ? null : new Date(use.subjectIssuedAt * 1000)
        const written = yield* sql`INSERT INTO delegations ${sql.insert({
          realm_id: use.realmId,
          client_id: use.clientId,
          sub: use.sub,
          resources: [use.resource],
          scopes: [...new Set(use.scopes)].sort(),
          first_at: toDate(use.at),
          last_at: toDate(use.at)
        })} ON CONFLICT (realm_id, client_id, sub) DO UPDATE SET
            resources = CASE WHEN delegations.revoked_at IS NULL
              THEN ARRAY(SELECT DISTINCT unnest(delegations.resources || EXCLUDED.resources))
              ELSE EXCLUDED.resources END,
            scopes = CASE WHEN delegations.revoked_at IS NULL
              THEN ARRAY(SELECT DISTINCT unnest(delegations.scopes || EXCLUDED.scopes))
              ELSE EXCLUDED.scopes END,
            first_at = CASE WHEN delegations.revoked_at IS NULL THEN delegations.first_at ELSE EXCLUDED.first_at END,
            last_at = CASE WHEN delegations.revoked_at IS NULL THEN GREATEST(delegations.last_at, EXCLUDED.last_at)
              ELSE EXCLUDED.last_at END,
            revoked_at = NULL
          WHERE delegations.not_before IS NULL OR (${issued}::timestamptz IS NOT NULL AND delegations.not_before < ${issued}::timestamptz)
          RETURNING client_id`
        if (written.length === 0) return yield* new Delegation.SubjectRejected({ reason: "revoked" })
        yield* appendEvent(event)
      }).pipe(withRealm(use.realmId), run),
    list: (realmId, window) =>
      Effect.gen(function*() {
        const agents = yield* agentsOf({ realmId, ...window })
        if (agents.length === 0) return []
        const rows = yield* entries(realmId, agents.map((a) => a.clientId))
        return agents.map((agent): Delegations.Agent => ({
          ...agent,
          delegations: Delegations.merge(rows.filter((row) => row.clientId === agent.clientId).map((row) => row.entry))
        }))
      }).pipe(withRealm(realmId), run),
    revoke: (realmId, clientId, sub, revokedAt, event) =>
      Effect.gen(function*() {
        const agent = yield* sql`SELECT 1 FROM clients
          WHERE realm_id = ${realmId} AND client_id = ${clientId} AND metadata->>'principalType' = 'agent'`
        if (agent.length === 0) return yield* notFound
        if ((yield* entries(realmId, [clientId], sub)).length === 0) return yield* notFound
        yield* revokeGrantsWhere(sql, realmId, { sub, clientId }, revokedAt)
        yield* sql`INSERT INTO delegations ${sql.insert({
          realm_id: realmId,
          client_id: clientId,
          sub,
          resources: [],
          scopes: [],
          first_at: toDate(revokedAt),
          last_at: toDate(revokedAt),
          revoked_at: toDate(revokedAt),
          not_before: toDate(revokedAt)
        })} ON CONFLICT (realm_id, client_id, sub) DO UPDATE SET revoked_at = EXCLUDED.revoked_at, not_before = EXCLUDED.not_before`
        yield* appendEvent(event)
      }).pipe(withRealm(realmId), run)
  })
}))
