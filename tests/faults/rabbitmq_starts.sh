#!/usr/bin/env bash
# Every way the tests start a RabbitMQ node, N times in a row, counting failures (issue 14: a node
# start failed about one run in ten). Not a ctest: it runs for an hour or more. Each kind uses its
# own data directory, ports and node names, never the servers of scripts/services.
#
#   tests/faults/rabbitmq_starts.sh [N] [KIND...]     N = 50; KIND: tls single cluster (all)
#
#   tls      tests/integration/tls_servers.sh start/stop DIR rabbitmq (the tls.rabbitmq test)
#   single   scripts/services start/stop rabbitmq, alternately from empty and from the previous
#            run's data (the integration and fault tiers restart it)
#   cluster  scripts/services start rabbitmq-cluster (alternately formed from empty and
#            restarted from its data), then one node killed with SIGKILL and started again (it
#            rejoins), then stop
# Environment: PLEXUS_STARTS_DIR (a temp dir), PLEXUS_STARTS_PORT (31701: the single node's AMQP
# port; the cluster's are the next three), PLEXUS_STARTS_DIST_PORT (31711: likewise for
# distribution), PLEXUS_STARTS_NODE (node name prefix, plexus-starts).
# Prints one line per start and a summary; exit 1 when any start failed (its log is printed by
# scripts/services and kept in the data directory).
# shellcheck disable=SC2317 # the run_* functions are called by name
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
N=${1:-50}
(($#)) && shift
KINDS=("$@")
((${#KINDS[@]})) || KINDS=(tls single cluster)
BASE=${PLEXUS_STARTS_PORT:-31701}
DIST=${PLEXUS_STARTS_DIST_PORT:-31711}
NODE=${PLEXUS_STARTS_NODE:-plexus-starts}
WORK=${PLEXUS_STARTS_DIR:-$(mktemp -d /tmp/plexus-starts.XXXXXX)}
mkdir -p "$WORK"
chmod 755 "$WORK"

declare -A OK=() FAIL=() TIMES=()
now_ms() {
  local t=${EPOCHREALTIME/[.,]/}
  printf '%d' $((10#$t / 1000))
}

record() { # kind ok|fail seconds
  if [[ $2 == ok ]]; then OK[$1]=$((${OK[$1]:-0} + 1)); else FAIL[$1]=$((${FAIL[$1]:-0} + 1)); fi
  TIMES[$1]+="$3 "
  printf '[starts] %-14s %s %6.1f s\n' "$1" "$2" "$3"
}

LAST_RC=0
timed() { # kind command... : runs it, records ok/fail and the seconds (LAST_RC)
  local kind=$1 t0
  shift
  t0=$(now_ms)
  LAST_RC=0
  "$@" >>"$WORK/$kind.log" 2>&1 || LAST_RC=$?
  record "$kind" "$([[ $LAST_RC == 0 ]] && echo ok || echo fail)" "$(awk -v d=$(($(now_ms) - t0)) 'BEGIN {print d / 1000}')"
  if ((LAST_RC != 0)); then tail -n 40 "$WORK/$kind.log" | sed 's/^/    /'; fi
  return 0
}

services() { # dir args...
  local dir=$1
  shift
  PLEXUS_SERVICES_DIR=$dir PLEXUS_AMQP_PORT=$BASE PLEXUS_AMQP_DIST_PORT=$DIST \
    PLEXUS_RMQ_NODE=${NODE}-single@localhost PLEXUS_RMQ_CLUSTER_PORT=$((BASE + 1)) \
    PLEXUS_RMQ_CLUSTER_DIST_PORT=$((DIST + 1)) PLEXUS_RMQ_CLUSTER_NODE=${NODE}- \
    PLEXUS_SERVICES_TIMEOUT=300 "$ROOT/scripts/services" "$@"
}

run_tls() {
  local i d
  for ((i = 1; i <= N; i++)); do
    d=$(mktemp -d "$WORK/tls.XXXX")
    chmod 755 "$d"
    timed tls bash "$ROOT/tests/integration/tls_servers.sh" start "$d" rabbitmq
    bash "$ROOT/tests/integration/tls_servers.sh" stop "$d" >>"$WORK/tls.log" 2>&1 || true
    if ((LAST_RC == 0)); then rm -rf "$d"; fi
  done
}

run_single() {
  local i
  for ((i = 1; i <= N; i++)); do
    if ((i % 2)); then
      PLEXUS_RMQ_FRESH=1 timed single-empty services "$WORK/single" start rabbitmq
    else
      timed single-restart services "$WORK/single" start rabbitmq
    fi
    services "$WORK/single" stop rabbitmq >>"$WORK/single.log" 2>&1 || true
  done
}

run_cluster() {
  local i ids=(a b c) id
  for ((i = 1; i <= N; i++)); do
    if ((i % 2)); then
      PLEXUS_RMQ_FRESH=1 timed cluster-formed services "$WORK/cluster" start rabbitmq-cluster
    else
      timed cluster-restart services "$WORK/cluster" start rabbitmq-cluster
    fi
    id=${ids[i % 3]}
    PLEXUS_RMQ_STOP_MODE='kill' services "$WORK/cluster" stop "rabbitmq-cluster:$id" >>"$WORK/cluster.log" 2>&1 || true
    timed cluster-rejoin services "$WORK/cluster" start "rabbitmq-cluster:$id"
    services "$WORK/cluster" stop rabbitmq-cluster >>"$WORK/cluster.log" 2>&1 || true
  done
}

for kind in "${KINDS[@]}"; do
  case $kind in
    tls | single | cluster) "run_$kind" ;;
    *) echo "unknown kind $kind (tls, single, cluster)" >&2; exit 2 ;;
  esac
done

echo "[starts] ---- summary ($N per kind; logs in $WORK) ----"
failed=0
for kind in "${!TIMES[@]}"; do
  read -r -a t <<<"${TIMES[$kind]}"
  printf '[starts] %-14s %3d ok, %d failed; seconds min %s median %s max %s\n' "$kind" \
    "${OK[$kind]:-0}" "${FAIL[$kind]:-0}" \
    "$(printf '%s\n' "${t[@]}" | sort -g | head -n 1)" \
    "$(printf '%s\n' "${t[@]}" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')" \
    "$(printf '%s\n' "${t[@]}" | sort -g | tail -n 1)"
  ((${FAIL[$kind]:-0} == 0)) || failed=1
done
exit "$failed"
