# RabbitMQ from Debian 12's own packages (3.10, Erlang 25) with the consistent-hash exchange
# plugin the hosts need, for the cluster rehearsal (scripts/cluster-rehearsal) and the dev
# overlay. Built like the host image: the same local Debian base, no registry. Production runs a
# RabbitmqCluster of the RabbitMQ Cluster Operator instead (docs/deploy.md).
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
ARG DEBIAN_FRONTEND=noninteractive
# A fixed uid/gid (999), created before the package so its postinst adopts it.
RUN groupadd --system --gid 999 rabbitmq \
 && useradd --system --uid 999 --gid rabbitmq --home-dir /var/lib/rabbitmq --shell /bin/sh rabbitmq \
 && apt-get update \
 && apt-get install -y --no-install-recommends rabbitmq-server \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \
 && rabbitmq-plugins enable --offline rabbitmq_consistent_hash_exchange
COPY docker/rabbitmq-entrypoint.sh /usr/local/bin/rabbitmq-entrypoint
# Node data and the Erlang cookie in the data volume, logs to stdout, config written at start
# into /tmp: the root filesystem may be read-only.
ENV HOME=/var/lib/rabbitmq \
    RABBITMQ_NODENAME=rabbit@localhost \
    RABBITMQ_MNESIA_BASE=/var/lib/rabbitmq/mnesia \
    RABBITMQ_LOGS=- \
    RABBITMQ_LOG_BASE=/var/lib/rabbitmq/log \
    ERL_CRASH_DUMP=/tmp/erl_crash.dump \
    RABBITMQ_CONFIG_FILE=/tmp/rabbitmq/rabbitmq.conf
VOLUME ["/var/lib/rabbitmq", "/tmp"]
EXPOSE 5672
USER 999:999
ENTRYPOINT ["rabbitmq-entrypoint"]
