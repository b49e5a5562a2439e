/**
 * Realm lifecycle (issue 13, ADR 0030): a realm's settings carry a `version` for compare-and-set; the owner trail is a
 * hash chain of its own in the audit tables, under a reserved realm row that is no realm (no key ring, never listed,
 * its name outside CONTRACT §2's pattern); and `realm_delete` drops every row of one realm in the caller's transaction.
 *
 * `realm_delete` is the one way the application deletes audit rows: it runs with its owner's rights (SECURITY DEFINER,
 * the migration role, which owns the tables), only in a transaction pinned to the realm it deletes, never for the
 * owner trail, and it deletes the realm row too, so what it removes is a whole realm. Everything else stays as 00001
 * granted it: `tessera_app` may insert and read audit rows, never update or delete them.
 *
 * The tables are found at call time (every table of the schema with a `realm_id` column), so a table a later migration
 * adds is deleted with the realm without changing this function. A table whose rows another table of the realm still
 * references is retried after the others (a foreign key violation inside its own subtransaction); the realm row goes last.
 */
import { run } from "./Rls.js"

/** The owner trail's id (domain `Audit.ownerTrail`). */
const ownerTrail = "00000000-0000-0000-0000-000000000000"

export default run([
  `ALTER TABLE realms ADD COLUMN version integer NOT NULL DEFAULT 1`,

  // the owner trail's anchor: the audit tables' foreign keys hold for it too (RLS is forced on the owner as well)
  `SELECT set_config('app.realm_id', '${ownerTrail}', true)`,
  `INSERT INTO realms (id, name, display_name, dynamic_registration, created_at)
     VALUES ('${ownerTrail}', '~owner', 'the owner trail (not a realm)', false, now())`,
  `SELECT set_config('app.realm_id', '', true)`,

  `CREATE FUNCTION realm_delete(target uuid) RETURNS jsonb
     LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$
   DECLARE
     counts jsonb := '{}'::jsonb;
     pending text[];
     remaining text[];
     t text;
     n bigint;
   BEGIN
     IF target IS NULL OR target = '${ownerTrail}'::uuid THEN
       RAISE EXCEPTION 'realm_delete: % is not a realm', target;
     END IF;
     IF current_setting('app.realm_id', true) IS DISTINCT FROM target::text THEN
       RAISE EXCEPTION 'realm_delete: the transaction is not pinned to realm %', target;
     END IF;
     SELECT coalesce(array_agg(c.relname::text ORDER BY c.relname), '{}') INTO pending
       FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
      WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
        AND a.attname = 'realm_id' AND NOT a.attisdropped;
     WHILE cardinality(pending) > 0 LOOP
       remaining := '{}';
       FOREACH t IN ARRAY pending LOOP
         BEGIN
           EXECUTE format('DELETE FROM public.%I WHERE realm_id = $1', t) USING target;
           GET DIAGNOSTICS n = ROW_COUNT;
           IF n > 0 THEN
             counts := counts || jsonb_build_object(t, n);
           END IF;
         EXCEPTION WHEN foreign_key_violation THEN
           remaining := remaining || t;
         END;
       END LOOP;
       IF cardinality(remaining) = cardinality(pending) THEN
         RAISE EXCEPTION 'realm_delete: foreign keys keep rows of % in %', target, remaining;
       END IF;
       pending := remaining;
     END LOOP;
     DELETE FROM realms WHERE id = target;
     GET DIAGNOSTICS n = ROW_COUNT;
     IF n <> 1 THEN
       RAISE EXCEPTION 'realm_delete: realm % is gone', target;
     END IF;
     RETURN counts;
   END
   $fn$`,
  `REVOKE ALL ON FUNCTION realm_delete(uuid) FROM PUBLIC`,
  `GRANT EXECUTE ON FUNCTION realm_delete(uuid) TO tessera_app`
])
