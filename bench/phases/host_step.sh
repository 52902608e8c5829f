# shellcheck shell=bash
# Sourced by scripts/bench (uses its helpers: start_host, wait_ready, migrate, psql_, PIDS, ...).
# One durable-step round on a host of its own: the phases that compare several host setups (the
# peers phase: prefetch 64 and 1; the soak phase: empty and filled tables) start and stop one host
# per round, so only one host consumes the BenchStep queue at a time.

stop_host() { # pid: stop one host started by start_host and forget it
  local p keep=()
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

fresh_schema() { # schema [config]: dropped and migrated by the host
  psql_ -c "SET client_min_messages = warning; DROP SCHEMA IF EXISTS $1 CASCADE" >/dev/null
  migrate "${2:-bench/config/step.json}" PLEXUS_BENCH_SCHEMA="$1"
}

# label config schema [plexus-bench-step args...] -> its JSON in STEP_LAST, WAL flushes per step in
# STEP_FLUSHES (the host's background work included). No subshell: the host is this shell's child.
# shellcheck disable=SC2034 # STEP_LAST and STEP_FLUSHES are read by the phases
host_step_round() {
  local label=$1 config=$2 schema=$3 pid c0 c1
  shift 3
  start_host "$label" "$config" "$HTTP_BASE" PLEXUS_BENCH_SCHEMA="$schema"
  pid=$LAST_PID
  wait_ready "$HTTP_BASE" "$label"
  c0=$(xact_commits)
  STEP_LAST=$("$BIN/plexus-bench-step" --url "$PLEXUS_AMQP_URL" --seconds "$STEP_SECS" --warmup 2 \
    --streams 1024 --window 256 "$@") || die "$label: plexus-bench-step failed (host log: $RUN/$label.log)"
  c1=$(xact_commits)
  STEP_FLUSHES=$(calc "($c1 - $c0) / $(jfield total "$STEP_LAST")")
  stop_host "$pid"
}
