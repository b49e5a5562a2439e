/**
 * Appending an audit event in one statement (ADR 0007's chain, unchanged): the head is locked, the link hashed and
 * both rows written by the database, so a standalone event is one round trip instead of six, and the head's lock is
 * held for one statement and its COMMIT rather than across three round trips.
 *
 * `canonical` is `AuditChain.canonical(event)`, made by the application; the hash is
 * base64url(SHA-256(prev_hash || "\n" || canonical)), as `AuditChain.link` computes it and `verify` checks it.
 * The function runs with its caller's rights, so row-level security applies: on its own it pins its transaction to
 * the event's realm; inside a realm transaction it keeps that realm, and another realm's event is refused by the
 * policies as before.
 */
import { run } from "./Rls.js"

export default run([
  `CREATE FUNCTION audit_append(event jsonb, canonical text) RETURNS void LANGUAGE plpgsql AS $fn$
   DECLARE
     realm text := event->>'realm_id';
     pinned text := current_setting('app.realm_id', true);
     head_seq bigint;
     prev text;
     next_hash text;
   BEGIN
     IF pinned IS NULL OR pinned = '' THEN
       PERFORM set_config('app.realm_id', realm, true);
     END IF;
     SELECT seq, hash INTO head_seq, prev FROM audit_heads WHERE realm_id = realm::uuid FOR UPDATE;
     prev := coalesce(prev, repeat('0', 43));
     next_hash := translate(rtrim(encode(sha256(convert_to(prev || E'\\n' || canonical, 'UTF8')), 'base64'), '='), '+/', '-_');
     INSERT INTO audit_events SELECT * FROM jsonb_populate_record(NULL::audit_events,
       event || jsonb_build_object('seq', coalesce(head_seq, 0) + 1, 'prev_hash', prev, 'hash', next_hash));
     IF head_seq IS NULL THEN
       INSERT INTO audit_heads (realm_id, seq, hash) VALUES (realm::uuid, 1, next_hash);
     ELSE
       UPDATE audit_heads SET seq = head_seq + 1, hash = next_hash WHERE realm_id = realm::uuid;
     END IF;
   END
   $fn$`
])
