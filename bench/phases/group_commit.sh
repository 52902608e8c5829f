# shellcheck shell=bash
# Sourced by scripts/bench: the order saga's WAL flushes against PostgreSQL's group commit.
# Every handler transaction is a durable commit in one of seven processes, so the flushes per
# order follow the handler transactions unless PostgreSQL holds a commit to merge it with
# others (commit_delay, when at least commit_siblings other transactions are open). The phase
# runs the saga with commit_delay at each of GC_DELAYS microseconds, interleaved round by round,
# and reports flushes, handler transactions and orders/s for each: what the flushes per order
# cost to bring down on this disk. The server's defaults are restored at the end (and by the
# cleanup trap: ALTER SYSTEM outlives a restart).

GC_DELAYS=(0 1000 3000)
GC_SIBLINGS=2
GC_ROUNDS=$((quick ? 2 : ROUNDS))
GC_CHANGED=0

pg_super() { # the run's own server, as its superuser over the Unix socket
  "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$SERVICES_DIR/postgres/run" -p "$PG_PORT" -U postgres -d postgres "$@"
}

set_commit_delay() { # microseconds (0: the server's defaults)
  if (($1 == 0)); then
    pg_super -c 'ALTER SYSTEM RESET commit_delay' -c 'ALTER SYSTEM RESET commit_siblings'
  else
    GC_CHANGED=1
    pg_super -c "ALTER SYSTEM SET commit_delay = $1" -c "ALTER SYSTEM SET commit_siblings = $GC_SIBLINGS"
  fi
  pg_super -c 'SELECT pg_reload_conf()' >/dev/null
}

reset_group_commit() { # for the cleanup trap
  ((GC_CHANGED)) || return 0
  set_commit_delay 0 || say "warning: could not reset commit_delay (ALTER SYSTEM RESET commit_delay by hand)"
}

phase_group_commit() {
  say "group commit: the order saga, $SAGA_CLIENTS clients, at commit_delay ${GC_DELAYS[*]} us (commit_siblings $GC_SIBLINGS), $GC_ROUNDS interleaved rounds"
  local r d c0 c1 o0 o1 t0 t1
  for ((r = 1; r <= GC_ROUNDS; r++)); do
    for d in "${GC_DELAYS[@]}"; do
      set_commit_delay "$d"
      settle_system
      c0=$(xact_commits) o0=$(orders_created) t0=$(handler_transactions)
      saga_run "$SAGA_CLIENTS" "gc-$d-$r"
      settle_system
      c1=$(xact_commits) o1=$(orders_created) t1=$(handler_transactions)
      record "gc_orders_$d" "$(jfield orders_per_s "$SAGA_LAST")"
      record "gc_p99_$d" "$(jfield p99_ms "$SAGA_LAST")"
      record "gc_placed_$d" $((o1 - o0))
      record "gc_flushes_$d" $((c1 - c0))
      record "gc_tx_$d" "$(calc "$t1 - $t0")"
      say "  round $r, commit_delay $d us: $(jfield orders_per_s "$SAGA_LAST" | cut -c1-6) orders/s, $(calc "($c1 - $c0) / ($o1 - $o0)") WAL flushes per order"
    done
  done
  set_commit_delay 0
  GC_CHANGED=0
}

gc_sum() { awk '{s += $1} END {print s + 0}' "$RUN/samples/$1"; }
gc_point() { # delay -> JSON: the pooled flushes and transactions per order, the median orders/s and p99
  local d=$1 placed
  placed=$(gc_sum "gc_placed_$d")
  jq -n --argjson d "$d" --argjson f "$(calc "$(gc_sum "gc_flushes_$d") / ($placed > 0 ? $placed : 1)")" \
    --argjson t "$(calc "$(gc_sum "gc_tx_$d") / ($placed > 0 ? $placed : 1) + 1")" \
    --argjson o "$(med "gc_orders_$d")" --argjson p "$(med "gc_p99_$d")" \
    '{commit_delay_us: $d, wal_flushes_per_order: $f, handler_transactions_per_order: $t, orders_per_s: $o, p99_ms: $p}'
}

group_commit_keys() { # -> JSON object (when the phase ran)
  [[ -s $RUN/samples/gc_orders_0 ]] || { echo '{}'; return; }
  local points last first d
  points=$(for d in "${GC_DELAYS[@]}"; do gc_point "$d"; done | jq -s .)
  first=$(jq '.[0].wal_flushes_per_order' <<<"$points") last=$(jq '.[-1].wal_flushes_per_order' <<<"$points")
  metric "$last" 'flushes/order' "$first" '' "WAL flushes per order of the order saga ($SAGA_CLIENTS clients) with PostgreSQL holding each commit up to commit_delay = ${GC_DELAYS[-1]} us when at least $GC_SIBLINGS other transactions are open, to flush it with theirs; reference: the same phase at the server's default (commit_delay 0); interleaved, $GC_ROUNDS rounds per setting; points: every setting with its handler transactions, orders/s (median) and p99 (median)" |
    jq --argjson pts "$points" '{e2e_wal_flushes_per_order_group_commit: (. + {points: $pts})}'
}

group_commit_docs() { # markdown for docs/benchmarks.md (full run)
  [[ -s $RUN/samples/gc_orders_0 ]] || return 0
  local d
  printf '### WAL flushes against group commit\n\n'
  printf 'The order saga, %d clients, with PostgreSQL'"'"'s `commit_delay` at each setting (`commit_siblings` %d), %d interleaved rounds each; flushes and transactions pooled over the rounds, orders/s and p99 their medians.\n\n' "$SAGA_CLIENTS" "$GC_SIBLINGS" "$GC_ROUNDS"
  printf '| commit_delay | WAL flushes per order | Handler transactions per order | Orders/s | p99 ms | Rounds, orders/s |\n|---|---|---|---|---|---|\n'
  for d in "${GC_DELAYS[@]}"; do
    gc_point "$d" | jq -r --arg rounds "$(samples "gc_orders_$d")" \
      'def r(n): . * n | round / n;
       "| \(.commit_delay_us) us | \(.wal_flushes_per_order | r(100)) | \(.handler_transactions_per_order | r(100)) | \(.orders_per_s | r(10)) | \(.p99_ms | floor) | \($rounds) |"'
  done
  printf '\n'
}
