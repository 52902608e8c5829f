-- pgbench script: the host's per-message transaction for the BenchStep receptor, as the host runs
-- it (dispatch/executor.cpp, store/outbox.cpp, store/event_store.cpp): inbox check, the handler's
-- state change, event-store append with the event's metadata, outbox row (metadata columns and
-- the payload), inbox row. Streams are per client, as the host serialises each stream. Run in a
-- schema migrated by plexus-host with bench/config/step.json.
\set a random(1, 9000000000000000000)
\set s random(1, 1024)
BEGIN;
SELECT 1 FROM plexus_inbox WHERE message_id = 'in-:a' AND handler = 'bench/BenchStep';
INSERT INTO bench_state (id, n) VALUES ('ref-:client_id-:s', 1) ON CONFLICT (id) DO UPDATE SET n = bench_state.n + 1;
INSERT INTO plexus_events (stream_id, version, message_id, type, payload, created_at, correlation_id, causation_id, source, traceparent, content_type, occurred_at) SELECT 'ref-:client_id-:s', COALESCE(MAX(version), 0) + 1, 'ev-:a', 'BenchStepped', '{"id":"ref-:client_id-:s"}', 0, '0190d5a3-7c1e-7000-8000-000000000000', 'in-:a', 'bench-step', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'application/json', 0 FROM plexus_events WHERE stream_id = 'ref-:client_id-:s';
INSERT INTO plexus_outbox (message_id, kind, type, stream_id, correlation_id, causation_id, source, source_instance, traceparent, tracestate, content_type, occurred_at, payload, deliver_at, created_at) VALUES ('ev-:a', 'event', 'BenchStepped', 'ref-:client_id-:s', '0190d5a3-7c1e-7000-8000-000000000000', 'in-:a', 'bench-step', 'bench-step-host-1', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', '', 'application/json', 0, '{"id":"ref-:client_id-:s"}', 0, 0);
INSERT INTO plexus_inbox (message_id, handler, processed_at) VALUES ('in-:a', 'bench/BenchStep', 0);
END;
