/**
 * Appending a batch of standalone audit events in one statement (ADR 0022, group commit): the realm's chain head is
 * locked once, the events are linked in the order given (ADR 0007's chain, unchanged) and the head is moved once,
 * so the batch costs one statement and one COMMIT however many events it holds. 00007's `audit_append` stays for
 * events written together with a change.
 *
 * `events` is a JSON array of audit rows (as `audit_append` takes one) and `canonicals` a JSON array of strings of
 * the same length, `canonicals[i]` being `AuditChain.canonical` of `events[i]`; every link's hash is
 * base64url(SHA-256(prev_hash || "\n" || canonical)). All events belong to one realm: the function pins its
 * transaction to the first event's realm as `audit_append` does, and refuses an event of another realm (the
 * policies would refuse its row anyway).
 */
import { run } from "./Rls.js"

export default run([
  `CREATE FUNCTION audit_append_batch(events jsonb, canonicals jsonb) RETURNS void LANGUAGE plpgsql AS $fn$
   DECLARE
     realm text := events->0->>'realm_id';
     pinned text := current_setting('app.realm_id', true);
     n int := jsonb_array_length(events);
     head_seq bigint;
     last_seq bigint;
     prev text;
     next_hash text;
     event jsonb;
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
     SELECT seq, hash INTO head_seq, prev FROM audit_heads WHERE realm_id = realm::uuid FOR UPDATE;
     prev := coalesce(prev, repeat('0', 43));
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
       prev := next_hash;
     END LOOP;
     IF head_seq IS NULL THEN
       INSERT INTO audit_heads (realm_id, seq, hash) VALUES (realm::uuid, last_seq, prev);
     ELSE
       UPDATE audit_heads SET seq = last_seq, hash = prev WHERE realm_id = realm::uuid;
     END IF;
   END
   $fn$`
])
