-- pgbench script: the host's per-message transaction for the BenchStep receptor, as the host runs
-- it (dispatch/intake.cpp, store/*.cpp, framework migration 4): inbox check, the handler's state
-- change, event-store append, outbox row (the event's metadata columns and payload), inbox row.
-- Streams are per client, as the host serialises each stream. Run in a schema migrated by
-- plexus-host with bench/config/step.json.
\set a random(1, 9000000000000000000)
\set s random(1, 1024)
BEGIN;
SELECT 1 FROM plexus_inbox WHERE message_id = 'in-:a' AND handler = 'bench/Step';
INSERT INTO bench_state (id, n) VALUES ('ref-:client_id-:s', 1) ON CONFLICT (id) DO UPDATE SET n = bench_state.n + 1;
INSERT INTO plexus_events (stream_id, version, message_id, type, payload, created_at, correlation_id, causation_id, source, traceparent, content_type, occurred_at) SELECT 'ref-:client_id-:s', COALESCE(MAX(version), 0) + 1, 'ev-:a', 'BenchStepped', '{"id":"ref-:client_id-:s"}', 0, 'in-:a', 'in-:a', 'bench-step', '', 'application/json', 0 FROM plexus_events WHERE stream_id = 'ref-:client_id-:s';
INSERT INTO plexus_outbox (message_id, kind, type, stream_id, correlation_id, causation_id, source, source_instance, traceparent, tracestate, content_type, occurred_at, payload, deliver_at, created_at) VALUES ('ev-:a', 'event', 'BenchStepped', 'ref-:client_id-:s', 'in-:a', 'in-:a', 'bench-step', 'bench-step-1', '', '', 'application/json', 0, '{"id":"ref-:client_id-:s"}', 0, 0);
INSERT INTO plexus_inbox (message_id, handler, processed_at) VALUES ('in-:a', 'bench/Step', 0);
END;
