# A third party's plugin as a small image (docs/deploy.md, "Drop-in plugins"): the example
# examples/drop-in-plugin, built out of tree against the *installed* SDK, and a static busybox so
# an initContainer can copy it into the Deployment's drop-in plugin directory:
#   /plugins/plexus_order_audit.so   the plugin (0644)
#   /plugins/plexus_order_audit.so.sha256   its pin, as the ConfigMap must carry it
#   /bin/busybox                     sh, mkdir, cp, chmod, cat (no package manager)
# Built by scripts/plugin-image; the kustomize component kustomize/components/drop-in-plugin uses it.
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE} AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends g++ cmake ninja-build nlohmann-json3-dev libsqlite3-dev busybox-static \
 && rm -rf /var/lib/apt/lists/*
# The SDK as a plugin author gets it: sdk/ installed as a CMake package. Its CMakeLists is a
# subdirectory of the Plexus tree, so a two-line project installs only it.
COPY sdk/ /src/sdk/
# The SDK installs the Rust bindings from the loyalty example (the scaffold's Rust template).
COPY plugins/loyalty/src/abi.rs /src/plugins/loyalty/src/abi.rs
RUN printf '%s\n' 'cmake_minimum_required(VERSION 3.25)' 'project(plexus_sdk_only CXX)' \
      'find_package(nlohmann_json 3.11 REQUIRED)' 'add_subdirectory(sdk)' >/src/CMakeLists.txt \
 && cmake -S /src -B /sdk-build -G Ninja >/dev/null \
 && cmake --install /sdk-build --prefix /opt/plexus-sdk >/dev/null
COPY examples/drop-in-plugin/ /plugin/
RUN cmake -S /plugin -B /plugin-build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_PREFIX_PATH=/opt/plexus-sdk >/dev/null \
 && cmake --build /plugin-build \
 && install -d -m 0755 /stage/plugins /stage/bin \
 && install -s -m 0644 /plugin-build/plexus_order_audit.so /stage/plugins/ \
 && (cd /stage/plugins && sha256sum plexus_order_audit.so | cut -d' ' -f1 >plexus_order_audit.so.sha256) \
 && install -m 0755 /bin/busybox /stage/bin/busybox \
 && cat /stage/plugins/plexus_order_audit.so.sha256

FROM scratch
COPY --from=build /stage/ /
USER 10001:10001
ENTRYPOINT ["/bin/busybox"]
CMD ["cat", "/plugins/plexus_order_audit.so.sha256"]
LABEL org.opencontainers.image.title="order-audit-plugin" \
      org.opencontainers.image.description="Plexus drop-in plugin example: plexus_order_audit.so"
