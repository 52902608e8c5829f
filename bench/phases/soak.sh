# shellcheck shell=bash
# shellcheck disable=SC2016 # backquotes in markdown text are literal
# Sourced by scripts/bench: the soak phase. The host's durable step on tables that already hold
# SOAK_MESSAGES processed messages (B) against the same host on empty tables (A), interleaved
# round by round (one host at a time, restarted on the other schema). The history is a synthetic
# copy of rows the host wrote itself (bench/sql/soak-prefill.sql): pushing a million messages
# through the host would take longer than the whole run on two cores.

SOAK_MESSAGES=${PLEXUS_BENCH_SOAK_MESSAGES:-1000000}
SOAK_PER_STREAM=16 # messages per stream in the history (a 10 s step round gives about as many)

table_sizes() { # schema -> {table: {rows, total_bytes, index_bytes}} (exact row counts)
  psql_ -c "SELECT coalesce(json_object_agg(c.relname, json_build_object(
      'rows', (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text::bigint,
      'total_bytes', pg_total_relation_size(c.oid), 'index_bytes', pg_indexes_size(c.oid)) ORDER BY c.relname), '{}')
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = '$1' AND c.relkind = 'r' AND c.relname <> 'plexus_migrations'"
}

pg_super() { # SQL as the servers' superuser, over the socket (CHECKPOINT needs it)
  local svc
  svc=$(readlink -f "$SERVICES_DIR")
  "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$svc/postgres/run" -p "$PG_PORT" -U postgres -d plexus "$@"
}

soak_tables() { # schema -> its tables but the migration ledger
  psql_ -c "SELECT relname FROM pg_class WHERE relnamespace = '$1'::regnamespace AND relkind = 'r' AND relname <> 'plexus_migrations' ORDER BY 1"
}

# schema: the history, one session per table at once (the big three take about the same time),
# then vacuumed, analysed and checkpointed (autovacuum's steady state, no checkpoint in the rounds)
soak_fill() {
  local t0=$SECONDS t pids=() failed=0 pid
  for t in $(soak_tables "$1"); do
    PGOPTIONS="-c search_path=$1" psql_ -v messages="$SOAK_MESSAGES" -v per_stream="$SOAK_PER_STREAM" \
      -v table="$t" -f bench/sql/soak-prefill.sql 2>"$RUN/soak-prefill-$t.log" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  sed 's/^psql:[^ ]* INFO: */  /' "$RUN"/soak-prefill-*.log >&2
  ((failed == 0)) || die "soak prefill failed (above)"
  for t in $(soak_tables "$1"); do psql_ -c "VACUUM (ANALYZE) $1.$t"; done
  pg_super -c CHECKPOINT || say "  warning: CHECKPOINT failed (a checkpoint may fall into the rounds)"
  SOAK_FILL_SECS=$((SECONDS - t0))
}

phase_soak() {
  say "soak: durable step on empty tables (A) vs after $SOAK_MESSAGES processed messages (B), $ROUNDS rounds"
  local r published
  fresh_schema bench_empty
  fresh_schema bench_soak
  # One real round first, so that every table the host keeps rows in has one to copy.
  host_step_round soak-template bench/config/step.json bench_soak --seconds 2 --warmup 0
  published=$(psql_ -c "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'bench_soak' AND table_name = 'plexus_outbox' AND column_name = 'published_at'")
  if ((published > 0)) && (($(psql_ -c "SELECT count(*) FROM bench_soak.plexus_outbox WHERE published_at IS NOT NULL") == 0)); then
    say "  warning: no published outbox row after the template round: the history has no outbox rows"
  fi
  say "  filling bench_soak with $SOAK_MESSAGES processed messages"
  soak_fill bench_soak
  say "  filled, vacuumed and checkpointed in $SOAK_FILL_SECS s"
  for ((r = 1; r <= ROUNDS; r++)); do
    host_step_round "soak-empty-$r" bench/config/step.json bench_empty
    record soak_empty "$(jfield msgs_per_s "$STEP_LAST")"
    host_step_round "soak-full-$r" bench/config/step.json bench_soak
    record soak_full "$(jfield msgs_per_s "$STEP_LAST")"
    say "  round $r: empty $(tail -n1 "$RUN/samples/soak_empty" | cut -d. -f1) msg/s, $SOAK_MESSAGES messages $(jfield msgs_per_s "$STEP_LAST" | cut -d. -f1) msg/s"
  done
  table_sizes bench_empty >"$RUN/soak-sizes-empty.json"
  table_sizes bench_soak >"$RUN/soak-sizes-full.json"
}

soak_keys() { # -> JSON object with durable_step_soak_ratio (when the phase ran)
  [[ -s $RUN/samples/soak_full ]] || { echo '{}'; return; }
  local e f
  e=$(med soak_empty) f=$(med soak_full)
  metric "$(calc "$f / $e")" ratio "$e" '>= 0.9' "host durable step (bench/config/step.json) after its tables hold $SOAK_MESSAGES processed messages ($f msg/s) / the same host on empty tables (reference, msg/s); the history is synthetic: copies of the rows the host wrote in a real round (bench/sql/soak-prefill.sql, $SOAK_PER_STREAM messages per stream, filled in $SOAK_FILL_SECS s), vacuumed, analysed and checkpointed before the rounds; one host at a time, alternating empty/full, median of $ROUNDS rounds; sizes: both schemas after their rounds" |
    jq --argjson empty "$(cat "$RUN/soak-sizes-empty.json")" --argjson full "$(cat "$RUN/soak-sizes-full.json")" \
      --argjson n "$SOAK_MESSAGES" '{durable_step_soak_ratio: (. + {messages: $n, sizes: {empty: $empty, full: $full}})}'
}

soak_docs() { # markdown for docs/benchmarks.md (full run)
  [[ -s $RUN/samples/soak_full ]] || return 0
  printf '### Soak, every round (A = empty tables, B = %s processed messages held)\n\n| Measurement | Rounds |\n|---|---|\n' "$SOAK_MESSAGES"
  printf '| host durable step, empty tables, msg/s (A) | %s |\n| host durable step, history held, msg/s (B) | %s |\n\n' "$(samples soak_empty)" "$(samples soak_full)"
  printf 'Tables after the rounds (empty / history held; `pg_total_relation_size`, `pg_indexes_size`):\n\n| Table | Rows | Total MiB | Indexes MiB |\n|---|---|---|---|\n'
  jq -r -n --slurpfile e "$RUN/soak-sizes-empty.json" --slurpfile f "$RUN/soak-sizes-full.json" '
    def mib: . / 1048576 * 10 | round / 10;
    $f[0] | to_entries[] | .key as $k | $e[0][$k] as $a |
    "| \($k) | \($a.rows) / \(.value.rows) | \($a.total_bytes | mib) / \(.value.total_bytes | mib) | \($a.index_bytes | mib) / \(.value.index_bytes | mib) |"'
  printf '\n'
}
