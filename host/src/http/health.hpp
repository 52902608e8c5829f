#pragma once
// Liveness and readiness (DESIGN.md §3): what /health and /health/ready answer, independent of the
// listener that serves them.

#include "plugin/runtime.hpp"

#include <atomic>
#include <functional>
#include <map>
#include <string>

namespace plexus::dispatch {
class OutboxMonitor;
}
namespace plexus::store {
class Store;
}

namespace plexus::http {

class Health {
 public:
  Health(std::string service, int stallSeconds, const plugin::Runtime& runtime,
         const std::atomic<bool>& draining)
      : service_(std::move(service)),
        stallSeconds_(stallSeconds),
        runtime_(runtime),
        draining_(draining) {}

  // The durable runtime, when configured: readiness checks the store, the migrations and the
  // outbox.
  void attach(store::Store* store, dispatch::OutboxMonitor* outbox,
              const std::atomic<bool>* migrated) {
    store_ = store;
    outbox_ = outbox;
    migrated_ = migrated;
  }
  // The broker's state: "connected" or "degraded: ..." (reported, still ready); and the node each
  // broker connection uses (role -> "host:port", "" while not connected).
  void attachTransportState(std::function<std::string()> state,
                            std::function<std::map<std::string, std::string>()> nodes = {}) {
    transportState_ = std::move(state);
    transportNodes_ = std::move(nodes);
  }

  plugin::HttpResponse live() const;
  // 200 "ready" or 503 "not_ready" with reasons; checks always listed.
  plugin::HttpResponse ready() const;

 private:
  std::string service_;
  int stallSeconds_;
  const plugin::Runtime& runtime_;
  const std::atomic<bool>& draining_;
  store::Store* store_ = nullptr;
  dispatch::OutboxMonitor* outbox_ = nullptr;
  const std::atomic<bool>* migrated_ = nullptr;
  std::function<std::string()> transportState_;
  std::function<std::map<std::string, std::string>()> transportNodes_;
};

}  // namespace plexus::http
