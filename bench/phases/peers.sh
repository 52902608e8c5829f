# shellcheck shell=bash
# Sourced by scripts/bench: the peers phase (--peers). Other systems on the run's own PostgreSQL
# and RabbitMQ, interleaved with the host round by round (A = peer, B = host):
#   raw rabbitmq-c (plexus-bench-amqp) and raw amqplib (bench/peers/amqplib.js): the broker alone
#   raw rabbitmq-c two-hop relay (plexus-bench-amqp --relay): the durable step without a database,
#                             the broker's bound on it; beside graphile-worker batched and the host
#   graphile-worker batched   vs the host's durable step (bench/config/step.json as shipped)
#   graphile-worker one job per transaction vs the host at transport.max_batch 1 (each consumed
#                             message committed in its own transaction)
# The Node programs and their pinned packages are in bench/peers (npm ci, then offline).

PEERS_DIR=$ROOT/bench/peers
# The graphile-worker measured: 0.17.3 by default (its engines include Node 18 and 20);
# PLEXUS_BENCH_GRAPHILE=0.18 runs the pinned 0.18.0 instead (it declares Node >= 22.18 but runs on 20).
case ${PLEXUS_BENCH_GRAPHILE:-0.17} in
  0.17) GRAPHILE_PKG=graphile-worker ;;
  0.18) GRAPHILE_PKG=graphile-worker-0.18 ;;
  *) die "PLEXUS_BENCH_GRAPHILE must be 0.17 or 0.18 (got $PLEXUS_BENCH_GRAPHILE)" ;;
esac

ensure_peers() {
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    ((EUID == 0)) || die "node and npm are missing for --peers (run as root, or install nodejs and npm)"
    say "installing nodejs npm (apt) for --peers"
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs npm >/dev/null
  fi
  if [[ ! -f $PEERS_DIR/node_modules/.package-lock.json ||
    $PEERS_DIR/package-lock.json -nt $PEERS_DIR/node_modules/.package-lock.json ]]; then
    say "installing the peers (npm ci in bench/peers: graphile-worker, amqplib)"
    npm ci --prefix "$PEERS_DIR" --no-audit --no-fund --loglevel=error >&2 || die "npm ci in bench/peers failed"
  fi
  GRAPHILE_VERSION=$(jq -r .version "$PEERS_DIR/node_modules/$GRAPHILE_PKG/package.json")
  AMQPLIB_VERSION=$(jq -r .version "$PEERS_DIR/node_modules/amqplib/package.json")
}

peer() { # program args... -> its JSON line (stderr kept in the run directory)
  local prog=$1
  shift
  node "$PEERS_DIR/$prog" "$@" 2>>"$RUN/peers.err" || { tail -n 5 "$RUN/peers.err" >&2; die "bench/peers/$prog failed"; }
}

phase_peers() {
  say "peers: rabbitmq-c vs amqplib; graphile-worker $GRAPHILE_VERSION batched vs the host's durable step; one job per transaction vs the host at max_batch 1; $ROUNDS rounds"
  local r size wire a b
  size=$(jfield size "$("$BIN/plexus-bench-dispatch" --plugin-dir "$BUILD/bench-plugins" --envelope-size)")
  wire=$("$BIN/plexus-bench-dispatch" --plugin-dir "$BUILD/bench-plugins" --wire)
  jq '.transport.max_batch = 1' bench/config/step.json >"$RUN/step-single.json"
  jq '.transport.max_batch = 1 | .transport.consumers = 2' bench/config/step.json >"$RUN/step-single-2.json"
  fresh_schema bench_peers
  fresh_schema bench_single
  fresh_schema bench_single_2
  for ((r = 1; r <= ROUNDS; r++)); do
    a=$("$BIN/plexus-bench-amqp" --url "$PLEXUS_AMQP_URL" --messages "$AMQP_MSGS" --size "$size" --prefetch 64 --batch 100 --ack each --queue bench.ref.peers)
    b=$(peer amqplib.js --url "$PLEXUS_AMQP_URL" --messages "$AMQP_MSGS" --size "$size" --prefetch 64 --batch 100)
    record peer_rabbitmq_c "$(jfield msgs_per_s "$a")"
    record peer_amqplib "$(jfield msgs_per_s "$b")"
    say "  round $r: rabbitmq-c $(jfield msgs_per_s "$a" | cut -d. -f1) msg/s, amqplib $(jfield msgs_per_s "$b" | cut -d. -f1) msg/s"
    relay_round "$wire"
    a=$(peer graphile.js --package "$GRAPHILE_PKG" --url "$PLEXUS_PG_URL" --mode batched --seconds "$STEP_SECS" --warmup 2 --window 256)
    host_step_round "peers-step-$r" bench/config/step.json bench_peers
    record peer_graphile_batched "$(jfield jobs_per_s "$a")"
    record peer_step "$(jfield msgs_per_s "$STEP_LAST")"
    say "  round $r: broker relay $(med_last peer_relay) msg/s (prefetch 64: $(med_last peer_relay_p64)), graphile-worker batched $(jfield jobs_per_s "$a" | cut -d. -f1) jobs/s, host durable step $(jfield msgs_per_s "$STEP_LAST" | cut -d. -f1) msg/s"
    a=$(peer graphile.js --package "$GRAPHILE_PKG" --url "$PLEXUS_PG_URL" --mode single --seconds "$STEP_SECS" --warmup 2 --window 256)
    host_step_round "peers-single-$r" "$RUN/step-single.json" bench_single
    record peer_graphile_single "$(jfield jobs_per_s "$a")"
    record peer_single "$(jfield msgs_per_s "$STEP_LAST")"
    record peer_single_flushes "$STEP_FLUSHES"
    say "  round $r: graphile-worker one job per transaction $(jfield jobs_per_s "$a" | cut -d. -f1) jobs/s, host one message per transaction $(jfield msgs_per_s "$STEP_LAST" | cut -d. -f1) msg/s"
    # The same at concurrency 2 on both sides: two graphile-worker jobs, two consumer connections.
    a=$(peer graphile.js --package "$GRAPHILE_PKG" --url "$PLEXUS_PG_URL" --mode single --concurrency 2 --seconds "$STEP_SECS" --warmup 2 --window 256)
    host_step_round "peers-single-2-$r" "$RUN/step-single-2.json" bench_single_2
    record peer_graphile_single_2 "$(jfield jobs_per_s "$a")"
    record peer_single_2 "$(jfield msgs_per_s "$STEP_LAST")"
    say "  round $r: at concurrency 2: graphile-worker $(jfield jobs_per_s "$a" | cut -d. -f1) jobs/s, host with 2 consumers $(jfield msgs_per_s "$STEP_LAST" | cut -d. -f1) msg/s"
  done
}

# The broker's bound on a durable step (plexus-bench-amqp --relay, the host's message on both
# hops): at prefetch 256, the most the step driver and graphile-worker keep outstanding, and at
# the host's prefetch 64, where the relay's one batch in flight waits for its confirms.
relay_round() { # wire
  local a b
  a=$(relay_run "$1" 256) || die "plexus-bench-amqp --relay --prefetch 256 failed"
  b=$(relay_run "$1" 64) || die "plexus-bench-amqp --relay --prefetch 64 failed"
  record peer_relay "$(jfield msgs_per_s "$a")"
  record peer_relay_p64 "$(jfield msgs_per_s "$b")"
}
relay_run() { # wire prefetch -> its JSON line
  "$BIN/plexus-bench-amqp" --url "$PLEXUS_AMQP_URL" --messages $((AMQP_MSGS * 4)) --wire "$1" \
    --prefetch "$2" --batch 100 --relay --queue bench.ref.relay
}
med_last() { tail -n 1 "$RUN/samples/$1" | cut -d. -f1; }

peers_keys() { # -> JSON object with the peers' keys (when the phase ran)
  [[ -s $RUN/samples/peer_step ]] || { echo '{}'; return; }
  local c js gb st gs sg gs2 sg2 rl rl64
  c=$(med peer_rabbitmq_c) js=$(med peer_amqplib) gb=$(med peer_graphile_batched) st=$(med peer_step)
  gs=$(med peer_graphile_single) sg=$(med peer_single) rl=$(med peer_relay) rl64=$(med peer_relay_p64)
  gs2=$(med peer_graphile_single_2) sg2=$(med peer_single_2)
  jq -n \
    --argjson batched "$(metric "$(calc "$st / $gb")" ratio "$gb" '>= 1.0' "host durable step ($st msg/s: bench/config/step.json as shipped, as in durable_step_ratio) / graphile-worker $GRAPHILE_VERSION durable jobs end to end in its batched mode (reference, jobs/s: jobs added 100 per transaction with addJobs, 24 concurrent jobs, local queue of 500, completions batched; no-op task; at most 256 jobs not yet executed, as the host's driver keeps at most 256 commands outstanding); same PostgreSQL and run, interleaved, median of $ROUNDS rounds")" \
    --argjson single "$(metric "$(calc "$sg / $gs")" ratio "$gs" '>= 3.0' "host one message per transaction ($sg msg/s: the durable step with transport.max_batch 1, so each consumed message is committed in its own transaction before its ack, while the prefetch (64, as shipped) keeps the next ones arriving; $(med peer_single_flushes) WAL flushes per message) / graphile-worker $GRAPHILE_VERSION one job per transaction (reference, jobs/s: each job added by its own addJob from 4 producers, fetched by its own get_job and completed by its own complete_job, concurrency 1); same run, interleaved, median of $ROUNDS rounds")" \
    --argjson single2 "$(metric "$(calc "$sg2 / $gs2")" ratio "$gs2" '' "as single_tx_vs_graphile_unbatched, both sides at concurrency 2: the host at transport.max_batch 1 with transport.consumers 2 ($sg2 msg/s: two consumer connections, each over two of the four partitions, each message its own transaction) / graphile-worker one job per transaction with concurrency 2 (reference, jobs/s); same run, interleaved, median of $ROUNDS rounds")" \
    --argjson broker "$(metric "$(calc "$js / $c")" ratio "$c" '' "raw amqplib $AMQPLIB_VERSION (Node, $js msg/s) / raw rabbitmq-c (reference, msg/s), the same durable flow: persistent messages of the host's message size, confirms waited every 100, prefetch 64, one manual ack each, publisher and consumer at once; the broker reference of a Node peer; interleaved, median of $ROUNDS rounds")" \
    --argjson relay "$(metric "$(calc "$rl / $gb")" ratio "$gb" '' "raw rabbitmq-c two-hop relay ($rl msg/s: the durable step with the database taken out, plexus-bench-amqp --relay: the host's AMQP message published persistently with confirms waited every 100 to queue A; a relay takes A's deliveries as the host's consumer does (prefetch 256, the batch that has arrived), publishes one persistent message per delivery to queue B on its own confirm-mode connection, waits for the confirms, then acks the batch with one multiple ack; a third connection consumes B (prefetch 256, batch acks); msg/s = N / (last ack on B - first publish)) / graphile-worker $GRAPHILE_VERSION batched (reference, jobs/s, as in durable_step_vs_graphile_batched). Two persistent messages, their confirms and acks per step, as in the host, and no database: below 1.0 the broker alone on this machine cannot move a durable step as fast as graphile-worker moves a job, so durable_step_vs_graphile_batched >= 1.0 is bounded by the broker here; at or above 1.0 the broker leaves that room, and durable_step_vs_graphile_batched can reach at most this value (with a database that cost nothing). Prefetch 256 is the most the step driver and graphile-worker keep outstanding (more gains nothing); at the host's prefetch 64 the relay ran $rl64 msg/s (one batch in flight, waiting for its confirms); interleaved, median of $ROUNDS rounds")" \
    --argjson bound "$(metric "$(calc "$st / $rl")" ratio "$rl" '' "host durable step ($st msg/s, as in durable_step_vs_graphile_batched) / the raw two-hop relay (reference, msg/s, as in broker_relay_vs_graphile_batched): how much of its broker bound the host reaches. No goal: the host adds a PostgreSQL transaction per consumed batch and its outbox relay's reads and marks, on the same two cores as the broker. durable_step_vs_graphile_batched = this x broker_relay_vs_graphile_batched; interleaved, median of $ROUNDS rounds")" \
    '{durable_step_vs_graphile_batched: $batched, single_tx_vs_graphile_unbatched: $single, single_tx_vs_graphile_unbatched_at_2: $single2, broker_amqplib_vs_rabbitmq_c: $broker, broker_relay_vs_graphile_batched: $relay, durable_step_vs_broker_relay: $bound}'
}

peers_docs() { # markdown for docs/benchmarks.md (full run)
  [[ -s $RUN/samples/peer_step ]] || return 0
  printf '### Peers, every round (A = peer, B = host, in the order they ran)\n\n| Measurement | Rounds |\n|---|---|\n'
  printf '| raw rabbitmq-c, msg/s | %s |\n| raw amqplib %s, msg/s | %s |\n' "$(samples peer_rabbitmq_c)" "$AMQPLIB_VERSION" "$(samples peer_amqplib)"
  printf '| raw rabbitmq-c two-hop relay (the durable step without a database), prefetch 256, msg/s (A) | %s |\n| the same at the host'"'"'s prefetch 64, msg/s | %s |\n' "$(samples peer_relay)" "$(samples peer_relay_p64)"
  printf '| graphile-worker %s batched, jobs/s (A) | %s |\n| host durable step, msg/s (B) | %s |\n' "$GRAPHILE_VERSION" "$(samples peer_graphile_batched)" "$(samples peer_step)"
  printf '| graphile-worker %s one job per transaction, jobs/s (A) | %s |\n| host, one message per transaction (max_batch 1), msg/s (B) | %s |\n' "$GRAPHILE_VERSION" "$(samples peer_graphile_single)" "$(samples peer_single)"
  printf '| host, one message per transaction, WAL flushes per message | %s |\n' "$(samples peer_single_flushes)"
  printf '| graphile-worker %s one job per transaction, concurrency 2, jobs/s (A) | %s |\n| host, one message per transaction, 2 consumer connections, msg/s (B) | %s |\n\n' "$GRAPHILE_VERSION" "$(samples peer_graphile_single_2)" "$(samples peer_single_2)"
}
