/**
 * Issue 15 (the fuzzer's deadlock, follow-up): both append functions take the realm row's KEY SHARE lock before the
 * trail head, so every writer locks the realm row and only then the head. Before, the first lock on the realm row an
 * append took was its event's foreign key check, after it held the head FOR UPDATE; a realm's deletion holds the realm
 * row FOR UPDATE and then deletes every row of the realm, the head among them, so a write that held the head when the
 * deletion began waited for the deletion, which waited for the head: a deadlock (SQLSTATE 40P01, answered 503).
 * Now the write holds the realm row's KEY SHARE while it waits for the head, the deletion waits for the write's
 * COMMIT, and a write that comes after the deletion finds no realm row (its insert then fails the foreign key, as it
 * did).
 *
 * The rest of both functions is 00021's, unchanged.
 */
import { run } from "./Rls.js"

export default run([
  `CREATE OR REPLACE FUNCTION audit_append(event jsonb, canonical text) RETURNS void LANGUAGE plpgsql AS $fn$
   DECLARE
     realm text := event->>'realm_id';
     pinned text := current_setting('app.realm_id', true);
     event_at timestamptz := (event->>'at')::timestamptz;
     head_seq bigint;
     prev text;
     next_hash text;
     latest timestamptz;
     behind interval;
   BEGIN
     IF pinned IS NULL OR pinned = '' THEN
       PERFORM set_config('app.realm_id', realm, true);
     END IF;
     -- issue 15: the realm row's KEY SHARE before the trail head (the lock order realm row -> head; see the header)
     PERFORM 1 FROM realms WHERE id = realm::uuid FOR KEY SHARE;
     SELECT seq, hash, latest_at, max_lag INTO head_seq, prev, latest, behind FROM audit_heads WHERE realm_id = realm::uuid FOR UPDATE;
     prev := coalesce(prev, repeat('0', 43));
     next_hash := translate(rtrim(encode(sha256(convert_to(prev || E'\\n' || canonical, 'UTF8')), 'base64'), '='), '+/', '-_');
     INSERT INTO audit_events SELECT * FROM jsonb_populate_record(NULL::audit_events,
       event || jsonb_build_object('seq', coalesce(head_seq, 0) + 1, 'prev_hash', prev, 'hash', next_hash));
     -- ADR 0045: the head's bounds of time order
     behind := greatest(coalesce(behind, interval '0'), coalesce(latest - event_at, interval '0'));
     latest := greatest(latest, event_at);
     IF head_seq IS NULL THEN
       INSERT INTO audit_heads (realm_id, seq, hash, latest_at, max_lag) VALUES (realm::uuid, 1, next_hash, latest, behind);
     ELSE
       UPDATE audit_heads SET seq = head_seq + 1, hash = next_hash, latest_at = latest, max_lag = behind WHERE realm_id = realm::uuid;
     END IF;
   END
   $fn$`,
  `CREATE OR REPLACE FUNCTION audit_append_batch(events jsonb, canonicals jsonb) RETURNS void LANGUAGE plpgsql AS $fn$
   DECLARE
     realm text := events->0->>'realm_id';
     pinned text := current_setting('app.realm_id', true);
     n int := jsonb_array_length(events);
     head_seq bigint;
     last_seq bigint;
     prev text;
     next_hash text;
     event jsonb;
     event_at timestamptz;
     latest timestamptz;
     behind interval;
   BEGIN
     IF n = 0 THEN
       RETURN;
     END IF;
     IF jsonb_array_length(canonicals) <> n THEN
       RAISE EXCEPTION 'audit_append_batch: % events but % canonicals', n, jsonb_array_length(canonicals);
     END IF;
     IF pinned IS NULL OR pinned = '' THEN
       PERFORM set_config('app.realm_id', realm, true);
     END IF;
     -- issue 15: the realm row's KEY SHARE before the trail head (the lock order realm row -> head; see the header)
     PERFORM 1 FROM realms WHERE id = realm::uuid FOR KEY SHARE;
     SELECT seq, hash, latest_at, max_lag INTO head_seq, prev, latest, behind FROM audit_heads WHERE realm_id = realm::uuid FOR UPDATE;
     prev := coalesce(prev, repeat('0', 43));
     behind := coalesce(behind, interval '0');
     last_seq := coalesce(head_seq, 0);
     FOR i IN 0 .. n - 1 LOOP
       event := events->i;
       IF event->>'realm_id' IS DISTINCT FROM realm THEN
         RAISE EXCEPTION 'audit_append_batch: events of more than one realm';
       END IF;
       last_seq := last_seq + 1;
       next_hash := translate(rtrim(encode(sha256(convert_to(prev || E'\\n' || (canonicals->>i), 'UTF8')), 'base64'), '='), '+/', '-_');
       INSERT INTO audit_events SELECT * FROM jsonb_populate_record(NULL::audit_events,
         event || jsonb_build_object('seq', last_seq, 'prev_hash', prev, 'hash', next_hash));
       -- ADR 0045: the head's bounds of time order
       event_at := (event->>'at')::timestamptz;
       behind := greatest(behind, coalesce(latest - event_at, interval '0'));
       latest := greatest(latest, event_at);
       prev := next_hash;
     END LOOP;
     IF head_seq IS NULL THEN
       INSERT INTO audit_heads (realm_id, seq, hash, latest_at, max_lag) VALUES (realm::uuid, last_seq, prev, latest, behind);
     ELSE
       UPDATE audit_heads SET seq = last_seq, hash = prev, latest_at = latest, max_lag = behind WHERE realm_id = realm::uuid;
     END IF;
   END
   $fn$`
])
