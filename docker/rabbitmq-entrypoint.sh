#!/bin/sh
# Writes the node's config from RABBITMQ_DEFAULT_USER / RABBITMQ_DEFAULT_PASS (the user the hosts
# log in with; guest stays loopback-only), then runs the node in the foreground.
set -eu
: "${RABBITMQ_DEFAULT_USER:?RABBITMQ_DEFAULT_USER is required}"
: "${RABBITMQ_DEFAULT_PASS:?RABBITMQ_DEFAULT_PASS is required}"
mkdir -p "$(dirname "$RABBITMQ_CONFIG_FILE")"
cat >"$RABBITMQ_CONFIG_FILE" <<CONF
listeners.tcp.default = 5672
default_user = $RABBITMQ_DEFAULT_USER
default_pass = $RABBITMQ_DEFAULT_PASS
CONF
exec /usr/lib/rabbitmq/bin/rabbitmq-server
