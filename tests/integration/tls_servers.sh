#!/usr/bin/env bash
# TLS servers for tests/integration/tls_test.cpp, all under one temp directory DIR:
#   a test CA, a second unrelated CA, a server certificate for DNS:localhost only;
#   a PostgreSQL 15 cluster (initdb) with ssl=on that accepts TCP only over TLS (hostssl);
#   a RabbitMQ node of its own (own node name, epmd, ports, mnesia and logs) with a TLS listener,
#   started by scripts/services in DIR/services. Never touches the shared servers.
#
#   tls_servers.sh start DIR [all|postgres|rabbitmq]   prints KEY=VALUE lines (ports, file paths)
#                                                      once the servers accept connections
#   tls_servers.sh stop DIR    stops what start started, by the pids it recorded
set -euo pipefail

cmd=${1:-}
DIR=${2:-}
[[ -n $cmd && -n $DIR && -d $DIR ]] || { echo "usage: $0 start|stop DIR (an existing directory)" >&2; exit 2; }
PG_BIN=${PLEXUS_PG_BIN:-/usr/lib/postgresql/15/bin}
SERVICES=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/services
TIMEOUT=${PLEXUS_TLS_START_TIMEOUT:-90}

if ((EUID == 0)); then PG_USER=postgres RMQ_USER=rabbitmq; else PG_USER=$(id -un) RMQ_USER=$(id -un); fi
as() { # user cmd...
  local u=$1
  shift
  if [[ $u == "$(id -un)" ]]; then "$@"; else runuser -u "$u" -- "$@"; fi
}
log() { printf '[tls_servers] %s\n' "$*" >&2; }
alive() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1; [[ -n $st && $st != Z* ]]; }
# shellcheck disable=SC2016 # $1 is expanded by the inner bash
accepts() { timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null; }
# A port nothing holds (listener or connection, TIME-WAIT aside), below the kernel's ephemeral
# range: the kernel hands ports inside it to outgoing connections at any moment, and a node that
# finds its epmd or distribution port taken that way dies before it writes its pid file (the cause
# of this test's old "timed out waiting for the RabbitMQ pid file", one run in ten).
# Sets FREE (not echoed: a $(subshell) would forget TAKEN, and two ports could coincide).
TAKEN=' '
free_port() {
  local p low
  read -r low _ </proc/sys/net/ipv4/ip_local_port_range
  # From 28000: clear of the project's fixed ports (distribution 25xxx, cluster 26681-26693,
  # benchmark 27673).
  ((low > 29000)) || { echo "ephemeral ports start at $low: no room below them" >&2; exit 1; }
  for _ in $(seq 200); do
    p=$((28000 + RANDOM % (low - 28000)))
    [[ $TAKEN == *" $p "* ]] && continue
    if ! ss -tanH "( sport = :$p )" 2>/dev/null | grep -qv '^TIME-WAIT'; then
      TAKEN+="$p "
      FREE=$p
      return
    fi
  done
  echo "no free port" >&2
  exit 1
}
wait_for() { # description seconds command...
  local what=$1 secs=$2 deadline
  shift 2
  deadline=$((SECONDS + secs))
  until "$@"; do
    ((SECONDS < deadline)) || { log "timed out waiting for $what"; return 1; }
    sleep 0.2
  done
}

certs() {
  local c=$DIR/certs
  mkdir -p "$c"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Plexus Test CA" \
    -keyout "$c/ca.key" -out "$c/ca.crt" 2>/dev/null
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Unrelated CA" \
    -keyout "$c/other-ca.key" -out "$c/other-ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout "$c/server.key" -out "$c/server.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$c/server.ext"
  openssl x509 -req -in "$c/server.csr" -CA "$c/ca.crt" -CAkey "$c/ca.key" -CAcreateserial \
    -days 2 -extfile "$c/server.ext" -out "$c/server.crt" 2>/dev/null
  chmod 0755 "$c"
  chmod 0644 "$c"/*.crt
}

start_pg() {
  local d=$DIR/pg port
  free_port && port=$FREE
  mkdir -p "$d"
  cp "$DIR/certs/server.crt" "$DIR/certs/server.key" "$DIR/certs/ca.crt" "$d/"
  chmod 0600 "$d/server.key"
  chown -R "$PG_USER": "$d"
  as "$PG_USER" "$PG_BIN/initdb" -D "$d/data" -A trust -U postgres >/dev/null
  cat >>"$d/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$d'
ssl = on
ssl_cert_file = '$d/server.crt'
ssl_key_file = '$d/server.key'
CONF
  # TCP only over TLS: a plain connection finds no pg_hba line.
  printf 'local all all trust\nhostssl all all 127.0.0.1/32 trust\n' >"$d/data/pg_hba.conf"
  as "$PG_USER" "$PG_BIN/pg_ctl" -D "$d/data" -l "$d/log" -w -t "$TIMEOUT" start >/dev/null
  head -n 1 "$d/data/postmaster.pid" >"$DIR/pg.pid"
  echo "PG_PORT=$port"
}

# The node is started by scripts/services like every other node of the tests (own data dir, ports,
# node name and epmd; its output and logs kept; a boot that dies is retried), plus a TLS listener.
rmq_services() { # command
  PLEXUS_SERVICES_DIR="$DIR/services" PLEXUS_AMQP_PORT="$(cut -d' ' -f1 "$DIR/rmq.ports")" \
    PLEXUS_AMQP_DIST_PORT="$(cut -d' ' -f2 "$DIR/rmq.ports")" ERL_EPMD_PORT="$(cat "$DIR/epmd.port")" \
    PLEXUS_RMQ_NODE="$(cat "$DIR/rmq.node")" PLEXUS_RMQ_EXTRA_CONF="$DIR/tls.conf" \
    PLEXUS_SERVICES_TIMEOUT="$TIMEOUT" "$SERVICES" "$1" rabbitmq >&2
}

start_rmq() {
  local d=$DIR/rabbitmq port tls dist epmd
  free_port && port=$FREE
  free_port && tls=$FREE
  free_port && dist=$FREE
  free_port && epmd=$FREE
  mkdir -p "$d"
  cp "$DIR/certs/server.crt" "$DIR/certs/server.key" "$DIR/certs/ca.crt" "$d/"
  chmod 0600 "$d/server.key"
  chown -R "$RMQ_USER": "$d"
  cat >"$DIR/tls.conf" <<CONF
listeners.ssl.default = 127.0.0.1:$tls
ssl_options.cacertfile = $d/ca.crt
ssl_options.certfile = $d/server.crt
ssl_options.keyfile = $d/server.key
ssl_options.verify = verify_none
ssl_options.fail_if_no_peer_cert = false
CONF
  echo "$port $dist" >"$DIR/rmq.ports"
  echo "$epmd" >"$DIR/epmd.port" # its own epmd on its own port: the shared node's is never involved
  echo "plexus-tls-$$@localhost" >"$DIR/rmq.node"
  if ! rmq_services start; then
    keep_logs
    return 1
  fi
  wait_for "RabbitMQ TLS port $tls" "$TIMEOUT" accepts "$tls" || { keep_logs; return 1; }
  echo "AMQPS_PORT=$tls"
}

# The test's directory goes with the test: a failed start's logs are copied where they stay.
keep_logs() {
  local keep
  keep=$(mktemp -d "${TMPDIR:-/tmp}/plexus-tls-rabbitmq-failed.XXXXXX")
  cp -r "$DIR/services/rabbitmq/log" "$keep/" 2>/dev/null || true
  log "the node's logs are kept in $keep"
}

stop_pid() { # pidfile name
  local pid
  [[ -s $1 ]] || return 0
  pid=$(head -n 1 "$1")
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 30))
    while alive "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
    if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
    log "stopped $2 (pid $pid)"
  fi
  rm -f "$1"
}

case $cmd in
  start)
    command -v openssl >/dev/null || { echo "openssl is missing (apt-get install openssl)" >&2; exit 1; }
    certs
    echo "CA=$DIR/certs/ca.crt"
    echo "OTHER_CA=$DIR/certs/other-ca.crt"
    what=${3:-all}
    case $what in all | postgres) start_pg ;; rabbitmq) ;; *) echo "unknown server $what" >&2; exit 2 ;; esac
    case $what in all | rabbitmq) start_rmq ;; esac
    ;;
  stop)
    # PostgreSQL: SIGTERM to the postmaster is a smart shutdown; SIGINT is fast.
    if [[ -s $DIR/pg.pid ]] && alive "$(head -n 1 "$DIR/pg.pid")"; then kill -INT "$(head -n 1 "$DIR/pg.pid")" || true; fi
    stop_pid "$DIR/pg.pid" postgres
    # The node and the epmd it started, whatever state a failed start left them in.
    if [[ -s $DIR/rmq.ports ]]; then rmq_services stop || true; fi
    ;;
  *)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
