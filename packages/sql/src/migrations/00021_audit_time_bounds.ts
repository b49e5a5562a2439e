/**
 * ADR 0045: time-filtered audit queries bounded by key. Events are timed when made and numbered when committed, so
 * `at` and `seq` are nearly but not exactly in the same order. Each trail's head now also keeps `latest_at`, the
 * greatest `at` so far, and `max_lag`, the most any event's `at` has ever been behind the `latest_at` before it
 * (0 while every event is at least as late as the ones before). Then for any two events a (older) and b (newer):
 * at(b) >= at(a) - max_lag, so an event timed after `until + max_lag` is newer than every event at or before `until`,
 * and one timed before `since - max_lag` older than every event at or after `since`: one row each of the index on
 * (realm_id, at) bounds the primary key's range that `until`/`since` can match.
 *
 * The two append functions keep both columns with the head, under the head's lock, in the same statement; the
 * columns of trails that already exist are computed from their events here.
 */
import { run } from "./Rls.js"

export default run([
  `ALTER TABLE audit_heads ADD COLUMN latest_at timestamptz, ADD COLUMN max_lag interval NOT NULL DEFAULT '0'`,
  `UPDATE audit_heads h SET latest_at = t.latest_at, max_lag = t.max_lag
   FROM (
     SELECT realm_id, max(at) AS latest_at, greatest(interval '0', coalesce(max(prior_max - at), interval '0')) AS max_lag
     FROM (
       SELECT realm_id, at,
         max(at) OVER (PARTITION BY realm_id ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prior_max
       FROM audit_events
     ) e
     GROUP BY realm_id
   ) t
   WHERE h.realm_id = t.realm_id`,
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
