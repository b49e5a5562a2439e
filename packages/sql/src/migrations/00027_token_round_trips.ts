/**
 * Issue 17 (ADR 0063): a code exchange and a refresh in two round trips each, one to read and one to write, instead of
 * 22 and 18 (five and four realm transactions: BEGIN, set_config, the statements, COMMIT). Each function is one
 * statement and so, sent alone, one transaction: it pins the transaction to its realm as `audit_append` does (only
 * when nothing pinned it: inside a transaction pinned to another realm, row-level security hides the realm's rows and
 * refuses its writes as before), and runs with its caller's rights, so the policies apply to every row it touches.
 *
 * - `code_consume`: RFC 6749 §4.1.2, single use: the code row FOR UPDATE, marked redeemed, and its grant, as jsonb.
 * - `refresh_find`: the family a refresh token belongs to, the generation it was issued as, and its grant, as jsonb.
 * - `refresh_rotate`: OAuth 2.1 §4.3.1 rotation as compare-and-set on the family's generation; only when it wins, the
 *   new token's hash, the new access token's link to its grant and the `token.refreshed` event, all in its commit.
 * - `grant_tokens_start`: a grant's first token set: the access token's link, the refresh family and its first token
 *   (when the set has one), the client remembered in the grant's session, and the `token.issued` event.
 *
 * Lock order (issue 15, ADR 0022's header in 00022): the realm row's KEY SHARE first, as every insert's foreign key
 * takes it, then the rows changed, then the trail head (`audit_append`). A realm gone is a foreign key violation
 * (23503), which `realmGoneOnForeignKey` answers as the realm gone.
 */
import { run } from "./Rls.js"

const pin = `
     IF current_setting('app.realm_id', true) IS NULL OR current_setting('app.realm_id', true) = '' THEN
       PERFORM set_config('app.realm_id', p_realm, true);
     END IF;`

const realmFirst = `
     PERFORM 1 FROM realms WHERE id = p_realm::uuid FOR KEY SHARE;
     IF NOT FOUND THEN
       RAISE EXCEPTION 'realm % is gone', p_realm USING ERRCODE = 'foreign_key_violation';
     END IF;`

export default run([
  `CREATE FUNCTION code_consume(p_realm text, p_hash text) RETURNS jsonb LANGUAGE plpgsql AS $fn$
   DECLARE
     code jsonb;
     found_grant jsonb;
   BEGIN${pin}
     -- STYLE §9: consumed under a row lock, then updated, in one transaction
     SELECT to_jsonb(c) INTO code FROM codes c WHERE c.realm_id = p_realm::uuid AND c.code_hash = p_hash FOR UPDATE;
     IF code IS NULL THEN
       RETURN NULL;
     END IF;
     IF NOT (code->>'redeemed')::boolean THEN
       UPDATE codes SET redeemed = true WHERE realm_id = p_realm::uuid AND code_hash = p_hash;
     END IF;
     SELECT to_jsonb(g) INTO found_grant FROM grants g WHERE g.realm_id = p_realm::uuid AND g.grant_id = code->>'grant_id';
     RETURN jsonb_build_object('code', code, 'grant', found_grant);
   END
   $fn$`,
  `CREATE FUNCTION refresh_find(p_realm text, p_hash text) RETURNS jsonb LANGUAGE plpgsql AS $fn$
   DECLARE
     found jsonb;
   BEGIN${pin}
     SELECT to_jsonb(f) || jsonb_build_object('presented_generation', t.generation, 'grant', to_jsonb(g)) INTO found
       FROM refresh_tokens t
       JOIN refresh_families f ON f.realm_id = t.realm_id AND f.family_id = t.family_id
       LEFT JOIN grants g ON g.realm_id = f.realm_id AND g.grant_id = f.grant_id
       WHERE t.realm_id = p_realm::uuid AND t.token_hash = p_hash;
     RETURN found;
   END
   $fn$`,
  `CREATE FUNCTION refresh_rotate(p_realm text, p_family jsonb, p_expected integer, p_access jsonb, p_event jsonb, p_canonical text)
   RETURNS boolean LANGUAGE plpgsql AS $fn$
   BEGIN${pin}${realmFirst}
     -- OAuth 2.1 §4.3.1: compare-and-set: of two racing uses of one token, one moves the family on
     UPDATE refresh_families SET generation = (p_family->>'generation')::integer, current_hash = p_family->>'current_hash',
         last_used_at = (p_family->>'last_used_at')::timestamptz, dpop_jkt = p_family->>'dpop_jkt'
       WHERE realm_id = p_realm::uuid AND family_id = p_family->>'family_id' AND generation = p_expected AND revoked_reason IS NULL;
     IF NOT FOUND THEN
       RETURN false;
     END IF;
     INSERT INTO refresh_tokens (realm_id, token_hash, family_id, generation)
       VALUES (p_realm::uuid, p_family->>'current_hash', p_family->>'family_id', (p_family->>'generation')::integer);
     IF p_access IS NOT NULL THEN
       INSERT INTO access_tokens SELECT * FROM jsonb_populate_record(NULL::access_tokens, p_access)
         ON CONFLICT (realm_id, jti) DO UPDATE SET grant_id = EXCLUDED.grant_id;
     END IF;
     IF p_event IS NOT NULL THEN
       PERFORM audit_append(p_event, p_canonical);
     END IF;
     RETURN true;
   END
   $fn$`,
  `CREATE FUNCTION grant_tokens_start(p_realm text, p_access jsonb, p_family jsonb, p_token_hash text, p_sid text, p_client text,
     p_event jsonb, p_canonical text) RETURNS void LANGUAGE plpgsql AS $fn$
   BEGIN${pin}${realmFirst}
     INSERT INTO access_tokens SELECT * FROM jsonb_populate_record(NULL::access_tokens, p_access)
       ON CONFLICT (realm_id, jti) DO UPDATE SET grant_id = EXCLUDED.grant_id;
     IF p_family IS NOT NULL THEN
       INSERT INTO refresh_families SELECT * FROM jsonb_populate_record(NULL::refresh_families, p_family);
       INSERT INTO refresh_tokens (realm_id, token_hash, family_id, generation)
         VALUES (p_realm::uuid, p_token_hash, p_family->>'family_id', (p_family->>'generation')::integer);
     END IF;
     IF p_sid IS NOT NULL THEN
       UPDATE sessions SET client_ids = array_append(client_ids, p_client)
         WHERE realm_id = p_realm::uuid AND sid = p_sid AND NOT (p_client = ANY (client_ids));
     END IF;
     PERFORM audit_append(p_event, p_canonical);
   END
   $fn$`
])
