#!/usr/bin/env bash
# TLS servers for tests/integration/tls_test.cpp, all under one temp directory DIR:
#   a test CA, a second unrelated CA, a server certificate for DNS:localhost only;
#   a PostgreSQL 15 cluster (initdb) with ssl=on that accepts TCP only over TLS (hostssl);
#   a RabbitMQ node of its own (own node name, epmd, ports, mnesia and logs) with a TLS listener.
# Never touches the shared servers of scripts/services.
#
#   tls_servers.sh start DIR [all|postgres|rabbitmq]   prints KEY=VALUE lines (ports, file paths)
#                                                      once the servers accept connections
#   tls_servers.sh stop DIR    stops what start started, by the pids it recorded
set -euo pipefail

cmd=${1:-}
DIR=${2:-}
[[ -n $cmd && -n $DIR && -d $DIR ]] || { echo "usage: $0 start|stop DIR (an existing directory)" >&2; exit 2; }
PG_BIN=${PLEXUS_PG_BIN:-/usr/lib/postgresql/15/bin}
RMQ_BIN=/usr/lib/rabbitmq/bin
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
free_port() { # a port nothing listens on, from a range the shared services do not use
  local p
  for _ in $(seq 200); do
    p=$((30000 + RANDOM % 20000))
    [[ -z $(ss -ltnH "sport = :$p" 2>/dev/null) ]] && { echo "$p"; return; }
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
  port=$(free_port)
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

start_rmq() {
  local d=$DIR/rabbitmq port tls dist epmd node home
  port=$(free_port) tls=$(free_port) dist=$(free_port) epmd=$(free_port)
  node="plexus-tls-$$@localhost"
  mkdir -p "$d/mnesia" "$d/log"
  cp "$DIR/certs/server.crt" "$DIR/certs/server.key" "$DIR/certs/ca.crt" "$d/"
  chmod 0600 "$d/server.key"
  cat >"$d/rabbitmq.conf" <<CONF
listeners.ssl.default = 127.0.0.1:$tls
ssl_options.cacertfile = $d/ca.crt
ssl_options.certfile = $d/server.crt
ssl_options.keyfile = $d/server.key
ssl_options.verify = verify_none
ssl_options.fail_if_no_peer_cert = false
loopback_users.guest = true
log.console = false
log.file.level = info
CONF
  : >"$d/rabbitmq-env.conf"
  echo "[rabbitmq_consistent_hash_exchange]." >"$d/enabled_plugins"  # the host declares such exchanges
  chown -R "$RMQ_USER": "$d"
  home=$(getent passwd "$RMQ_USER" | cut -d: -f6)
  echo "$epmd" >"$DIR/epmd.port"
  # Its own epmd on its own port, so the shared node's epmd is never involved.
  (cd "$d" && as "$RMQ_USER" env -i HOME="$home" PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    RABBITMQ_NODENAME="$node" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$port" \
    RABBITMQ_DIST_PORT="$dist" ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT="$epmd" \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS='-kernel inet_dist_use_interface {127,0,0,1}' \
    RABBITMQ_CONF_ENV_FILE="$d/rabbitmq-env.conf" RABBITMQ_CONFIG_FILE="$d/rabbitmq.conf" \
    RABBITMQ_ADVANCED_CONFIG_FILE="$d/advanced.config" RABBITMQ_ENABLED_PLUGINS_FILE="$d/enabled_plugins" \
    RABBITMQ_MNESIA_BASE="$d/mnesia" RABBITMQ_LOG_BASE="$d/log" RABBITMQ_PID_FILE="$d/node.pid" \
    ERL_CRASH_DUMP="$d/log/erl_crash.dump" \
    "$RMQ_BIN/rabbitmq-server" -detached >/dev/null 9>&-)
  wait_for "the RabbitMQ pid file" "$TIMEOUT" test -s "$d/node.pid"
  cp "$d/node.pid" "$DIR/rmq.pid"
  wait_for "RabbitMQ TLS port $tls" "$TIMEOUT" accepts "$tls"
  ss -ltnpH "sport = :$epmd" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2 >"$DIR/epmd.pid" || true
  echo "AMQPS_PORT=$tls"
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
    # A start that failed half-way may have left no pid files: find our node by its data dir and
    # our epmd by its port.
    if [[ ! -s $DIR/rmq.pid ]]; then
      for pid in $(pgrep -x beam.smp 2>/dev/null || true); do
        if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qxF "RABBITMQ_MNESIA_BASE=$DIR/rabbitmq/mnesia"; then
          echo "$pid" >"$DIR/rmq.pid"
        fi
      done
    fi
    if [[ ! -s $DIR/epmd.pid && -s $DIR/epmd.port ]]; then
      ss -ltnpH "sport = :$(cat "$DIR/epmd.port")" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n 1 |
        cut -d= -f2 >"$DIR/epmd.pid" || true
    fi
    # PostgreSQL: SIGTERM to the postmaster is a smart shutdown; SIGINT is fast.
    if [[ -s $DIR/pg.pid ]] && alive "$(head -n 1 "$DIR/pg.pid")"; then kill -INT "$(head -n 1 "$DIR/pg.pid")" || true; fi
    stop_pid "$DIR/pg.pid" postgres
    stop_pid "$DIR/rmq.pid" rabbitmq
    stop_pid "$DIR/epmd.pid" epmd
    ;;
  *)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
