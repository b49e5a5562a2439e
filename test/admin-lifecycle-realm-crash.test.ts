/**
 * CONTRACT §3 `DELETE /admin/realms/R?confirm=R` under a crash (issue 13, ADR 0030): the real server process on
 * PostgreSQL is killed (SIGKILL) while it deletes a realm big enough that the deletion takes a measurable time; after a
 * restart the realm is either whole (every table's count as before, its audit chain intact) or gone (no row in any
 * table, its issuer 404, `realm.deleted` in the owner trail), never half deleted.
 *
 * PostgreSQL only (vitest.config.ts runs this file in the postgres project alone; under CI=true without
 * DATABASE_URL it fails, as test/support/Postgres.ts requires).
 */
import Pg from "pg"
import { afterAll, describe, expect, it } from "vitest"
import { fileDatabase } from "./support/Postgres.js"
import { adminCall, adminToken, cleanup, startTessera, stopProcess } from "./support/Process.js"

afterAll(cleanup)

/** Rows per bulk table: about a million rows in all, several seconds of deleting on a small machine. */
const bulk = 100_000

/** The realm's rows in every table with a `realm_id` column, read by the owner role pinned to the realm. */
const countRows = async (pool: Pg.Pool, realmId: string) => {
  const client = await pool.connect()
  try {
    await client.query("BEGIN")
    await client.query("SELECT set_config('app.realm_id', $1, true)", [realmId])
    const tables = await client.query<{ relname: string }>(`
      SELECT c.relname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
       WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
         AND a.attname = 'realm_id' AND NOT a.attisdropped ORDER BY c.relname`)
    const counts: Record<string, number> = {}
    for (const { relname } of tables.rows) {
      const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${relname}" WHERE realm_id = $1`, [realmId])
      counts[relname] = rows[0]!.n
    }
    const { rows } = await client.query<{ n: number }>("SELECT count(*)::int AS n FROM realms WHERE id = $1", [realmId])
    counts["realms"] = rows[0]!.n
    await client.query("COMMIT")
    return counts
  } finally {
    client.release()
  }
}

/** The realm's id, from the realm directory. */
const idOf = async (pool: Pg.Pool, name: string) => {
  const client = await pool.connect()
  try {
    await client.query("BEGIN")
    await client.query("SELECT set_config('app.directory', 'on', true)")
    const { rows } = await client.query<{ id: string }>("SELECT id FROM realms WHERE name = $1", [name])
    await client.query("COMMIT")
    return rows[0]!.id
  } finally {
    client.release()
  }
}

/** Fills the realm's tables with generated rows, fast, as the owner role (one transaction). */
const fill = async (pool: Pg.Pool, realmId: string) => {
  const client = await pool.connect()
  try {
    await client.query("BEGIN")
    await client.query("SELECT set_config('app.realm_id', $1, true)", [realmId])
    const n = bulk
    const statements = [
      `INSERT INTO users (realm_id, sub, username, username_key, password_hash, created_at)
         SELECT $1, 'sub-' || i, 'user' || i, 'user' || i, 'x', now() FROM generate_series(1, ${n}) i`,
      // ADR 0047: the people an ID-JAG linked to users
      `INSERT INTO identity_links (realm_id, issuer, subject, sub, created_at)
         SELECT $1, 'https://idp.example/1', 'person-' || i, 'sub-' || i, now() FROM generate_series(1, 1000) i`,
      `INSERT INTO clients (realm_id, client_id, secret_hash, metadata, created_at)
         SELECT $1, 'client-' || i, NULL, '{"redirectUris":[]}'::jsonb, now() FROM generate_series(1, 100) i`,
      `INSERT INTO resources (realm_id, id, uri, scopes, step_up_scopes, created_at)
         SELECT $1, gen_random_uuid(), 'https://api.example/' || i, '{read}', '{}', now() FROM generate_series(1, 100) i`,
      `INSERT INTO trusted_issuers (realm_id, id, issuer, keys, created_at)
         SELECT $1, gen_random_uuid(), 'https://idp.example/' || i, '{"jwks":{"keys":[]}}'::jsonb, now() FROM generate_series(1, 10) i`,
      `INSERT INTO grants (realm_id, grant_id, client_id, sub, scopes, resources, auth_time, acr, amr, created_at)
         SELECT $1, 'grant-' || i, 'client-1', 'sub-' || i, '{read}', '{}', now(), '1', '{pwd}', now() FROM generate_series(1, ${n}) i`,
      `INSERT INTO codes (realm_id, code_hash, client_id, grant_id, redirect_uri, code_challenge, expires_at)
         SELECT $1, 'code-' || i, 'client-1', 'grant-' || i, 'https://app.example/cb', 'c', now() FROM generate_series(1, 1000) i`,
      `INSERT INTO sessions (realm_id, sid, cookie_hash, sub, auth_time, acr, amr, expires_at, client_ids, created_at)
         SELECT $1, 'sid-' || i, 'cookie-' || i, 'sub-' || i, now(), '1', '{pwd}', now() + interval '1 day', '{client-1}', now()
         FROM generate_series(1, ${n}) i`,
      `INSERT INTO consents (realm_id, sub, client_id, scopes, resources, granted_at)
         SELECT $1, 'sub-' || i, 'client-1', '{read}', '{}', now() FROM generate_series(1, ${n}) i`,
      `INSERT INTO refresh_families (realm_id, family_id, client_id, grant_id, generation, current_hash, created_at, last_used_at)
         SELECT $1, 'family-' || i, 'client-1', 'grant-' || i, 1, 'rt-' || i, now(), now() FROM generate_series(1, ${n}) i`,
      `INSERT INTO refresh_tokens (realm_id, token_hash, family_id, generation)
         SELECT $1, 'rt-' || i, 'family-' || i, 1 FROM generate_series(1, ${n}) i`,
      `INSERT INTO interactions (realm_id, id, request, csrf_hash, created_at, expires_at)
         SELECT $1, 'interaction-' || i, '{}'::jsonb, 'csrf', now(), now() + interval '1 hour' FROM generate_series(1, 1000) i`,
      `INSERT INTO access_tokens (realm_id, jti, grant_id, revoked, expires_at)
         SELECT $1, 'jti-' || i, 'grant-' || i, false, now() + interval '15 minutes' FROM generate_series(1, ${n}) i`,
      `INSERT INTO seen_jtis (realm_id, issuer, jti, expires_at)
         SELECT $1, 'https://idp.example/1', 'seen-' || i, now() + interval '5 minutes' FROM generate_series(1, 1000) i`,
      `INSERT INTO device_authorizations (realm_id, device_code_hash, user_code, client_id, scopes, resources, step_up, status,
           interval_seconds, version, created_at, expires_at)
         SELECT $1, 'device-' || i, 'UC' || i, 'client-1', '{read}', '{}', false, 'pending', 5, 1, now(), now() + interval '10 minutes'
         FROM generate_series(1, 1000) i`,
      `INSERT INTO throttles (realm_id, key, failures, last_at, expires_at)
         SELECT $1, 'ip:' || i, 1, now(), now() + interval '1 hour' FROM generate_series(1, 1000) i`,
      `INSERT INTO delegations (realm_id, client_id, sub, resources, scopes, first_at, last_at)
         SELECT $1, 'client-1', 'sub-' || i, '{}', '{read}', now(), now() FROM generate_series(1, 1000) i`,
      `INSERT INTO invitations (realm_id, id, secret_hash, role, state, expires_at, created_at, created_by_type, created_by_id,
           version, sort_key)
         SELECT $1, 'invitation-' || i, 'secret-' || gen_random_uuid(), 'member', 'pending', now() + interval '7 days', now(), 'owner', 'owner',
           1, lpad(i::text, 15, '0') FROM generate_series(1, 1000) i`,
      // ADR 0042: checkpoints as someone with database rights could write them (no valid MAC: verify ignores them)
      `INSERT INTO audit_checkpoints (realm_id, seq, event_id, hash, events, at, mac)
         SELECT $1, 1000 + i, gen_random_uuid(), 'h', 1000 + i, now(), 'm' FROM generate_series(1, 1000) i`
    ]
    for (const statement of statements) await client.query(statement, [realmId])
    await client.query("COMMIT")
  } catch (cause) {
    await client.query("ROLLBACK").catch(() => undefined)
    throw cause
  } finally {
    client.release()
  }
}

/** Whether a backend is still running `realm_delete` (a killed client's transaction runs on until it notices). */
const deleting = async (pool: Pg.Pool) => {
  const { rows } = await pool.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%realm_delete(%' AND pid <> pg_backend_pid()"
  )
  return rows[0]!.n > 0
}

const until = async (condition: () => Promise<boolean>, timeoutMs: number, what: string) => {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

const owner = { authorization: `Bearer ${adminToken}` }
const getJson = async (base: string, path: string) => {
  const res = await fetch(`${base}${path}`, { headers: owner })
  return { status: res.status, json: await res.json().catch(() => undefined) as any }
}

describe("CONTRACT §3, ADR 0030: a realm deletion killed mid-way leaves the realm whole or gone (PostgreSQL)", () => {
  it("SIGKILL during DELETE /admin/realms/R, restart: every table as before, or nothing of the realm anywhere", { timeout: 300_000 }, async () => {
    const databaseUrl = await fileDatabase()
    const pool = new Pg.Pool({ connectionString: databaseUrl, max: 2 })
    try {
      // one deployment, restarted: the same public URL both times (ADR 0035: a start under another URL adds the admin
      // resource under it, which would change the realm's rows by itself)
      const deployment = { DATABASE_URL: databaseUrl, TESSERA_PUBLIC_URL: "https://tessera.crash.test" }
      const first = await startTessera(deployment)
      const name = `crash-${process.pid}-${Date.now().toString(36)}`
      await adminCall(first.base, "/admin/realms", { name })
      await adminCall(first.base, `/admin/realms/${name}/users`, { username: "ada", password: "correct horse battery staple" })
      const realmId = await idOf(pool, name)
      expect((await getJson(first.base, `/admin/audit?subject=${realmId}`)).json.events[0]).toMatchObject({ type: "realm.created", realm: name })
      // verified before the rows are counted: the verification records its checkpoint (ADR 0042), a row of the realm
      const trailBefore = (await getJson(first.base, `/admin/realms/${name}/audit/verify`)).json
      expect(trailBefore).toEqual({ ok: true, events: 4 })
      await fill(pool, realmId)
      const before = await countRows(pool, realmId)
      expect(before["users"]).toBe(bulk + 1)
      expect(before["audit_events"]).toBe(4)
      // every realm-scoped table holds rows of the realm, so "as before" and "nothing left" say something about each
      expect(Object.entries(before).filter(([, n]) => n === 0)).toEqual([])

      // the DELETE goes out; once PostgreSQL is running realm_delete for it, a moment later, the process dies
      const answer = fetch(`${first.base}/admin/realms/${name}?confirm=${name}`, { method: "DELETE", headers: owner }).then(
        (res) => `answered ${res.status}`,
        () => "no answer"
      )
      await until(() => deleting(pool), 60_000, "realm_delete to start")
      const startedAt = Date.now()
      await new Promise((resolve) => setTimeout(resolve, 200))
      first.child.kill("SIGKILL")
      // the kill came while the delete was in flight: the request got no answer
      expect(await answer).toBe("no answer")
      // the orphaned transaction ends (rolled back when its backend finds the client gone) before the state is judged
      await until(async () => !(await deleting(pool)), 120_000, "the killed delete's transaction to end")
      const tookAtLeastMs = Date.now() - startedAt
      await stopProcess(first.child)

      const second = await startTessera(deployment)
      const after = await countRows(pool, realmId)
      const whole = JSON.stringify(after) === JSON.stringify(before)
      const gone = Object.values(after).every((n) => n === 0)
      expect({ whole, gone, tookAtLeastMs }).toEqual({ whole: !gone, gone: !whole, tookAtLeastMs: expect.any(Number) })
      if (whole) {
        expect((await getJson(second.base, `/admin/realms/${name}`)).status).toBe(200)
        expect((await getJson(second.base, `/admin/realms/${name}/audit/verify`)).json).toEqual(trailBefore)
        expect((await fetch(`${second.base}/realms/${name}/.well-known/openid-configuration`)).status).toBe(200)
        expect((await getJson(second.base, `/admin/audit?type=realm.deleted&subject=${realmId}`)).json.events).toEqual([])
        // nothing was left half done: the deletion runs again, whole, on the restarted process
        const res = await fetch(`${second.base}/admin/realms/${name}?confirm=${name}`, { method: "DELETE", headers: owner })
        expect(res.status).toBe(204)
        expect(Object.values(await countRows(pool, realmId)).every((n) => n === 0)).toBe(true)
      }
      expect((await fetch(`${second.base}/realms/${name}/.well-known/openid-configuration`)).status).toBe(404)
      expect((await getJson(second.base, `/admin/realms/${name}`)).status).toBe(404)
      const deleted = (await getJson(second.base, `/admin/audit?type=realm.deleted&subject=${realmId}`)).json.events
      expect(deleted).toHaveLength(1)
      expect(deleted[0]).toMatchObject({ realm: name, subject: realmId, actor: { type: "owner", id: "owner" }, result: "success" })
      expect(deleted[0].reason).toContain(`users ${bulk + 1}`)
      expect((await getJson(second.base, "/admin/audit/verify")).json).toEqual({ ok: true, events: expect.any(Number) })
      await stopProcess(second.child)
    } finally {
      await pool.end()
    }
  })
})
