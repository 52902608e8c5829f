# shellcheck shell=bash
# Sourced by scripts/bench: the CPU of the order saga split by process. Around each measured saga
# round (the closed loop, then until the system is idle again) the user+system CPU of the seven
# hosts, of PostgreSQL (the postmaster, its live backends, and the backends it reaped in between)
# and of RabbitMQ (beam.smp and its helpers) is read from /proc/<pid>/stat; the sums over the
# rounds, divided by the orders placed in them, give CPU milliseconds per order.

CLK_TCK=$(getconf CLK_TCK)
CPU_HOSTS=0 CPU_PG=0 CPU_RMQ=0 CPU_ORDERS=0

proc_ticks() { # pid [all] -> utime+stime (all: + the reaped children's) in clock ticks; 0 if gone
  local s fields
  s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  read -r -a fields <<<"${s##*) }" # after "pid (comm) ": state ppid ... utime(11) stime(12) cutime(13) cstime(14)
  if [[ ${2:-} == all ]]; then echo $((fields[11] + fields[12] + fields[13] + fields[14])); else echo $((fields[11] + fields[12])); fi
}

tree_ticks() { # pid -> its ticks with its reaped children's and its live children's
  local t c
  t=$(proc_ticks "$1" all)
  for c in $(ps --ppid "$1" -o pid= 2>/dev/null); do t=$((t + $(proc_ticks "$c"))); done
  echo "$t"
}

cpu_now() { # -> "hosts postgres rabbitmq" ticks
  local svc pid h=0 pg=0 rmq=0
  svc=$(readlink -f "$SERVICES_DIR")
  for pid in "${PIDS[@]}"; do h=$((h + $(proc_ticks "$pid"))); done
  pid=$(head -n1 "$svc/postgres/data/postmaster.pid" 2>/dev/null || true)
  [[ -n $pid ]] && pg=$(tree_ticks "$pid")
  pid=$(cat "$svc/rabbitmq/$RMQ_NODE.pid" 2>/dev/null || true)
  [[ -n $pid ]] && rmq=$(tree_ticks "$pid")
  echo "$h $pg $rmq"
}

cpu_begin() { read -r CPU_H0 CPU_P0 CPU_R0 <<<"$(cpu_now)"; }

cpu_end() { # orders placed since cpu_begin
  local h p r
  read -r h p r <<<"$(cpu_now)"
  CPU_HOSTS=$((CPU_HOSTS + h - CPU_H0)) CPU_PG=$((CPU_PG + p - CPU_P0)) CPU_RMQ=$((CPU_RMQ + r - CPU_R0))
  CPU_ORDERS=$((CPU_ORDERS + $1))
}

cpu_keys() { # -> JSON object with the saga's keys (when it ran)
  [[ -s $RUN/samples/e2e ]] || { echo '{}'; return; }
  local per h p r
  per="1000 / $CLK_TCK / ($CPU_ORDERS > 0 ? $CPU_ORDERS : 1)"
  h=$(calc "$CPU_HOSTS * $per") p=$(calc "$CPU_PG * $per") r=$(calc "$CPU_RMQ * $per")
  jq -n \
    --argjson tx "$(metric "$HANDLER_TX" 'transactions/order' null '<= 12' "handler transactions one order causes across the seven hosts (plexus_handler_transactions_total of every host over the saga rounds, each until the system is idle again, / orders placed in them) + 1 for the POST; a consumed batch is one transaction however many messages it holds. Handler runs per order (rows of every plexus_inbox / orders + 1, inline projections included): $HANDLINGS")" \
    --argjson wal "$(metric "$COMMITS_PER_ORDER" 'flushes/order' null '<= 4' "WAL flushes (pg_stat_wal.wal_sync) per order over the saga rounds, each until the system is idle again")" \
    --argjson cpu "$(metric "$(calc "$h + $p + $r")" 'ms/order' null '' "CPU (user + system, /proc/<pid>/stat) per order over the saga rounds, each until the system is idle again ($CPU_ORDERS orders): hosts $h ms (the seven processes), PostgreSQL $p ms (postmaster and backends), RabbitMQ $r ms (beam.smp and helpers); the closed-loop driver is not counted")" \
    --argjson h "$h" --argjson p "$p" --argjson r "$r" \
    '{e2e_transactions_per_order: $tx, e2e_wal_flushes_per_order: $wal, e2e_cpu_ms_per_order: ($cpu + {split: {hosts: $h, postgresql: $p, rabbitmq: $r}})}'
}

cpu_docs() { # markdown for docs/benchmarks.md (full run)
  ((CPU_ORDERS > 0)) || return 0
  printf '### CPU of one order, by process\n\n| Process | CPU ms per order |\n|---|---|\n'
  jq -r '.e2e_cpu_ms_per_order.split | to_entries[] | "| \(.key) | \(.value * 100 | round / 100) |"' "$RESULT"
  printf '\nUser + system CPU from /proc/<pid>/stat around the saga rounds (each until the system is idle again), %s orders; the closed-loop driver is not counted.\n\n' "$CPU_ORDERS"
}
