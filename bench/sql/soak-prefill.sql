-- Soak history for scripts/bench: fills the tables of one host schema (search_path) as if the host
-- had already processed :messages BenchStep commands. Every table that holds a row the host wrote
-- itself (a real round runs first) is filled with copies of that row, so the rows have exactly the
-- host's shape whatever the framework migrations made of the tables; only the keys change:
--   message_id                 UUIDv7-like, time-ordered as the host's (the command's id in
--                              plexus_inbox, the event's elsewhere); correlation/causation = command
--   stream_id / a plugin's id  'soakfill-<k>', :per_stream messages per stream
--   version                    1..:per_stream within a stream
--   *_at (BIGINT ms)           the template's time, 3 ms apart per message, ending at it
--   payload                    the template's, with its stream id replaced
--   n (a plugin's counter)     :per_stream
-- Tables with a message_id or version column get one row per message, the others (a plugin's
-- state, keyed by stream) one row per stream. A table with no row (e.g. an outbox that deletes
-- published rows, deliveries and dead letters of a healthy run) stays as it is: the history holds
-- only what the host keeps. The outbox template is a published row when the table has a
-- published_at column. Usage (psql, schema in search_path; table= one table, empty: all of them,
-- so that scripts/bench can fill the tables in parallel sessions):
--   psql -v messages=1000000 -v per_stream=16 -v table= -f bench/sql/soak-prefill.sql
SET client_min_messages = warning; -- what the fill says comes as INFO
SET bench.soak_messages = :'messages';
SET bench.soak_per_stream = :'per_stream';
SET bench.soak_table = :'table';

DO $fill$
DECLARE
  n CONSTANT BIGINT := current_setting('bench.soak_messages')::BIGINT;
  per CONSTANT BIGINT := current_setting('bench.soak_per_stream')::BIGINT;
  one_table CONSTANT TEXT := current_setting('bench.soak_table');
  t RECORD;
  c RECORD;
  has_published BOOLEAN;
  per_message BOOLEAN;
  has_stream BOOLEAN;
  cols TEXT;
  exprs TEXT;
  e TEXT;
  added BIGINT;
  t0 TIMESTAMPTZ;
BEGIN
  FOR t IN
    SELECT cl.relname AS name FROM pg_class cl JOIN pg_namespace ns ON ns.oid = cl.relnamespace
    WHERE ns.nspname = current_schema() AND cl.relkind IN ('r', 'p') AND NOT cl.relispartition
      AND cl.relname <> 'plexus_migrations' AND (one_table = '' OR cl.relname = one_table)
    ORDER BY 1
  LOOP
    SELECT bool_or(column_name = 'published_at'),
           bool_or(column_name IN ('message_id', 'version')),
           bool_or(column_name = 'stream_id')
      INTO has_published, per_message, has_stream
      FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = t.name;
    t0 := clock_timestamp();
    DROP TABLE IF EXISTS soak_template;
    EXECUTE format('CREATE TEMP TABLE soak_template AS SELECT * FROM %I %s LIMIT 1', t.name,
                   CASE WHEN t.name = 'plexus_outbox' AND has_published
                        THEN 'WHERE published_at IS NOT NULL' ELSE '' END);
    IF NOT EXISTS (SELECT 1 FROM soak_template) THEN
      RAISE INFO 'soak: % left as it is (no row written by the host to copy)', t.name;
      CONTINUE;
    END IF;
    cols := '';
    exprs := '';
    FOR c IN
      SELECT column_name AS name, data_type AS type, column_default AS def, is_identity
      FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = t.name ORDER BY ordinal_position
    LOOP
      CONTINUE WHEN c.is_identity = 'YES' OR coalesce(c.def, '') LIKE 'nextval(%';
      e := CASE
        WHEN c.name = 'message_id' AND t.name = 'plexus_inbox' THEN 'ids.cmd_id'
        WHEN c.name = 'message_id' THEN 'ids.evt_id'
        WHEN c.name IN ('correlation_id', 'causation_id') THEN 'ids.cmd_id'
        WHEN c.name = 'stream_id' THEN 'k.stream'
        WHEN c.name = 'id' AND t.name NOT LIKE 'plexus\_%' THEN 'k.stream'
        WHEN c.name = 'version' THEN '(g.i - 1) % ' || per || ' + 1'
        WHEN c.name = 'n' AND c.type IN ('bigint', 'integer') THEN per::TEXT
        WHEN c.name LIKE '%\_at' AND c.type = 'bigint' THEN format('s.%I - (%s - g.i) * 3', c.name, n)
        WHEN c.name = 'payload' AND has_stream THEN 'replace(s.payload, s.stream_id, k.stream)'
        ELSE format('s.%I', c.name)
      END;
      cols := cols || CASE WHEN cols = '' THEN '' ELSE ', ' END || quote_ident(c.name);
      exprs := exprs || CASE WHEN exprs = '' THEN '' ELSE ', ' END || e;
    END LOOP;
    EXECUTE format(
      'INSERT INTO %I (%s) SELECT %s FROM soak_template s, generate_series(1, %s, %s) AS g(i), '
      'LATERAL (SELECT ''soakfill-'' || ((g.i - 1) / %s) AS stream, '
      '  lpad(to_hex(1700000000000 + g.i * 3), 12, ''0'') AS h, md5(''c'' || g.i) AS mc, '
      '  md5(''e'' || g.i) AS me) k, '
      'LATERAL (SELECT format(''%%s-%%s-7%%s-8%%s-%%s'', substr(k.h, 1, 8), substr(k.h, 9, 4), '
      '  substr(k.mc, 1, 3), substr(k.mc, 4, 3), substr(k.mc, 7, 12)) AS cmd_id, '
      '  format(''%%s-%%s-7%%s-8%%s-%%s'', substr(k.h, 1, 8), substr(k.h, 9, 4), '
      '  substr(k.me, 1, 3), substr(k.me, 4, 3), substr(k.me, 7, 12)) AS evt_id) ids '
      'ON CONFLICT DO NOTHING',
      t.name, cols, exprs, n,
      CASE WHEN per_message THEN 1 ELSE per END, per);
    GET DIAGNOSTICS added = ROW_COUNT;
    RAISE INFO 'soak: % + % rows in % s', t.name, added,
      round(extract(epoch FROM clock_timestamp() - t0)::NUMERIC, 1);
    COMMIT;
  END LOOP;
END
$fill$;
