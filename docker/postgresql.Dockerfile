# PostgreSQL 15 from Debian 12's own packages, for the cluster rehearsal
# (scripts/cluster-rehearsal) and the dev overlay. Built like the host image: the same local
# Debian base (scripts/image), no registry. Not a production database: production uses Azure
# Database for PostgreSQL (docs/deploy.md).
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
ARG DEBIAN_FRONTEND=noninteractive
# A fixed uid/gid (999) that Kubernetes runAsUser/fsGroup can name; created before the package,
# so postgresql-common adopts it instead of picking one.
RUN groupadd --system --gid 999 postgres \
 && useradd --system --uid 999 --gid postgres --home-dir /var/lib/postgresql --shell /bin/sh postgres \
 && apt-get update \
 && apt-get install -y --no-install-recommends postgresql-15 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
COPY docker/postgresql-entrypoint.sh /usr/local/bin/postgresql-entrypoint
ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PGDATA=/var/lib/postgresql/data/pgdata
# Only the data volume and /tmp (the socket) are written: runs with a read-only root filesystem.
VOLUME ["/var/lib/postgresql/data", "/tmp"]
EXPOSE 5432
USER 999:999
ENTRYPOINT ["postgresql-entrypoint"]
